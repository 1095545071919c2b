/**
 * The stores on their own: Tomcat's TestFileStore and TestFileStoreConcurrency, FileStore's
 * atomic writes and refusals, and DataSourceStore on SQLite files (custom table and column
 * names, two contexts in one table, the ROOT application name, missing tables, CREATE TABLE).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createDataSources, type DataSources } from "../../src/datasource/index.ts";
import {
  createStore,
  createTableSql,
  DataSourceStore,
  FileStore,
  initStoreTable,
  PersistentManager,
  type PersistentManagerOptions,
  SERVER_STORES,
  type StandardSession,
} from "../../src/session/index.ts";
import { DEFAULT_TABLE_NAMES, upsertKey } from "../../src/session/stores/session-table.ts";
import { BobcatError } from "../../src/util/errors.ts";
import { captureLogs, FakeClock, recorder, scratchDir } from "./helpers.ts";

let clock: FakeClock;
let logs: ReturnType<typeof captureLogs>;
let work: Awaited<ReturnType<typeof scratchDir>>;
const opened: (PersistentManager | DataSources)[] = [];

beforeEach(async () => {
  clock = new FakeClock();
  logs = captureLogs();
  work = await scratchDir();
});
afterEach(async () => {
  for (const o of opened.splice(0)) await (o instanceof PersistentManager ? o.stop() : o.close());
  logs.restore();
  await work.cleanup();
});

async function started(options: PersistentManagerOptions): Promise<PersistentManager> {
  const m = new PersistentManager({
    now: clock.now,
    workDir: work.dir,
    name: "/Catalina/localhost/app",
    stores: SERVER_STORES,
    ...options,
  });
  await m.start();
  opened.push(m);
  return m;
}

async function rejection(p: Promise<unknown>): Promise<BobcatError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BobcatError);
    return err as BobcatError;
  }
  throw new Error("expected a rejection");
}

describe("FileStore (TestFileStore)", () => {
  let store: FileStore;
  let dir: string;

  beforeEach(async () => {
    const m = await started({ store: { className: "FileStore", directory: "SESS_TEMP" } });
    store = m.store as FileStore;
    dir = join(work.dir, "SESS_TEMP");
    await writeFile(join(dir, "tmp1.session"), "");
    await writeFile(join(dir, "tmp2.session"), "");
  });

  test("getSize, keys, remove, clear", async () => {
    expect(await store.getSize()).toBe(2);
    expect((await store.keys()).sort()).toEqual(["tmp1", "tmp2"]);
    await store.remove("tmp1");
    expect(await store.getSize()).toBe(1);
    await store.clear();
    expect(await store.getSize()).toBe(0);
    expect(await store.keys()).toEqual([]);
  });

  test("pathTraversalSessionId: ids that are not safe file names are refused", async () => {
    const outside = join(work.dir, "conf");
    await mkdir(outside);
    await writeFile(join(outside, "test.session"), "keep me");
    expect(await store.load("./../conf/test")).toBeNull();
    await store.remove("./../conf/test");
    await store.remove("../conf/test");
    expect(await readFile(join(outside, "test.session"), "utf8")).toBe("keep me");
    expect(logs.matching(/refusing session id \[\.\/\.\.\/conf\/test\]: it is not a safe file name/)[0]?.level).toBe(
      "warn",
    );
  });

  test("TestFileStoreConcurrency: save, load and remove of the same sessions at once never fail", async () => {
    const m = new PersistentManager({ now: clock.now, workDir: work.dir, store });
    const sessions = Array.from({ length: 10 }, () => m.createSession());
    const errors: unknown[] = [];
    const loop = async (op: (s: StandardSession) => Promise<unknown>) => {
      for (let round = 0; round < 20; round++) {
        for (const s of sessions) await op(s).catch((e) => errors.push(e));
      }
    };
    await Promise.all([
      loop((s) => store.save(s)),
      loop((s) => store.load(s.id)),
      loop((s) => store.remove(s.id)),
      loop((s) => store.save(s)),
    ]);
    expect(errors).toEqual([]);
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});

describe("FileStore files", () => {
  test("one <id>.session file per session, owner-only, written atomically (no temporary file left)", async () => {
    const m = await started({ maxIdleBackup: 0, store: { className: "FileStore", directory: "sessions" } });
    const s = m.createSession();
    s.setAttribute("user", "alice");
    await m.processPersistenceChecks();
    const dir = join(work.dir, "sessions");
    expect(await readdir(dir)).toEqual([`${s.id}.session`]);
    expect((await stat(join(dir, `${s.id}.session`))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await m.store.load(s.id))?.getAttribute("user")).toBe("alice");
  });

  test("the directory defaults to the work directory; an absolute one is used as is", async () => {
    expect((createStore({ className: "FileStore" }, { workDir: work.dir }) as FileStore).directory).toBe(work.dir);
    expect(
      (createStore({ className: "org.apache.catalina.session.FileStore", directory: "/var/x" }, {
        workDir: work.dir,
      }) as FileStore).directory,
    )
      .toBe("/var/x");
    let err: unknown;
    try {
      createStore({ className: "FileStore", directory: "rel" }, { name: "/Catalina/localhost/app" });
    } catch (e) {
      err = e;
    }
    expect((err as BobcatError).message).toBe(
      "FileStore of /Catalina/localhost/app: attribute [directory] [rel] is relative but the context has no work directory",
    );
  });

  test("leftovers of interrupted writes are cleared at start; the session files are kept", async () => {
    await writeFile(join(work.dir, "ABC.session"), "x");
    await writeFile(join(work.dir, "ABC.session.0123456789abcdef.tmp"), "half");
    await started({ store: { className: "FileStore" } });
    expect(await readdir(work.dir)).toEqual(["ABC.session"]);
  });

  test("a file where the directory should be stops start-up, and is not deleted", async () => {
    await writeFile(join(work.dir, "sessions"), "someone's data");
    const m = new PersistentManager({
      workDir: work.dir,
      stores: SERVER_STORES,
      store: { className: "FileStore", directory: "sessions" },
    });
    const err = await rejection(m.start());
    expect(err.code).toBe("store.directory");
    expect(err.message).toContain("exists and is not a directory");
    expect(await readFile(join(work.dir, "sessions"), "utf8")).toBe("someone's data");
  });

  test("a jvmRoute that would make unsafe file names stops start-up", async () => {
    const m = new PersistentManager({
      workDir: work.dir,
      jvmRoute: "node|1",
      stores: SERVER_STORES,
      store: { className: "FileStore" },
    });
    const err = await rejection(m.start());
    expect(err.code).toBe("store.unsafeId");
    expect(err.where.attribute).toBe("jvmRoute");
  });

  test("a sessionIdLength too long for a file name stops start-up, naming sessionIdLength", async () => {
    const m = new PersistentManager({
      workDir: work.dir,
      jvmRoute: "node1",
      sessionIdGenerator: { sessionIdLength: 100 },
      stores: SERVER_STORES,
      store: { className: "FileStore" },
    });
    const err = await rejection(m.start());
    expect(err.code).toBe("store.unsafeId");
    expect(err.where.attribute).toBe("sessionIdLength");
    expect(err.message).toContain("ids of 206 characters");
    expect(err.fix).toContain("sessionIdLength");
  });
});

describe("DataSourceStore on SQLite", () => {
  let sources: DataSources;
  const dbFile = () => join(work.dir, "db", "sessions.db");

  beforeEach(() => {
    sources = createDataSources([{ name: "jdbc/sessions", type: "javax.sql.DataSource", url: `sqlite:${dbFile()}` }]);
    opened.push(sources);
  });

  function dataSourceManager(name: string, store: Record<string, unknown> = {}, extra: PersistentManagerOptions = {}) {
    return started({
      name,
      maxIdleBackup: 0,
      store: { className: "DataSourceStore", dataSourceName: "jdbc/sessions", ...store },
      dataSources: { global: sources },
      ...extra,
    });
  }

  function rows(sql: string): unknown[] {
    const db = new Database(dbFile(), { readonly: true });
    try {
      return db.query(sql).all();
    } finally {
      db.close();
    }
  }

  test("custom table and column names, the way the seed's example names them", async () => {
    const names = {
      sessionTable: "tomcat_sessions",
      sessionIdCol: "session_id",
      sessionValidCol: "valid_session",
      sessionMaxInactiveCol: "max_inactive",
      sessionLastAccessedCol: "last_access",
      sessionAppCol: "app_name",
      sessionDataCol: "session_data",
    };
    await initStoreTable(sources.get("jdbc/sessions")!, names);
    const m = await dataSourceManager("/Catalina/localhost/shop", names);
    const s = m.createSession();
    s.setAttribute("cart", new Map([["sku-1", 2]]));
    s.maxInactiveInterval = 900;
    await m.processPersistenceChecks();
    expect(rows("SELECT session_id, app_name, valid_session, max_inactive, last_access FROM tomcat_sessions")).toEqual([
      {
        session_id: s.id,
        app_name: "/Catalina/localhost/shop",
        valid_session: "1",
        max_inactive: 900,
        last_access: s.lastAccessedTimeInternal,
      },
    ]);
    const loaded = await m.store.load(s.id);
    expect(loaded?.getAttribute("cart")).toEqual(new Map([["sku-1", 2]]));
    expect(await m.store.keys()).toEqual([s.id]);
    s.invalidate();
    await m.whenStoreIdle();
    expect(rows("SELECT * FROM tomcat_sessions")).toEqual([]);
  });

  test("two contexts in one table: rows are told apart by the app column, ROOT is /Catalina/localhost/", async () => {
    await initStoreTable(sources.get("jdbc/sessions")!);
    const root = await dataSourceManager("/Catalina/localhost");
    const app = await dataSourceManager("/Catalina/localhost/app");
    const a = root.createSession();
    const b = app.createSession();
    // A shared cookie path lets two contexts hold the same id.
    const shared = app.createSession(a.id);
    await root.processPersistenceChecks();
    await app.processPersistenceChecks();
    const byKey = (x: unknown) => JSON.stringify(x);
    expect(rows('SELECT app, id FROM "tomcat$sessions"').map(byKey).sort()).toEqual(
      [
        { app: "/Catalina/localhost/", id: a.id },
        { app: "/Catalina/localhost/app", id: a.id },
        { app: "/Catalina/localhost/app", id: b.id },
      ].map(byKey).sort(),
    );
    expect(await root.store.keys()).toEqual([a.id]);
    expect((await app.store.keys()).sort()).toEqual([a.id, b.id].sort());
    expect(await app.store.getSize()).toBe(2);
    await app.store.clear();
    expect(await root.store.getSize()).toBe(1);
    shared.invalidate();
  });

  test("swap out and in through the manager; expired rows are swept with listeners, never-expiring ones kept", async () => {
    await initStoreTable(sources.get("jdbc/sessions")!);
    const m = await dataSourceManager("/Catalina/localhost/app", {}, { maxIdleBackup: -1, maxIdleSwap: 0 });
    const events: string[] = [];
    m.addListener(recorder(events));
    const old = m.createSession();
    old.maxInactiveInterval = 60;
    old.setAttribute("n", 1n << 70n);
    const forever = m.createSession();
    forever.maxInactiveInterval = 0;
    await m.processPersistenceChecks();
    expect(m.getStats().activeSessions).toBe(0);
    expect((await m.findSession(old.id))?.getAttribute("n")).toBe(1n << 70n);
    await m.processPersistenceChecks();
    events.length = 0;
    clock.advanceSeconds(3600);
    await m.processExpires();
    expect(events).toEqual([`destroyed:${old.id}`, "removed:n=1180591620717411303424"]);
    expect(await m.store.keys()).toEqual([forever.id]);
  });

  test("a save is one upsert on the (app, id) key; Tomcat's id-keyed table and a key-less one keep one row per session too", async () => {
    const conn = await sources.get("jdbc/sessions")!.connection();
    await conn.execute(createTableSql("sqlite", { sessionTable: "keyed" }));
    // The upsert updates in place: a DELETE would fail the save.
    await conn.execute(
      "CREATE TRIGGER keyed_saves BEFORE DELETE ON keyed BEGIN SELECT RAISE(ABORT, 'a save deleted a row'); END",
    );
    // Tomcat's own DDL: the id alone is the primary key, app may be null.
    await conn.execute(
      "create table tomcat (id varchar(100) not null primary key, valid char(1) not null, maxinactive int not null, " +
        "lastaccess bigint not null, app varchar(255), data blob)",
    );
    await conn.execute("create index kapp on tomcat (app)");
    await conn.execute(
      "create table loose (id text not null, app text not null, valid text not null, maxinactive integer not null, " +
        "lastaccess integer not null, data blob)",
    );
    for (const table of ["keyed", "tomcat", "loose"]) {
      const m = await dataSourceManager(`/Catalina/localhost/${table}`, { sessionTable: table });
      const [a, b] = [m.createSession(), m.createSession()];
      for (const s of [a, b]) {
        s.setAttribute("n", 1);
        m.access(s);
        m.endAccess(s);
      }
      // Two saves that end together (one statement or transaction), then one on its own.
      await Promise.all([m.commit([a]), m.commit([b])]);
      a.setAttribute("n", 2);
      m.access(a);
      m.endAccess(a);
      await m.commit([a]);
      expect((await m.store.load(a.id))?.getAttribute("n")).toBe(2);
      expect((await m.store.load(b.id))?.getAttribute("n")).toBe(1);
      expect(rows(`SELECT id, app, count(*) AS n FROM ${table} GROUP BY id, app ORDER BY id`)).toEqual(
        [a.id, b.id].sort().map((id) => ({ id, app: `/Catalina/localhost/${table}`, n: 1 })),
      );
      if (table === "keyed") continue;
      b.invalidate();
      await m.whenStoreIdle();
      expect(await m.store.keys()).toEqual([a.id]);
    }
  });

  test("a missing table stops start-up with the CREATE TABLE to run", async () => {
    const m = new PersistentManager({
      name: "/Catalina/localhost/app",
      store: { className: "DataSourceStore", dataSourceName: "jdbc/sessions", sessionTable: "nope" },
      dataSources: { global: sources },
    });
    const err = await rejection(m.start());
    expect(err.code).toBe("store.noTable");
    expect(err.message).toContain("no such table: nope");
    expect(err.fix).toContain('CREATE TABLE "nope" (');
    expect(err.fix).toContain("bobcat store init");
  });

  test("a missing column stops start-up too, naming its attribute and the ALTER TABLE that adds it", async () => {
    await initStoreTable(sources.get("jdbc/sessions")!);
    const m = new PersistentManager({
      store: { className: "DataSourceStore", dataSourceName: "jdbc/sessions", sessionValidCol: "is_valid" },
      dataSources: { global: sources },
    });
    const err = await rejection(m.start());
    expect(err.code).toBe("store.noColumn");
    expect(err.message).toContain("has no column [is_valid] (sessionValidCol)");
    expect(err.message).toContain("its columns are: id, app, valid, maxinactive, lastaccess, data");
    expect(err.fix).toContain("Set sessionValidCol to the name of the existing column");
    expect(err.fix).toContain(`ALTER TABLE "tomcat$sessions" ADD COLUMN "is_valid" text NOT NULL DEFAULT '1';`);
  });

  test("store attributes are checked, and names that are not plain identifiers are refused", () => {
    const make = (store: Record<string, unknown>) => () =>
      new PersistentManager({ store: { className: "DataSourceStore", ...store }, dataSources: { global: sources } });
    expect(make({})).toThrow('PersistentManager /Catalina/localhost/: Store needs "dataSourceName"');
    expect(make({ dataSourceName: "jdbc/sessions", sessionTable: "x; DROP TABLE y" })).toThrow(
      "is not a plain SQL identifier",
    );
    expect(make({ dataSourceName: "jdbc/sessions", sessionTable: "public.sessions" })).toThrow(
      "attribute [sessionTable] [public.sessions] is not a plain SQL identifier",
    );
    expect(make({ dataSourceName: "jdbc/sessions", sessionIdCol: "data" })).toThrow(
      "two session columns are both named [data]",
    );
    expect(make({ dataSourceName: "jdbc/sessions", sessionTabel: "t" })).toThrow(
      'unknown attribute "sessionTabel" on Store',
    );
    expect(make({ dataSourceName: "jdbc/other" })).toThrow("dataSourceName [jdbc/other] names no data source");
  });

  test("localDataSource: only the context's resources; otherwise global first, then the context's", () => {
    const local = createDataSources([{ name: "jdbc/sessions", url: `sqlite:${join(work.dir, "local.db")}` }, {
      name: "jdbc/mine",
      url: "sqlite::memory:",
    }]);
    const make = (options: Record<string, unknown>) =>
      createStore({ className: "DataSourceStore", ...options } as never, {
        dataSources: { global: sources, local },
      }) as DataSourceStore;
    expect(make({ dataSourceName: "jdbc/sessions" }).dataSource).toBe(sources.get("jdbc/sessions")!);
    expect(make({ dataSourceName: "jdbc/sessions", localDataSource: true }).dataSource).toBe(
      local.get("jdbc/sessions")!,
    );
    expect(make({ dataSourceName: "java:comp/env/jdbc/mine" }).dataSource).toBe(local.get("jdbc/mine")!);
    let err: BobcatError | undefined;
    try {
      createStore({ className: "DataSourceStore", dataSourceName: "jdbc/sessions", localDataSource: true }, {
        dataSources: { global: sources },
      });
    } catch (e) {
      err = e as BobcatError;
    }
    expect(err?.code).toBe("store.noDataSource");
    expect(err?.message).toBe("dataSourceName [jdbc/sessions] names no data source in the context's resources");
    expect(err?.fix).toContain("is a global resource, but localDataSource is true");
  });

  test("a database file that cannot be opened is a clear start-up error", async () => {
    await writeFile(join(work.dir, "blocker"), "");
    const bad = createDataSources([{ name: "jdbc/bad", url: `sqlite:${join(work.dir, "blocker", "x.db")}` }]);
    const m = new PersistentManager({
      store: { className: "DataSourceStore", dataSourceName: "jdbc/bad" },
      dataSources: { global: bad },
    });
    const err = await rejection(m.start());
    expect(err.code).toBe("datasource.openFailed");
    expect(err.message).toContain(
      `data source [jdbc/bad]: cannot open the SQLite database [${join(work.dir, "blocker", "x.db")}]`,
    );
  });
});

describe("CREATE TABLE", () => {
  test("for each database, with the configured names", () => {
    expect(createTableSql("sqlite")).toBe(
      'CREATE TABLE "tomcat$sessions" (\n' +
        '  "id"           text NOT NULL,\n' +
        '  "app"          text NOT NULL,\n' +
        '  "valid"        text NOT NULL,\n' +
        '  "maxinactive"  integer NOT NULL,\n' +
        '  "lastaccess"   integer NOT NULL,\n' +
        '  "data"         blob,\n' +
        '  PRIMARY KEY ("app", "id")\n)',
    );
    expect(createTableSql("postgres", { sessionTable: "Tomcat_Sessions", sessionIdCol: "Session_ID" })).toBe(
      'CREATE TABLE "tomcat_sessions" (\n' +
        '  "session_id"   varchar(100) NOT NULL,\n' +
        '  "app"          varchar(255) NOT NULL,\n' +
        '  "valid"        char(1) NOT NULL,\n' +
        '  "maxinactive"  integer NOT NULL,\n' +
        '  "lastaccess"   bigint NOT NULL,\n' +
        '  "data"         bytea,\n' +
        '  PRIMARY KEY ("app", "session_id")\n)',
    );
    expect(createTableSql("mysql", { sessionDataCol: "session_data" })).toBe(
      "CREATE TABLE `tomcat$sessions` (\n" +
        "  `id`            varchar(100) NOT NULL,\n" +
        "  `app`           varchar(255) NOT NULL,\n" +
        "  `valid`         char(1) NOT NULL,\n" +
        "  `maxinactive`   int NOT NULL,\n" +
        "  `lastaccess`    bigint NOT NULL,\n" +
        "  `session_data`  mediumblob,\n" +
        "  PRIMARY KEY (`app`, `id`)\n)",
    );
  });

  test("which upsert a save uses, from the table's unique keys", () => {
    const names = { ...DEFAULT_TABLE_NAMES, sessionAppCol: "App_Name", sessionIdCol: "session_id" };
    const appId = ["app_name", "session_id"];
    expect(upsertKey("postgres", names, [["session_id", "app_name"]])).toBe("app-id");
    expect(upsertKey("postgres", names, [["session_id"], appId])).toBe("app-id");
    // Tomcat's DDL: the id alone; the upsert then checks the application.
    expect(upsertKey("postgres", names, [["session_id"]])).toBe("id");
    expect(upsertKey("postgres", names, [])).toBeNull();
    expect(upsertKey("postgres", names, [["app_name", "session_id", "valid"]])).toBeNull();
    expect(upsertKey("sqlite", names, [appId])).toBe("app-id");
    expect(upsertKey("sqlite", names, [["session_id"]])).toBeNull();
    expect(upsertKey("mysql", names, [appId])).toBe("app-id");
    // ON DUPLICATE KEY UPDATE would act on a collision with any other key: UPDATE, then INSERT.
    expect(upsertKey("mysql", names, [appId, ["session_id"]])).toBeNull();
    expect(upsertKey("mysql", names, [appId, null])).toBeNull();
    expect(upsertKey("mysql", names, [appId, ["app_name", "session_id", "data"]])).toBe("app-id");
    expect(upsertKey("mysql", names, [["session_id"]])).toBeNull();
  });

  test("initStoreTable is idempotent and returns the statement it ran", async () => {
    const sources = createDataSources([{ name: "s", url: `sqlite:${join(work.dir, "s.db")}` }]);
    opened.push(sources);
    const first = await initStoreTable(sources.get("s")!, { sessionTable: "t" });
    expect(first).toStartWith('CREATE TABLE IF NOT EXISTS "t" (');
    expect(await initStoreTable(sources.get("s")!, { sessionTable: "t" })).toBe(first);
  });
});
