/**
 * The two versioned stores over a DataSourceStore's table, on their own, on an SQLite file and on
 * real PostgreSQL and MariaDB servers started for this file: conditional writes and renames at a
 * version, the conflicts they count, and an id that is taken. SharedManager on top of them, and the
 * scale-out runs, are in tests/e2e/cluster*.test.ts and tests/e2e/workers.test.ts.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createDataSources, type DataSources } from "../../src/datasource/index.ts";
import { initStoreTable } from "../../src/session/index.ts";
import { type DataSourceStoreConfig, storeConfig } from "../../src/session/config.ts";
import type { StoreManager } from "../../src/session/store.ts";
import { DataSourceStore } from "../../src/session/stores/data-source-store.ts";
import type { VersionedStore, VersionedWrite } from "../../src/session/stores/versioned.ts";
import { initVersionColumns, VersionedSqlStore } from "../../src/session/stores/versioned-sql.ts";
import { VersionedSqliteStore } from "../../src/session/stores/versioned-sqlite.ts";
import { BobcatError } from "../../src/util/errors.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { startMariaDb } from "../helpers/services.ts";
import { captureLogs, scratchDir } from "./helpers.ts";

const postgres = startPostgres();
const mariadb = startMariaDb();
postgres.catch(() => {});
mariadb.catch(() => {});
afterAll(async () => {
  await (await postgres.catch(() => null))?.destroy();
  await (await mariadb.catch(() => null))?.destroy();
});

const opened: { store: VersionedStore; sources: DataSources; cleanup?: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.store.stop?.();
    await o.sources.close();
    await o.cleanup?.();
  }
});

const manager = { name: "/Catalina/localhost/app" } as StoreManager;

async function started(engine: "sqlite" | "postgres" | "mariadb"): Promise<VersionedStore> {
  const logs = captureLogs();
  let url: string;
  let cleanup: (() => Promise<void>) | undefined;
  if (engine === "sqlite") {
    const work = await scratchDir();
    url = `sqlite:${work.dir}/sessions.db`;
    cleanup = async () => {
      logs.restore();
      await work.cleanup();
    };
  } else {
    url = (await (engine === "postgres" ? postgres : mariadb)).url;
    cleanup = () => Promise.resolve(logs.restore());
  }
  const sources = createDataSources([{ name: "jdbc/sessions", url, maxTotal: 4, maxWaitMillis: 3000 }]);
  // A table of its own per test, so the tests of one server do not see each other's rows.
  const sessionTable = `versioned_${opened.length}_${Date.now()}`;
  const inner = new DataSourceStore(
    storeConfig({
      className: "DataSourceStore",
      dataSourceName: "jdbc/sessions",
      sessionTable,
    }) as DataSourceStoreConfig,
    { dataSources: { global: sources }, name: manager.name },
  );
  let store: VersionedStore;
  if (engine === "sqlite") store = new VersionedSqliteStore(inner);
  else {
    const ds = sources.get("jdbc/sessions")!;
    await initStoreTable(ds, { sessionTable });
    await initVersionColumns(ds, { ...inner.names });
    store = new VersionedSqlStore(inner);
  }
  opened.push({ store, sources, cleanup });
  store.setManager(manager);
  await store.start?.();
  return store;
}

function write(id: string, text: string, lastAccess = 1000): VersionedWrite {
  return { id, data: new TextEncoder().encode(text), lastAccess, maxInactive: 60 };
}

const text = (data: Uint8Array | undefined) => (data ? new TextDecoder().decode(data) : undefined);

for (const engine of ["sqlite", "postgres", "mariadb"] as const) {
  describe(`versioned store on ${engine}`, () => {
    test("create, replace at a version, and a write at a stale version is a counted conflict", async () => {
      const store = await started(engine);
      expect(await store.create(write("A", "one"))).toBe(true);
      expect(await store.create(write("A", "other"))).toBe(false);
      expect(await store.replace(write("A", "two", 2000), 1)).toBe(2);
      expect(await store.replace(write("A", "lost", 3000), 1)).toBeNull();
      expect(store.counters.conflicts).toBe(1);
      const found = await store.fetch("A");
      expect({ ...found, data: text(found?.data) }).toEqual({
        version: 2,
        lastAccess: 2000,
        maxInactive: 60,
        data: "two",
      });
      expect((await store.fetch("A", 2))?.data).toBeUndefined();
      expect(await store.count()).toBe(1);
    }, 60000);

    test("rename moves the session at its version; a stale version is a conflict, a taken id an error", async () => {
      const store = await started(engine);
      await store.create(write("OLD", "content"));
      await store.create(write("TAKEN", "someone else's"));

      expect(await store.rename("OLD", write("NEW", "content"), 7)).toBeNull();
      expect(store.counters.conflicts).toBe(1);
      expect((await store.fetch("OLD"))?.version).toBe(1);

      const err = await store.rename("OLD", write("TAKEN", "content"), 1).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(BobcatError);
      expect((err as BobcatError).code).toBe("session.idInUse");
      // Nothing of the failed rename stays: the old row is back, the taken one unchanged.
      expect((await store.fetch("OLD"))?.version).toBe(1);
      expect(text((await store.fetch("TAKEN"))?.data)).toBe("someone else's");

      expect(await store.rename("OLD", write("NEW", "moved"), 1)).toBe(2);
      expect(await store.fetch("OLD")).toBeNull();
      const moved = await store.fetch("NEW");
      expect([moved?.version, text(moved?.data)]).toEqual([2, "moved"]);
      expect(store.counters.conflicts).toBe(1);
      expect(await store.count()).toBe(2);
    }, 60000);
  });
}
