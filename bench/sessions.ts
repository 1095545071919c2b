#!/usr/bin/env bun
/**
 * Sessions, bobcat side by side with the raw runtime (Bun.serve, or Deno.serve with
 * --runtime deno) keeping its sessions in a Map (bench/raw-sessions.ts), in one run:
 *
 *  1. Keep-alive throughput (wrk, rounds interleaved): no session, an existing session (cookie),
 *     a new session per request — req/s and requests per server CPU-second, and the ratios.
 *  2. Creating N sessions over HTTP (sessions/s), and RSS with them (idle RSS before).
 *  3. bobcat with N sessions: SIGTERM → exit (StandardManager writes them to its pathname file),
 *     then start again → serving the first request with a restored cookie, and the restored
 *     count as the manager app's JSON reports it (/manager/json/list).
 *
 * `--before REF` adds the bobcat of git REF (its src/ exported to a temporary directory) as a
 * third server in every measurement, so before/after come from the same run.
 *
 * `--only restart` skips 1 and 2: each bobcat's own StandardManager writes the N sessions
 * (the same two attributes, in a process of its own) to its pathname file, then step 3 runs
 * `--rounds` times, targets interleaved (start → first request, SIGTERM → exit, start again).
 * `--only stop-live` runs step 3's stop alone, for sessions made at run time
 * (live objects, not records restored from the file): `--rounds` times, targets interleaved,
 * each bobcat started without sessions, N sessions made over HTTP by wrk, then SIGTERM → exit.
 * `--exe PATH[,PATH...]` adds single executables (`bun build.ts` makes dist/bobcat) as bobcats
 * of their own, run as users run them (`PATH run --config ...`; the checkout's StandardManager
 * seeds their files). `--entry PATH[,PATH...]` (with --runtime deno) adds JavaScript builds of the
 * CLI run by `deno run` the way the sources are, e.g. dist-lib/cli.js (`bun scripts/build-lib.ts`),
 * which `BOBCAT_RUNTIME=deno npx bobcat` runs. `--timing` starts every bobcat with BOBCAT_TIMING=1 and prints its phases
 * (src/util/timing.ts) of the last round. `--cookie last` makes the restored cookie of --only
 * restart the last session's (the end of the sessions file) instead of the first's (after the
 * first round the cookie's session, read and so written anew, is at the end anyway); `--cookie
 * none` makes the first request after a restart one without a session (/none: start → serving).
 *
 * `--deno-args 'A|B'` (with --runtime deno) adds bobcat from the checkout again under each set of
 * `deno run` arguments (split on spaces), e.g. `--deno-args '--v8-flags=--lazy-new-space-shrinking'`:
 * what a V8 flag that lowers idle memory (bench/startup.ts --deno-args) costs where the young
 * generation is busiest.
 *
 * `--only throughput` runs step 1 alone; `--together` loads every target at the same time in each
 * round of step 1 (one wrk each) and adds the median of the per-round ratios, steadier when other
 * work on the machine comes and goes. `--perf` adds each server's user-space samples per 1000
 * requests in step 1 (`perf record -F 1999` while wrk loads it, as bench/https-hello.ts --perf).
 *
 *   bun bench/sessions.ts [--runtime bun|deno] [--rounds 3] [--duration 5] [--connections 32]
 *                         [--sessions 100000] [--tls on|off] [--before REF] [--only restart|stop-live|throughput]
 *                         [--together] [--exe dist/bobcat[,OTHER]] [--entry dist-lib/cli.js[,OTHER]] [--timing] [--cookie first|last|none]
 *                         [--perf]
 *                         [--deno-args "ARGS|ARGS..."]
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import {
  bin,
  cpuSeconds,
  freePort,
  median,
  option,
  perfSamples,
  perfSplit,
  perfStart,
  processTree,
  ROOT,
  startServer,
} from "./lib.ts";

const runtime = option("--runtime", "bun");
const rounds = Number(option("--rounds", "3"));
const duration = Number(option("--duration", "5"));
const connections = Number(option("--connections", "32"));
const count = Number(option("--sessions", "100000"));
const tls = option("--tls", "on") !== "off";
const before = option("--before", "");
const only = option("--only", "");
const exes = option("--exe", "").split(",").filter((e) => e !== "").map((e) => resolve(e));
/** --runtime deno: JavaScript builds of the CLI (dist-lib/cli.js, what `BOBCAT_RUNTIME=deno npx bobcat` runs), run like the sources. */
const denoArgSets = option("--deno-args", "").split("|").filter(Boolean).map((a) => a.split(" ").filter(Boolean));
const entries = option("--entry", "").split(",").filter((e) => e !== "").map((e) => resolve(e));
const timing = process.argv.includes("--timing");
const cookieOf = option("--cookie", "first");
if (cookieOf !== "first" && cookieOf !== "last" && cookieOf !== "none") {
  console.error(`--cookie: "first", "last" or "none", not "${cookieOf}"`);
  process.exit(2);
}
const together = process.argv.includes("--together");
const perf = process.argv.includes("--perf");
if (timing) process.env.BOBCAT_TIMING = "1";
if (only !== "" && only !== "restart" && only !== "stop-live" && only !== "throughput") {
  console.error(`--only: "restart", "stop-live", "throughput" or nothing, not "${only}"`);
  process.exit(2);
}
const pki = join(ROOT, "tests/fixtures/pki");
const cert = join(pki, "localhost-rsa.pem");
const key = join(pki, "localhost-rsa-key.pem");
const scheme = tls ? "https" : "http";

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is needed: apt-get install wrk");
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), "bobcat-bench-sessions-"));
const rawName = runtime === "deno" ? "raw Deno.serve + Map" : "raw Bun.serve + Map";

/** A checkout of REF's code, runnable from the temporary directory (node_modules linked). */
function exportRef(ref: string): string {
  const dir = join(work, "before");
  mkdirSync(dir);
  const tar = spawnSync("git", ["-C", ROOT, "archive", ref, "src", "package.json", "deno.json", "tsconfig.json"], {
    maxBuffer: 1 << 30,
  });
  if (tar.status !== 0) throw new Error(`git archive ${ref}: ${tar.stderr}`);
  spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

interface Target {
  name: string;
  port: number;
  /** The checkout it runs from (bobcat only). */
  root?: string;
  cmd: () => string[];
  p?: ChildProcess;
  /** The sessions file (bobcat only). */
  file?: string;
  /** Its stderr so far (bobcat only). */
  log?: () => string;
}

writeFileSync(
  join(work, "app.ts"),
  `export default { fetch(req, ctx) {
  const path = new URL(req.url).pathname;
  if (path === "/none") return new Response("no session");
  const s = ctx.getSession(path === "/create");
  if (path === "/create") { s.setAttribute("user", "u" + s.id.slice(0, 4)); s.setAttribute("n", 1); }
  return new Response(s ? String(s.getAttribute("user")) : "none");
} };\n`,
);

function bobcatTarget(name: string, root: string, exe?: string, entry?: string): Target {
  const port = 0;
  const dir = join(work, name.replace(/\W+/g, "-"));
  mkdirSync(dir);
  const file = join(dir, "SESSIONS.ser");
  const t: Target = { name, port, file, root, cmd: () => [] };
  t.cmd = () => {
    writeFileSync(
      join(dir, "server.yaml"),
      `logging: { level: warn, components: { connector: info, session: info } }
server:
  services:
    - connectors:
        - port: ${t.port}
          address: 127.0.0.1
${
        tls
          ? `          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${cert}
                  certificateKeyFile: ${key}
`
          : ""
      }      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: ${join(work, "app.ts")}
                manager: { pathname: ${file} }
              - path: /manager
                handler: bobcat:manager
`,
    );
    const main = entry ?? join(root, "src/cli/main.ts");
    const config = join(dir, "server.yaml");
    if (exe) return [exe, "run", "--config", config];
    return runtime === "deno"
      ? [bin("deno"), "run", "-A", `--config=${join(root, "deno.json")}`, main, "run", "--config", config]
      : [bin("bun"), main, "run", "--config", config];
  };
  return t;
}

const targets: Target[] = [
  {
    name: rawName,
    port: 0,
    cmd: () => {
      const script = join(import.meta.dir, "raw-sessions.ts");
      const args = [String(targets[0]!.port), ...(tls ? [cert, key] : [])];
      return runtime === "deno"
        ? [bin("deno"), "run", "-A", "--no-config", script, ...args]
        : [bin("bun"), script, ...args];
    },
  },
  bobcatTarget(`bobcat (${runtime})`, ROOT),
];
if (before) targets.push(bobcatTarget(`bobcat ${before} (${runtime})`, exportRef(before)));
for (const [i, exe] of exes.entries()) {
  targets.push(bobcatTarget(`bobcat executable ${i + 1} (${relative(ROOT, exe)})`, ROOT, exe));
}
for (const [i, entry] of entries.entries()) {
  if (runtime !== "deno") throw new Error("--entry is for --runtime deno (Bun runs the sources or --exe)");
  targets.push(bobcatTarget(`bobcat build ${i + 1} (${relative(ROOT, entry)})`, ROOT, undefined, entry));
}
for (const args of denoArgSets) {
  if (runtime !== "deno") throw new Error("--deno-args is for --runtime deno");
  const t = bobcatTarget(`bobcat (deno ${args.join(" ")})`, ROOT);
  const cmd = t.cmd;
  t.cmd = () => {
    const c = cmd();
    return [c[0]!, c[1]!, ...args, ...c.slice(2)];
  };
  targets.push(t);
}
for (const t of targets) t.port = await freePort();

const url = (t: Target, path: string) => `${scheme}://127.0.0.1:${t.port}${path}`;
const insecure = tls ? { tls: { rejectUnauthorized: false } } : {};

async function get(t: Target, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(url(t, path), { headers, ...insecure } as RequestInit);
}

async function start(t: Target): Promise<number> {
  const t0 = performance.now();
  t.p = (await startServer(t.cmd())).p;
  return performance.now() - t0;
}

function stopAll() {
  for (const t of targets) if (t.p && t.p.exitCode === null) t.p.kill("SIGKILL");
}
process.on("exit", stopAll);

function rssMiB(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

/** --perf: a recording of the target's server while wrk loads it. */
const record = (t: Target) => perf ? perfStart(t.p!.pid!, join(work, `perf-${t.p!.pid}.data`)) : undefined;

async function wrk(t: Target, path: string, extra: string[] = []): Promise<Sample> {
  const target = url(t, path);
  spawnSync("wrk", ["-t1", "-c8", "-d1s", ...extra, target]); // warm-up
  const rec = record(t);
  const c0 = cpuSeconds(t.p!.pid!);
  const r = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${duration}s`, ...extra, target], { encoding: "utf8" });
  const cpu = cpuSeconds(t.p!.pid!) - c0;
  return wrkSample(t, path, r.stdout, cpu, rec ? await perfSamples(rec) : undefined);
}

interface Sample {
  rps: number;
  perCpu: number;
  /** --perf: user-space samples per 1000 requests (undefined when the recording failed). */
  user?: number;
}

function wrkSample(t: Target, path: string, out: string, cpu: number, bySo?: Map<string, number>): Sample {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (errors) console.error(`${t.name} ${path}: ${errors} non-2xx responses`);
  const user = bySo && bySo.size > 0 && total > 0 ? (perfSplit(bySo).user * 1000) / total : undefined;
  return { rps, perCpu: cpu > 0 ? total / cpu : 0, user };
}

/** --together: every target loaded at the same time (one wrk each), so they meet the same machine load in a round. */
async function wrkTogether(ts: Target[], path: string, extra: (t: Target) => string[]) {
  for (const t of ts) spawnSync("wrk", ["-t1", "-c8", "-d1s", ...extra(t), url(t, path)]); // warm-up
  const recs = ts.map(record);
  const c0 = ts.map((t) => cpuSeconds(t.p!.pid!));
  const outs = await Promise.all(ts.map((t) =>
    new Promise<string>((resolve) => {
      let out = "";
      const w = spawn("wrk", ["-t1", `-c${connections}`, `-d${duration}s`, ...extra(t), url(t, path)]);
      w.stdout!.on("data", (d) => (out += d));
      w.on("close", () => resolve(out));
    })
  ));
  const cpu = ts.map((t, i) => cpuSeconds(t.p!.pid!) - c0[i]!);
  const bySo = await Promise.all(recs.map((r) => r ? perfSamples(r) : undefined));
  return ts.map((t, i) => wrkSample(t, path, outs[i]!, cpu[i]!, bySo[i]));
}

/**
 * Requests until the server holds `n` sessions (wrk's thread:stop() does not end a run, so the
 * count is polled and wrk interrupted); returns sessions created per second and per second of
 * the server's CPU time.
 */
async function createSessions(t: Target, n: number): Promise<{ perSec: number; perCpu: number }> {
  const have0 = await sessionCount(t);
  const cpu0 = cpuSeconds(t.p!.pid!);
  const t0 = performance.now();
  const w = spawn("wrk", ["-t1", `-c${connections}`, "-d300s", url(t, "/create")], { stdio: "ignore" });
  let have = 0;
  try {
    for (let i = 0; i < 6000 && have < n; i++) {
      await Bun.sleep(have > n * 0.9 ? 10 : 100);
      have = await sessionCount(t);
    }
  } finally {
    w.kill("SIGINT");
  }
  const secs = (performance.now() - t0) / 1000;
  await new Promise((r) => w.once("exit", r));
  const made = (await sessionCount(t)) - have0;
  const cpu = cpuSeconds(t.p!.pid!) - cpu0;
  return { perSec: made / secs, perCpu: cpu > 0 ? made / cpu : 0 };
}

async function sessionCount(t: Target): Promise<number> {
  if (!t.file) return Number(await (await get(t, "/count")).text());
  const list = await get(t, "/manager/json/list");
  if (list.ok) {
    const { applications } = await list.json() as { applications: Array<{ path: string; sessions: number }> };
    return applications.find((a) => a.path === "/")!.sessions;
  }
  // Older bobcats (--before): the overview's statistics.
  const { contexts } = await (await get(t, "/manager/json")).json() as {
    contexts: Array<{ path: string; stats: { activeSessions: number } }>;
  };
  return contexts.find((x) => x.path === "/")!.stats.activeSessions;
}

interface StopRestart {
  name: string;
  stopMs: number;
  stopCpuMs: number;
  fileMB: number;
  listeningMs: number;
  servedMs: number;
  startCpuMs: number;
  restored: number;
}

/** --timing: each bobcat's phases in the last round. */
const timings = new Map<string, string>();

/** SIGTERM → exit of bobcat `t`: wall and CPU time, and the size of the sessions file it wrote. */
async function terminate(t: Target): Promise<{ stopMs: number; stopCpuMs: number; fileMB: number }> {
  const p = t.p!;
  let gone = false;
  const exited = new Promise<void>((r) =>
    p.once("exit", () => {
      gone = true;
      r();
    })
  );
  const cpu0 = cpuSeconds(p.pid!);
  const t0 = performance.now();
  p.kill("SIGTERM");
  // CPU time of the stop: sampled until the process is gone (the last sample is within ~5 ms of the exit).
  let cpu = cpu0;
  while (!gone) {
    const c = cpuSeconds(p.pid!);
    if (c > 0) cpu = c;
    await Promise.race([exited, Bun.sleep(5)]);
  }
  const stopMs = performance.now() - t0;
  return { stopMs, stopCpuMs: (cpu - cpu0) * 1000, fileMB: statSync(t.file!).size / 1e6 };
}

/** Step 3 for every bobcat: SIGTERM → exit (the file written), then start → first request with `kept[name]`. */
async function stopAndRestart(kept: Record<string, string>): Promise<StopRestart[]> {
  const rows: StopRestart[] = [];
  for (const t of targets.filter((x) => x.file)) {
    const { stopMs, stopCpuMs, fileMB } = await terminate(t);
    const t1 = performance.now();
    const started = await startServer(t.cmd());
    const stopLog = t.log?.() ?? "";
    t.p = started.p;
    t.log = started.log;
    const listeningMs = performance.now() - t1;
    const r = cookieOf === "none" ? await get(t, "/none") : await get(t, "/read", { cookie: kept[t.name]! });
    const body = await r.text();
    const servedMs = performance.now() - t1;
    const startCpuMs = cpuSeconds(t.p.pid!) * 1000;
    if (body === "none") console.error(`${t.name}: the kept session was not restored`);
    const restored = await sessionCount(t);
    rows.push({ name: t.name, stopMs, stopCpuMs, fileMB, listeningMs, servedMs, startCpuMs, restored });
    if (timing) {
      const phases = (log: string) => log.split("\n").filter((l) => l.startsWith("[timing]")).join("\n");
      const stopping = stopLog.slice(Math.max(0, stopLog.indexOf("[timing] SIGTERM")));
      timings.set(t.name, `${t.name}, stop:\n${phases(stopping)}\nstart:\n${phases(started.log())}`);
    }
  }
  return rows;
}

function printStopRestart(rows: StopRestart[], startMs?: Record<string, number>, startCpu?: Record<string, number>) {
  console.log(`\n3. bobcat with ${count} sessions: SIGTERM → exit, then start → first request with a restored cookie`);
  console.log(
    "| server | SIGTERM → exit, ms | file, MB | start → listening, ms | start → first 200 (restored cookie), ms | restored and counted |" +
      (startMs ? " start without sessions → listening, ms |" : ""),
  );
  console.log(`|---|---:|---:|---:|---:|---:|${startMs ? "---:|" : ""}`);
  for (const x of rows) {
    console.log(
      `| ${x.name} | ${x.stopMs.toFixed(0)} (CPU ${x.stopCpuMs.toFixed(0)}) | ${x.fileMB.toFixed(1)} | ${
        x.listeningMs.toFixed(0)
      } | ${x.servedMs.toFixed(0)} (CPU ${x.startCpuMs.toFixed(0)}) | ${x.restored} |` +
        (startMs ? ` ${startMs[x.name]!.toFixed(0)} (CPU ${startCpu![x.name]!.toFixed(0)}) |` : ""),
    );
  }
}

/** --only restart: the target's own StandardManager writes `count` sessions to its file; returns one's cookie. */
function seed(t: Target): string {
  const script = join(work, "seed.ts");
  writeFileSync(
    script,
    `const [root, file, n] = process.argv.slice(2);
const { StandardManager } = await import(root + "/src/session/standard-manager.ts");
const m = new StandardManager({ name: "/", pathname: file });
await m.start();
let first = "";
let last = "";
for (let i = 0; i < Number(n); i++) {
  const s = m.createSession();
  s.setAttribute("user", "u" + s.id.slice(0, 4));
  s.setAttribute("n", 1);
  s.endAccess();
  first ||= s.id;
  last = s.id;
}
await m.stop();
console.log(${cookieOf === "last" ? "last" : "first"});
`,
  );
  const args = [script, t.root!, t.file!, String(count)];
  const r = runtime === "deno"
    ? spawnSync(bin("deno"), ["run", "-A", `--config=${join(t.root!, "deno.json")}`, ...args], { encoding: "utf8" })
    : spawnSync(bin("bun"), args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`seeding ${t.name}: ${r.stderr}`);
  return `JSESSIONID=${r.stdout.trim()}`;
}

const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "-");

if (only === "stop-live") {
  try {
    const bobcats = targets.filter((t) => t.file);
    const stops = new Map<string, Array<{ stopMs: number; stopCpuMs: number; fileMB: number }>>();
    for (let i = 0; i < rounds; i++) {
      for (const t of i % 2 ? [...bobcats].reverse() : bobcats) {
        rmSync(t.file!, { force: true });
        const started = await startServer(t.cmd());
        t.p = started.p;
        t.log = started.log;
        await createSessions(t, count);
        await Bun.sleep(500);
        const made = await sessionCount(t);
        const stop = await terminate(t);
        if (!stops.has(t.name)) stops.set(t.name, []);
        stops.get(t.name)!.push(stop);
        console.log(
          `round ${i + 1}, ${t.name}: ${made} sessions, SIGTERM → exit ${stop.stopMs.toFixed(0)} ms (CPU ${
            stop.stopCpuMs.toFixed(0)
          }), file ${stop.fileMB.toFixed(1)} MB`,
        );
        if (timing) {
          const log = t.log();
          const phases = log.slice(Math.max(0, log.indexOf("[timing] SIGTERM"))).split("\n")
            .filter((l) => l.startsWith("[timing]")).join("\n");
          timings.set(t.name, `${t.name}, stop:\n${phases}`);
        }
      }
    }
    console.log(
      `\nbobcat with ${count} sessions made over ${
        tls ? "HTTPS" : "HTTP"
      } (wrk): SIGTERM → exit, medians of ${rounds} round(s)`,
    );
    console.log("| server | SIGTERM → exit, ms | CPU, ms | file, MB |");
    console.log("|---|---:|---:|---:|");
    for (const t of bobcats) {
      const xs = stops.get(t.name)!;
      console.log(
        `| ${t.name} | ${median(xs.map((x) => x.stopMs)).toFixed(0)} | ${
          median(xs.map((x) => x.stopCpuMs)).toFixed(0)
        } | ${median(xs.map((x) => x.fileMB)).toFixed(1)} |`,
      );
    }
    console.log("\nGoal: stop ≤ 200 ms.");
    if (timing) console.log(`\nPhases of the last round (BOBCAT_TIMING=1):\n\n${[...timings.values()].join("\n\n")}`);
  } finally {
    stopAll();
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}

if (only === "restart") {
  try {
    const bobcats = targets.filter((t) => t.file);
    const kept: Record<string, string> = {};
    for (const t of bobcats) {
      kept[t.name] = seed(t);
      const started = await startServer(t.cmd());
      t.p = started.p;
      t.log = started.log;
    }
    const all: StopRestart[][] = [];
    for (let i = 0; i < rounds; i++) all.push(await stopAndRestart(kept));
    for (const rows of all) printStopRestart(rows);
    const med = (name: string, f: (x: StopRestart) => number) =>
      median(all.map((rows) => f(rows.find((x) => x.name === name)!)));
    console.log(`\nMedians of ${rounds} round(s):`);
    console.log("| server | SIGTERM → exit, ms | CPU, ms | start → first 200, ms | CPU, ms | restored |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const t of bobcats) {
      console.log(
        `| ${t.name} | ${med(t.name, (x) => x.stopMs).toFixed(0)} | ${med(t.name, (x) => x.stopCpuMs).toFixed(0)} | ${
          med(t.name, (x) => x.servedMs).toFixed(0)
        } | ${med(t.name, (x) => x.startCpuMs).toFixed(0)} | ${med(t.name, (x) => x.restored)} |`,
      );
    }
    console.log("\nGoals: stop ≤ 200 ms, restart serving ≤ 300 ms with every session restored.");
    if (timing) console.log(`\nPhases of the last round (BOBCAT_TIMING=1):\n\n${[...timings.values()].join("\n\n")}`);
  } finally {
    stopAll();
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}

try {
  // ---- 1. throughput ----------------------------------------------------------------------
  const startMs: Record<string, number> = {};
  const startCpu: Record<string, number> = {};
  for (const t of targets) {
    startMs[t.name] = await start(t);
    startCpu[t.name] = cpuSeconds(t.p!.pid!) * 1000;
  }
  const cookies: Record<string, string> = {};
  for (const t of targets) cookies[t.name] = (await get(t, "/create")).headers.getSetCookie()[0]!.split(";")[0]!;
  const scenarios: Array<[string, string, (t: Target) => string[]]> = [
    ["no session", "/none", () => []],
    ["existing session (cookie)", "/read", (t) => ["-H", `Cookie: ${cookies[t.name]}`]],
    ["new session per request", "/create", () => []],
  ];
  const results = new Map<string, Map<string, Sample[]>>();
  for (const [label, path, extra] of scenarios) {
    const byTarget = new Map<string, Sample[]>();
    results.set(label, byTarget);
    for (const t of targets) byTarget.set(t.name, []);
    for (let i = 0; i < rounds; i++) {
      if (together) {
        const got = await wrkTogether(targets, path, extra);
        targets.forEach((t, j) => byTarget.get(t.name)!.push(got[j]!));
        continue;
      }
      for (const t of targets) byTarget.get(t.name)!.push(await wrk(t, path, extra(t)));
    }
  }
  for (const t of targets) t.p!.kill("SIGKILL");

  console.log(
    `1. ${
      tls ? "HTTPS" : "HTTP"
    } keep-alive, wrk -t1 -c${connections} -d${duration}s, ${rounds} interleaved rounds, medians`,
  );
  const names = targets.map((t) => t.name);
  console.log(
    `| requests | ${names.map((n) => `${n} req/s | ${n} req/CPU-s`).join(" | ")} | ${
      names.slice(1).map((n) => `${n} / raw (req/s, req/CPU-s)`).join(" | ")
    } |`,
  );
  console.log(`|---|${names.map(() => "---:|---:|").join("")}${names.slice(1).map(() => "---:|").join("")}`);
  for (const [label, byTarget] of results) {
    const m = names.map((n) => {
      const rs = byTarget.get(n)!;
      return { rps: median(rs.map((r) => r.rps)), perCpu: median(rs.map((r) => r.perCpu)) };
    });
    console.log(
      `| ${label} | ${m.map((x) => `${x.rps.toFixed(0)} | ${x.perCpu.toFixed(0)}`).join(" | ")} | ${
        m.slice(1).map((x) => `${ratio(x.rps, m[0]!.rps)}, ${ratio(x.perCpu, m[0]!.perCpu)}`).join(" | ")
      } |`,
    );
  }

  if (together) {
    // Within a round the targets shared the machine alike: each round's ratio, then their median.
    const pairs = [...names.slice(1).map((n) => [n, names[0]!]), ...names.slice(2).map((n) => [n, names[1]!])];
    for (const [label, byTarget] of results) {
      for (const [n, base] of pairs) {
        const rs = byTarget.get(n!)!.map((r, i) => r.perCpu / byTarget.get(base!)![i]!.perCpu);
        console.log(
          `${label}: per-round ratio ${n} / ${base} by req per CPU-s: median ${median(rs).toFixed(3)} (${
            rs.map((x) => x.toFixed(2)).join(" / ")
          })`,
        );
      }
    }
  }
  if (perf) {
    // User-space samples per 1000 requests (perf record -F 1999 while wrk loads each server).
    console.log("\nperf record -F 1999 while wrk loads each server: user-space samples per 1000 requests");
    for (const [label, byTarget] of results) {
      const per = (n: string) => byTarget.get(n)!.map((r) => r.user);
      const known = (xs: Array<number | undefined>) => xs.filter((x): x is number => x !== undefined);
      console.log(
        `${label}: ${
          names.map((n) =>
            `${n} ${median(known(per(n))).toFixed(2)} (${per(n).map((x) => x?.toFixed(1) ?? "-").join(" / ")})`
          )
            .join("; ")
        }`,
      );
      for (const n of names.slice(1)) {
        const base = per(names[0]!);
        const rs = known(per(n).map((x, i) => x === undefined || base[i] === undefined ? undefined : x / base[i]!));
        console.log(
          `${label}: per-round ratio ${n} / ${names[0]} by user samples per request: median ${median(rs).toFixed(3)}`,
        );
      }
    }
  }
  if (only === "throughput") {
    stopAll();
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  }

  // ---- 2. N sessions: creation rate and RSS -----------------------------------------------
  for (const t of targets) {
    if (t.file) rmSync(t.file, { force: true });
    await start(t);
  }
  await Bun.sleep(500);
  const idle: Record<string, number> = {};
  for (const t of targets) idle[t.name] = rssMiB(t.p!.pid!);
  const kept: Record<string, string> = {};
  for (const t of targets) kept[t.name] = (await get(t, "/create")).headers.getSetCookie()[0]!.split(";")[0]!;
  const created: Record<string, number> = {};
  const createdPerCpu: Record<string, number> = {};
  for (const t of targets) {
    const r = await createSessions(t, count);
    created[t.name] = r.perSec;
    createdPerCpu[t.name] = r.perCpu;
  }
  await Bun.sleep(1000);
  const full: Record<string, number> = {};
  const counted: Record<string, number> = {};
  for (const t of targets) {
    full[t.name] = rssMiB(t.p!.pid!);
    counted[t.name] = await sessionCount(t);
  }
  console.log(`\n2. ${count} sessions created over ${tls ? "HTTPS" : "HTTP"} (wrk -t1 -c${connections})`);
  console.log(`| measure | ${names.join(" | ")} | ${names.slice(1).map((n) => `${n} / raw`).join(" | ")} |`);
  console.log(`|---|${names.map(() => "---:|").join("")}${names.slice(1).map(() => "---:|").join("")}`);
  const row = (label: string, v: Record<string, number>, digits = 0) =>
    console.log(
      `| ${label} | ${names.map((n) => v[n]!.toFixed(digits)).join(" | ")} | ${
        names.slice(1).map((n) => ratio(v[n]!, v[names[0]!]!)).join(" | ")
      } |`,
    );
  row("sessions created per s", created);
  row("sessions created per server CPU-s", createdPerCpu);
  row("idle RSS, MiB", idle, 1);
  row(`RSS with the sessions, MiB`, full, 1);
  row("sessions counted", counted);

  // ---- 3. stop and restart with N sessions (bobcat) -----------------------------------------
  printStopRestart(await stopAndRestart(kept), startMs, startCpu);
  for (const t of targets) t.p!.kill("SIGKILL");
  console.log(
    `\nGoals: new session ≥ 1.0× raw, existing session ≥ 0.85× raw, RSS with ${count} sessions ≤ 1.3× raw, ` +
      "stop ≤ 200 ms, restart serving ≤ 300 ms with every session restored.",
  );
} finally {
  stopAll();
  rmSync(work, { recursive: true, force: true });
}
