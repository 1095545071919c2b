/**
 * PersistentManager end to end, with the real CLI: kill -9 after requests loses nothing a
 * response confirmed (maxIdleBackup: 0; under load: crash.test.ts), a graceful stop with saveOnRestart loses none at all, and two
 * instances with different jvmRoutes share one PostgreSQL session table. FileStore and SQLite
 * under Bun and Deno; PostgreSQL started by the test.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  initSessionTable,
  runCli,
  type Runtime,
  RUNTIMES,
  sessionStoreYaml,
  startBobcat,
  type StoreKind,
  tempDir,
  waitUntil,
  writeFiles,
} from "../helpers/bobcat.ts";
import { type PostgresServer, startPostgres } from "../helpers/postgres.ts";

const dirs: string[] = [];
let pg: PostgresServer;

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => {
  pg?.destroy?.();
  dirs.forEach(cleanup);
});

const APP = `export default { fetch(req, ctx) {
  const s = ctx.getSession();
  const n = (s.getAttribute("n") ?? 0) + 1;
  s.setAttribute("n", n);
  s.setAttribute("history", [...(s.getAttribute("history") ?? []), n]);
  return Response.json({ n, id: s.id, history: s.getAttribute("history") });
} };`;

function config(port: number, store: StoreKind, jvmRoute = "node1", tick = 10): string {
  const { resources, store: storeYaml } = sessionStoreYaml(store, pg);
  return `server:
${resources}  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        jvmRoute: ${jvmRoute}
        backgroundProcessorDelay: ${tick}
        hosts:
          - name: localhost
            contexts:
              - path: /app
                handler: app.ts
                manager:
                  className: PersistentManager
                  maxIdleBackup: 0
                  saveOnRestart: true
                  store: ${storeYaml}
`;
}

async function start(runtime: Runtime, base: string, port: number, store: StoreKind, jvmRoute?: string, tick?: number) {
  if (store !== "file") {
    // As in Tomcat the table must exist; `bobcat store init` creates it (idempotent).
    writeFiles(base, { "conf/server.yaml": config(port, store, jvmRoute, tick) });
    await initSessionTable(runtime, base);
  }
  return startBobcat({ runtime, base, files: { "app.ts": APP }, config: config(port, store, jvmRoute, tick) });
}

/** Waits until the store holds `count` sessions (files or rows), bounded. */
async function storedSessions(base: string, store: StoreKind): Promise<number> {
  if (store === "file") {
    const dir = join(base, "work/Catalina/localhost/app/sessions");
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".session")).length : 0;
  }
  if (store === "sqlite") {
    const file = join(base, "work/sessions.db");
    if (!existsSync(file)) return 0;
    const db = new Database(file, { readonly: true });
    try {
      return (db.query(`SELECT count(*) AS n FROM "tomcat$sessions"`).get() as { n: number }).n;
    } catch {
      return 0;
    } finally {
      db.close();
    }
  }
  return Number(pg.psql(`SELECT count(*) FROM "tomcat$sessions"`).trim() || 0);
}

async function waitStored(base: string, store: StoreKind, count: number) {
  if (!(await waitUntil(async () => (await storedSessions(base, store)) >= count))) {
    throw new Error(`the store did not reach ${count} session(s)`);
  }
}

const get = async (port: number, cookie?: string) => {
  const res = await fetch(`http://127.0.0.1:${port}/app/`, { headers: cookie ? { cookie } : {} });
  const set = res.headers.getSetCookie()[0];
  return {
    body: (await res.json()) as { n: number; id: string; history: number[] },
    cookie: set ? set.split(";")[0]! : cookie!,
  };
};

const CASES: Array<{ runtime: Runtime; store: StoreKind }> = [
  ...RUNTIMES.flatMap((runtime) => [
    { runtime, store: "file" as const },
    { runtime, store: "sqlite" as const },
  ]),
  { runtime: "bun", store: "postgres" },
  { runtime: "deno", store: "postgres" },
];

for (const { runtime, store } of CASES) {
  describe(`PersistentManager (${store} store) under ${runtime}`, () => {
    test("kill -9 right after the responses: every confirmed change comes back", async () => {
      const base = tempDir();
      dirs.push(base);
      if (store === "postgres") pg.psql(`DROP TABLE IF EXISTS "tomcat$sessions"`);
      const port = await freePort();
      let s = await start(runtime, base, port, store);
      const clients: string[] = [];
      try {
        for (let c = 0; c < 3; c++) {
          let { cookie } = await get(port);
          for (let i = 0; i < 2; i++) ({ cookie } = await get(port, cookie));
          clients.push(cookie);
        }
        // maxIdleBackup 0: each response came after its change was stored; no waiting needed.
        expect(await storedSessions(base, store)).toBe(3);
      } finally {
        s.proc.kill("SIGKILL");
        await s.exited;
      }
      s = await start(runtime, base, port, store);
      try {
        for (const cookie of clients) {
          const { body } = await get(port, cookie);
          expect(body.n).toBe(4);
          expect(body.history).toEqual([1, 2, 3, 4]);
          expect(body.id).toMatch(/\.node1$/);
        }
      } finally {
        expect(await s.stop()).toBe(0);
      }
    });

    test("graceful stop with saveOnRestart: none lost", async () => {
      const base = tempDir();
      dirs.push(base);
      if (store === "postgres") pg.psql(`DROP TABLE IF EXISTS "tomcat$sessions"`);
      const port = await freePort();
      let s = await start(runtime, base, port, store);
      const clients: string[] = [];
      try {
        for (let c = 0; c < 5; c++) clients.push((await get(port)).cookie);
      } finally {
        expect(await s.stop()).toBe(0);
      }
      expect(await storedSessions(base, store)).toBe(5);
      s = await start(runtime, base, port, store);
      try {
        for (const cookie of clients) expect((await get(port, cookie)).body.n).toBe(2);
      } finally {
        await s.stop();
      }
    });
  });
}

test("scale-out: two instances with different jvmRoutes share one PostgreSQL session table", async () => {
  pg.psql(`DROP TABLE IF EXISTS "tomcat$sessions"`);
  const [a, b] = [tempDir(), tempDir()];
  dirs.push(a, b);
  const [portA, portB] = [await freePort(), await freePort()];
  const node1 = await start("bun", a, portA, "postgres", "node1");
  const node2 = await start("deno", b, portB, "postgres", "node2");
  try {
    let { body, cookie } = await get(portA);
    expect(body.id).toMatch(/\.node1$/);
    ({ body, cookie } = await get(portA, cookie));
    // The load balancer sends the next request elsewhere (node1 failed, say): the state is there.
    ({ body } = await get(portB, cookie));
    expect(body).toMatchObject({ n: 3, history: [1, 2, 3] });
    expect(body.id).toMatch(/\.node1$/);
  } finally {
    await node1.stop();
    await node2.stop();
  }
});

test(
  "PostgreSQL stops while bobcat runs: a change that cannot be stored answers 503 instead of being confirmed, the error names store and table, the backlog is written when it returns",
  async () => {
    pg.psql(`DROP TABLE IF EXISTS "tomcat$sessions"`);
    const base = tempDir();
    dirs.push(base);
    const port = await freePort();
    // A 1-second background tick: the backlog is retried on it.
    const s = await start("bun", base, port, "postgres", "node1", 1);
    let cookie: string;
    let id: string;
    try {
      const first = await get(port);
      [cookie, id] = [first.cookie, first.body.id];
      await waitStored(base, "postgres", 1);
      await Bun.sleep(300);
      const stored = () => Number(pg.psql(`SELECT lastaccess FROM "tomcat$sessions" WHERE id = '${id}'`).trim() || 0);
      const before = stored();
      pg.stop();
      try {
        // maxIdleBackup 0: a response confirms only what is stored. The handler ran (memory has
        // n = 2, 3, 4), but the client is told nothing was confirmed.
        for (let i = 2; i <= 4; i++) {
          const res = await fetch(`http://127.0.0.1:${port}/app/`, { headers: { cookie } });
          expect(res.status).toBe(503);
          expect(res.headers.get("retry-after")).toBe("5");
          expect(res.headers.get("set-cookie")).toBeNull();
          expect(await res.text()).toContain("The session could not be saved: the session store is not available");
        }
        await waitUntil(
          () => /DataSourceStore\[jdbc\/sessions .*table tomcat\$sessions\]/.test(s.output()),
          10_000,
          100,
        );
        expect(s.output()).toMatch(/ERROR.*DataSourceStore\[jdbc\/sessions .*table tomcat\$sessions\]/);
      } finally {
        pg.start();
      }
      // The backlog is written on a background tick once the database is back: the copy in memory (n = 4) arrives.
      await waitUntil(() => stored() > before, 30_000, 200);
      expect(stored()).toBeGreaterThan(before);
      s.proc.kill("SIGKILL");
      await s.exited;
    } finally {
      if (s.proc.exitCode === null) await s.stop();
    }
    // Nothing in memory was lost: a fresh instance reads the state written from the backlog (n = 4).
    const again = await start("bun", base, port, "postgres");
    try {
      expect((await get(port, cookie!)).body).toMatchObject({ n: 5, id: id! });
    } finally {
      await again.stop();
    }
  },
  60000,
);

test("bobcat check: a missing session table and bad PersistentManager attributes, with file, line and fix", async () => {
  const base = tempDir();
  dirs.push(base);
  writeFiles(base, {
    "app.ts": APP,
    "table.yaml": config(await freePort(), "sqlite"),
    "attrs.yaml": config(await freePort(), "file").replace(
      "maxIdleBackup: 0",
      "maxIdleBackup: 600\n                  maxIdleSwap: 60",
    ),
  });
  const table = await runCli("bun", ["check", "--config", join(base, "table.yaml")]);
  expect(table.code).toBe(1);
  expect(table.stderr).toMatch(
    /table\.yaml:\d+:\d+: .*manager\.store\.dataSourceName|table\.yaml:\d+:\d+: .*manager\.store/,
  );
  expect(table.stderr).toContain("the session table or one of its columns is missing");
  expect(table.stderr).toContain("bobcat store init");
  const attrs = await runCli("bun", ["check", "--config", join(base, "attrs.yaml")]);
  expect(attrs.code).toBe(1);
  expect(attrs.stderr).toMatch(
    /attrs\.yaml:\d+:\d+: server\.services\[0\]\.engine\.hosts\[0\]\.contexts\[0\]\.manager\.maxIdleSwap: .*less than maxIdleBackup/,
  );
});
