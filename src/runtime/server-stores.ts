/**
 * PersistentManager, SharedManager and the server's store classes (FileStore, RedisStore,
 * DataSourceStore): loaded by server-platform.ts only when a context's manager is a
 * PersistentManager, so a server whose contexts use StandardManager never loads them.
 */
export { createPersistentManager } from "../session/consistency.ts";
export { SERVER_STORES } from "../session/stores/index.ts";
