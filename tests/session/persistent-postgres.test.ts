/**
 * PersistentManager with DataSourceStore on a real PostgreSQL server started for this file:
 * Tomcat's TestPersistentManagerDataSourceStore (on its own table layout), custom names, two
 * contexts in one table, two instances sharing one table (scale-out), a database that goes down
 * under a running manager, and the same code paths (SQLite and PostgreSQL) under Deno.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { createDataSources, type DataSources } from "../../src/datasource/index.ts";
import {
  initStoreTable,
  PersistentManager,
  type PersistentManagerOptions,
  type StandardSession,
} from "../../src/session/index.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { captureLogs, FakeClock, recorder, scratchDir } from "./helpers.ts";

const server = startPostgres();
// Reported by every test that needs the server, instead of silently skipping them.
server.catch(() => {});
afterAll(async () => (await server.catch(() => null))?.destroy());

let clock: FakeClock;
let logs: ReturnType<typeof captureLogs>;
let sources: DataSources;
let table: string;
const managers: PersistentManager[] = [];
let tableCount = 0;

beforeEach(async () => {
  const pg = await server;
  clock = new FakeClock();
  logs = captureLogs();
  sources = createDataSources([{
    name: "jdbc/sessions",
    type: "DataSource",
    url: pg.url,
    maxTotal: 4,
    maxWaitMillis: 3000,
  }]);
  table = `sessions_${++tableCount}`;
});
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
  await sources?.close();
  logs?.restore();
});

async function started(
  name: string,
  options: PersistentManagerOptions = {},
  store: Record<string, unknown> = {},
): Promise<PersistentManager> {
  const m = new PersistentManager({
    now: clock.now,
    name,
    maxIdleBackup: 0,
    store: { className: "DataSourceStore", dataSourceName: "jdbc/sessions", sessionTable: table, ...store },
    dataSources: { global: sources },
    ...options,
  });
  await m.start();
  managers.push(m);
  return m;
}

function request(m: PersistentManager, s: StandardSession, ms = 5): void {
  m.access(s);
  clock.advance(ms);
  m.endAccess(s);
}

describe("DataSourceStore on PostgreSQL", () => {
  test("TestPersistentManagerDataSourceStore, on Tomcat's own table (id primary key, lastaccess double)", async () => {
    const pg = await server;
    pg.psql(
      `create table ${table} (id varchar(32) not null primary key, app varchar(32) not null, data bytea not null,
       valid varchar(1) not null, maxinactive int not null, lastaccess double precision not null)`,
    );
    const m = await started("/Catalina/localhost");
    const s = m.createSession();
    s.setAttribute("user", "alice");
    request(m, s);
    const lastAccessed = s.lastAccessedTimeInternal;
    clock.advance(10);
    await m.processPersistenceChecks();
    expect(await m.store.getSize()).toBe(1);
    expect(await m.store.keys()).toEqual([s.id]);
    expect(s.lastAccessedTimeInternal).toBe(lastAccessed);
    expect(pg.psql(`select id, app, valid, maxinactive, lastaccess from ${table}`).trim()).toBe(
      `${s.id}|/Catalina/localhost/|1|1800|${lastAccessed}`,
    );

    clock.advance(10);
    await m.processPersistenceChecks();
    expect(await m.store.keys()).toEqual([s.id]);

    request(m, s);
    s.setAttribute("user", "bob");
    await m.processPersistenceChecks();
    const copy = await m.store.load(s.id);
    expect(copy?.id).toBe(s.id);
    expect(copy?.getAttribute("user")).toBe("bob");

    s.expire();
    await m.whenStoreIdle();
    expect(await m.store.getSize()).toBe(0);
  });

  test("custom table and column names (folded to lower case, as PostgreSQL does with Tomcat's unquoted SQL)", async () => {
    const pg = await server;
    const names = {
      sessionTable: `Tomcat_${table}`,
      sessionIdCol: "Session_Id",
      sessionAppCol: "app_name",
      sessionDataCol: "session_data",
      sessionValidCol: "valid_session",
      sessionMaxInactiveCol: "max_inactive",
      sessionLastAccessedCol: "last_access",
    };
    pg.psql(
      `create table Tomcat_${table} (session_id varchar(100) not null primary key, valid_session char(1) not null,
       max_inactive int not null, last_access bigint not null, app_name varchar(255), session_data bytea)`,
    );
    const m = await started("/Catalina/localhost/shop", { maxIdleBackup: -1, maxIdleSwap: 0 }, names);
    const s = m.createSession();
    s.setAttribute("cart", { items: [{ sku: "A-1", qty: 2 }], total: 1999n });
    await m.processPersistenceChecks();
    expect(m.isLoaded(s.id)).toBe(false);
    expect(pg.psql(`select session_id, app_name, valid_session from tomcat_${table}`).trim()).toBe(
      `${s.id}|/Catalina/localhost/shop|1`,
    );
    const back = await m.findSession(s.id);
    expect(back?.getAttribute("cart")).toEqual({ items: [{ sku: "A-1", qty: 2 }], total: 1999n });
  });

  test("two contexts (and hosts) share one table", async () => {
    const pg = await server;
    await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: table });
    const shop = await started("/Catalina/localhost/shop");
    const admin = await started("/Catalina/admin.example/");
    const a = shop.createSession();
    const b = admin.createSession();
    const c = admin.createSession(a.id);
    await shop.processPersistenceChecks();
    await admin.processPersistenceChecks();
    expect(pg.psql(`select app, id from ${table} order by app, id`).trim().split("\n").sort()).toEqual(
      [`/Catalina/admin.example/|${a.id}`, `/Catalina/admin.example/|${b.id}`, `/Catalina/localhost/shop|${a.id}`]
        .sort(),
    );
    expect(await shop.store.keys()).toEqual([a.id]);
    expect(await admin.store.getSize()).toBe(2);
    c.invalidate();
    await admin.whenStoreIdle();
    expect(await shop.store.keys()).toEqual([a.id]);
    expect(await admin.store.keys()).toEqual([b.id]);
  });

  test("ids longer than the id column stop start-up with the ALTER TABLE; store init's table fits them", async () => {
    const pg = await server;
    // Tomcat's documented table: varchar(100); ids of 64 bytes and .node-01 are 136 characters.
    await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: table });
    const long = { jvmRoute: "node-01", sessionIdGenerator: { sessionIdLength: 64 } };
    const err = await started("/Catalina/localhost/long", long).then(() => null, (e) => e);
    expect(err?.code).toBe("store.idColumn");
    expect(err.message).toContain(
      "the manager's session ids are 136 characters long (sessionIdLength bytes, two characters each, and .jvmRoute), but the id column [id] holds 100",
    );
    expect(err.fix).toContain(`ALTER TABLE "${table}" ALTER COLUMN "id" TYPE varchar(136);`);
    // The default ids fit; widened as the fix says, the long ones do too, and are saved.
    await started("/Catalina/localhost/short");
    pg.psql(`ALTER TABLE "${table}" ALTER COLUMN "id" TYPE varchar(136)`);
    const m = await started("/Catalina/localhost/long", long);
    const s = m.createSession();
    await m.processPersistenceChecks();
    expect(await m.store.keys()).toEqual([s.id]);
    expect(s.id).toHaveLength(136);
    // store init sizes a new table for them.
    table = `${table}_init`;
    await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: table }, 136);
    await started("/Catalina/localhost/long", long);
  });

  test("the sweep finds timed-out rows in SQL and expires them; other applications' rows are left alone", async () => {
    await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: table });
    const m = await started("/Catalina/localhost/app", { maxIdleBackup: -1, maxIdleSwap: 0 });
    const other = await started("/Catalina/localhost/other", { maxIdleBackup: -1, maxIdleSwap: 0 });
    const events: string[] = [];
    m.addListener(recorder(events));
    const old = m.createSession();
    old.maxInactiveInterval = 60;
    const forever = m.createSession();
    forever.maxInactiveInterval = -1;
    const long = m.createSession();
    // Over 24 days: the SQL must not overflow a 32-bit int.
    long.maxInactiveInterval = 30 * 24 * 3600;
    const theirs = other.createSession();
    theirs.maxInactiveInterval = 60;
    await m.processPersistenceChecks();
    await other.processPersistenceChecks();
    events.length = 0;
    clock.advanceSeconds(120);
    await m.processExpires();
    expect(events).toEqual([`destroyed:${old.id}`]);
    expect((await m.store.keys()).sort()).toEqual([forever.id, long.id].sort());
    expect(await other.store.keys()).toEqual([theirs.id]);
  });
});

describe("write-before-response (maxIdleBackup 0)", () => {
  test("the changes of requests that end together are committed in one transaction; a row the database refuses fails alone", async () => {
    const pg = await server;
    // Tomcat's own layout, with a short id column: a long id is a row PostgreSQL refuses.
    pg.psql(
      `create table ${table} (id varchar(40) not null, app varchar(255) not null, data bytea, valid char(1) not null,
       maxinactive int not null, lastaccess bigint not null, primary key (app, id))`,
    );
    const m = await started("/Catalina/localhost/app");
    const sessions = Array.from({ length: 20 }, (_, i) => {
      const s = m.createSession();
      s.setAttribute("i", i);
      request(m, s);
      return s;
    });
    await Promise.all(sessions.map((s) => m.commit([s])));
    // Rows inserted by one transaction share its id (xmin).
    expect(pg.psql(`select count(*), count(distinct xmin::text) from ${table}`).trim()).toBe("20|1");

    const refused = m.createSession("X".repeat(60));
    const fine = sessions.slice(0, 5);
    for (const s of fine) s.setAttribute("i", -1);
    const results = await Promise.allSettled([refused, ...fine].map((s) => m.commit([s])));
    expect(results.map((r) => r.status as string)).toEqual(["rejected", ...fine.map(() => "fulfilled")]);
    expect(String((results[0] as PromiseRejectedResult).reason.message)).toMatch(
      /could not be made durable: .*value too long/,
    );
    for (const s of fine) expect((await m.store.load(s.id))?.getAttribute("i")).toBe(-1);
    expect(await m.store.getSize()).toBe(20);
  });
});

describe("one statement per save", () => {
  test(
    "an upsert, never a DELETE: on a store-init table, on Tomcat's id-keyed table, and on one with no key",
    async () => {
      const pg = await server;
      await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: `${table}_keyed` });
      pg.psql(
        `create table ${table}_tomcat (id varchar(100) not null primary key, valid char(1) not null,
       maxinactive int not null, lastaccess bigint not null, app varchar(255), data bytea);
       create index ${table}_kapp on ${table}_tomcat (app);
       create table ${table}_loose (id varchar(100) not null, app varchar(255) not null, valid char(1) not null,
       maxinactive int not null, lastaccess bigint not null, data bytea);
       create function ${table}_no_delete() returns trigger language plpgsql as
         $$ begin raise exception 'a save deleted a row of %', TG_TABLE_NAME; end $$;`,
      );
      for (const kind of ["keyed", "tomcat", "loose"]) {
        pg.psql(
          `create trigger saves_update before delete on ${table}_${kind} for each row execute function ${table}_no_delete()`,
        );
        const m = await started(`/Catalina/localhost/${kind}`, {}, { sessionTable: `${table}_${kind}` });
        const sessions = [m.createSession(), m.createSession(), m.createSession()];
        for (const s of sessions) {
          s.setAttribute("n", 1);
          request(m, s);
        }
        // Three saves that end together, then each again on its own.
        await Promise.all(sessions.map((s) => m.commit([s])));
        for (const s of sessions) {
          s.setAttribute("n", 2);
          request(m, s);
          await m.commit([s]);
          expect((await m.store.load(s.id))?.getAttribute("n")).toBe(2);
        }
        expect(pg.psql(`select count(*), count(distinct id) from ${table}_${kind}`).trim()).toBe("3|3");
        expect(pg.psql(`select distinct app from ${table}_${kind}`).trim()).toBe(`/Catalina/localhost/${kind}`);
        pg.psql(`drop trigger saves_update on ${table}_${kind}`);
        sessions[0]!.invalidate();
        await m.whenStoreIdle();
        expect((await m.store.keys()).sort()).toEqual(sessions.slice(1).map((s) => s.id).sort());
      }
    },
    30000,
  );

  test(
    "Tomcat's id-keyed table: an id another application stores is refused, saying why; that row is kept",
    async () => {
      const pg = await server;
      pg.psql(
        `create table ${table} (id varchar(100) not null primary key, valid char(1) not null,
       maxinactive int not null, lastaccess bigint not null, app varchar(255), data bytea)`,
      );
      const shop = await started("/Catalina/localhost/shop");
      const admin = await started("/Catalina/localhost/admin");
      const a = shop.createSession();
      request(shop, a);
      await shop.commit([a]);
      const same = admin.createSession(a.id);
      const other = admin.createSession();
      for (const s of [same, other]) request(admin, s);
      const results = await Promise.allSettled([admin.commit([same]), admin.commit([other])]);
      expect(results.map((r) => r.status as string)).toEqual(["rejected", "fulfilled"]);
      expect(String((results[0] as PromiseRejectedResult).reason.message)).toContain(
        `session id [${a.id}] is stored in table [${table}] for another application: its primary key is [id] alone (Tomcat's layout), so applications cannot share an id; make it (app, id) to let them`,
      );
      expect(pg.psql(`select app, id from ${table} order by app`).trim().split("\n")).toEqual([
        `/Catalina/localhost/admin|${other.id}`,
        `/Catalina/localhost/shop|${a.id}`,
      ]);
    },
    30000,
  );
});

describe("scale-out: two instances on one table", () => {
  test("a session created on one instance is read on the other once it is backed up (maxIdleBackup 0)", async () => {
    await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: table });
    // A second data source: the other instance has its own connection pool.
    const pg = await server;
    const otherSources = createDataSources([{ name: "jdbc/sessions", url: pg.url }]);
    const a = await started("/Catalina/localhost/app", { jvmRoute: "node1" });
    const b = new PersistentManager({
      now: clock.now,
      name: "/Catalina/localhost/app",
      jvmRoute: "node2",
      maxIdleBackup: 0,
      store: { className: "DataSourceStore", dataSourceName: "jdbc/sessions", sessionTable: table },
      dataSources: { global: otherSources },
    });
    await b.start();
    try {
      const events: string[] = [];
      b.addListener(recorder(events));
      const s = a.createSession();
      expect(s.id).toEndWith(".node1");
      s.setAttribute("user", { name: "alice", roles: ["buyer"] });
      request(a, s);
      expect(await b.findSession(s.id)).toBeNull();

      await a.processPersistenceChecks();
      const onB = (await b.findSession(s.id))!;
      expect(onB.getAttribute("user")).toEqual({ name: "alice", roles: ["buyer"] });
      expect(events).toEqual([`created:${s.id}`]);

      // And back: node2's change reaches node1 after node2's backup, once node1 no longer holds it (failover).
      onB.setAttribute("step", 2);
      request(b, onB);
      await b.processPersistenceChecks();
      a.removeSession(s, false);
      expect((await a.findSession(s.id))?.getAttribute("step")).toBe(2);

      // A session made on node2 is visible to node1 too.
      const t = b.createSession();
      expect(t.id).toEndWith(".node2");
      await b.processPersistenceChecks();
      expect(await a.findSession(t.id)).not.toBeNull();
    } finally {
      await b.stop();
      await otherSources.close();
    }
  });
});

describe("database outage", () => {
  test(
    "PostgreSQL stops under a running manager: memory keeps serving, errors name store and table, the backlog is written when it returns",
    async () => {
      const pg = await server;
      await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: table });
      const m = await started("/Catalina/localhost/app");
      const kept = m.createSession();
      const ended = m.createSession();
      await m.processPersistenceChecks();
      expect(pg.psql(`select count(*) from ${table}`).trim()).toBe("2");

      pg.stop();
      try {
        request(m, kept);
        kept.setAttribute("during", "outage");
        const fresh = m.createSession();
        ended.invalidate();
        await m.processPersistenceChecks();
        await m.processExpires();
        await m.whenStoreIdle();

        expect(await m.findSession(kept.id)).toBe(kept);
        expect(await m.findSession(fresh.id)).toBe(fresh);
        expect(await m.findSession(ended.id)).toBeNull();
        expect(await m.findSession("0123456789ABCDEF0123456789ABCDEF")).toBeNull();
        expect(m.pendingWrites).toBe(3);

        const errors = logs.lines.filter((l) => l.level === "error");
        expect(errors).toHaveLength(1);
        const line = errors[0]!.line;
        expect(line).toContain(`DataSourceStore[jdbc/sessions (${pg.url}), table ${table}]`);
        expect(line).toMatch(/ECONNREFUSED|CONNECTION_CLOSED|connection/i);
        expect(line).toContain("Sessions in memory keep working");

        // Still down: a background tick retries and keeps everything.
        const warnings = logs.matching(/the store is still unavailable/).length;
        await m.backgroundProcess();
        expect(m.pendingWrites).toBe(3);
        expect(logs.matching(/the store is still unavailable \(.*ECONNREFUSED.*\); 3 write\(s\) pending/)).toHaveLength(
          warnings + 1,
        );

        pg.start();
        // Nothing was deleted while the database was away.
        expect(pg.psql(`select count(*) from ${table}`).trim()).toBe("2");
        await m.backgroundProcess();
        expect(m.pendingWrites).toBe(0);
        expect(pg.psql(`select id from ${table} order by id`).trim().split("\n")).toEqual([kept.id, fresh.id].sort());
        expect((await m.store.load(kept.id))?.getAttribute("during")).toBe("outage");
        expect(logs.matching(/is available again/)).toHaveLength(1);
        expect(logs.matching(/wrote 3 pending write\(s\)/)).toHaveLength(1);
      } finally {
        // A failed assertion must not leave the server down for the next tests.
        try {
          pg.start();
        } catch {
          // Already running.
        }
      }
    },
    60000,
  );
});

describe("Deno", () => {
  test(
    "the SQLite (node:sqlite) and PostgreSQL paths run under Deno and read what Bun stored, and the other way round",
    async () => {
      const pg = await server;
      const work = await scratchDir();
      try {
        const root = resolve(import.meta.dir, "../..");
        const script = join(root, "tests/datasource/fixtures/store-roundtrip.ts");
        const urls = [`sqlite:${join(work.dir, "cross.db")}`, pg.url];
        const run = (cmd: string, args: string[]) => {
          const r = spawnSync(cmd, args, {
            cwd: root,
            encoding: "utf8",
            timeout: 60000,
            env: { ...process.env, NO_COLOR: "1" },
          });
          if (r.error || r.status !== 0) {
            throw new Error(
              `${cmd} ${args.join(" ")}: ${r.error?.message ?? `exit ${r.status}`}\n${r.stderr}`,
            );
          }
          return r.stdout.trim().split("\n").map((l) => JSON.parse(l));
        };
        const bun = run(join(root, "node_modules/.bin/bun"), [script, "NONE", ...urls]);
        expect(bun.map((r) => [r.dialect, r.read])).toEqual([["sqlite", null], ["postgres", null]]);
        const fromBun = bun[0].wrote;
        expect(bun[1].wrote).toBeString();

        // The two stores got different ids from Bun; Deno reads the SQLite one and, in PostgreSQL, finds nothing under it.
        const deno = run(join(root, "node_modules/.bin/deno"), [
          "run",
          "-A",
          "--config=deno.json",
          script,
          fromBun,
          ...urls,
        ]);
        expect(deno.map((r) => [r.dialect, r.runtime, r.read])).toEqual([
          ["sqlite", "deno", { id: fromBun, writtenBy: "bun" }],
          ["postgres", "deno", null],
        ]);
        const back = run(join(root, "node_modules/.bin/bun"), [script, deno[1].wrote, urls[1]!]);
        expect(back[0].read).toEqual({ id: deno[1].wrote, writtenBy: "deno" });
      } finally {
        await work.cleanup();
      }
    },
    120000,
  );
});
