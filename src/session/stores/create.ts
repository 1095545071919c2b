/**
 * Builds the `<Store>` a config describes, from the store classes this program has. It holds no
 * server state: the table says which implementations were loaded. DataSourceStore is always
 * here; FileStore joins when src/session/stores/index.ts is loaded (servers). Edge runtimes,
 * which have no files, never load it, so a FileStore there is a clear error. RedisStore (ioredis,
 * which needs Node's net module) joins the same way.
 */
import { BobcatError } from "../../util/errors.ts";
import { type StoreAttributes, type StoreConfig, storeConfig, type StoreContext } from "../config.ts";
import { DataSourceStore } from "./data-source-store.ts";
import type { FileStoreConfig, RedisStoreConfig } from "../config.ts";
import type { LifecycleStore } from "./store-base.ts";

/** A `<Store>` element's attributes as code writes them; `className` picks the implementation. */
export type StoreOptions = StoreAttributes & { className: string };

let fileStore: ((config: FileStoreConfig, context: StoreContext) => LifecycleStore) | undefined;
let redisStore: ((config: RedisStoreConfig, context: StoreContext) => LifecycleStore) | undefined;

/** Makes FileStore available (src/session/stores/index.ts, loaded by servers only). */
export function registerFileStore(make: (config: FileStoreConfig, context: StoreContext) => LifecycleStore): void {
  fileStore = make;
}

/** Makes RedisStore available (src/session/stores/index.ts, loaded by servers only). */
export function registerRedisStore(make: (config: RedisStoreConfig, context: StoreContext) => LifecycleStore): void {
  redisStore = make;
}

/**
 * Builds the store a `<Store>` element's attributes describe, checked and defaulted by the
 * schema. Throws a BobcatError (`session.badAttribute`, `session.noStoreClass`,
 * `store.noDataSource`) naming the attribute on bad configuration.
 */
export function createStore(options: StoreOptions, context: StoreContext = {}): LifecycleStore {
  const owner = `<Store> of ${context.name ?? "the context"}`;
  if (typeof options !== "object" || options === null) {
    throw new BobcatError("session.badOptions", `${owner}: must be an object such as { className: FileStore }`);
  }
  const className = options.className;
  if (className === "org.apache.catalina.session.JDBCStore" || className === "JDBCStore") {
    throw new BobcatError("session.noStoreClass", `${owner}: JDBCStore was removed in Tomcat 10; use DataSourceStore`, {
      where: { attribute: "className" },
      fix:
        "Define the database as a resource { name, type: DataSource, url } and set className: DataSourceStore, dataSourceName: <that name>.",
    });
  }
  let config: StoreConfig;
  try {
    config = storeConfig(options);
  } catch (e) {
    if (!(e instanceof BobcatError)) throw e;
    const code = e.where.attribute === "className" ? "session.noStoreClass" : e.code;
    throw new BobcatError(code, `${owner}: ${e.message}`, e);
  }
  return storeFromConfig(config, context);
}

/** The store of a validated `<Store>`. */
export function storeFromConfig(config: StoreConfig, context: StoreContext = {}): LifecycleStore {
  if (config.className === "DataSourceStore") return new DataSourceStore(config, context);
  if (config.className === "RedisStore") {
    if (redisStore) return redisStore(config, context);
    throw new BobcatError(
      "session.noStoreClass",
      `<Store> of ${context.name ?? "the context"}: RedisStore needs TCP sockets, which this runtime does not offer`,
      {
        where: { attribute: "className" },
        fix: "Use className: DataSourceStore with a postgres:// resource, or run bobcat as a server.",
      },
    );
  }
  if (fileStore) return fileStore(config, context);
  throw new BobcatError(
    "session.noStoreClass",
    `<Store> of ${
      context.name ?? "the context"
    }: FileStore keeps sessions in files, and there is no file system here (an edge runtime)`,
    {
      where: { attribute: "className" },
      fix:
        "Use className: DataSourceStore with a postgres:// resource, or StandardManager (sessions in this isolate's memory).",
    },
  );
}
