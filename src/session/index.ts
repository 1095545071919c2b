/** The session component's public surface: what the core, config and apps import. */
export type {
  HttpSession,
  HttpSessionActivationListener,
  HttpSessionBindingEvent,
  HttpSessionBindingListener,
  HttpSessionEvent,
  Principal,
  SessionListener,
} from "./types.ts";
export { StandardSession } from "./session.ts";
export { ManagerBase, type ManagerState } from "./manager-base.ts";
export { StandardManager, type StandardManagerOptions } from "./standard-manager.ts";
export {
  type PersistentContext,
  PersistentManager,
  type PersistentManagerOptions,
  SessionNotStoredError,
} from "./persistent-manager.ts";
export {
  applicationName,
  createStore,
  createTableSql,
  DataSourceStore,
  type DataSourceStoreOptions,
  DEFAULT_TABLE_NAMES,
  FileStore,
  type FileStoreOptions,
  initStoreTable,
  type LifecycleStore,
  SERVER_STORES,
  type SessionTableNames,
  StoreBase,
  type StoreContext,
  type StoreFactories,
  type StoreOptions,
  StoreUnavailableError,
} from "./stores/index.ts";
export {
  type AttributeFilter,
  type DataSourceStoreConfig,
  type FileStoreConfig,
  type ManagerAttributes,
  type ManagerConfig,
  managerConfig,
  type ManagerContext,
  type ManagerSettings,
  type PersistentManagerConfig,
  type SessionIdGeneratorConfig,
  type StandardManagerConfig,
  type StoreAttributes,
  type StoreConfig,
  storeConfig,
} from "./config.ts";
export type { ManagerStats } from "./stats.ts";
export { DEFAULT_SESSION_ID_LENGTH, SessionIdGenerator } from "./id-generator.ts";
export {
  type ClassCodec,
  defaultSerializer,
  registerSerializable,
  Serializer,
  VALUE_FORMAT_VERSION,
} from "./serializer.ts";
export { FILE_FORMAT_VERSION } from "./record.ts";
export type { Store, StoreManager } from "./store.ts";
export {
  CorruptDataError,
  NotSerializableError,
  SessionArgumentError,
  SessionStateError,
  TooManyActiveSessionsError,
  UnknownClassError,
} from "./errors.ts";
