/**
 * The validated configuration: the server.xml tree with defaults applied and paths made
 * absolute. Attribute names are Tomcat's. Produced by `loadConfig`, consumed by the runtime
 * adapter, the core and the session layer.
 */
import type { CertificateConfig } from "../tls/certificate.ts";
import type { Level } from "../util/log.ts";

export interface BobcatConfig {
  /** The file it came from ("<built-in>" for the embedded default). */
  file: string;
  baseDir: string;
  properties: Record<string, string>;
  logging: { level: Level; components: Record<string, Level> };
  server: ServerConfig;
  /** Notes for the user: accepted-but-ignored attributes, legacy attributes moved. */
  notes: string[];
}

export interface ServerConfig {
  globalNamingResources?: { resources: ResourceConfig[] };
  portOffset: number;
  strictServletCompliance: boolean;
  gracefulStopTimeout: number;
  services: ServiceConfig[];
}

export interface ServiceConfig {
  name: string;
  connectors: ConnectorConfig[];
  engine: EngineConfig;
}

export interface ConnectorConfig {
  /** The port as configured plus the server's portOffset. */
  port: number;
  address?: string;
  protocol: string;
  SSLEnabled: boolean;
  scheme: string;
  secure: boolean;
  redirectPort: number;
  proxyName?: string;
  proxyPort?: number;
  maxThreads: number;
  acceptCount: number;
  maxConnections: number;
  connectionTimeout: number;
  maxRequestBodySize: number;
  maxPostSize: number;
  server?: string;
  xpoweredBy: boolean;
  defaultSSLHostConfigName: string;
  sslHostConfigs: SSLHostConfig[];
  /** Tomcat's connector name: `http-nio-8080`, `https-jsse-nio-127.0.0.1-8443`. */
  name: string;
}

export interface SSLHostConfig {
  hostName: string;
  protocols: string;
  sslProtocol: string;
  ciphers?: string;
  cipherSuites?: string;
  honorCipherOrder: boolean;
  disableSessionTickets: boolean;
  sessionTimeout: number;
  certificateVerification: "none" | "optional" | "optionalNoCA" | "required";
  certificateVerificationDepth: number;
  truststoreFile?: string;
  truststorePassword?: string;
  truststoreType?: string;
  truststoreAlgorithm: string;
  caCertificateFile?: string;
  caCertificatePath?: string;
  certificateRevocationListFile?: string;
  ocspEnabled: boolean;
  ocspSoftFail: boolean;
  ocspTimeout: number;
  ocspStapling?: boolean;
  certificates: CertificateEntry[];
}

export interface CertificateEntry extends CertificateConfig {
  type: "UNDEFINED" | "RSA" | "EC" | "DSA" | "MLDSA";
  createSelfSigned: boolean;
}

export interface EngineConfig {
  name: string;
  defaultHost: string;
  jvmRoute?: string;
  backgroundProcessorDelay: number;
  hosts: HostConfig[];
  valves: ValveConfig[];
}

export interface HostConfig {
  name: string;
  aliases: string[];
  appBase: string;
  workDir: string;
  contexts: ContextConfig[];
  valves: ValveConfig[];
}

export interface ContextConfig {
  path: string;
  /** Absolute static directory, if any. */
  docBase?: string;
  /** Absolute module path, or `bobcat:<app>` for a built-in app. */
  handler?: string;
  welcomeFiles: string[];
  listings: boolean;
  workDir: string;
  sessionTimeout: number;
  hstsEnabled: boolean;
  hstsMaxAgeSeconds: number;
  hstsIncludeSubDomains: boolean;
  hstsPreload: boolean;
  sessionCookieName: string;
  sessionCookiePath?: string;
  sessionCookieDomain?: string;
  sessionCookiePathUsesTrailingSlash: boolean;
  useHttpOnly: boolean;
  sessionCookieSecure?: boolean;
  sessionTrackingModes: Array<"COOKIE" | "URL" | "SSL">;
  distributable: boolean;
  changeSessionIdOnAuthentication: boolean;
  /** bobcat:manager: the no-login loopback rule still applies when a RemoteIpValve is configured. */
  allowLoopbackBehindProxy: boolean;
  securityConstraints: SecurityConstraintConfig[];
  loginConfig?: { authMethod: "CLIENT-CERT" | "BASIC"; realmName: string };
  /** Always present (defaults when the config has no realm:). */
  realm: RealmConfig;
  resources: ResourceConfig[];
  valves: ValveConfig[];
  /** Always present: a context without `manager:` gets a StandardManager with defaults. */
  manager: ManagerConfig;
  cookieProcessor: { className: string; sameSiteCookies: "unset" | "none" | "lax" | "strict" };
  /** Tomcat's context name: "ROOT" for "", otherwise the path without the leading slash. */
  name: string;
}

/** `<Resource>`: a named data source (Tomcat's/DBCP's attribute names). */
import type { ResourceConfig } from "../datasource/index.ts";
export type { ResourceConfig };

/** `<Store>`: FileStore or DataSourceStore with their attributes. */
export type StoreConfig =
  | { className: "FileStore"; directory?: string }
  | {
    className: "DataSourceStore";
    dataSourceName: string;
    localDataSource: boolean;
    sessionTable: string;
    sessionAppCol: string;
    sessionDataCol: string;
    sessionIdCol: string;
    sessionLastAccessedCol: string;
    sessionMaxInactiveCol: string;
    sessionValidCol: string;
  };

/** `<Manager>` with Tomcat's attribute names; passed to the session layer as its options. */
export interface ManagerConfig {
  className: "StandardManager" | "PersistentManager";
  /** StandardManager only. */
  pathname?: string;
  /** PersistentManager only. */
  maxIdleBackup?: number;
  maxIdleSwap?: number;
  minIdleSwap?: number;
  saveOnRestart?: boolean;
  storeBacklogLimit?: number;
  store?: StoreConfig;
  maxActiveSessions: number;
  sessionActivityCheck?: boolean;
  sessionLastAccessAtStart?: boolean;
  notifyAttributeListenerOnUnchangedValue: boolean;
  notifyBindingListenerOnUnchangedValue: boolean;
  processExpiresFrequency: number;
  persistAuthentication: boolean;
  sessionAttributeNameFilter?: string;
  sessionAttributeValueClassNameFilter?: string;
  warnOnSessionAttributeFilterFailure: boolean;
  secureRandomClass?: string;
  secureRandomProvider?: string;
  secureRandomAlgorithm?: string;
  sessionIdGenerator?: { className: string; sessionIdLength: number; jvmRoute?: string };
}

export interface RealmConfig {
  className: "MemoryRealm";
  /** Tomcat's LockOutRealm around it; failureCount 0 turns it off. */
  failureCount: number;
  lockOutTime: number;
  cacheSize: number;
  cacheRemovalWarningTime: number;
  users: Array<{ username: string; password?: string; roles: string[] }>;
}

export interface SecurityConstraintConfig {
  displayName?: string;
  urlPatterns: string[];
  httpMethods?: string[];
  authRoles?: string[];
  transportGuarantee: "NONE" | "INTEGRAL" | "CONFIDENTIAL";
}

export type ValveConfig = AccessLogValveConfig | RemoteIpValveConfig | SSLValveConfig | JvmRouteBinderValveConfig;

/** Failover with sticky sessions: a session whose id names another node's jvmRoute is taken over here. */
export interface JvmRouteBinderValveConfig {
  className: "JvmRouteBinderValve";
  enabled: boolean;
}

export interface RemoteIpValveConfig {
  className: "RemoteIpValve";
  remoteIpHeader: string;
  internalProxies?: string;
  trustedProxies?: string;
  proxiesHeader: string;
  protocolHeader?: string;
  protocolHeaderHttpsValue: string;
  portHeader?: string;
  hostHeader?: string;
  httpServerPort: number;
  httpsServerPort: number;
}

export interface SSLValveConfig {
  className: "SSLValve";
  sslClientCertHeader: string;
  sslClientEscapedCertHeader: string;
  sslCipherHeader: string;
  sslSessionIdHeader: string;
  sslCipherUserKeySizeHeader: string;
  internalProxies: string;
  trustedProxies?: string;
}

export interface AccessLogValveConfig {
  className: "AccessLogValve";
  pattern: string;
  directory: string;
  prefix: string;
  suffix: string;
  fileDateFormat: string;
  rotatable: boolean;
  buffered: boolean;
  enabled: boolean;
}
