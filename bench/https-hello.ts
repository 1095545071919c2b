#!/usr/bin/env bun
/**
 * HTTPS keep-alive hello world: bobcat (full routing: engine › host › context, request
 * context, limiter) against the raw server of the same runtime (Bun.serve, or Deno.serve with
 * --runtime deno) with the same certificate, measured side by side in one run with wrk, rounds
 * interleaved. Prints req/s, requests per server CPU-second (steadier on a shared machine) and
 * bobcat's ratio to raw, and bobcat's extra server CPU per request in µs (what bobcat's own code
 * costs does not depend on TLS, so over HTTPS and plain HTTP that figure should agree where the
 * ratios differ). Targets (issue 15): HTTPS >= 0.9, plain HTTP (--plain) >= 0.85.
 *
 *   bun bench/https-hello.ts [--rounds 3] [--duration 8] [--connections 32] [--runtime bun|deno] [--body BYTES]
 *                            [--plain] [--without-fast-path] [--before REF] [--exe dist/bobcat[,OTHER...]] [--smol]
 *                            [--together] [--context /app] [--deno-args "ARGS|ARGS..."] [--perf]
 *
 * The raw servers' handlers take the request (`(req) => ...`): Deno.serve skips building the
 * Request for a handler declared without parameters, which bobcat's cannot be.
 *
 * --before REF adds the bobcat of git REF (its src/ exported to a temporary directory, with this
 * checkout's node_modules) as another server, so before/after come from the same run.
 *
 * --exe adds single executables (`bun build.ts`) as further servers, e.g. two builds before and
 * after a change. --smol adds bobcat from the checkout under `bun --smol` and every --exe again
 * with BUN_OPTIONS=--smol: what Bun's smaller-heap mode costs in throughput.
 *
 * --without-fast-path adds a third server: bobcat with BOBCAT_SYNC_FAST_PATH=0, i.e. without
 * the Bun back-end's synchronous fast path (src/runtime/bun.ts), to show what that branch buys.
 *
 * --together loads every server at the same time in each round (one wrk each) and adds the median
 * of the per-round ratios: steadier than medians of rounds taken one server after another when
 * other work on the machine comes and goes (the servers then share the cores with each other too,
 * so req/s are lower than alone).
 *
 * --context /app puts bobcat's hello in a context at that path (the requests go to /app/), where
 * the handler sees the URL relative to it (a rebased Request, src/core/rebase-request.ts) — the
 * raw servers answer every path the same.
 *
 * --deno-args 'A|B' (with --runtime deno) adds bobcat from the checkout again under each set of
 * `deno run` arguments (split on spaces), e.g. `--deno-args '--v8-flags=--max-semi-space-size=1'`:
 * what a flag that lowers idle memory (bench/startup.ts --deno-args) costs in throughput.
 *
 * --perf records each server with `perf record -F 1999` while wrk loads it and adds its samples
 * per 1000 requests, user space and kernel, by shared object (the runtime's binary, libc, JIT
 * code): far steadier than req per CPU-s on a shared machine (the load of other work changes how
 * fast a sample's worth of work goes less than how many requests a CPU-second holds), and the
 * kernel's part is the same for every server answering the same bytes, so user space is where
 * bobcat's own cost shows. Needs perf (kernel.perf_event_paranoid <= 2 for one's own processes).
 *
 * --body 16384 shows what a response of a few KB costs: on Deno, without TCP_NODELAY, each one
 * would wait ~40 ms for a delayed ACK (see src/runtime/deno-nodelay.ts).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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

const root = ROOT;
const opt = option;
const rounds = Number(opt("--rounds", "3"));
const duration = Number(opt("--duration", "8"));
const connections = Number(opt("--connections", "32"));
const runtime = opt("--runtime", "bun");
const bodySize = Number(opt("--body", "0"));
const plain = process.argv.includes("--plain");
const withoutFastPath = process.argv.includes("--without-fast-path");
const before = opt("--before", "");
const exes = opt("--exe", "").split(",").filter(Boolean).map((e) => resolve(e));
const smol = process.argv.includes("--smol");
const together = process.argv.includes("--together");
const perf = process.argv.includes("--perf");
const contextPath = opt("--context", "");
const denoArgSets = opt("--deno-args", "").split("|").filter(Boolean).map((a) => a.split(" ").filter(Boolean));
if (contextPath !== "" && !/^\/[^/\s]+$/.test(contextPath)) {
  console.error(`--context: a context path like /app, not "${contextPath}"`);
  process.exit(2);
}
const scheme = plain ? "http" : "https";
const pki = join(root, "tests/fixtures/pki");
const cert = join(pki, "localhost-rsa.pem");
const key = join(pki, "localhost-rsa-key.pem");

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is needed: apt-get install wrk");
  process.exit(2);
}

const start = async (cmd: string[]) => (await startServer(cmd)).p;

async function wrk(url: string, pid: number): Promise<Sample> {
  spawnSync("wrk", ["-t1", "-c8", "-d2s", url]); // warm-up
  const rec = perf ? perfStart(pid, join(work, `perf-${pid}.data`)) : undefined;
  const c0 = cpuSeconds(pid);
  const r = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${duration}s`, "--latency", url], { encoding: "utf8" });
  const cpu = cpuSeconds(pid) - c0;
  return sample(r.stdout, cpu, rec ? await perfSamples(rec) : undefined);
}

interface Sample {
  rps: number;
  perCpu: number;
  p99: string;
  /** --perf: samples per 1000 requests, user space and kernel, and by shared object. */
  user?: number;
  kernel?: number;
  bySo?: Map<string, number>;
}

function sample(out: string, cpu: number, bySo?: Map<string, number>): Sample {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const p99 = /99%\s+(\S+)/.exec(out)?.[1] ?? "?";
  const s: Sample = { rps, perCpu: cpu > 0 ? total / cpu : 0, p99 };
  // (A recording with no samples at all is a perf that failed, not a server that did nothing.)
  if (bySo && bySo.size > 0 && total > 0) {
    const { user, kernel } = perfSplit(bySo);
    s.user = (user * 1000) / total;
    s.kernel = (kernel * 1000) / total;
    s.bySo = new Map([...bySo].map(([so, n]) => [so, (n * 1000) / total]));
  }
  return s;
}

/**
 * --together: every server loaded at the same time, one wrk each, so that all of them meet the
 * same competition for the cores in a round (on a shared machine the load of other work moves
 * requests per CPU-second by ±40% from one round to the next; within a round it moves them alike).
 */
async function wrkTogether(targets: Array<{ url: string; pid: number }>) {
  for (const t of targets) spawnSync("wrk", ["-t1", "-c8", "-d2s", t.url]); // warm-up
  const recs = targets.map((t) => perf ? perfStart(t.pid, join(work, `perf-${t.pid}.data`)) : undefined);
  const c0 = targets.map((t) => cpuSeconds(t.pid));
  const outs = await Promise.all(targets.map((t) =>
    new Promise<string>((resolve) => {
      let out = "";
      const w = spawn("wrk", ["-t1", `-c${connections}`, `-d${duration}s`, "--latency", t.url]);
      w.stdout.on("data", (d) => (out += d));
      w.on("close", () => resolve(out));
    })
  ));
  const cpu = targets.map((t, i) => cpuSeconds(t.pid) - c0[i]!);
  const bySo = await Promise.all(recs.map((r) => r ? perfSamples(r) : undefined));
  return targets.map((_, i) => sample(outs[i]!, cpu[i]!, bySo[i]));
}

const work = mkdtempSync(join(tmpdir(), "bobcat-bench-"));
const rawPort = await freePort();
const bobPort = await freePort();
const body = bodySize > 0 ? "x".repeat(bodySize) : "Hello, world";
writeFileSync(
  join(work, "hello.ts"),
  `const body = ${
    JSON.stringify(body)
  };\nexport default { fetch: () => new Response(body, { headers: { "content-type": "text/plain" } }) };\n`,
);
writeFileSync(
  join(work, "server.yaml"),
  `logging: { level: warn, components: { connector: info } }
server:
  services:
    - connectors:
        - port: ${bobPort}
          address: 127.0.0.1
${
    plain ? "" : `          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${cert}
                  certificateKeyFile: ${key}
`
  }      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: "${contextPath}"
                handler: hello.ts
`,
);
/** A checkout of REF's code, runnable from the temporary directory (node_modules linked). */
function exportRef(ref: string): string {
  const dir = join(work, "before");
  mkdirSync(dir);
  const tar = spawnSync("git", ["-C", root, "archive", ref, "src", "package.json", "deno.json", "tsconfig.json"], {
    maxBuffer: 1 << 30,
  });
  if (tar.status !== 0) throw new Error(`git archive ${ref}: ${tar.stderr}`);
  spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  return dir;
}
const bobcatCmd = (src: string, yaml: string) =>
  runtime === "deno"
    ? [
      bin("deno"),
      "run",
      "-A",
      `--config=${join(src, "deno.json")}`,
      join(src, "src/cli/main.ts"),
      "run",
      "--config",
      yaml,
    ]
    : [bin("bun"), join(src, "src/cli/main.ts"), "run", "--config", yaml];
const bobCmd = bobcatCmd(root, join(work, "server.yaml"));
const rawArgs = [String(rawPort), plain ? "" : cert, plain ? "" : key, String(bodySize)];
const rawName = runtime === "deno" ? "raw Deno.serve" : "raw Bun.serve";
const raw = await start(
  runtime === "deno"
    ? [bin("deno"), "run", "-A", join(import.meta.dir, "raw-deno-serve.ts"), ...rawArgs]
    : [bin("bun"), join(import.meta.dir, "raw-bun-serve.ts"), ...rawArgs],
);
const servers: Array<{ name: string; p: ChildProcess; port: number }> = [
  { name: rawName, p: raw, port: rawPort },
  { name: `bobcat (${runtime})`, p: await start(bobCmd), port: bobPort },
];
if (before) {
  const port = await freePort();
  const yaml = join(work, "server-before.yaml");
  writeFileSync(yaml, readFileSync(join(work, "server.yaml"), "utf8").replace(`port: ${bobPort}`, `port: ${port}`));
  servers.push({ name: `bobcat ${before} (${runtime})`, p: await start(bobcatCmd(exportRef(before), yaml)), port });
}
/** Another server on its own port: `cmd(yaml)` with the bench config, `env` set while it starts. */
async function addServer(name: string, cmd: (yaml: string) => string[], env: Record<string, string> = {}) {
  const port = await freePort();
  const yaml = join(work, `server-${port}.yaml`);
  writeFileSync(yaml, readFileSync(join(work, "server.yaml"), "utf8").replace(`port: ${bobPort}`, `port: ${port}`));
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    servers.push({ name, p: await start(cmd(yaml)), port });
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}
for (const exe of exes) await addServer(`bobcat ${exe} (executable)`, (yaml) => [exe, "run", "--config", yaml]);
if (runtime === "deno") {
  for (const args of denoArgSets) {
    await addServer(`bobcat (deno ${args.join(" ")})`, (yaml) => {
      const cmd = bobcatCmd(root, yaml);
      return [cmd[0], cmd[1], ...args, ...cmd.slice(2)];
    });
  }
}
if (smol && runtime !== "deno") {
  await addServer(`bobcat (${runtime} --smol)`, (yaml) => [bin("bun"), "--smol", ...bobcatCmd(root, yaml).slice(1)]);
  for (const exe of exes) {
    await addServer(`bobcat ${exe} (executable, BUN_OPTIONS=--smol)`, (yaml) => [exe, "run", "--config", yaml], {
      BUN_OPTIONS: "--smol",
    });
  }
}
if (withoutFastPath) {
  const port = await freePort();
  const yaml = join(work, "server-slow.yaml");
  writeFileSync(yaml, readFileSync(join(work, "server.yaml"), "utf8").replace(`port: ${bobPort}`, `port: ${port}`));
  process.env.BOBCAT_SYNC_FAST_PATH = "0";
  const p = await start(bobCmd.map((a) => (a.endsWith("server.yaml") ? yaml : a)));
  delete process.env.BOBCAT_SYNC_FAST_PATH;
  servers.push({ name: `bobcat (${runtime}), no sync fast path`, p, port });
}

const results: Record<string, Sample[]> = {};
for (const s of servers) results[s.name] = [];
try {
  for (let i = 0; i < rounds; i++) {
    if (together) {
      const got = await wrkTogether(
        servers.map((s) => ({ url: `${scheme}://127.0.0.1:${s.port}${contextPath}/`, pid: s.p.pid! })),
      );
      servers.forEach((s, j) => results[s.name]!.push(got[j]!));
      continue;
    }
    for (const s of servers) {
      results[s.name]!.push(await wrk(`${scheme}://127.0.0.1:${s.port}${contextPath}/`, s.p.pid!));
    }
  }
} finally {
  for (const s of servers) s.p.kill(s === servers[0] ? "SIGKILL" : "SIGTERM");
  rmSync(work, { recursive: true, force: true });
}

console.log(
  `${plain ? "plain HTTP" : "HTTPS"} keep-alive, ${
    bodySize > 0 ? `${bodySize}-byte body` : "hello world"
  }, wrk -t1 -c${connections} -d${duration}s, ${rounds} interleaved rounds, ${plain ? "" : "RSA-2048, "}loopback`,
);
console.log(`${rawName}'s handler takes the request ((req) => ...), as bobcat's must, so both build it`);
console.log("| server | median req/s | median req per server CPU-s | p99 per round |");
console.log("|---|---|---|---|");
const summary: Record<string, { rps: number; perCpu: number }> = {};
for (const [name, rs] of Object.entries(results)) {
  summary[name] = { rps: median(rs.map((r) => r.rps)), perCpu: median(rs.map((r) => r.perCpu)) };
  console.log(
    `| ${name} | ${summary[name]!.rps.toFixed(0)} | ${summary[name]!.perCpu.toFixed(0)} | ${
      rs.map((r) => r.p99).join(" / ")
    } |`,
  );
}
const [a, ...others] = Object.entries(summary);
if (together) {
  // Within a round the servers shared the machine alike: the ratio of each round, then their median.
  // Against raw, and every further bobcat (--before, --exe …) against this checkout's.
  const pairs = [...others.map(([name]) => [name, a![0]]), ...others.slice(1).map(([name]) => [name, others[0]![0]])];
  for (const [name, base] of pairs) {
    const ratios = results[name!]!.map((r, i) => r.perCpu / results[base!]![i]!.perCpu);
    console.log(
      `per-round ratio ${name} / ${base} by req per CPU-s: median ${median(ratios).toFixed(3)} (${
        ratios.map((x) => x.toFixed(2)).join(" / ")
      })`,
    );
  }
}
for (const [name, b] of others) {
  console.log(
    `ratio ${name} / ${rawName}: ${(b.rps / a![1].rps).toFixed(3)} by req/s, ${
      (b.perCpu / a![1].perCpu).toFixed(3)
    } by req per CPU-s (target >= ${plain ? "0.85" : "0.9"}); ${
      (1e6 / b.perCpu - 1e6 / a![1].perCpu).toFixed(1)
    } µs more server CPU per request`,
  );
}
if (perf) {
  // Samples per 1000 requests (perf record -F 1999 of each server while wrk loads it); a round
  // whose recording failed (no samples at all) has no figure and stays out of the medians.
  console.log("\nperf record -F 1999 while wrk loads each server: samples per 1000 requests (medians of the rounds)");
  console.log("| server | user space | kernel | user per round | user by shared object |");
  console.log("|---|---|---|---|---|");
  for (const [name, rs] of Object.entries(results)) {
    const recorded = rs.filter((r) => r.bySo !== undefined);
    const sos = new Set(recorded.flatMap((r) => [...r.bySo!.keys()]));
    const parts = [...sos]
      .map((so) => [so, median(recorded.map((r) => r.bySo!.get(so) ?? 0))] as const)
      .filter(([so, n]) => !so.startsWith("[kernel") && n >= 0.1)
      .sort((x, y) => y[1] - x[1])
      .map(([so, n]) => `${so} ${n.toFixed(2)}`);
    console.log(
      `| ${name} | ${median(recorded.map((r) => r.user!)).toFixed(2)} | ${
        median(recorded.map((r) => r.kernel!)).toFixed(2)
      } | ${rs.map((r) => r.user?.toFixed(1) ?? "-").join(" / ")} | ${parts.join(", ")} |`,
    );
  }
  const pairs = [...others.map(([name]) => [name, a![0]]), ...others.slice(1).map(([name]) => [name, others[0]![0]])];
  for (const [name, base] of pairs) {
    const ratios = results[name!]!.map((r, i) => (r.user ?? NaN) / (results[base!]![i]!.user ?? NaN));
    const known = ratios.filter((x) => !Number.isNaN(x));
    console.log(
      `per-round ratio ${name} / ${base} by user-space samples per request: median ${median(known).toFixed(3)} (${
        ratios.map((x) => Number.isNaN(x) ? "-" : x.toFixed(2)).join(" / ")
      })`,
    );
  }
}
