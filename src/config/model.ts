/**
 * The validated configuration: the server.xml tree with defaults applied and paths made
 * absolute. Produced by `loadConfig`, consumed by the runtime adapter, the core, TLS and the
 * session layer.
 *
 * Every type here is inferred from the element definitions in schema.ts (`Infer`, see
 * schema-types.ts): adding an attribute to the schema adds it here, with its type, and it is
 * optional unless it has a default or is required. Nothing is restated by hand. The only
 * additions are the values the loader derives (connector and context names, work directories, the
 * context's inherited realm) and the names of recursive children (nested realms and credential
 * handlers).
 */
import type { Infer } from "./schema-types.ts";
import type * as S from "./schema.ts";

export interface BobcatConfig {
  /** The file it came from ("<built-in>" for the embedded default). */
  file: string;
  baseDir: string;
  properties: Record<string, string>;
  logging: LoggingConfig;
  server: ServerConfig;
  /** Notes for the user, logged at INFO: accepted-but-ignored attributes, legacy attributes moved. */
  notes: string[];
  /**
   * Notes logged at WARN: attributes of a server.xml or context file dropped as unknown (a
   * misspelling, mostly), which Tomcat's digester warns of too. (Optional: a config object made
   * by hand, without loadConfigText, may leave it out.)
   */
  warnings?: string[];
}

export type LoggingConfig = Infer<typeof S.Logging>;

export type ServerConfig = Omit<Infer<typeof S.Server>, "services"> & { services: ServiceConfig[] };

export type ServiceConfig = Omit<Infer<typeof S.Service>, "connectors" | "engine"> & {
  connectors: ConnectorConfig[];
  engine: EngineConfig;
};

export type ConnectorConfig = Infer<typeof S.Connector> & {
  /** Tomcat's connector name: `http-nio-8080`, `https-jsse-nio-127.0.0.1-8443`. */
  name: string;
};

export type SSLHostConfig = Infer<typeof S.SSLHostConfig>;
export type CertificateEntry = Infer<typeof S.Certificate>;
/** `acme` of an SSLHostConfig: the certificate comes from an ACME CA (then certificates is empty). */
export type AcmeConfig = Infer<typeof S.Acme>;

export type EngineConfig = Omit<Infer<typeof S.Engine>, "hosts" | "realm"> & {
  hosts: HostConfig[];
  realm?: RealmConfig;
};

export type HostConfig = Omit<Infer<typeof S.Host>, "contexts" | "workDir" | "realm"> & {
  /** The host's realm, else the engine's. */
  realm?: RealmConfig;
  /** Default: work/<Engine>/<Host>. */
  workDir: string;
  contexts: ContextConfig[];
};

export type ContextConfig = Omit<Infer<typeof S.Context>, "workDir" | "realm"> & {
  /** Default: <host workDir>/<context name>. */
  workDir: string;
  /** Always present: the context's realm, else its host's, else its engine's, else a defaulted MemoryRealm. */
  realm: RealmConfig;
  /** Tomcat's context name: "ROOT" for "", otherwise the path without the leading slash. */
  name: string;
};

/** `<Resource>`: a named data source (Tomcat's/DBCP's attribute names). */
export type ResourceConfig = Infer<typeof S.Resource>;

/** `<Manager>`: StandardManager or PersistentManager, told apart by `className`. */
export type ManagerConfig = Infer<typeof S.Manager>;
export type StandardManagerConfig = Extract<ManagerConfig, { className: "StandardManager" }>;
export type PersistentManagerConfig = Extract<ManagerConfig, { className: "PersistentManager" }>;
/** `<Store>`: FileStore, DataSourceStore or RedisStore. */
export type StoreConfig = Infer<typeof S.Store>;
export type FileStoreConfig = Extract<StoreConfig, { className: "FileStore" }>;
export type DataSourceStoreConfig = Extract<StoreConfig, { className: "DataSourceStore" }>;
export type RedisStoreConfig = Extract<StoreConfig, { className: "RedisStore" }>;
export type SessionIdGeneratorConfig = Infer<typeof S.SessionIdGenerator>;

/**
 * `<Realm>`, told apart by `className`. The nested `realms` of a LockOutRealm or CombinedRealm
 * are realms again: the schema's recursive child infers as unknown and is named here.
 */
export type RealmConfig =
  | Exclude<RealmVariant, { className: "LockOutRealm" | "CombinedRealm" }>
  | (Omit<Extract<RealmVariant, { className: "LockOutRealm" }>, "realms"> & { realms: RealmConfig[] })
  | (Omit<Extract<RealmVariant, { className: "CombinedRealm" }>, "realms"> & { realms: RealmConfig[] });
export type MemoryRealmConfig = Extract<RealmConfig, { className: "MemoryRealm" }>;
export type UserDatabaseRealmConfig = Extract<RealmConfig, { className: "UserDatabaseRealm" }>;
export type DataSourceRealmConfig = Extract<RealmConfig, { className: "DataSourceRealm" }>;
type RealmVariant = WithHandler<Infer<typeof S.Realm>>;
type WithHandler<T> = T extends unknown ? Omit<T, "credentialHandler"> & { credentialHandler?: CredentialHandlerConfig }
  : never;

/** `<CredentialHandler>`: a NestedCredentialHandler's `credentialHandlers` are handlers again. */
export type CredentialHandlerConfig =
  | Exclude<Infer<typeof S.CredentialHandler>, { className: "NestedCredentialHandler" }>
  | { className: "NestedCredentialHandler"; credentialHandlers: CredentialHandlerConfig[] };
export type LoginConfig = Infer<typeof S.LoginConfig>;
export type SecurityConstraintConfig = Infer<typeof S.SecurityConstraint>;

export type ValveConfig = Infer<typeof S.Valve>;
export type AccessLogValveConfig = Extract<ValveConfig, { className: "AccessLogValve" }>;
export type RemoteIpValveConfig = Extract<ValveConfig, { className: "RemoteIpValve" }>;
export type SSLValveConfig = Extract<ValveConfig, { className: "SSLValve" }>;
/** RemoteAddrValve, RemoteHostValve (regexes) and RemoteCIDRValve (lists of ranges). */
export type RequestFilterValveConfig = Extract<
  ValveConfig,
  { className: "RemoteAddrValve" | "RemoteHostValve" | "RemoteCIDRValve" }
>;
export type HealthCheckValveConfig = Extract<ValveConfig, { className: "HealthCheckValve" }>;
export type ErrorReportValveConfig = Extract<ValveConfig, { className: "ErrorReportValve" }>;
export type RewriteValveConfig = Extract<ValveConfig, { className: "RewriteValve" }>;
/** Failover with sticky sessions: a session whose id names another node's jvmRoute is taken over here. */
export type JvmRouteBinderValveConfig = Extract<ValveConfig, { className: "JvmRouteBinderValve" }>;
