#!/usr/bin/env bun
/**
 * Probe: can HTTP/1.1 parsed in JS on a TLS socket layer (node:tls, or Bun.listen with tls) keep
 * up with the runtime's native HTTPS server? Each request head is parsed in JS, a `Request` is
 * built (URL and headers, as bobcat's engine needs one), a hello handler returns a `Response`,
 * which is serialised (head + body) and written. Compared with raw Bun.serve / Deno.serve in one
 * run, rounds interleaved, loaded by wrk (HTTPS keep-alive), in requests per server CPU-second.
 * Not a server: no limits, no body framing, no error handling (GET on a well-behaved client only).
 *
 *   bun bench/probes/h1-on-tls.ts [--runtime bun|deno] [--kinds a,b,...] [--load wrk|fetch] [--rounds 3] [--duration 5] [--connections 32]
 *   bun bench/probes/h1-on-tls.ts --features            (node:tls and, on Bun, Bun.listen)
 *   deno run -A bench/probes/h1-on-tls.ts --features    (node:tls on Deno)
 *
 * Kinds (the first is the base of the ratios): bun-serve | deno-serve (raw, the hello handler);
 * node-tls[/variant] | bun-listen[/variant] (the probe's loop; variant: fixed = a constant
 * answer per request head, parse = head parsed then the constant, url = + new URL, reqonly =
 * + new Request, request = + Request with headers and the handler's Response, sync = + its
 * head serialised, bytes = its body read with bytes(), full (default) = with arrayBuffer());
 * bobcat | bobcat-compat (bobcat on its native back-end / on node-compat, the same handler);
 * bobcat-h1 (bobcat's engine, the connector pipeline's handleSync with the ConnectionInfo the
 * node-compat bridge gives, behind the probe's loop on node:tls).
 *
 * --load fetch: the client of bench/mtls.ts (Bun fetch loops) instead of wrk.
 * Neither client sends a client certificate here: the servers do not ask for one, so the figures are the
 * HTTP layer's cost on a keep-alive connection (a handshake per connection only). --features
 * connects with alice's certificate and prints what the socket layer gives: SNICallback called
 * (and its context served), the peer chain with requestCert, getPeerX509Certificate.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";

const pki = fileURLToPath(new URL("../../tests/fixtures/pki", import.meta.url));
// The bench helpers are Bun's (the driver runs on Bun; the servers may run on Deno).
const { bin, cpuSeconds, freePort, median, option, ROOT, startServer } = process.argv[2] === "--serve" ||
    typeof Bun === "undefined"
  ? ({} as typeof import("../lib.ts"))
  : await import("../lib.ts");
const read = (f: string) => readFileSync(join(pki, f), "utf8");
const CERT = read("localhost-rsa.pem") + read("intermediate.pem");
const KEY = read("localhost-rsa-key.pem");

const hello = (_r: Request) => new Response("Hello, world", { headers: { "content-type": "text/plain" } });
const enc = new TextEncoder();
const CRLF2 = Buffer.from("\r\n\r\n");

/** One connection: bytes in, responses out (in order), the minimum a server needs for this load. */
const FIXED = enc.encode("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 12\r\n\r\nHello, world");
/** What each request does ("kind/variant" on the command line): fixed | parse | request | sync | bytes | full. */
const VARIANT = process.argv[2] === "--serve" ? (process.argv[3]!.split("/")[1] ?? "full") : "full";
type Handler = (r: Request, socket: unknown, target: string, hostHeaders: string[]) => Response | Promise<Response>;
let handler: Handler = (r) => hello(r);

function connection(write: (b: Uint8Array) => void, socket?: unknown) {
  let buf: Buffer = Buffer.alloc(0);
  if (VARIANT === "fixed") {
    return (d: Uint8Array) => {
      const b = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      let at = 0;
      for (;;) {
        const e = b.indexOf(CRLF2, at);
        if (e < 0) return;
        at = e + 4;
        write(FIXED);
      }
    };
  }
  return (d: Uint8Array) => {
    buf = buf.length ? Buffer.concat([buf, d]) : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    for (;;) {
      const end = buf.indexOf(CRLF2);
      if (end < 0) return;
      const head = buf.toString("latin1", 0, end);
      buf = buf.subarray(end + 4);
      const lines = head.split("\r\n");
      const [method, target] = lines[0]!.split(" ");
      let host = "localhost";
      const hosts: string[] = [];
      const pairs: Array<[string, string]> = [];
      for (let i = 1; i < lines.length; i++) {
        const l = lines[i]!;
        const c = l.indexOf(":");
        const name = l.slice(0, c);
        const value = l.slice(c + 1).trim();
        if (name.length === 4 && name.toLowerCase() === "host") hosts.push(host = value);
        pairs.push([name, value]);
      }
      if (VARIANT === "parse") {
        write(FIXED);
        continue;
      }
      if (VARIANT === "reqonly" || VARIANT === "url") {
        if (VARIANT === "url") void new URL(`https://${host}${target}`);
        else void new Request(`https://${host}${target}`);
        write(FIXED);
        continue;
      }
      const req = method === "GET"
        ? new Request(`https://${host}${target}`)
        : new Request(`https://${host}${target}`, { method });
      for (const [n, v] of pairs) req.headers.append(n, v);
      const answer = handler(req, socket, target!, hosts);
      if (!(answer instanceof Response)) throw new Error("the probe's handlers answer at once");
      const res = answer;
      if (VARIANT === "request") {
        write(FIXED);
        continue;
      }
      if (VARIANT === "sync") {
        let h = `HTTP/1.1 ${res.status} OK\r\n`;
        res.headers.forEach((v, k) => (h += `${k}: ${v}\r\n`));
        h += `content-length: 12\r\n\r\nHello, world`;
        write(Buffer.from(h, "latin1"));
        continue;
      }
      if (VARIANT === "bytes") {
        void res.bytes().then((body) => {
          let h = `HTTP/1.1 ${res.status} OK\r\n`;
          res.headers.forEach((v, k) => (h += `${k}: ${v}\r\n`));
          h += `content-length: ${body.byteLength}\r\n\r\n`;
          write(Buffer.concat([Buffer.from(h, "latin1"), body]));
        });
        continue;
      }
      void res.arrayBuffer().then((body) => {
        let h = `HTTP/1.1 ${res.status} OK\r\n`;
        res.headers.forEach((v, k) => (h += `${k}: ${v}\r\n`));
        h += `content-length: ${body.byteLength}\r\n\r\n`;
        const hb = enc.encode(h);
        const out = new Uint8Array(hb.byteLength + body.byteLength);
        out.set(hb);
        out.set(new Uint8Array(body), hb.byteLength);
        write(out);
      });
    }
  };
}

async function serve(kindVariant: string, port: number) {
  const kind = kindVariant.split("/")[0];
  if (kind === "bun-serve") {
    Bun.serve({ port, hostname: "127.0.0.1", tls: { cert: CERT, key: KEY }, fetch: hello });
  } else if (kind === "deno-serve") {
    // deno-lint-ignore no-explicit-any
    (globalThis as any).Deno.serve({ port, hostname: "127.0.0.1", cert: CERT, key: KEY, onListen() {} }, hello);
  } else if (kind === "node-tls" || kind === "bobcat-h1") {
    const { createServer } = await import("node:tls");
    if (kind === "bobcat-h1") handler = await bobcatHandler();
    createServer({ cert: CERT, key: KEY, ALPNProtocols: ["http/1.1"] }, (s) => {
      s.setNoDelay(true);
      s.on("error", () => {});
      const on = connection((b) => s.write(b), s);
      s.on("data", on);
    }).listen(port, "127.0.0.1");
  } else if (kind === "bun-listen") {
    Bun.listen<{ on: (d: Uint8Array) => void }>({
      hostname: "127.0.0.1",
      port,
      tls: { cert: CERT, key: KEY },
      socket: {
        open(s) {
          // A real server would queue what write() did not take and send it on drain.
          s.data = { on: connection((b) => void s.write(b)) };
        },
        data(s, d) {
          s.data.on(d);
        },
      },
    });
  }
  await new Promise((r) => setTimeout(r, 200));
  console.error(`listening on https://127.0.0.1:${port}/ (${kind})`);
}

/** One client connection with alice's certificate to `port`, naming `servername`; the server's leaf key type. */
async function clientHello(port: number, servername: string): Promise<string | undefined> {
  const tls = await import("node:tls");
  const c = tls.connect({
    port,
    host: "127.0.0.1",
    servername,
    cert: read("alice.pem"),
    key: read("alice-key.pem"),
    rejectUnauthorized: false,
  });
  let leaf: string | undefined;
  c.on("secureConnect", () => {
    const p = c.getPeerCertificate() as { asn1Curve?: string; bits?: number };
    leaf = p.asn1Curve ? `EC ${p.asn1Curve}` : `RSA ${p.bits}`;
    c.write("GET / HTTP/1.1\r\nhost: localhost\r\n\r\n");
  });
  c.on("error", () => {});
  await new Promise((r) => {
    c.once("data", r);
    c.once("close", r);
    setTimeout(r, 3000);
  });
  c.destroy();
  return leaf;
}

/**
 * bobcat-h1: bobcat's engine (a BobcatServer's connector pipeline, the handleSync the node-compat
 * bridge calls, with the ConnectionInfo it gives) behind this probe's HTTP/1.1 loop on node:tls.
 * The BobcatServer itself listens on another port nobody uses.
 */
async function bobcatHandler(): Promise<Handler> {
  const { loadConfigText } = await import("../../src/config/load.ts");
  const { BobcatServer } = await import("../../src/runtime/server.ts");
  const { tlsInfoOf } = await import("../../src/runtime/tls-info.ts");
  const work = mkdtempSync(join(tmpdir(), "bobcat-h1probe-engine-"));
  // The driver ends this server with SIGTERM: the config and handler go with it.
  process.on("SIGTERM", () => {
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  });
  const port = await new Promise<number>((r) => {
    import("node:net").then(({ createServer }) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
  });
  const file = writeBobcatConfig(work, "engine", port);
  const server = await new BobcatServer(loadConfigText(file, readFileSync(file, "utf8"))).start();
  const pipeline = (server as unknown as {
    connectors: Array<{ pipeline: { handleSync: (r: Request, c: unknown) => Response | Promise<Response> } }>;
  }).connectors[0]!.pipeline;
  return (request, socket, target, hostHeaders) => {
    const s = socket as import("node:tls").TLSSocket;
    return pipeline.handleSync(request, {
      remoteAddr: s.remoteAddress ?? "",
      remotePort: s.remotePort ?? 0,
      httpVersion: "HTTP/1.1",
      target,
      hostHeaders,
      tls: tlsInfoOf(s),
    });
  };
}

/**
 * Bun: the TLS surface node-compat relies on (peer chain with requestCert, SNICallback or
 * per-name contexts), on node:tls and on Bun.listen. The default certificate is RSA, the SNI
 * answer for ec.test a context whose leaf is EC: "served" shows which leaf the client got.
 */
async function features() {
  const tls = await import("node:tls");
  const ec = () => tls.createSecureContext({ cert: read("localhost-ec.pem"), key: read("localhost-ec-key.pem") });
  const base = { cert: CERT, key: KEY, ca: read("client-ca.pem"), requestCert: true, rejectUnauthorized: false };
  const seen: Record<string, unknown> = {};
  const free = () =>
    new Promise<number>((r) => {
      const s = tls.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
  let port = await free();
  const server = tls.createServer({
    ...base,
    SNICallback: (name, cb) => {
      seen.sniCallback = name;
      cb(null, ec());
    },
  }, (s) => {
    const chain = s.getPeerCertificate(true);
    seen.servername = (s as { servername?: string }).servername;
    seen.peerCN = chain?.subject?.CN;
    seen.peerRaw = !!chain?.raw;
    seen.peerX509 = (s as { getPeerX509Certificate?: () => { subject: string } }).getPeerX509Certificate?.()?.subject
      .replaceAll("\n", ",");
    seen.protocol = s.getProtocol();
    s.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  }).listen(port, "127.0.0.1");
  await new Promise((r) => setTimeout(r, 100));
  seen.served = await clientHello(port, "ec.test");
  server.close();
  console.log("node:tls", JSON.stringify(seen));
  if (typeof Bun === "undefined") return;
  for (const shape of ["SNICallback", "array"] as const) {
    const got: Record<string, unknown> = {};
    port = await free();
    const options = shape === "array"
      ? [base, { ...base, serverName: "ec.test", cert: read("localhost-ec.pem"), key: read("localhost-ec-key.pem") }]
      : {
        ...base,
        SNICallback: (n: string, cb: (e: null, c: unknown) => void) => ((got.sniCallback = n), cb(null, ec())),
      };
    let l: { stop(c?: boolean): void } | undefined;
    try {
      l = Bun.listen({
        hostname: "127.0.0.1",
        port,
        tls: options as never,
        socket: {
          data(s) {
            const x = s as unknown as {
              getPeerCertificate?: (d?: boolean) => { subject?: { CN?: string }; raw?: unknown };
              getServername?: () => string;
            };
            got.peerCN = x.getPeerCertificate?.(true)?.subject?.CN;
            got.servername = x.getServername?.();
            s.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
          },
        },
      });
    } catch (e) {
      console.log(`Bun.listen (${shape})`, JSON.stringify({ refused: (e as Error).message }));
      continue;
    }
    got.served = await clientHello(port, "ec.test");
    l!.stop(true);
    console.log(`Bun.listen (${shape})`, JSON.stringify(got));
  }
}

/**
 * bobcat itself with the same certificate and a hello handler, for scale: "bobcat" on its
 * native back-end, "bobcat-compat" on node-compat (node:https on Deno, node:http2 on Bun).
 */
function bobcat(work: string, kind: string, port: number, runtime: string): string[] {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const file = writeBobcatConfig(work, kind, port);
  const main = join(root, "src/cli/main.ts");
  return runtime === "deno"
    ? [bin("deno"), "run", "-A", `--config=${join(root, "deno.json")}`, main, "run", "--config", file]
    : [bin("bun"), main, "run", "--config", file];
}

function writeBobcatConfig(work: string, kind: string, port: number): string {
  writeFileSync(
    join(work, "hello.ts"),
    `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
  );
  const file = join(work, `${kind}.yaml`);
  writeFileSync(
    file,
    `logging: { level: warn, components: { connector: info } }
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${pki}/localhost-rsa.pem
                  certificateKeyFile: ${pki}/localhost-rsa-key.pem
                  certificateChainFile: ${pki}/intermediate.pem
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: hello.ts
`,
  );
  return file;
}

if (process.argv[2] === "--serve") {
  await serve(process.argv[3]!, Number(process.argv[4]));
} else if (process.argv.includes("--features")) {
  await features();
  process.exit(0);
} else {
  const runtime = option("--runtime", "bun");
  const rounds = Number(option("--rounds", "3"));
  const duration = Number(option("--duration", "5"));
  const connections = Number(option("--connections", "32"));
  const load = option("--load", "wrk");
  const kinds = option("--kinds", runtime === "deno" ? "deno-serve,node-tls" : "bun-serve,node-tls,bun-listen").split(
    ",",
  );
  const cleanup: Array<() => void> = [];
  const running: Array<{ kind: string; port: number; p: ReturnType<typeof spawn> }> = [];
  const results = new Map<string, Array<{ rps: number; perCpu: number }>>();
  try {
    const work = mkdtempSync(join(tmpdir(), "bobcat-h1probe-"));
    cleanup.push(() => rmSync(work, { recursive: true, force: true }));
    for (const kind of kinds) {
      const port = await freePort();
      const cmd = kind === "bobcat" || kind === "bobcat-compat"
        ? bobcat(work, kind, port, runtime)
        : runtime === "deno"
        ? [
          bin("deno"),
          "run",
          "-A",
          `--config=${join(ROOT, "deno.json")}`,
          import.meta.path,
          "--serve",
          kind,
          String(port),
        ]
        : [bin("bun"), import.meta.path, "--serve", kind, String(port)];
      const saved = process.env.BOBCAT_BACKEND;
      if (kind === "bobcat-compat") process.env.BOBCAT_BACKEND = "node-compat";
      const { p, line } = await startServer(cmd, /listening on/);
      if (saved === undefined) delete process.env.BOBCAT_BACKEND;
      if (kind.startsWith("bobcat")) console.error(`${kind}: ${line.replace(/^.*listening on/, "listening on")}`);
      running.push({ kind, port, p });
      results.set(kind, []);
    }
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 ? [...running].reverse() : running) {
        const c0 = cpuSeconds(s.p.pid!);
        const t0 = performance.now();
        let total = 0;
        if (load === "fetch") {
          const r = spawnSync(
            bin("bun"),
            [join(ROOT, "bench/mtls.ts"), "--client", String(s.port), String(duration), String(connections)],
            { encoding: "utf8", timeout: (duration + 30) * 1000 },
          );
          const { ok, failed } = JSON.parse(r.stdout.trim().split("\n").pop() || '{"ok":0,"failed":-1}');
          if (failed) console.error(`${s.kind}: ${failed} failed`);
          total = ok;
        } else {
          const r = spawnSync("wrk", ["-t2", `-c${connections}`, `-d${duration}s`, `https://localhost:${s.port}/`], {
            encoding: "utf8",
          });
          total = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
          const errors = /Non-2xx|Socket errors[^\n]*/.exec(r.stdout)?.[0];
          if (errors) console.error(`${s.kind}: ${errors}`);
        }
        const wall = (performance.now() - t0) / 1000;
        const cpu = cpuSeconds(s.p.pid!) - c0;
        results.get(s.kind)!.push({ rps: total / Math.min(wall, duration), perCpu: cpu > 0 ? total / cpu : 0 });
      }
    }
    const base = results.get(kinds[0]!)!;
    const baseCpu = median(base.map((x) => x.perCpu));
    const baseRps = median(base.map((x) => x.rps));
    const version = spawnSync(bin(runtime), ["--version"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
    const client = load === "fetch"
      ? `${connections} keep-alive Bun fetch loops (bench/mtls.ts --client)`
      : `wrk -c${connections} keep-alive`;
    console.log(`${runtime} ${version}; ${rounds} rounds × ${duration} s, ${client}, medians\n`);
    console.log("| server | req/s | req per server CPU-s | req/s ratio | per-CPU ratio |");
    console.log("|---|---:|---:|---:|---:|");
    for (const kind of kinds) {
      const xs = results.get(kind)!;
      const rps = median(xs.map((x) => x.rps));
      const perCpu = median(xs.map((x) => x.perCpu));
      console.log(
        `| ${kind} | ${Math.round(rps)} | ${Math.round(perCpu)} | ${(rps / baseRps).toFixed(2)} | ${
          (perCpu / baseCpu).toFixed(2)
        } |`,
      );
    }
  } finally {
    for (const s of running) s.p.kill("SIGTERM");
    for (const f of cleanup) f();
  }
}
