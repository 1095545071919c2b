/**
 * Session store rates, side by side: how many sessions per second PersistentManager swaps out
 * (write + drop from memory), swaps back in (a request naming a swapped-out session), and backs
 * up in a sweep, with FileStore, DataSourceStore on SQLite, and DataSourceStore on PostgreSQL;
 * and how many requests per second the manager sustains with maxIdleBackup: 0 (each request's
 * change durable in the store before its response), against the in-memory StandardManager.
 * Requests are simulated at the manager (findSession, access, setAttribute, endAccess, commit),
 * without HTTP, CONCURRENCY at a time; each counts once its commit has resolved. Over HTTP, with
 * the background setting beside them: bench/session-durability.ts.
 *
 *   bun bench/session-stores.ts [sessions=2000]
 *   deno run -A --config=deno.json bench/session-stores.ts [sessions]
 *
 * PostgreSQL: $BOBCAT_BENCH_PG_URL, or a throw-away server started like the tests do (Debian
 * `postgresql`); without either, its row says why it is missing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDataSources, type DataSources } from "../src/datasource/index.ts";
import {
  initStoreTable,
  type ManagerBase,
  PersistentManager,
  type PersistentManagerOptions,
  StandardManager,
  type StandardSession,
} from "../src/session/index.ts";
import { configureLogging } from "../src/util/log.ts";
import { type PostgresServer, startPostgres } from "../tests/helpers/postgres.ts";

const deno = (globalThis as { Deno?: { args: string[] } }).Deno;
const args = deno ? deno.args : process.argv.slice(2);
const SESSIONS = Number(args[0] ?? 2000);
const CONCURRENCY = 16;
/** Each round, every session gets one request; the event loop turns between rounds. */
const ROUNDS = 5;
const runtime = deno ? "Deno" : "Bun";

configureLogging({ level: "warn" });

interface Rates {
  swapOut: number;
  swapIn: number;
  backup: number;
  requests: number;
}

/** A session like a shop's: a user, a cart, some history (about 1 KB serialized). */
function fill(session: StandardSession, i: number): void {
  session.setAttribute("user", { id: i, name: `user-${i}`, roles: ["buyer"], email: `user${i}@example.com` });
  session.setAttribute(
    "cart",
    new Map(Array.from({ length: 8 }, (_, k) => [`sku-${i}-${k}`, { qty: k + 1, price: 1999n + BigInt(k) }])),
  );
  session.setAttribute("history", Array.from({ length: 20 }, (_, k) => `/catalog/item/${(i * 31 + k) % 997}`));
  session.setAttribute("lastSeen", new Date());
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return SESSIONS / ((performance.now() - started) / 1000);
}

async function inParallel(ids: string[], fn: (id: string) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < ids.length) await fn(ids[next++]!);
  }));
}

/**
 * Requests per second over ROUNDS rounds of one request per session, CONCURRENCY requests at a
 * time, each done when its commit (the store write a response waits for) has resolved.
 */
async function requestRate(m: ManagerBase, ids: string[]): Promise<number> {
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    await inParallel(ids, async (id) => {
      const s = (await m.findSession(id))!;
      m.access(s);
      s.setAttribute("lastSeen", new Date());
      m.endAccess(s);
      await m.commit([s]);
    });
  }
  return (ids.length * ROUNDS) / ((performance.now() - started) / 1000);
}

async function inMemoryRequests(): Promise<number> {
  const m = new StandardManager({});
  await m.start();
  const ids = Array.from({ length: SESSIONS }, (_, i) => {
    const s = m.createSession();
    fill(s, i);
    return s.id;
  });
  const rate = await requestRate(m, ids);
  await m.stop();
  return rate;
}

async function measure(options: (name: string) => PersistentManagerOptions): Promise<Rates> {
  const swapper = new PersistentManager({ ...options("/Catalina/localhost/swap"), maxIdleSwap: 0 });
  const backer = new PersistentManager({ ...options("/Catalina/localhost/backup"), maxIdleBackup: 0 });
  await swapper.start();
  await backer.start();
  try {
    const ids = Array.from({ length: SESSIONS }, (_, i) => {
      const s = swapper.createSession();
      fill(s, i);
      fill(backer.createSession(), i);
      return s.id;
    });
    const swapOut = await timed(() => swapper.processPersistenceChecks());
    if (swapper.getStats().activeSessions !== 0) {
      throw new Error(`${swapper.getStats().activeSessions} sessions were not swapped out`);
    }
    let missing = 0;
    const swapIn = await timed(() =>
      inParallel(ids, async (id) => {
        if (!(await swapper.findSession(id))) missing++;
      })
    );
    if (missing) throw new Error(`${missing} sessions did not swap back in`);
    const backup = await timed(() => backer.processPersistenceChecks());
    if (backer.pendingWrites) throw new Error(`${backer.pendingWrites} backups failed`);
    const requests = await requestRate(backer, [...backer.listSessionIds()]);
    if (backer.pendingWrites) throw new Error(`${backer.pendingWrites} backups failed`);
    return { swapOut, swapIn, backup, requests };
  } finally {
    await swapper.store.clear();
    await backer.store.clear();
    await swapper.stop();
    await backer.stop();
  }
}

async function withDataSource(
  url: string,
  work: string,
  table: string,
): Promise<[DataSources, (name: string) => PersistentManagerOptions]> {
  const sources = createDataSources([{ name: "jdbc/sessions", url, maxTotal: CONCURRENCY }]);
  await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: table });
  return [
    sources,
    (name) => ({
      name,
      workDir: work,
      store: { className: "DataSourceStore", dataSourceName: "jdbc/sessions", sessionTable: table },
      dataSources: { global: sources },
    }),
  ];
}

const work = await mkdtemp(join(tmpdir(), "bobcat-bench-stores-"));
const results: [string, Rates | string][] = [];
const inMemory = await inMemoryRequests();
let pg: PostgresServer | null = null;
try {
  results.push([
    "FileStore",
    await measure((name) => ({
      name,
      workDir: join(work, name.replaceAll("/", "_")),
      store: { className: "FileStore" },
    })),
  ]);

  const [sqlite, sqliteOptions] = await withDataSource(`sqlite:${join(work, "sessions.db")}`, work, "bench_sessions");
  results.push([`SQLite (${deno ? "node:sqlite" : "bun:sqlite"})`, await measure(sqliteOptions)]);
  await sqlite.close();

  let url = process.env.BOBCAT_BENCH_PG_URL;
  if (!url) {
    try {
      pg = await startPostgres();
      url = pg.url;
    } catch (err) {
      results.push(["PostgreSQL", `not measured: ${(err as Error).message.split(". ")[0]}`]);
    }
  }
  if (url) {
    const [postgres, pgOptions] = await withDataSource(url, work, "bench_sessions");
    results.push(["PostgreSQL (postgres.js)", await measure(pgOptions)]);
    await postgres.close();
  }
} finally {
  pg?.destroy();
  await rm(work, { recursive: true, force: true });
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(12);
console.log(`\nsession stores, ${SESSIONS} sessions of ~1 KB, ${runtime}, ${CONCURRENCY} writes in flight\n`);
console.log(`${"".padEnd(26)}${"sessions/s".padStart(36)}${"requests/s".padStart(16)}`);
console.log(
  `${"store".padEnd(26)}${"swap-out".padStart(12)}${"swap-in".padStart(12)}${"backup".padStart(12)}${
    "backup 0".padStart(16)
  }`,
);
console.log(`${"in memory (StandardManager)".padEnd(26)}${"".padStart(36)}${fmt(inMemory).padStart(16)}`);
for (const [name, r] of results) {
  console.log(
    name.padEnd(26) +
      (typeof r === "string"
        ? `  ${r}`
        : fmt(r.swapOut) + fmt(r.swapIn) + fmt(r.backup) + fmt(r.requests).padStart(16)),
  );
}
