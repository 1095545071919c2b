#!/usr/bin/env bun
/**
 * What taking turns costs (consistency: shared, `sessionLockWait`): bobcat with 2 workers and an
 * SQLite store, once with turns (sessionLockWait 5000, the default: a per-session queue in each
 * worker and a lease in the store) and once without (sessionLockWait 0: the behaviour before
 * turns, where concurrent changes of one attribute are refused with 503). Side by side in one
 * run, rounds interleaved, wrk with 16 connections on one core:
 * - "read, 64 sessions": each request reads one of 64 sessions (the common case: a lease taken
 *   and given up on a session nobody else uses);
 * - "read, 1 session" / "increment, 1 session": every request on one session (the worst case:
 *   all of them take turns).
 * Prints req/s, requests per server CPU-second and the non-2xx answers (503 refusals).
 *
 * With `--against <another checkout>`, a third server runs that checkout's bobcat with turns in
 * the same interleaved rounds (a before/after comparison measured side by side).
 *
 *   bun bench/session-turns.ts [--rounds 3] [--duration 5] [--runtime bun|deno] [--against <dir>]
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, cpuSeconds, freePort, median, option, ownCpuSeconds, ROOT, startServer } from "./lib.ts";

const rounds = Number(option("--rounds", "3"));
const duration = Number(option("--duration", "5"));
const runtime = option("--runtime", "bun");
const workers = Number(option("--workers", "2"));
const against = option("--against", "");

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is needed: apt-get install wrk");
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), "bobcat-bench-turns-"));
writeFileSync(
  join(work, "app.mjs"),
  `export default { fetch(req, ctx) {
  const s = ctx.getSession(true);
  if (new URL(req.url).pathname === "/inc") s.setAttribute("n", (s.getAttribute("n") ?? 0) + 1);
  return new Response(String(s.getAttribute("n") ?? 0));
} };\n`,
);

async function bobcat(wait: number, root = ROOT): Promise<{ p: ChildProcess; port: number }> {
  const port = await freePort();
  const dir = join(work, `w${wait}${root === ROOT ? "" : "-against"}`);
  mkdirSync(join(dir, "work"), { recursive: true });
  const file = join(dir, "server.yaml");
  writeFileSync(
    file,
    `logging: { level: warn, components: { connector: info, workers: info } }
server:
  workers: ${workers}
  globalNamingResources:
    resources:
      - { name: jdbc/sessions, type: DataSource, url: "sqlite:${dir}/work/sessions.db" }
  services:
    - connectors:
        - { port: ${port}, address: 127.0.0.1, maxThreads: 1000 }
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            appBase: ${work}
            contexts:
              - path: ""
                handler: ${work}/app.mjs
                manager:
                  className: PersistentManager
                  consistency: shared
                  sessionLockWait: ${wait}
                  store: { className: DataSourceStore, dataSourceName: jdbc/sessions }
`,
  );
  const cli = join(root, "src/cli/main.ts");
  const cmd = runtime === "deno"
    ? [bin("deno"), "run", "-A", "--quiet", `--config=${join(ROOT, "deno.json")}`, cli, "run", "--config", file]
    : [bin("bun"), cli, "run", "--config", file];
  const { p } = await startServer(cmd, workers > 1 ? /all \d+ workers ready/ : /listening on/);
  return { p, port };
}

async function newSession(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/`);
  await r.text();
  return r.headers.get("set-cookie")!.split(";")[0]!;
}

async function script(port: number, path: string, sessions: number): Promise<string> {
  const cookies = [];
  for (let i = 0; i < sessions; i++) cookies.push(await newSession(port));
  const file = join(work, `s-${port}-${path.slice(1) || "get"}-${sessions}.lua`);
  writeFileSync(
    file,
    `local c = {${cookies.map((c) => `"${c}"`).join(",")}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "${path}", { ["Cookie"] = c[(i % #c) + 1] })
end
`,
  );
  return file;
}

function wrk(port: number, lua: string, pid: number) {
  const c0 = cpuSeconds(pid);
  const p0 = ownCpuSeconds(pid);
  const r = spawnSync("wrk", ["-t1", "-c16", `-d${duration}s`, "-s", lua, `http://127.0.0.1:${port}/`], {
    encoding: "utf8",
  });
  const cpu = cpuSeconds(pid) - c0;
  // The primary's own share (with workers: the supervisor, which keeps the session turns).
  const primary = cpu > 0 ? (ownCpuSeconds(pid) - p0) / cpu : 0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const total = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { rps, perCpu: cpu > 0 ? total / cpu : 0, bad: total ? bad / total : 0, primary };
}

const servers: Record<string, { p: ChildProcess; port: number }> = { turns: await bobcat(5000), none: await bobcat(0) };
if (against) servers.against = await bobcat(5000, against);
const cases = [["read, 64 sessions", "/", 64], ["read, 1 session", "/", 1], [
  "increment, 1 session",
  "/inc",
  1,
]] as const;
type M = { rps: number[]; perCpu: number[]; bad: number[]; primary: number[] };
const rows = new Map<string, M>();
try {
  const luas = new Map<string, string>();
  for (const [k, s] of Object.entries(servers)) {
    for (const [name, path, n] of cases) luas.set(`${k} ${name}`, await script(s.port, path, n));
  }
  for (const [k, s] of Object.entries(servers)) spawnSync("wrk", ["-t1", "-c8", "-d2s", `http://127.0.0.1:${s.port}/`]);
  for (let r = 0; r < rounds; r++) {
    for (const [name] of cases) {
      for (const [k, s] of Object.entries(servers)) {
        const key = `${k} ${name}`;
        const m = wrk(s.port, luas.get(key)!, s.p.pid!);
        const row = rows.get(key) ?? { rps: [], perCpu: [], bad: [], primary: [] };
        row.primary.push(m.primary);
        row.rps.push(m.rps);
        row.perCpu.push(m.perCpu);
        row.bad.push(m.bad);
        rows.set(key, row);
        console.error(
          `round ${r + 1} ${key}: ${m.rps.toFixed(0)} req/s, ${m.perCpu.toFixed(0)} per CPU-s, ${
            (m.bad * 100).toFixed(1)
          }% non-2xx, primary ${(m.primary * 100).toFixed(1)}% of the CPU`,
        );
      }
    }
  }
} finally {
  for (const s of Object.values(servers)) s.p.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 1500));
  rmSync(work, { recursive: true, force: true });
}

console.log(
  `\nconsistency: shared, 2 workers, SQLite store, on ${runtime}; wrk -t1 -c16, ${rounds} rounds of ${duration}s (medians)`,
);
// Each round's servers ran one after the other: the ratio within a round sees the same machine load.
const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]!));
console.log(
  `| case | turns: req/s | per CPU-s | non-2xx | no turns (lockWait 0): req/s | per CPU-s | non-2xx | per CPU-s turns / none (median of rounds) | primary's CPU share (turns) |`,
);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const [name] of cases) {
  const a = rows.get(`turns ${name}`)!;
  const b = rows.get(`none ${name}`)!;
  const pct = (x: number[]) => `${(median(x) * 100).toFixed(1)}%`;
  console.log(
    `| ${name} | ${median(a.rps).toFixed(0)} | ${median(a.perCpu).toFixed(0)} | ${pct(a.bad)} | ${
      median(b.rps).toFixed(0)
    } | ${median(b.perCpu).toFixed(0)} | ${pct(b.bad)} | ${ratio(a.perCpu, b.perCpu).toFixed(2)}× | ${
      pct(a.primary)
    } |`,
  );
}
if (against) {
  console.log(`\nagainst ${against} (turns there too), same rounds:`);
  console.log(
    `| case | there: req/s | per CPU-s | non-2xx | there / none | here / there (per CPU-s, median of rounds) |`,
  );
  console.log(`|---|---:|---:|---:|---:|---:|`);
  for (const [name] of cases) {
    const a = rows.get(`turns ${name}`)!;
    const b = rows.get(`none ${name}`)!;
    const c = rows.get(`against ${name}`)!;
    console.log(
      `| ${name} | ${median(c.rps).toFixed(0)} | ${median(c.perCpu).toFixed(0)} | ${
        (median(c.bad) * 100).toFixed(1)
      }% | ${ratio(c.perCpu, b.perCpu).toFixed(2)}× | ${ratio(a.perCpu, c.perCpu).toFixed(2)}× |`,
    );
  }
}
