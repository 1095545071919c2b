/** The `<Store>` implementations and how config builds one from its attributes (servers: with FileStore). */
import { createStore as createFromFactories, type StoreFactories, type StoreOptions } from "./create.ts";
import { FileStore } from "./file-store.ts";
import { RedisStore } from "./redis-store.ts";
import type { LifecycleStore, StoreContext } from "./store-base.ts";

export { applicationName, DataSourceStore, type DataSourceStoreOptions, initStoreTable } from "./data-source-store.ts";
export { FileStore, type FileStoreOptions } from "./file-store.ts";
export { RedisStore, type RedisStoreOptions } from "./redis-store.ts";
export { createTableSql, DEFAULT_TABLE_NAMES, type SessionTableNames } from "./session-table.ts";
export { type LifecycleStore, StoreBase, type StoreContext, StoreUnavailableError } from "./store-base.ts";
export { type StoreFactories, type StoreOptions } from "./create.ts";

/** The store classes of a server (Bun, Deno, Node): files and Redis. Edge runtimes pass none. */
export const SERVER_STORES: StoreFactories = Object.freeze<StoreFactories>({
  FileStore: (config, context) => new FileStore(config, context),
  RedisStore: (config, context) => new RedisStore(config, context),
});

/** The store a `<Store>` element's attributes describe, from every store class a server has. */
export function createStore(options: StoreOptions, context: StoreContext = {}): LifecycleStore {
  return createFromFactories(options, context, SERVER_STORES);
}
