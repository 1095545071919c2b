#!/usr/bin/env bun
/**
 * server.workers: one bobcat with 1 worker (today's single process) against one with 2 workers
 * (a primary and two processes sharing the port with SO_REUSEPORT), the same hello-world handler,
 * measured side by side with wrk in one run, rounds interleaved. Prints total req/s and requests
 * per server CPU-second (the whole process tree: primary and workers), and the 2-worker/1-worker
 * ratios. Goal: per CPU-second >= 0.9 (a second worker costs next to nothing per request); total
 * req/s grows with the cores left free (on a 2-core machine wrk takes one of them).
 *
 * The control, in the same rounds: 1 and 2 raw `Bun.serve`/`Deno.serve` processes sharing the
 * port with reusePort (bench/raw-reuse-port.ts) — what a second process on the port costs per
 * request on this machine and runtime with no bobcat code at all. `--no-raw` leaves it out.
 *
 *   bun bench/workers.ts [--rounds 3] [--duration 8] [--connections 32] [--runtime bun|deno] [--tls] [--no-raw]
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, cpuSeconds, freePort, median, option, ownCpuSeconds, ROOT, sleeps, startServer } from "./lib.ts";

const rounds = Number(option("--rounds", "3"));
const duration = Number(option("--duration", "8"));
const connections = Number(option("--connections", "32"));
const runtime = option("--runtime", "bun");
const tls = process.argv.includes("--tls");
const withRaw = !process.argv.includes("--no-raw");
const pki = join(ROOT, "tests/fixtures/pki");

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is needed: apt-get install wrk");
  process.exit(2);
}

function wrk(url: string, pid: number) {
  spawnSync("wrk", ["-t1", "-c8", "-d2s", url]); // warm-up
  const c0 = cpuSeconds(pid);
  const p0 = ownCpuSeconds(pid);
  const s0 = sleeps(pid);
  const r = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${duration}s`, url], { encoding: "utf8" });
  const cpu = cpuSeconds(pid) - c0;
  // The primary's own share (with workers: the supervisor, which keeps the session turns).
  const primary = cpu > 0 ? (ownCpuSeconds(pid) - p0) / cpu : 0;
  const slept = sleeps(pid) - s0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const total = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  return { rps, perCpu: cpu > 0 ? total / cpu : 0, primary, sleeps: total ? slept / total : 0 };
}

const work = mkdtempSync(join(tmpdir(), "bobcat-bench-workers-"));
writeFileSync(
  join(work, "hello.ts"),
  `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
);

async function bobcat(workers: number): Promise<{ p: ChildProcess; url: string }> {
  const port = await freePort();
  const file = join(work, `server-${workers}.yaml`);
  writeFileSync(
    file,
    `logging: { level: warn, components: { connector: info, workers: info } }
server:
  workers: ${workers}
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          maxThreads: 1000
${
      tls
        ? `          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${pki}/localhost-rsa.pem
                  certificateKeyFile: ${pki}/localhost-rsa-key.pem`
        : ""
    }
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: hello.ts
                sessionTrackingModes: []
`,
  );
  const cli = join(ROOT, "src/cli/main.ts");
  const cmd = runtime === "deno"
    ? [bin("deno"), "run", "-A", "--quiet", `--config=${join(ROOT, "deno.json")}`, cli, "run", "--config", file]
    : [bin("bun"), cli, "run", "--config", file];
  const { p } = await startServer(cmd, workers > 1 ? /all \d+ workers ready/ : /listening on/);
  return { p, url: `${tls ? "https" : "http"}://127.0.0.1:${port}/` };
}

async function raw(processes: number): Promise<{ p: ChildProcess; url: string }> {
  const port = await freePort();
  const script = join(ROOT, "bench/raw-reuse-port.ts");
  const certs = tls ? [`${pki}/localhost-rsa.pem`, `${pki}/localhost-rsa-key.pem`] : [];
  const cmd = runtime === "deno"
    ? [bin("deno"), "run", "-A", "--quiet", "--unstable-net", script, String(port), String(processes), ...certs]
    : [bin("bun"), script, String(port), String(processes), ...certs];
  const { p } = await startServer(cmd, /all \d+ ready/);
  return { p, url: `${tls ? "https" : "http"}://127.0.0.1:${port}/` };
}

const servers: Array<[string, { p: ChildProcess; url: string }]> = [];
const stopAll = () => {
  for (const [, s] of servers) s.p.kill("SIGTERM");
};
try {
  servers.push(["1 worker", await bobcat(1)], ["2 workers", await bobcat(2)]);
  if (withRaw) servers.push(["raw, 1 process", await raw(1)], ["raw, 2 processes", await raw(2)]);
} catch (e) {
  stopAll();
  rmSync(work, { recursive: true, force: true });
  throw e;
}
const rows: Record<string, { rps: number[]; perCpu: number[]; primary: number[]; sleeps: number[] }> = {};
for (const [name] of servers) rows[name] = { rps: [], perCpu: [], primary: [], sleeps: [] };
try {
  for (let r = 0; r < rounds; r++) {
    for (const [name, s] of servers) {
      const m = wrk(s.url, s.p.pid!);
      rows[name]!.rps.push(m.rps);
      rows[name]!.perCpu.push(m.perCpu);
      rows[name]!.primary.push(m.primary);
      rows[name]!.sleeps.push(m.sleeps);
      console.error(
        `round ${r + 1} ${name}: ${m.rps.toFixed(0)} req/s, ${m.perCpu.toFixed(0)} req per CPU-s${
          name === "2 workers" || name === "raw, 2 processes"
            ? `, primary ${(m.primary * 100).toFixed(1)}% of the CPU`
            : ""
        }`,
      );
    }
  }
} finally {
  stopAll();
  await new Promise((r) => setTimeout(r, 1500));
  rmSync(work, { recursive: true, force: true });
}

const med = (name: string) => ({ rps: median(rows[name]!.rps), perCpu: median(rows[name]!.perCpu) });
const a = med("1 worker");
const b = med("2 workers");
console.log(
  `\nserver.workers on ${runtime}, ${
    tls ? "HTTPS" : "plain HTTP"
  } keep-alive hello, wrk -t1 -c${connections}, ${rounds} rounds of ${duration}s (medians)`,
);
console.log(`| | req/s | req per server CPU-s |\n|---|---:|---:|`);
console.log(`| workers: 1 | ${a.rps.toFixed(0)} | ${a.perCpu.toFixed(0)} |`);
console.log(`| workers: 2 | ${b.rps.toFixed(0)} | ${b.perCpu.toFixed(0)} |`);
console.log(
  `| 2 / 1 | ${(b.rps / a.rps).toFixed(2)}× | ${(b.perCpu / a.perCpu).toFixed(2)}× (goal ≥ 0.9) |`,
);
if (withRaw) {
  const c = med("raw, 1 process");
  const d = med("raw, 2 processes");
  console.log(`| raw ${runtime}, 1 process | ${c.rps.toFixed(0)} | ${c.perCpu.toFixed(0)} |`);
  console.log(`| raw ${runtime}, 2 processes on the port | ${d.rps.toFixed(0)} | ${d.perCpu.toFixed(0)} |`);
  console.log(`| raw 2 / 1 | ${(d.rps / c.rps).toFixed(2)}× | ${(d.perCpu / c.perCpu).toFixed(2)}× |`);
  console.log(
    `| bobcat's 2 / 1 against raw's | ${((b.rps / a.rps) / (d.rps / c.rps)).toFixed(2)}× | ${
      ((b.perCpu / a.perCpu) / (d.perCpu / c.perCpu)).toFixed(2)
    }× |`,
  );
}
console.log(`\nthe primary's share of the 2-worker CPU: ${(median(rows["2 workers"]!.primary) * 100).toFixed(1)}%`);
// Where the rest goes: a worker with half the load empties its queue more often, goes to sleep in
// the poll and pays for the wake-up (system time, cold caches).
console.log(
  `sleeps (voluntary context switches) per request: 1 worker ${
    median(rows["1 worker"]!.sleeps).toFixed(3)
  }, 2 workers ${median(rows["2 workers"]!.sleeps).toFixed(3)}${
    withRaw
      ? `; raw 1 process ${median(rows["raw, 1 process"]!.sleeps).toFixed(3)}, 2 processes ${
        median(rows["raw, 2 processes"]!.sleeps).toFixed(3)
      }`
      : ""
  }`,
);
