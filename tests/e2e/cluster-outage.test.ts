/**
 * Shared-mode sessions when the store goes away, comes back, or turns slow, on PostgreSQL,
 * MariaDB and Redis, with the real CLI: a request that needs its session answers 503 (nothing
 * acknowledged) while requests without one are served; once the store is back the session goes
 * on where it was; the manager app shows the store (sessions stored, pending writes, conflicts
 * resolved, last error). A store behind a latency proxy keeps the server serving, and the
 * operations waiting on it stay within storeBacklogLimit (past it, 503 at once) and are visible.
 * A change of session id moves the stored session. `bobcat check` opens each engine and checks
 * its table or key layout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import {
  cleanup,
  freePort,
  plainConfig,
  runCli,
  type Runtime,
  sessionsDataSource,
  startBobcat,
  tempDir,
} from "../helpers/bobcat.ts";
import { type PostgresServer, startPostgres } from "../helpers/postgres.ts";
import {
  type LatencyProxy,
  type MariaDbServer,
  type RedisServer,
  startLatencyProxy,
  startMariaDb,
  startRedis,
} from "../helpers/services.ts";

const APP = `export default { fetch(req, ctx) {
  const url = new URL(req.url);
  if (url.pathname === "/health") return new Response("ok");
  if (url.pathname === "/login") {
    ctx.getSession(false);
    return Response.json({ id: ctx.changeSessionId() });
  }
  if (url.pathname === "/inc") {
    const s = ctx.getSession();
    const n = (s.getAttribute("n") ?? 0) + 1;
    s.setAttribute("n", n);
    return Response.json({ id: s.id, n });
  }
  return new Response("?");
} };`;

type Engine = "postgres" | "mariadb" | "redis";

let pg: PostgresServer;
let maria: MariaDbServer;
let redis: RedisServer;
const dirs: string[] = [];

beforeAll(async () => {
  [pg, maria, redis] = await Promise.all([startPostgres(), startMariaDb(), startRedis()]);
}, 180000);
afterAll(async () => {
  pg?.destroy();
  await Promise.all([maria?.destroy(), redis?.destroy()]);
  dirs.forEach(cleanup);
}, 60000);

function config(port: number, engine: Engine, url: string, table: string, extra = ""): string {
  const resources = engine === "redis" ? "" : sessionsDataSource(url, ", maxTotal: 4, maxWaitMillis: 2000");
  const store = engine === "redis"
    ? `{ className: RedisStore, url: "${url}", keyPrefix: ${table} }`
    : `{ className: DataSourceStore, dataSourceName: jdbc/sessions, sessionTable: ${table} }`;
  return plainConfig(
    port,
    `              - path: ""
                handler: app.ts
                manager:
                  className: PersistentManager
                  consistency: shared
${extra}                  store: ${store}
              - path: /manager
                handler: bobcat:manager
`,
    resources,
  );
}

interface StoreView {
  store: string;
  consistency: string;
  sessionsStored: number | null;
  pendingWrites: number;
  pendingWritesLimit: number;
  conflictsResolved: number;
  lastError: string | null;
}

async function storeView(port: number): Promise<StoreView> {
  const body = (await (await fetch(`http://127.0.0.1:${port}/manager/json`)).json()) as {
    contexts: { path: string; store?: StoreView }[];
  };
  return body.contexts.find((c) => c.path === "/")!.store!;
}

let n = 0;

async function setup(engine: Engine, runtime: Runtime, url: string, extra = "") {
  const table = `outage_${++n}`;
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  writeFileSync(`${base}/app.ts`, APP);
  writeFileSync(`${base}/server.yaml`, config(port, engine, url, table, extra));
  if (engine !== "redis") {
    const init = await runCli(runtime, ["store", "init", "--config", `${base}/server.yaml`, "--base", base], {
      timeoutMs: 60000,
    });
    expect(init.code, init.output).toBe(0);
  }
  return { base, port, table };
}

const engines: {
  engine: Engine;
  url: () => string;
  stop: () => Promise<void> | void;
  start: () => Promise<void> | void;
}[] = [
  { engine: "postgres", url: () => pg.url, stop: () => pg.stop(), start: () => pg.start() },
  { engine: "mariadb", url: () => maria.url, stop: () => maria.stop(), start: () => maria.start() },
  { engine: "redis", url: () => redis.url, stop: () => redis.stop(), start: () => redis.start() },
];

describe("shared sessions when the store goes away and comes back", () => {
  for (const [i, e] of engines.entries()) {
    const runtime: Runtime = i === 1 ? "deno" : "bun";
    test(
      `${e.engine} (${runtime}): 503 while it is away, the session goes on afterwards, the manager app shows it`,
      async () => {
        const { base, port } = await setup(e.engine, runtime, e.url());
        const check = await runCli(runtime, ["check", "--config", `${base}/server.yaml`, "--base", base], {
          timeoutMs: 60000,
        });
        expect(check.code, check.output).toBe(0);
        const server = await startBobcat({
          runtime,
          base,
          args: ["run", "--config", `${base}/server.yaml`, "--base", base],
        });
        try {
          const first = await fetch(`http://127.0.0.1:${port}/inc`);
          expect(first.status).toBe(200);
          const { id } = (await first.json()) as { id: string };
          const cookie = { cookie: `JSESSIONID=${id}` };
          expect(((await (await fetch(`http://127.0.0.1:${port}/inc`, { headers: cookie })).json()) as { n: number }).n)
            .toBe(2);
          let view = await storeView(port);
          expect(view.consistency).toBe("shared");
          expect(view.sessionsStored).toBe(1);
          expect(view.lastError).toBeNull();

          await e.stop();
          const away = await fetch(`http://127.0.0.1:${port}/inc`, {
            headers: cookie,
            signal: AbortSignal.timeout(20000),
          });
          expect(away.status).toBe(503);
          expect(await away.text()).toContain("session store is not available");
          expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
          view = await storeView(port);
          expect(view.lastError).toContain(id);
          expect(view.sessionsStored).toBeNull();

          await e.start();
          let back: Response | null = null;
          for (let attempt = 0; attempt < 60; attempt++) {
            back = await fetch(`http://127.0.0.1:${port}/inc`, { headers: cookie, signal: AbortSignal.timeout(20000) });
            if (back.status === 200) break;
            await back.arrayBuffer();
            await Bun.sleep(250);
          }
          expect(back!.status).toBe(200);
          expect((await back!.json()) as { id: string; n: number }).toEqual({ id, n: 3 });
          expect((await storeView(port)).sessionsStored).toBe(1);
          // The manager page shows the store too.
          const html = await (await fetch(`http://127.0.0.1:${port}/manager/`)).text();
          expect(html).toContain("Session stores");
          expect(html).toContain(e.engine === "redis" ? "RedisStore[" : "DataSourceStore[");
        } finally {
          await server.stop();
        }
      },
      90000,
    );
  }
});

describe("a change of session id in shared mode", () => {
  for (const [engine, runtime] of [["postgres", "bun"], ["mariadb", "deno"]] as [Engine, Runtime][]) {
    test(`${engine} (${runtime}): the stored session moves to the new id, the old id finds nothing`, async () => {
      const { base, port } = await setup(engine, runtime, engine === "postgres" ? pg.url : maria.url);
      const server = await startBobcat({
        runtime,
        base,
        args: ["run", "--config", `${base}/server.yaml`, "--base", base],
      });
      const get = async (path: string, id?: string) =>
        (await (await fetch(`http://127.0.0.1:${port}${path}`, id ? { headers: { cookie: `JSESSIONID=${id}` } } : {}))
          .json()) as { id: string; n: number };
      try {
        const first = await get("/inc");
        expect((await get("/inc", first.id)).n).toBe(2);
        const { id } = await get("/login", first.id);
        expect(id).not.toBe(first.id);
        expect(await get("/inc", id)).toEqual({ id, n: 3 });
        const old = await get("/inc", first.id);
        expect(old.n).toBe(1);
        expect(old.id).not.toBe(first.id);
      } finally {
        await server.stop();
      }
    }, 60000);
  }
});

describe("bobcat check opens each engine and checks its layout", () => {
  test(
    "a PostgreSQL table without the version column: the ALTER TABLE to run; a MariaDB one passes after store init",
    async () => {
      const { base } = await setup("postgres", "bun", pg.url);
      const table = /sessionTable: (\w+)/.exec(await Bun.file(`${base}/server.yaml`).text())![1]!;
      pg.psql(`ALTER TABLE ${table} DROP COLUMN version`);
      const r = await runCli("bun", ["check", "--config", `${base}/server.yaml`, "--base", base], { timeoutMs: 60000 });
      expect(r.code).toBe(1);
      expect(r.output).toContain("the version column [version] is missing");
      expect(r.output).toContain(`ALTER TABLE "${table}" ADD COLUMN IF NOT EXISTS "version" bigint NOT NULL DEFAULT 0`);
      const m = await setup("mariadb", "bun", maria.url);
      const ok = await runCli("bun", ["check", "--config", `${m.base}/server.yaml`, "--base", m.base], {
        timeoutMs: 60000,
      });
      expect(ok.code, ok.output).toBe(0);
    },
    90000,
  );

  test(
    "a MariaDB table without the version column, a PostgreSQL one without a Tomcat column: the attribute and the ALTER TABLE",
    async () => {
      const m = await setup("mariadb", "deno", maria.url);
      maria.sql(`ALTER TABLE ${m.table} DROP COLUMN version`);
      const r = await runCli("deno", ["check", "--config", `${m.base}/server.yaml`, "--base", m.base], {
        timeoutMs: 60000,
      });
      expect(r.code).toBe(1);
      expect(r.output).toContain("the version column [version] is missing");
      expect(r.output).toContain(`ALTER TABLE \`${m.table}\` ADD COLUMN \`version\` bigint NOT NULL DEFAULT 0`);
      const p = await setup("postgres", "bun", pg.url);
      pg.psql(`ALTER TABLE ${p.table} DROP COLUMN lastaccess`);
      const r2 = await runCli("bun", ["check", "--config", `${p.base}/server.yaml`, "--base", p.base], {
        timeoutMs: 60000,
      });
      expect(r2.code).toBe(1);
      expect(r2.output).toContain(`table [${p.table}] has no column [lastaccess] (sessionLastAccessedCol)`);
      expect(r2.output).toContain(`ALTER TABLE "${p.table}" ADD COLUMN "lastaccess" bigint NOT NULL DEFAULT 0;`);
    },
    90000,
  );

  test("Redis keys that are not a bobcat layout stop the check, naming keyPrefix", async () => {
    const { base, table } = await setup("redis", "bun", redis.url);
    redis.cli("SET", `${table}:{/Catalina/localhost/}:exp`, "something else");
    const r = await runCli("bun", ["check", "--config", `${base}/server.yaml`, "--base", base], { timeoutMs: 60000 });
    expect(r.code).toBe(1);
    expect(r.output).toContain("are not a bobcat session layout");
    expect(r.output).toContain("keyPrefix");
  }, 60000);
});

describe("a slow store", () => {
  const proxies: LatencyProxy[] = [];
  afterAll(() => Promise.all(proxies.map((p) => p.close())));

  const cases: { engine: Engine; runtime: Runtime; port: () => number; url: (port: number) => string }[] = [
    { engine: "redis", runtime: "bun", port: () => redis.port, url: (p) => `redis://127.0.0.1:${p}/0` },
    {
      engine: "postgres",
      runtime: "deno",
      port: () => pg.port,
      url: (p) => pg.url.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${p}`),
    },
  ];
  for (const { engine, runtime, port: storePort, url } of cases) {
    test(
      `${engine} behind a 150 ms proxy (${runtime}): the server keeps serving, the backlog stays within storeBacklogLimit, shows, and drains`,
      async () => {
        const proxy = await startLatencyProxy(storePort(), 0);
        proxies.push(proxy);
        const { base, port } = await setup(
          engine,
          runtime,
          url(proxy.port),
          "                  storeBacklogLimit: 8\n",
        );
        const server = await startBobcat({
          runtime,
          base,
          args: ["run", "--config", `${base}/server.yaml`, "--base", base],
        });
        const inc = (cookie?: string) =>
          fetch(`http://127.0.0.1:${port}/inc`, {
            signal: AbortSignal.timeout(30000),
            ...(cookie ? { headers: { cookie } } : {}),
          });
        try {
          // Connections opened (and statements prepared) while the link is fast.
          for (const r of await Promise.all(Array.from({ length: 6 }, () => inc()))) expect(r.status).toBe(200);
          proxy.delayMs = 150;
          const burst = Array.from({ length: 40 }, () =>
            inc().then(async (r) => ({
              status: r.status,
              body: r.status === 200 ? ((await r.json()) as { id: string; n: number }) : null,
            })));
          // While the burst waits on the store: requests that need no session are answered, and the backlog shows.
          await Bun.sleep(100);
          expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
          const during = await storeView(port);
          expect(during.pendingWrites).toBeGreaterThan(0);
          expect(during.pendingWrites).toBeLessThanOrEqual(8);
          expect(during.pendingWritesLimit).toBe(8);
          const results = await Promise.all(burst);
          const ok = results.filter((r) => r.status === 200);
          const refused = results.filter((r) => r.status === 503);
          expect(ok.length + refused.length).toBe(40);
          expect(ok.length).toBeGreaterThan(0);
          expect(refused.length).toBeGreaterThan(0);
          // The link is fast again: the backlog drains to nothing, and every acknowledged session is in the store.
          proxy.delayMs = 0;
          let after = await storeView(port);
          for (let i = 0; i < 50 && after.pendingWrites > 0; i++) {
            await Bun.sleep(100);
            after = await storeView(port);
          }
          expect(after.pendingWrites).toBe(0);
          for (const r of ok) {
            const again = await inc(`JSESSIONID=${r.body!.id}`);
            expect(((await again.json()) as { n: number }).n).toBe(2);
          }
          expect(after.lastError).toContain("storeBacklogLimit 8");
        } finally {
          await server.stop();
        }
      },
      90000,
    );
  }
});
