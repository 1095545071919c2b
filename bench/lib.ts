/**
 * What the bench scripts share: options, free ports, starting a server and waiting for its
 * "listening on" line, and the CPU time of a process tree (read from /proc, so the figures
 * stand even when other work shares the machine).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { connect as netConnect, createServer } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";

// (import.meta.dirname: the same under Deno, which runs bench/session-path.ts too.)
export const ROOT = join(import.meta.dir ?? import.meta.dirname, "..");
export const bin = (name: string) => join(ROOT, "node_modules/.bin", name);

/**
 * The CLI `BOBCAT_RUNTIME=deno node bin/bobcat.mjs` runs from this checkout: dist-lib/cli.js (the
 * npm package's build, what `npx bobcat` runs under Deno) while nothing it is built from is newer
 * (`bun scripts/build-lib.ts`), src/cli/main.ts otherwise. The same rule as the launcher's.
 */
export function denoCliOfCheckout(): string {
  const build = join(ROOT, "dist-lib", "cli.js");
  let built: number;
  try {
    built = statSync(build).mtimeMs;
  } catch {
    return join(ROOT, "src", "cli", "main.ts");
  }
  const newer = (path: string): boolean => {
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs > built;
    return readdirSync(path).some((name) => newer(join(path, name)));
  };
  const stale = ["src", "mod.ts", "edge.ts", "package.json"].some((f) => newer(join(ROOT, f)));
  return stale ? join(ROOT, "src", "cli", "main.ts") : build;
}

/** `--name value` from the command line, or the default. */
export function option(name: string, fallback: string, argv = process.argv.slice(2)): string {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

/** Starts a server, waits (bounded) until its log says `listening on` and returns it with that line. */
export async function startServer(
  cmd: string[],
  pattern = /listening on/,
  timeoutMs = 60000,
): Promise<{ p: ChildProcess; line: string; log: () => string }> {
  const p = spawn(cmd[0]!, cmd.slice(1), {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  });
  let log = "";
  // Resolved as the line arrives (not at the next poll): start-up times are measured to it.
  let seen: () => void = () => {};
  const arrived = new Promise<void>((r) => (seen = r));
  p.stderr!.on("data", (d) => {
    log += d;
    if (pattern.test(log)) seen();
  });
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(log)) {
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`server did not start: ${cmd.join(" ")}\n${log}`);
    await Promise.race([arrived, new Promise((r) => setTimeout(r, 50))]);
  }
  return { p, line: log.split("\n").find((l) => pattern.test(l))!, log: () => log };
}

/** pid and all its descendants, from /proc. */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      parent.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]!.split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, pp] of parent) if (pp === out[i]) out.push(c);
  return out;
}

/** User + system CPU seconds of a process and its children (--runtime node runs one). */
export function cpuSeconds(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) sum += ownCpuSeconds(p);
  return sum;
}

/**
 * Times the threads of `pid` and its descendants went to sleep waiting (voluntary context
 * switches, from /proc/<pid>/task/<tid>/status): each is a wake-up to pay for later.
 */
export function sleeps(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const t of tasks) {
      try {
        const m = /\nvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${p}/task/${t}/status`, "utf8"));
        sum += Number(m?.[1] ?? 0);
      } catch {
        // exited meanwhile
      }
    }
  }
  return sum;
}

/** CPU seconds (user + system) of process `pid` alone, without its children; 0 once it exited. */
export function ownCpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks
  } catch {
    return 0; // exited meanwhile
  }
}

/**
 * The application bench/side-by-side.ts's bobcat runs: hello, /body (16 KiB), /create (a new
 * session with two attributes) and /read. bench/alloc-per-request.ts, bench/session-path.ts
 * (--baseline serve) and bench/probes/sessions-100k-heap.ts run the same, so their figures are of
 * the handler the side-by-side tables measure.
 */
export const SIDE_BY_SIDE_APP = `const BODY = "x".repeat(16384);
const TEXT = { "content-type": "text/plain" };
export default {
  fetch(req, ctx) {
    const url = req.url;
    const q = url.indexOf("?", 8);
    const path = url.slice(url.indexOf("/", 8), q < 0 ? undefined : q);
    if (path === "/body") return new Response(BODY, { headers: TEXT });
    if (path === "/create") {
      const s = ctx.getSession(true);
      const user = "u" + s.id.slice(0, 4);
      s.setAttribute("user", user);
      s.setAttribute("n", 1);
      return new Response(user, { headers: TEXT });
    }
    if (path === "/read") {
      const s = ctx.getSession(false);
      return new Response(s ? String(s.getAttribute("user")) : "none", { headers: TEXT });
    }
    return new Response("Hello, world", { headers: TEXT });
  },
};
`;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Resident memory (VmRSS, KiB) of a process and its descendants, from /proc/<pid>/status. */
export function rssKiB(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    try {
      sum += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

/**
 * RSS of `pid`'s tree once it stops falling: read every `stepMs` from `minMs` on, until two
 * readings in a row are within 1% (or `maxMs`). After a burst of requests a runtime gives freed
 * memory back over 1–10 s, at a pace that varies with the machine's load; a reading at a fixed
 * moment catches one server still shrinking and another settled. Returns the reading and when.
 */
export async function settledRssKiB(
  pid: number,
  { minMs = 2000, stepMs = 500, maxMs = 15000 } = {},
): Promise<{ kib: number; afterMs: number }> {
  await new Promise((r) => setTimeout(r, minMs));
  let last = rssKiB(pid);
  let waited = minMs;
  while (waited < maxMs) {
    await new Promise((r) => setTimeout(r, stepMs));
    waited += stepMs;
    const now = rssKiB(pid);
    const settled = Math.abs(now - last) <= last * 0.01;
    last = now;
    if (settled) break;
  }
  return { kib: last, afterMs: waited };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Stops a process tree: `signal` to the root (and, for a tree, to every descendant after the
 * root is gone), waits (bounded) and SIGKILLs what is left. Returns the milliseconds from the
 * signal until the root exited, or -1 when it had to be killed.
 */
export async function stopTree(pid: number, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10000): Promise<number> {
  const pids = processTree(pid);
  const t0 = performance.now();
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  // A zombie (exited, not yet reaped by us) still answers kill(0): its /proc state says Z.
  const ms = alive(pid) && !zombie(pid) ? -1 : performance.now() - t0;
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone
    }
  }
  return ms;
}

function zombie(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return true;
  }
}

/** One wrk run against `url`, with the server's CPU seconds over the run. */
export interface WrkSample {
  rps: number;
  requests: number;
  seconds: number;
  perCpu: number;
  errors: number;
  p99: string;
}

export function wrk(
  url: string,
  pid: number,
  { connections = 32, seconds = 5, args = [] as string[] } = {},
): WrkSample {
  const c0 = cpuSeconds(pid);
  const r = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", ...args, url], {
    encoding: "utf8",
    timeout: (seconds + 60) * 1000,
  });
  const cpu = cpuSeconds(pid) - c0;
  const m = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(r.stdout ?? "");
  const requests = Number(m?.[1] ?? 0);
  const secs = m ? Number(m[2]) * (m[3] === "ms" ? 0.001 : m[3] === "m" ? 60 : 1) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout ?? "")?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout ?? "");
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? "")?.[1] ?? 0),
    requests,
    seconds: secs,
    perCpu: cpu > 0 ? requests / cpu : 0,
    errors: non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
    p99: /99%\s+(\S+)/.exec(r.stdout ?? "")?.[1] ?? "?",
  };
}

/**
 * Polls with fresh TLS (or TCP) connections, every few ms and at most `timeoutMs`, until
 * `GET path` answers 200; returns the status line's arrival in performance.now() time. `cert`
 * and `key` (PEM files) give a client certificate.
 */
export async function firstOk(
  port: number,
  { tls = true, path = "/", timeoutMs = 120000, cert = "", key = "" } = {},
): Promise<number> {
  const clientCert = cert ? { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") } : {};
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = await new Promise<string>((resolve) => {
      const s = tls
        ? tlsConnect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false, ...clientCert })
        : netConnect({ host: "127.0.0.1", port });
      let buf = "";
      const done = (v: string) => {
        clearTimeout(timer);
        s.destroy();
        resolve(v);
      };
      const timer = setTimeout(() => done("timeout"), 5000);
      s.once(
        tls ? "secureConnect" : "connect",
        () => s.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
      );
      s.on("data", (d) => {
        buf += d.toString("latin1");
        if (buf.includes("\r\n")) done(buf.slice(0, buf.indexOf("\r\n")));
      });
      s.on("error", () => done("error"));
      s.on("close", () => done(buf || "closed"));
    });
    if (/^HTTP\/1\.[01] 200/.test(status)) return performance.now();
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no 200 on port ${port} within ${timeoutMs} ms`);
}

/**
 * `perf record` of a process tree for as long as something loads it (start before the load,
 * `perfSamples` after): where its CPU went, by shared object. Samples per request taken this way
 * hold much steadier than requests per CPU-second on a shared machine, and they split user space
 * (the runtime's binary, libc, JIT-compiled code) from the kernel's part (sockets, TLS records
 * the runtime writes), which is the same for every server answering the same bytes.
 */
export interface PerfRecording {
  p: ChildProcess;
  file: string;
  exited: Promise<void>;
}

export function perfStart(pid: number, file: string, hz = 1999): PerfRecording {
  const p = spawn("perf", ["record", "-q", "-F", String(hz), "-o", file, "-p", processTree(pid).join(",")], {
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => p.on("close", () => resolve()));
  return { p, file, exited };
}

/** Stops the recording (SIGINT, as perf expects) and gives the samples by shared object. */
export async function perfSamples(rec: PerfRecording): Promise<Map<string, number>> {
  rec.p.kill("SIGINT");
  await Promise.race([rec.exited, new Promise((r) => setTimeout(r, 30000))]);
  const r = spawnSync("perf", ["report", "-i", rec.file, "--sort", "dso", "--stdio", "-F", "sample,dso"], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  const out = new Map<string, number>();
  for (const line of (r.stdout ?? "").split("\n")) {
    const m = /^\s+(\d+)\s+(\S.*?)\s*$/.exec(line);
    // "[JIT] tid 1234": one entry whatever the thread.
    const so = m ? m[2]!.replace(/^\[JIT\] tid \d+$/, "[JIT]") : "";
    if (m) out.set(so, (out.get(so) ?? 0) + Number(m[1]));
  }
  return out;
}

/** Kernel and user-space samples of a perfSamples answer. */
export function perfSplit(bySo: Map<string, number>): { kernel: number; user: number } {
  let kernel = 0;
  let user = 0;
  for (const [so, n] of bySo) {
    if (so.startsWith("[kernel")) kernel += n;
    else user += n;
  }
  return { kernel, user };
}
