/** The `<Store>` implementations and how config builds one from its attributes (servers: with FileStore). */
import { registerFileStore, registerRedisStore } from "./create.ts";
import { FileStore } from "./file-store.ts";
import { RedisStore } from "./redis-store.ts";

export { applicationName, DataSourceStore, type DataSourceStoreOptions, initStoreTable } from "./data-source-store.ts";
export { FileStore, type FileStoreOptions } from "./file-store.ts";
export { RedisStore, type RedisStoreOptions } from "./redis-store.ts";
export { createTableSql, DEFAULT_TABLE_NAMES, type SessionTableNames } from "./session-table.ts";
export { type LifecycleStore, StoreBase, type StoreContext, StoreUnavailableError } from "./store-base.ts";
export { createStore, type StoreOptions } from "./create.ts";

registerFileStore((config, context) => new FileStore(config, context));
registerRedisStore((config, context) => new RedisStore(config, context));
