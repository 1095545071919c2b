/**
 * Builds the `<Store>` a config describes. DataSourceStore is always available; FileStore (files)
 * and RedisStore (ioredis, which needs Node's net module) come from a table of store factories
 * that whoever builds the manager passes in its context (`stores`): servers pass SERVER_STORES
 * (src/session/stores/index.ts), edge runtimes, which have neither files nor Node sockets, pass
 * none, so the edge bundle never loads them and a FileStore there is a clear error. Nothing here
 * is process-wide: two servers in one process each pass their own.
 */
import { BobcatError } from "../../util/errors.ts";
import { type StoreAttributes, type StoreConfig, storeConfig, type StoreContext } from "../config.ts";
import { DataSourceStore } from "./data-source-store.ts";
import type { FileStoreConfig, RedisStoreConfig } from "../config.ts";
import type { LifecycleStore } from "./store-base.ts";

/** A `<Store>` element's attributes as code writes them; `className` picks the implementation. */
export type StoreOptions = StoreAttributes & { className: string };

/** The store classes beyond DataSourceStore that a program offers (servers: SERVER_STORES). */
export interface StoreFactories {
  readonly FileStore?: (config: FileStoreConfig, context: StoreContext) => LifecycleStore;
  readonly RedisStore?: (config: RedisStoreConfig, context: StoreContext) => LifecycleStore;
}

/**
 * Builds the store a `<Store>` element's attributes describe, checked and defaulted by the
 * schema. Throws a BobcatError (`session.badAttribute`, `session.noStoreClass`,
 * `store.noDataSource`) naming the attribute on bad configuration.
 */
export function createStore(
  options: StoreOptions,
  context: StoreContext = {},
  factories: StoreFactories = {},
): LifecycleStore {
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
  return storeFromConfig(config, context, factories);
}

/** The store of a validated `<Store>`, from DataSourceStore and the `factories` given. */
export function storeFromConfig(
  config: StoreConfig,
  context: StoreContext = {},
  factories: StoreFactories = {},
): LifecycleStore {
  if (config.className === "DataSourceStore") return new DataSourceStore(config, context);
  const owner = `<Store> of ${context.name ?? "the context"}`;
  if (config.className === "RedisStore") {
    if (factories.RedisStore) return factories.RedisStore(config, context);
  } else if (factories.FileStore) return factories.FileStore(config, context);
  throw new BobcatError(
    "session.noStoreClass",
    `${owner}: ${config.className} is not among the store classes given to this manager (${
      config.className === "RedisStore"
        ? "it needs TCP sockets, which edge runtimes do not offer"
        : "it keeps sessions in files, which edge runtimes do not have"
    })`,
    {
      where: { attribute: "className" },
      fix: config.className === "RedisStore"
        ? "Run bobcat as a server, or use className: DataSourceStore with a postgres:// resource. From code on a server, pass stores: SERVER_STORES (src/session/stores/index.ts) with the manager's options."
        : "Run bobcat as a server, or use className: DataSourceStore with a postgres:// resource, or StandardManager. From code on a server, pass stores: SERVER_STORES (src/session/stores/index.ts) with the manager's options.",
    },
  );
}
