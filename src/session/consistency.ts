/**
 * The `consistency` attribute of a PersistentManager: `sticky` (default) is PersistentManager
 * itself — the instance that holds a session owns it and the store is its backup (with the
 * Engine's jvmRoute and JvmRouteBinderValve for failover); `shared` is SharedManager — the store
 * holds every session and any instance serves any request (see shared-manager.ts for what each
 * guarantees). This module builds the shared one from the same `<Manager>` and `<Store>` attributes.
 */
import { BobcatError } from "../util/errors.ts";
import type { PersistentManagerConfig } from "./config.ts";
import type { ManagerBase } from "./manager-base.ts";
import { type PersistentContext, PersistentManager } from "./persistent-manager.ts";
import { SharedManager } from "./shared-manager.ts";
import { DataSourceStore } from "./stores/data-source-store.ts";
import { RedisStore } from "./stores/redis-store.ts";
import type { VersionedStore } from "./stores/versioned.ts";

export type Consistency = PersistentManagerConfig["consistency"];

/** A PersistentManager for `consistency: sticky`, a SharedManager for `shared`. */
export function createPersistentManager(config: PersistentManagerConfig, context: PersistentContext): ManagerBase {
  if (config.consistency === "sticky") return new PersistentManager(config, context);
  const store = config.store;
  const storeContext = { workDir: context.workDir, dataSources: context.dataSources, name: context.name };
  let load: () => Promise<VersionedStore>;
  if (store?.className === "RedisStore") {
    const redis = new RedisStore(store, storeContext);
    load = () => Promise.resolve(redis);
  } else if (store?.className === "DataSourceStore") {
    const inner = new DataSourceStore(store, storeContext);
    // SQLite (WAL) is the worker processes' store on one machine; the databases serve several.
    load = inner.dataSource.dialect === "sqlite"
      ? async () =>
        new (await import("./stores/versioned-sqlite.ts")).VersionedSqliteStore(inner, store.sessionVersionCol)
      : async () => new (await import("./stores/versioned-sql.ts")).VersionedSqlStore(inner, store.sessionVersionCol);
  } else {
    throw new BobcatError(
      "session.badAttribute",
      `PersistentManager ${context.name ?? ""}: consistency shared needs a DataSourceStore or a RedisStore${
        store ? `, not a ${store.className}` : ""
      }`,
      {
        where: { attribute: "consistency" },
        fix:
          "Use store: { className: DataSourceStore, dataSourceName: <postgres or mysql resource> } or { className: RedisStore, url: redis://... }, or consistency: sticky.",
      },
    );
  }
  return new SharedManager(config, context, load);
}
