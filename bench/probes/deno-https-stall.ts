// Probe: does Deno 2.9.6 stall on larger HTTPS responses (Nagle + delayed ACK), and which
// Deno back-ends / workarounds avoid it? Compares with Bun.serve.
//
// Driver (needs curl, wrk, openssl on PATH; listens on 127.0.0.1 only; bounded):
//   node_modules/.bin/deno run -A bench/probes/deno-https-stall.ts [--quick] [--modes a,b] [--json out.json]
//     --quick      wrk -d2s instead of -d5s, fewer curl samples
//     --modes      comma list of mode names (default: all, see MODES below)
//     --no-wrk     curl only;  --no-curl  wrk only
//     --sizes      comma list of body sizes (subset of 100,8192,16384,262144)
//     --reps N     run wrk N times per cell and report the median
// The driver starts every server mode as a child process of this same file:
//   deno run -A <this file> --server <mode> <port> <certdir>      (Deno modes)
//   bun <this file> --server <mode> <port> <certdir>              (bun-* modes)
//
// Figures: median curl time_total (s → printed in ms) of GET /u8/<size> over
//   ka  = one curl process, 21 URLs on one keep-alive HTTP/1.1 connection (first dropped)
//   new = 11 separate curl processes (new TCP + TLS handshake each)
//   h2  = like ka but --http2 (only where the server negotiates h2)
//   wrk = wrk -t2 -c8 -d5s req/s (HTTP/1.1 keep-alive), and requests per server CPU-second
//         (from /proc/<pid>/stat), which is less sensitive to other load on the machine
// plus body-shape variants (/str, /stream, /cl) on the Deno.serve modes.
//
// The FFI workaround: TCP_NODELAY set with setsockopt() on the *listening* socket is inherited
// by every accepted socket on Linux, so Deno.serve's TLS connections no longer wait for the
// client's delayed ACK. Needs --allow-ffi (no --unstable-* flag in 2.9.6) and libc.so.6.

// deno-lint-ignore-file no-explicit-any
const DenoNS: any = (globalThis as any).Deno;
const BunNS: any = (globalThis as any).Bun;
const SIZES = [100, 8192, 16384, 262144];
const KINDS = ["u8", "str", "stream", "cl"] as const;

// ---------------------------------------------------------------- shared handler pieces
const bytes: Record<number, Uint8Array<ArrayBuffer>> = {};
const strings: Record<number, string> = {};
for (const n of SIZES) {
  bytes[n] = new Uint8Array(n).fill(120);
  strings[n] = "x".repeat(n);
}
function parse(pathname: string): { kind: string; n: number } {
  const [, kind = "u8", size = "100"] = pathname.split("/");
  const n = Number(size);
  return { kind, n: bytes[n] ? n : 100 };
}
/** fetch-style handler used by Deno.serve, serveHttpOnListener, Deno.serveHttp, Bun.serve */
function fetchHandler(req: Request): Response {
  const { kind, n } = parse(new URL(req.url).pathname);
  const headers = { "content-type": "text/plain" } as Record<string, string>;
  switch (kind) {
    case "str":
      return new Response(strings[n], { headers });
    case "stream": {
      const b = bytes[n];
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(b);
            c.close();
          },
        }),
        { headers },
      );
    }
    case "cl":
      headers["content-length"] = String(n);
      return new Response(bytes[n], { headers });
    default:
      return new Response(bytes[n], { headers });
  }
}
/** node-style handler for node:https / node:http2 compat */
function nodeHandler(req: any, res: any) {
  const { kind, n } = parse(String(req.url).split("?")[0]);
  if (kind === "stream") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.write(bytes[n]);
    res.end();
    return;
  }
  const body = kind === "str" ? strings[n] : bytes[n];
  res.writeHead(200, { "content-type": "text/plain", "content-length": String(n) });
  res.end(body);
}

// ---------------------------------------------------------------- FFI: TCP_NODELAY on the listener
/** Find the fds of TCP sockets listening on `port` (via getsockname + SO_ACCEPTCONN) and set
 *  TCP_NODELAY on them. Linux copies the option to every socket accept() returns. Returns fds set. */
export function setNoDelayOnListeningPort(port: number, libcPath = "libc.so.6"): number[] {
  // with a scoped permission (--allow-ffi=/lib/x86_64-linux-gnu/libc.so.6) pass that absolute path
  const libc = DenoNS.dlopen(libcPath, {
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  });
  const SOL_SOCKET = 1, SO_ACCEPTCONN = 30, IPPROTO_TCP = 6, TCP_NODELAY = 1, AF_INET = 2, AF_INET6 = 10;
  const done: number[] = [];
  try {
    for (let fd = 3; fd < 4096; fd++) {
      const sa = new Uint8Array(128), len = new Uint32Array([128]);
      if (libc.symbols.getsockname(fd, sa, len) !== 0) continue; // not a socket / closed
      const fam = sa[0] | (sa[1] << 8);
      if (fam !== AF_INET && fam !== AF_INET6) continue;
      if (((sa[2] << 8) | sa[3]) !== port) continue;
      const v = new Int32Array(1), vl = new Uint32Array([4]);
      if (libc.symbols.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, v, vl) !== 0 || v[0] !== 1) continue;
      if (libc.symbols.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Int32Array([1]), 4) === 0) done.push(fd);
    }
  } finally {
    libc.close();
  }
  return done;
}

// ---------------------------------------------------------------- server modes
type Ctx = { port: number; cert: string; key: string; dir: string };
const H = "127.0.0.1";
const internal = () => DenoNS[DenoNS.internal];
const onErr = (e: unknown) => new Response(String(e), { status: 500 });

const MODES: Record<
  string,
  { runtime: "deno" | "bun"; h2?: boolean; kinds?: boolean; note: string; start: (c: Ctx) => unknown }
> = {
  "deno-serve-http": {
    runtime: "deno",
    kinds: true,
    note: "Deno.serve plain HTTP",
    start: (c) => DenoNS.serve({ hostname: H, port: c.port, onListen() {} }, fetchHandler),
  },
  "deno-serve-tls": {
    runtime: "deno",
    h2: true,
    kinds: true,
    note: "Deno.serve({cert,key})",
    start: (c) => DenoNS.serve({ hostname: H, port: c.port, cert: c.cert, key: c.key, onListen() {} }, fetchHandler),
  },
  "deno-serve-tls-ffi": {
    runtime: "deno",
    h2: true,
    kinds: true,
    note: "Deno.serve({cert,key}) + FFI TCP_NODELAY on listener",
    // onListen runs synchronously after the listener is bound and before the first accept
    start: (c) =>
      DenoNS.serve({
        hostname: H,
        port: c.port,
        cert: c.cert,
        key: c.key,
        onListen(addr: any) {
          if (setNoDelayOnListeningPort(addr.port).length === 0) {
            throw new Error("no listening fd found for TCP_NODELAY");
          }
        },
      }, fetchHandler),
  },
  "deno-internal-tls": {
    runtime: "deno",
    h2: true,
    note: "Deno.listenTls + internal serveHttpOnListener",
    start: (c) => {
      const l = DenoNS.listenTls({
        hostname: H,
        port: c.port,
        cert: c.cert,
        key: c.key,
        alpnProtocols: ["h2", "http/1.1"],
      });
      return internal().serveHttpOnListener(l, undefined, fetchHandler, onErr, () => {});
    },
  },
  "deno-internal-tls-ffi": {
    runtime: "deno",
    h2: true,
    note: "Deno.listenTls + FFI TCP_NODELAY + serveHttpOnListener",
    start: (c) => {
      const l = DenoNS.listenTls({
        hostname: H,
        port: c.port,
        cert: c.cert,
        key: c.key,
        alpnProtocols: ["h2", "http/1.1"],
      });
      if (setNoDelayOnListeningPort(c.port).length === 0) throw new Error("no listening fd");
      return internal().serveHttpOnListener(l, undefined, fetchHandler, onErr, () => {});
    },
  },
  "deno-serveHttp-tls": {
    runtime: "deno",
    note: "Deno.listenTls + legacy Deno.serveHttp(conn)",
    start: (c) => {
      const l = DenoNS.listenTls({ hostname: H, port: c.port, cert: c.cert, key: c.key, alpnProtocols: ["http/1.1"] });
      (async () => {
        for await (const conn of l) {
          (async () => {
            try {
              for await (const ev of DenoNS.serveHttp(conn)) ev.respondWith(fetchHandler(ev.request)).catch(() => {});
            } catch { /* client went away */ }
          })();
        }
      })();
    },
  },
  "deno-node-https": {
    runtime: "deno",
    note: "Deno node:https createServer",
    start: async (c) => {
      const https: any = await import("node:https");
      https.createServer({ key: c.key, cert: c.cert }, nodeHandler).listen(c.port, H);
    },
  },
  "deno-node-http2": {
    runtime: "deno",
    h2: true,
    note: "Deno node:http2 createSecureServer({allowHTTP1})",
    start: async (c) => {
      const http2: any = await import("node:http2");
      http2.createSecureServer({ key: c.key, cert: c.cert, allowHTTP1: true }, nodeHandler).listen(c.port, H);
    },
  },
  "deno-node-http2-nodelay": {
    runtime: "deno",
    h2: true,
    note: "node:http2 createSecureServer({allowHTTP1}) + socket.setNoDelay(true)",
    start: async (c) => {
      const http2: any = await import("node:http2");
      const srv = http2.createSecureServer({ key: c.key, cert: c.cert, allowHTTP1: true }, nodeHandler);
      srv.on("connection", (s: any) => s.setNoDelay?.(true));
      srv.on("secureConnection", (s: any) => s.setNoDelay?.(true));
      srv.listen(c.port, H);
    },
  },
  "deno-term-nodetls-unix": {
    runtime: "deno",
    note: "node:tls terminator (setNoDelay) → unix socket → Deno.serve({path})",
    start: async (c) => {
      const tls: any = await import("node:tls");
      const net: any = await import("node:net");
      const path = `${c.dir}/term-${c.port}.sock`;
      try {
        DenoNS.removeSync(path);
      } catch { /* none */ }
      DenoNS.serve({ path, onListen() {} }, fetchHandler);
      tls.createServer({ key: c.key, cert: c.cert, ALPNProtocols: ["http/1.1"] }, (s: any) => {
        s.setNoDelay(true);
        const up = net.connect({ path });
        s.pipe(up);
        up.pipe(s);
        s.on("error", () => up.destroy());
        up.on("error", () => s.destroy());
      }).listen(c.port, H);
    },
  },
  "deno-term-listenTls-unix": {
    runtime: "deno",
    note: "Deno.listenTls + FFI TCP_NODELAY, pipeTo unix socket → Deno.serve({path})",
    start: (c) => {
      const path = `${c.dir}/term2-${c.port}.sock`;
      try {
        DenoNS.removeSync(path);
      } catch { /* none */ }
      DenoNS.serve({ path, onListen() {} }, fetchHandler);
      const l = DenoNS.listenTls({ hostname: H, port: c.port, cert: c.cert, key: c.key, alpnProtocols: ["http/1.1"] });
      if (setNoDelayOnListeningPort(c.port).length === 0) throw new Error("no listening fd");
      (async () => {
        for await (const conn of l) {
          (async () => {
            const up = await DenoNS.connect({ transport: "unix", path });
            await Promise.allSettled([conn.readable.pipeTo(up.writable), up.readable.pipeTo(conn.writable)]);
          })().catch(() => {});
        }
      })();
    },
  },
  "bun-serve-http": {
    runtime: "bun",
    kinds: true,
    note: "Bun.serve plain HTTP",
    start: (c) => BunNS.serve({ hostname: H, port: c.port, fetch: fetchHandler }),
  },
  "bun-serve-tls": {
    runtime: "bun",
    kinds: true,
    note: "Bun.serve({tls:{cert,key}})",
    start: (c) => BunNS.serve({ hostname: H, port: c.port, tls: { cert: c.cert, key: c.key }, fetch: fetchHandler }),
  },
};

// ---------------------------------------------------------------- server entry
async function serverMain(args: string[]) {
  const [mode, portS, dir] = args;
  const m = MODES[mode];
  if (!m) throw new Error(`unknown mode ${mode}`);
  const fs: any = await import("node:fs");
  const ctx: Ctx = {
    port: Number(portS),
    dir,
    cert: fs.readFileSync(`${dir}/c.pem`, "utf8"),
    key: fs.readFileSync(`${dir}/k.pem`, "utf8"),
  };
  await m.start(ctx);
  // safety net: never outlive a bounded run
  const max = Number((globalThis as any).process?.env?.PROBE_MAX_SECONDS ?? 600);
  setTimeout(() => (globalThis as any).process.exit(0), max * 1000);
}

// ---------------------------------------------------------------- driver
async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new DenoNS.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout);
}
const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
async function curlKeepAlive(url: string, n: number, proto: string): Promise<number> {
  const args = ["-sk", proto, "-w", "%{time_total}\\n"];
  for (let i = 0; i < n + 1; i++) args.push("-o", "/dev/null", url);
  const t = (await run("curl", args)).trim().split("\n").map(Number).filter((x) => !Number.isNaN(x));
  return median(t.slice(1)) * 1000; // first request includes the handshake
}
async function curlNew(url: string, n: number): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    t.push(Number((await run("curl", ["-sk", "--http1.1", "-o", "/dev/null", "-w", "%{time_total}", url])).trim()));
  }
  return median(t) * 1000;
}
/** server CPU ticks (utime+stime, all threads) from /proc/<pid>/stat; 100 ticks per second on Linux */
function cpuTicks(pid: number): number {
  try {
    const st = DenoNS.readTextFileSync(`/proc/${pid}/stat`);
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}
/** wrk -t2 -c8: returns req/s and requests per server CPU-second (robust against a busy machine) */
async function wrk(url: string, secs: number, pid: number): Promise<{ rps: number; perCpu: number }> {
  const t0 = cpuTicks(pid);
  const o = await run("wrk", ["-t2", "-c8", `-d${secs}s`, url]);
  const cpu = (cpuTicks(pid) - t0) / 100;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(o)?.[1] ?? NaN);
  const total = Number(/(\d+) requests in/.exec(o)?.[1] ?? NaN);
  return { rps, perCpu: cpu > 0 ? total / cpu : NaN };
}
async function waitPort(port: number, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const c = await DenoNS.connect({ hostname: H, port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`port ${port} never opened`);
}

async function driverMain(argv: string[]) {
  const quick = argv.includes("--quick");
  const noWrk = argv.includes("--no-wrk");
  const mi = argv.indexOf("--modes");
  const modes = mi >= 0 ? argv[mi + 1].split(",") : Object.keys(MODES);
  const ji = argv.indexOf("--json");
  const si = argv.indexOf("--sizes");
  const sizes = si >= 0 ? argv[si + 1].split(",").map(Number) : SIZES;
  const ri = argv.indexOf("--reps");
  const reps = ri >= 0 ? Number(argv[ri + 1]) : 1;
  const noCurl = argv.includes("--no-curl");
  const nKa = quick ? 11 : 21, nNew = quick ? 5 : 11, wrkSecs = quick ? 2 : 5;
  const self = new URL(import.meta.url).pathname;
  const denoBin = DenoNS.execPath();
  const bunBin = new URL("../../node_modules/.bin/bun", import.meta.url).pathname;
  const dir = await DenoNS.makeTempDir({ prefix: "deno-https-stall-" });
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-days",
    "2",
    "-keyout",
    `${dir}/k.pem`,
    "-out",
    `${dir}/c.pem`,
  ]);
  console.error(`deno ${DenoNS.version.deno}, bun ${(await run(bunBin, ["--version"])).trim()}, certs in ${dir}`);

  const rows: any[] = [];
  let port = 18640;
  for (const mode of modes) {
    const m = MODES[mode];
    if (!m) {
      console.error(`skip unknown mode ${mode}`);
      continue;
    }
    port++;
    const cmd = m.runtime === "deno"
      ? [denoBin, ["run", "-A", self, "--server", mode, String(port), dir]]
      : [bunBin, [self, "--server", mode, String(port), dir]];
    const child = new DenoNS.Command(cmd[0] as string, {
      args: cmd[1] as string[],
      stdout: "null",
      stderr: "inherit",
      env: { PROBE_MAX_SECONDS: "300" },
    }).spawn();
    try {
      await waitPort(port);
      const tls = mode.includes("tls") || mode.includes("https") || mode.includes("http2") || mode.includes("term");
      const base = `${tls ? "https" : "http"}://${H}:${port}`;
      // warm-up (JIT, first handshake)
      await curlKeepAlive(`${base}/u8/100`, 5, "--http1.1");
      for (const n of sizes) {
        const row: any = { mode, size: n };
        if (!noCurl) {
          row.ka = await curlKeepAlive(`${base}/u8/${n}`, nKa, "--http1.1");
          row.new = await curlNew(`${base}/u8/${n}`, nNew);
          if (m.h2) row.h2 = await curlKeepAlive(`${base}/u8/${n}`, nKa, "--http2");
          if (m.kinds) {
            for (const k of KINDS.slice(1)) row[k] = await curlKeepAlive(`${base}/${k}/${n}`, nKa, "--http1.1");
          }
        }
        if (!noWrk) {
          const r: number[] = [], c: number[] = [];
          for (let i = 0; i < reps; i++) {
            const w = await wrk(`${base}/u8/${n}`, wrkSecs, child.pid);
            r.push(w.rps);
            c.push(w.perCpu);
          }
          row.wrk = median(r);
          row.perCpu = median(c);
          if (reps > 1) row.wrkRuns = r;
        }
        rows.push(row);
        console.error(JSON.stringify(row));
      }
    } catch (e) {
      console.error(`mode ${mode} failed: ${e}`);
    } finally {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    }
  }
  const f = (x: unknown, d = 2) => (typeof x === "number" && !Number.isNaN(x) ? x.toFixed(d) : "–");
  console.log(
    "\nlatency = median curl time_total in ms; wrk = req/s (-t2 -c8, HTTP/1.1 keep-alive); req/CPU-s = requests per server CPU-second",
  );
  console.log(
    "| mode | body | ka h1 ms | new conn ms | h2 ka ms | str ka ms | stream ka ms | explicit CL ka ms | wrk req/s | req/CPU-s |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const runs = r.wrkRuns ? ` (${r.wrkRuns.map((x: number) => x.toFixed(0)).join("/")})` : "";
    console.log(
      `| ${r.mode} | ${r.size} | ${f(r.ka)} | ${f(r.new)} | ${f(r.h2)} | ${f(r.str)} | ${f(r.stream)} | ${f(r.cl)} | ${
        f(r.wrk, 0)
      }${runs} | ${f(r.perCpu, 0)} |`,
    );
  }
  if (ji >= 0) await DenoNS.writeTextFile(argv[ji + 1], JSON.stringify(rows, null, 1));
  await DenoNS.remove(dir, { recursive: true });
}

// ---------------------------------------------------------------- entry
if ((import.meta as any).main) {
  const argv: string[] = DenoNS ? DenoNS.args : (globalThis as any).process.argv.slice(2);
  if (argv[0] === "--server") await serverMain(argv.slice(1));
  else if (DenoNS) await driverMain(argv);
  else throw new Error("run the driver with deno: node_modules/.bin/deno run -A bench/probes/deno-https-stall.ts");
}
