/**
 * PersistentManager with DataSourceStore on a real MariaDB server started for this file (sticky
 * mode; the shared mode and the scale-out runs are in tests/e2e/cluster*.test.ts): one statement
 * per save on the table `bobcat store init` creates (ON DUPLICATE KEY UPDATE on its (app, id)
 * key), and UPDATE-then-INSERT on the seed's own DDL, whose key is the id alone.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createDataSources, type DataSources } from "../../src/datasource/index.ts";
import { initStoreTable, PersistentManager, type StandardSession } from "../../src/session/index.ts";
import { startMariaDb } from "../helpers/services.ts";
import { captureLogs, FakeClock } from "./helpers.ts";

const server = startMariaDb();
server.catch(() => {});
afterAll(async () => await (await server.catch(() => null))?.destroy());

let clock: FakeClock;
let logs: ReturnType<typeof captureLogs>;
let sources: DataSources;
const managers: PersistentManager[] = [];

beforeEach(async () => {
  const db = await server;
  clock = new FakeClock();
  logs = captureLogs();
  sources = createDataSources([{ name: "jdbc/sessions", url: db.url, maxTotal: 4, maxWaitMillis: 3000 }]);
});
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
  await sources?.close();
  logs?.restore();
});

async function started(name: string, store: Record<string, unknown>): Promise<PersistentManager> {
  const m = new PersistentManager({
    now: clock.now,
    name,
    maxIdleBackup: 0,
    store: { className: "DataSourceStore", dataSourceName: "jdbc/sessions", ...store },
    dataSources: { global: sources },
  });
  await m.start();
  managers.push(m);
  return m;
}

function request(m: PersistentManager, s: StandardSession): void {
  m.access(s);
  clock.advance(5);
  m.endAccess(s);
}

/** The seed's names for the seed's DDL. */
const SEED_NAMES = {
  sessionTable: "tomcat_sessions",
  sessionIdCol: "session_id",
  sessionValidCol: "valid_session",
  sessionMaxInactiveCol: "max_inactive",
  sessionLastAccessedCol: "last_access",
  sessionAppCol: "app_name",
  sessionDataCol: "session_data",
};

describe("DataSourceStore on MariaDB", () => {
  test("ids longer than the id column stop start-up, with MySQL's ALTER TABLE ... MODIFY", async () => {
    const db = await server;
    await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: "narrow" });
    const long = () =>
      new PersistentManager({
        now: clock.now,
        name: "/Catalina/localhost/long",
        sessionIdGenerator: { sessionIdLength: 60 },
        store: { className: "DataSourceStore", dataSourceName: "jdbc/sessions", sessionTable: "narrow" },
        dataSources: { global: sources },
      });
    const err = await long().start().then(() => null, (e) => e);
    expect(err?.code).toBe("store.idColumn");
    expect(err.message).toContain("are 120 characters long");
    expect(err.message).toContain("the id column [id] holds 100");
    expect(err.fix).toContain("ALTER TABLE `narrow` MODIFY `id` varchar(120) NOT NULL;");
    db.sql("ALTER TABLE `narrow` MODIFY `id` varchar(120) NOT NULL");
    const m = long();
    await m.start();
    managers.push(m);
  });

  test(
    "saves, updates, loads and removes on the store-init table (upsert, no DELETE) and on the seed's DDL",
    async () => {
      const db = await server;
      await initStoreTable(sources.get("jdbc/sessions")!, { sessionTable: "keyed" });
      // A save that deleted its row would fail.
      db.sql(
        "CREATE TRIGGER keyed_saves BEFORE DELETE ON keyed FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a save deleted a row'",
      );
      db.sql(`create table tomcat_sessions (
      session_id     varchar(100) not null primary key,
      valid_session  char(1) not null,
      max_inactive   int not null,
      last_access    bigint not null,
      app_name       varchar(255),
      session_data   mediumblob,
      KEY kapp_name(app_name)
    )`);
      for (const [table, names] of [["keyed", { sessionTable: "keyed" }], ["tomcat_sessions", SEED_NAMES]] as const) {
        const m = await started(`/Catalina/localhost/${table}`, names);
        const sessions = [m.createSession(), m.createSession(), m.createSession()];
        for (const s of sessions) {
          s.setAttribute("n", 1);
          request(m, s);
        }
        await Promise.all(sessions.map((s) => m.commit([s])));
        for (const s of sessions) {
          s.setAttribute("n", 2);
          request(m, s);
          await m.commit([s]);
          // Saved again unchanged: the UPDATE still finds its row (mysql2 asks for found rows).
          await m.store.save(s);
          expect((await m.store.load(s.id))?.getAttribute("n")).toBe(2);
        }
        const idCol = table === "keyed" ? "id" : "session_id";
        const appCol = table === "keyed" ? "app" : "app_name";
        expect(db.sql(`select count(*), count(distinct ${idCol}), min(${appCol}) from ${table}`).trim()).toBe(
          `3\t3\t/Catalina/localhost/${table}`,
        );
        if (table === "keyed") db.sql("DROP TRIGGER keyed_saves");
        sessions[0]!.invalidate();
        await m.whenStoreIdle();
        expect((await m.store.keys()).sort()).toEqual(sessions.slice(1).map((s) => s.id).sort());
      }
      // On the seed's DDL an id is one application's: another's save of it is refused and the row kept.
      const other = await started("/Catalina/localhost/other", SEED_NAMES);
      const [id] = db.sql("select session_id from tomcat_sessions limit 1").trim().split("\n");
      const same = other.createSession(id);
      request(other, same);
      await expect(other.commit([same])).rejects.toThrow(/could not be made durable: .*Duplicate entry/);
      expect(db.sql(`select app_name from tomcat_sessions where session_id = '${id}'`).trim()).toBe(
        "/Catalina/localhost/tomcat_sessions",
      );
    },
    60000,
  );
});
