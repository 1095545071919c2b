/**
 * The `consistency` attribute of a PersistentManager: `sticky` (default) is PersistentManager
 * itself — the instance that holds a session owns it and the store is its backup (with the
 * Engine's jvmRoute and JvmRouteBinderValve for failover); `shared` is SharedManager — the store
 * holds every session and any instance serves any request (see shared-manager.ts for what each
 * guarantees). This module builds the shared one from the same `<Manager>` and `<Store>` attributes.
 */
import type { DataSourceScopes } from "../datasource/resources.ts";
import { BobcatError } from "../util/errors.ts";
import type { ManagerBase } from "./manager-base.ts";
import { PersistentManager, type PersistentManagerOptions } from "./persistent-manager.ts";
import { SharedManager } from "./shared-manager.ts";
import { DataSourceStore, type DataSourceStoreOptions } from "./stores/data-source-store.ts";
import { RedisStore, type RedisStoreOptions } from "./stores/redis-store.ts";
import type { VersionedStore } from "./stores/versioned.ts";

export type Consistency = "sticky" | "shared";

const CLASS_NAMES = ["PersistentManager", "org.apache.catalina.session.PersistentManager"];
/** PersistentManager's own attributes: accepted in shared mode, where the swap settings mean nothing. */
const OWN_KEYS = [
  "maxIdleBackup",
  "maxIdleSwap",
  "minIdleSwap",
  "saveOnRestart",
  "store",
  "dataSources",
  "storeBacklogLimit",
  "consistency",
];

function shortName(className: unknown): string {
  return typeof className === "string" ? className.replace(/^org\.apache\.catalina\.session\./, "") : "";
}

/** A PersistentManager for `consistency: sticky`, a SharedManager for `shared`. */
export function createPersistentManager(
  options: PersistentManagerOptions & { consistency?: Consistency },
): ManagerBase {
  const consistency = options.consistency ?? "sticky";
  if (consistency === "sticky") return new PersistentManager(options);
  if (consistency !== "shared") {
    throw new BobcatError("session.badAttribute", `PersistentManager: consistency [${consistency}] is not known`, {
      where: { attribute: "consistency" },
      fix: "Use consistency: sticky (the default) or shared.",
    });
  }
  const store = options.store as
    | (DataSourceStoreOptions & RedisStoreOptions & { sessionVersionCol?: string })
    | undefined;
  const context = {
    workDir: options.workDir,
    dataSources: options.dataSources as DataSourceScopes,
    name: options.name,
  };
  const kind = shortName(store?.className);
  let load: () => Promise<VersionedStore>;
  if (kind === "RedisStore") {
    const redis = new RedisStore(store!, context);
    load = () => Promise.resolve(redis);
  } else if (kind === "DataSourceStore") {
    const { sessionVersionCol, ...rest } = store!;
    const inner = new DataSourceStore(rest, context);
    if (inner.dataSource.dialect === "sqlite") {
      throw new BobcatError(
        "store.sharedSqlite",
        `${inner}: consistency shared needs PostgreSQL or MySQL/MariaDB; an SQLite file is one machine's`,
        {
          where: { attribute: "consistency" },
          fix: "Use a postgres:// or mysql:// data source (or a RedisStore), or consistency: sticky.",
        },
      );
    }
    load = async () => new (await import("./stores/versioned-sql.ts")).VersionedSqlStore(inner, sessionVersionCol);
  } else {
    throw new BobcatError(
      "session.badAttribute",
      `PersistentManager ${options.name ?? ""}: consistency shared needs a DataSourceStore or a RedisStore${
        kind ? `, not a ${kind}` : ""
      }`,
      {
        where: { attribute: "consistency" },
        fix:
          "Use store: { className: DataSourceStore, dataSourceName: <postgres or mysql resource> } or { className: RedisStore, url: redis://... }, or consistency: sticky.",
      },
    );
  }
  const { store: _s, dataSources: _d, ...rest } = options;
  return new SharedManager({ ...rest, store: load }, CLASS_NAMES, OWN_KEYS);
}
