/**
 * Sessions across instances, per engine and consistency mode, against the in-memory manager:
 * one bobcat instance (the real CLI under Bun) serving a read-modify-write increment on each
 * client's own session, over HTTP on loopback. Printed side by side:
 * - requests per second with 32 clients at once for a few seconds;
 * - p50/p99 latency with one client (no queueing), and what the store adds to the in-memory
 *   figure (goal: below 1 ms p50 on loopback for PostgreSQL and Redis).
 * PostgreSQL, MariaDB and Redis are started like the tests start them (Debian `postgresql`,
 * `mariadb-server`, `redis-server`).
 *
 *   bun bench/cluster-stores.ts [--seconds 3] [--clients 32] [--runtime bun|deno] [--rounds 1]
 *     [--only "PostgreSQL,Redis shared"] [--baseline /path/to/other/bobcat/checkout]
 */
import { writeFileSync } from "node:fs";
import { BUN, DENO, freePort, ROOT, type Runtime, tempDir } from "../tests/helpers/bobcat.ts";
import { startPostgres } from "../tests/helpers/postgres.ts";
import { startMariaDb, startRedis } from "../tests/helpers/services.ts";
import { option, startServer } from "./lib.ts";

const SECONDS = Number(option("--seconds", "3"));
const CLIENTS = Number(option("--clients", "32"));
const RUNTIME = option("--runtime", "bun") as Runtime;
const LATENCY_REQUESTS = 1000;
const ROUNDS = Number(option("--rounds", "1"));
/** Another checkout of bobcat (e.g. `git worktree add /tmp/before HEAD~1`), measured in turn with this one. */
const BASELINE = option("--baseline", "");

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

/** The CLI of the bobcat tree at `root`, on the chosen runtime. */
function command(root: string, args: string[]): string[] {
  const cli = `${root}/src/cli/main.ts`;
  return RUNTIME === "bun"
    ? [BUN, cli, ...args]
    : [DENO, "run", "-A", "--quiet", `--config=${root}/deno.json`, cli, ...args];
}

const APP = `export default { fetch(req, ctx) {
  const s = ctx.getSession();
  const n = (s.getAttribute("n") ?? 0) + 1;
  s.setAttribute("n", n);
  return new Response(String(n));
} };`;

interface Setup {
  name: string;
  resources?: string;
  manager: string;
  init?: boolean;
}

function config(port: number, s: Setup): string {
  return `server:
${s.resources ?? ""}  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.ts
                manager: ${s.manager}
`;
}

async function sessions(url: string, n: number): Promise<string[]> {
  return await Promise.all(Array.from({ length: n }, async () => {
    const res = await fetch(url);
    await res.text();
    return /JSESSIONID=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")![1]!;
  }));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

async function measure(s: Setup, root: string): Promise<Result> {
  const base = tempDir("bobcat-bench-");
  const port = await freePort();
  writeFileSync(`${base}/app.ts`, APP);
  writeFileSync(`${base}/server.yaml`, config(port, s));
  const args = ["--config", `${base}/server.yaml`, "--base", base];
  if (s.init) {
    const [cmd, ...rest] = command(root, ["store", "init", ...args]);
    const p = Bun.spawnSync([cmd!, ...rest], { stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`store init failed: ${p.stderr}`);
  }
  const { p } = await startServer(command(root, ["run", ...args]));
  try {
    const url = `http://127.0.0.1:${port}/`;
    const ids = await sessions(url, CLIENTS);
    // Throughput: every client on its own session, one request after the other.
    let count = 0;
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(ids.map(async (id) => {
      while (performance.now() < end) {
        const res = await fetch(url, { headers: { cookie: `JSESSIONID=${id}` } });
        await res.text();
        if (res.status === 200) count++;
      }
    }));
    const rps = count / SECONDS;
    // Latency: one client, no queueing.
    const times: number[] = [];
    for (let i = 0; i < LATENCY_REQUESTS; i++) {
      const t = performance.now();
      const res = await fetch(url, { headers: { cookie: `JSESSIONID=${ids[0]}` } });
      await res.text();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { rps, p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
  } finally {
    p.kill("SIGTERM");
    await new Promise((r) => p.once("exit", r));
  }
}

const [pg, maria, redis] = await Promise.all([startPostgres(), startMariaDb(), startRedis()]);
try {
  const pgRes = `  globalNamingResources:\n    resources:\n      - { name: jdbc/s, url: "${pg.url}", maxTotal: 8 }\n`;
  const myRes =
    `  globalNamingResources:\n    resources:\n      - { name: jdbc/s, url: "${maria.url}", maxTotal: 8 }\n`;
  const ds = (table: string) => `{ className: DataSourceStore, dataSourceName: jdbc/s, sessionTable: ${table} }`;
  const rs = (prefix: string) => `{ className: RedisStore, url: "${redis.url}", keyPrefix: ${prefix} }`;
  const setups: Setup[] = [
    { name: "in-memory (StandardManager)", manager: `{ className: StandardManager, pathname: "" }` },
    {
      name: "PostgreSQL sticky",
      resources: pgRes,
      init: true,
      manager: `{ className: PersistentManager, maxIdleBackup: 0, store: ${ds("b_sticky")} }`,
    },
    {
      name: "PostgreSQL shared",
      resources: pgRes,
      init: true,
      manager: `{ className: PersistentManager, consistency: shared, store: ${ds("b_shared")} }`,
    },
    {
      name: "MariaDB sticky",
      resources: myRes,
      init: true,
      manager: `{ className: PersistentManager, maxIdleBackup: 0, store: ${ds("b_sticky")} }`,
    },
    {
      name: "MariaDB shared",
      resources: myRes,
      init: true,
      manager: `{ className: PersistentManager, consistency: shared, store: ${ds("b_shared")} }`,
    },
    { name: "Redis sticky", manager: `{ className: PersistentManager, maxIdleBackup: 0, store: ${rs("b_sticky")} }` },
    {
      name: "Redis shared",
      manager: `{ className: PersistentManager, consistency: shared, store: ${rs("b_shared")} }`,
    },
  ];
  console.log(
    `One bobcat instance on ${RUNTIME}, a read-modify-write increment per request on the client's own session; ` +
      `${CLIENTS} clients for ${SECONDS} s (req/s), then one client for ${LATENCY_REQUESTS} requests (latency).\n`,
  );
  const only = option("--only", "");
  const chosen = setups.filter((s, i) => i === 0 || !only || only.split(",").some((o) => s.name.includes(o)));
  // Every round measures each setup with each tree in turn, so a load that comes and goes on a
  // shared machine falls on both; the medians of the rounds are printed.
  const trees: [string, string][] = BASELINE ? [["", ROOT], [" (baseline)", BASELINE]] : [["", ROOT]];
  const results = new Map<string, Result[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of chosen) {
      for (const [label, root] of round % 2 ? [...trees].reverse() : trees) {
        const key = s.name + label;
        try {
          const r = await measure(s, root);
          results.set(key, [...(results.get(key) ?? []), r]);
        } catch (err) {
          console.log(`${key}: failed: ${(err as Error).message.split("\n")[0]}`);
        }
      }
    }
  }
  const median = (rs: Result[], k: keyof Result) => {
    const v = rs.map((r) => r[k]).sort((a, b) => a - b);
    return v[v.length >> 1]!;
  };
  const summary = (rs: Result[]): Result => ({
    rps: median(rs, "rps"),
    p50: median(rs, "p50"),
    p99: median(rs, "p99"),
  });
  const memory = summary(results.get(setups[0]!.name) ?? []);
  const rows: string[][] = [["setup", "req/s", "vs memory", "p50 ms", "p99 ms", "added p50", "added p99"]];
  for (const s of chosen) {
    for (const [label] of s === setups[0] ? [trees[0]!] : trees) {
      const rs = results.get(s.name + label);
      if (!rs?.length) continue;
      const r = summary(rs);
      rows.push([
        s.name + label,
        r.rps.toFixed(0),
        `${(r.rps / memory.rps).toFixed(2)}x`,
        r.p50.toFixed(2),
        r.p99.toFixed(2),
        `${(r.p50 - memory.p50).toFixed(2)} ms`,
        `${(r.p99 - memory.p99).toFixed(2)} ms`,
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) {
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
  }
} finally {
  pg.destroy();
  await Promise.all([maria.destroy(), redis.destroy()]);
}
process.exit(0);
