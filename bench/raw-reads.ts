#!/usr/bin/env bun
/**
 * What the runtime charges for what bobcat's boundary must read from every request, without
 * bobcat: raw Bun.serve (or Deno.serve with --runtime deno) hello-world handlers that read
 * nothing, read `req.url` and the Host header, and read those plus `Connection`, the method and
 * `performance.now()` twice (what the metrics take), side by side with wrk, rounds interleaved.
 * Prints requests per server CPU-second and the ratio to the handler that reads nothing.
 *
 *   bun bench/raw-reads.ts [--rounds 3] [--duration 5] [--runtime bun|deno] [--plain] [--together]
 *                          [--variants nothing,url+host,...] [--perf]
 *
 * Variant words, joined with "+": url, host (req.headers), innerhost (Deno's own request, as
 * src/core/request-header.ts reads it), completed (Deno's `info.completed`, as the connection
 * gate asked for it on every request before), connection, method, now (two performance.now()),
 * and on Deno perconn: the connections accepted by the script and each served with
 * `Deno[Deno.internal].serveHttpOnConnection`, as bobcat's native Deno back-end does
 * (src/runtime/deno.ts), instead of Deno.serve's own listener.
 *
 * --perf adds each server's user-space and kernel samples per 1000 requests, by `perf record -F
 * 1999` while wrk loads it (see bench/https-hello.ts --perf).
 *
 * --together loads every server at the same time in each round (one wrk each) and prints the
 * median of the per-round ratios to the first variant, as bench/https-hello.ts --together does.
 */
import { spawn, spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  bin,
  cpuSeconds,
  freePort,
  median,
  option,
  perfSamples,
  perfSplit,
  perfStart,
  ROOT,
  startServer,
} from "./lib.ts";

const rounds = Number(option("--rounds", "3"));
const duration = Number(option("--duration", "5"));
const runtime = option("--runtime", "bun");
const plain = process.argv.includes("--plain");
const together = process.argv.includes("--together");
const perf = process.argv.includes("--perf");
const pki = join(ROOT, "tests/fixtures/pki");
const variants = option("--variants", "nothing,url+host,url+host+connection+method+now").split(",");

const script = join(ROOT, `bench/.raw-reads-${process.pid}.ts`);
writeFileSync(
  script,
  `import { readFileSync } from "node:fs";
const [port, variant, cert, key] = ${runtime === "deno" ? "Deno.args" : "process.argv.slice(2)"};
const v = variant.split("+");
const tls = cert ? { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") } : {};
// Deno: the runtime's own request behind a served Request (what src/runtime/deno-request.ts reads).
let inner: symbol | undefined;
const innerHeader = (req: Request, name: string): string | null => {
  inner ??= Object.getOwnPropertySymbols(req).find((s) => s.description === "request");
  return (req as unknown as Record<symbol, { header(n: string): string | null }>)[inner!]!.header(name);
};
const ended = () => {};
const handler = (req: Request, info?: { completed?: Promise<void> }) => {
  if (v.includes("url") && req.url.length === 0) throw new Error();
  if (v.includes("host") && req.headers.get("host") === "") throw new Error();
  if (v.includes("innerhost") && innerHeader(req, "host") === "") throw new Error();
  if (v.includes("completed")) info!.completed!.then(ended, ended);
  if (v.includes("connection") && req.headers.get("connection") === "-") throw new Error();
  if (v.includes("method") && req.method === "TRACE") throw new Error();
  if (v.includes("now") && performance.now() > performance.now()) throw new Error();
  return new Response("Hello, world", { headers: { "content-type": "text/plain" } });
};
${
    runtime === "deno"
      ? `if (v.includes("perconn")) {
  // Connections accepted here and served one by one, as src/runtime/deno.ts serves them.
  const serveOn = (Deno as any)[(Deno as any).internal].serveHttpOnConnection;
  const l = cert
    ? Deno.listenTls({ hostname: "127.0.0.1", port: Number(port), ...tls, alpnProtocols: ["http/1.1"] })
    : Deno.listen({ hostname: "127.0.0.1", port: Number(port) });
  (async () => {
    for (;;) {
      const c = await l.accept();
      if (!cert) c.setNoDelay(true);
      const server = serveOn(c, new AbortController().signal, handler, (e: unknown) => {
        console.error(e);
        return new Response(null, { status: 500 });
      }, () => {});
      // A client that leaves ends its connection's server with an error: nothing to do about it.
      server.finished.catch(() => {});
    }
  })();
} else {
  Deno.serve({ port: Number(port), hostname: "127.0.0.1", ...tls, onListen() {} }, handler);
}`
      : `Bun.serve({ port: Number(port), hostname: "127.0.0.1", ...(cert ? { tls } : {}), fetch: handler });`
  }
console.error("listening on " + port);
`,
);
const tlsArgs = plain ? [] : [join(pki, "localhost-rsa.pem"), join(pki, "localhost-rsa-key.pem")];
const servers: Array<
  { name: string; port: number; pid: number; kill: () => void; perCpu: number[]; user: number[]; kernel: number[] }
> = [];
/** --perf: a recording of the server while wrk loads it. */
const record = (s: { pid: number }) => perf ? perfStart(s.pid, `${script}.${s.pid}.perf`) : undefined;
/** Its user-space and kernel samples per 1000 requests. */
async function perfPer1000(
  s: { user: number[]; kernel: number[] },
  rec: ReturnType<typeof record>,
  requests: number,
): Promise<void> {
  if (!rec) return;
  const bySo = await perfSamples(rec);
  rmSync(rec.file, { force: true });
  // A recording with no samples at all is a perf that failed: no figure for this round.
  const { user, kernel } = perfSplit(bySo);
  s.user.push(bySo.size > 0 && requests > 0 ? (user * 1000) / requests : NaN);
  s.kernel.push(bySo.size > 0 && requests > 0 ? (kernel * 1000) / requests : NaN);
}
try {
  for (const name of variants) {
    const port = await freePort();
    const cmd = runtime === "deno"
      ? [bin("deno"), "run", "-A", script, String(port), name, ...tlsArgs]
      : [bin("bun"), script, String(port), name, ...tlsArgs];
    const { p } = await startServer(cmd);
    servers.push({ name, port, pid: p.pid!, kill: () => p.kill("SIGKILL"), perCpu: [], user: [], kernel: [] });
  }
  const urlOf = (s: { port: number }) => `${plain ? "http" : "https"}://127.0.0.1:${s.port}/`;
  for (let i = 0; i < rounds && together; i++) {
    for (const s of servers) spawnSync("wrk", ["-t1", "-c8", "-d1s", urlOf(s)]);
    const recs = servers.map(record);
    const c0 = servers.map((s) => cpuSeconds(s.pid));
    const outs = await Promise.all(servers.map((s) =>
      new Promise<string>((resolve) => {
        let out = "";
        const w = spawn("wrk", ["-t1", "-c32", `-d${duration}s`, urlOf(s)]);
        w.stdout.on("data", (d) => (out += d));
        w.on("close", () => resolve(out));
      })
    ));
    const cpus = servers.map((s, j) => cpuSeconds(s.pid) - c0[j]!);
    for (const [j, s] of servers.entries()) {
      const requests = Number(/(\d+) requests in/.exec(outs[j]!)?.[1] ?? 0);
      s.perCpu.push(cpus[j]! > 0 ? requests / cpus[j]! : 0);
      await perfPer1000(s, recs[j], requests);
    }
  }
  for (let i = 0; i < rounds && !together; i++) {
    for (const s of servers) {
      const url = `${plain ? "http" : "https"}://127.0.0.1:${s.port}/`;
      spawnSync("wrk", ["-t1", "-c8", "-d1s", url]);
      const rec = record(s);
      const c0 = cpuSeconds(s.pid);
      const out = spawnSync("wrk", ["-t1", "-c32", `-d${duration}s`, url], { encoding: "utf8" }).stdout;
      const cpu = cpuSeconds(s.pid) - c0;
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      s.perCpu.push(cpu > 0 ? requests / cpu : 0);
      await perfPer1000(s, rec, requests);
    }
  }
} finally {
  for (const s of servers) s.kill();
  rmSync(script, { force: true });
}
console.log(
  `${runtime}, ${plain ? "plain HTTP" : "HTTPS"}, wrk -t1 -c32 -d${duration}s, ${rounds} interleaved rounds${
    together ? ", all servers loaded together in each round" : ""
  }`,
);
console.log(
  `| handler reads | median req per server CPU-s | µs per request | ratio${
    together ? " (median of per-round ratios)" : ""
  } | per round |`,
);
console.log("|---|---:|---:|---:|---|");
const first = servers[0]!;
const base = median(first.perCpu);
for (const s of servers) {
  const m = median(s.perCpu);
  // --together: each round's ratio to the first variant in that round, then their median.
  const ratio = together ? median(s.perCpu.map((x, i) => x / first.perCpu[i]!)) : m / base;
  console.log(
    `| ${s.name} | ${m.toFixed(0)} | ${(1e6 / m).toFixed(2)} | ${ratio.toFixed(3)} | ${
      s.perCpu.map((x) => x.toFixed(0)).join(" / ")
    } |`,
  );
}
if (perf) {
  console.log("\nperf record -F 1999 while wrk loads each server: samples per 1000 requests");
  console.log(
    "| handler reads | user space (median) | kernel | user per round | user ratio (median of per-round ratios) |",
  );
  console.log("|---|---:|---:|---|---:|");
  for (const s of servers) {
    const known = (xs: number[]) => xs.filter((x) => !Number.isNaN(x));
    console.log(
      `| ${s.name} | ${median(known(s.user)).toFixed(2)} | ${median(known(s.kernel)).toFixed(2)} | ${
        s.user.map((x) => Number.isNaN(x) ? "-" : x.toFixed(1)).join(" / ")
      } | ${median(known(s.user.map((x, i) => x / first.user[i]!))).toFixed(3)} |`,
    );
  }
}
