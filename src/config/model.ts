/**
 * The validated configuration: the server.xml tree with defaults applied and paths made
 * absolute. Attribute names are Tomcat's. Produced by `loadConfig`, consumed by the runtime
 * adapter, the core and the session layer.
 */
import type { CertificateConfig } from "../tls/certificate.ts";
import type { Level } from "../util/log.ts";
import type { AcmeConfig } from "../acme/config.ts";

export interface BobcatConfig {
  /** The file it came from ("<built-in>" for the embedded default). */
  file: string;
  baseDir: string;
  properties: Record<string, string>;
  logging: { level: Level; components: Record<string, Level>; format?: "text" | "json" };
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
  webSocketEnabled: boolean;
  maxWebSocketConnections: number;
  webSocketMaxMessageSize: number;
  webSocketIdleTimeout: number;
  webSocketPingInterval: number;
  webSocketBackpressureLimit: number;
  sslHostConfigs: SSLHostConfig[];
  /** `<UpgradeProtocol className="...Http2Protocol">`: HTTP/2 (h2 by ALPN) on this TLS connector. */
  upgradeProtocols: Array<{ className: "Http2Protocol" }>;
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
  /** bobcat: the certificate comes from an ACME CA (then certificates is empty). */
  acme?: AcmeConfig;
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
  realm?: RealmConfig;
}

export interface HostConfig {
  name: string;
  aliases: string[];
  appBase: string;
  workDir: string;
  autoDeploy: boolean;
  deployOnStartup: boolean;
  deployIgnore?: string;
  deployXML: boolean;
  copyXML: boolean;
  contexts: ContextConfig[];
  valves: ValveConfig[];
  realm?: RealmConfig;
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
  webSocketAllowedOrigins: string[];
  webSocketSessionRefresh: boolean;
  reloadable: boolean;
  securityConstraints: SecurityConstraintConfig[];
  securityRoles?: string[];
  denyUncoveredHttpMethods: boolean;
  loginConfig?: {
    authMethod: "CLIENT-CERT" | "BASIC" | "DIGEST" | "FORM";
    realmName: string;
    formLoginPage?: string;
    formErrorPage?: string;
  };
  errorPages: Array<{ errorCode?: number; exceptionType?: string; location: string }>;
  mimeMappings: Array<{ extension: string; mimeType: string }>;
  servletMappings: Array<{ servletName: string; servletClass?: string; urlPatterns: string[] }>;
  /** Always present: the context's realm, else its host's, else its engine's, else an empty MemoryRealm. */
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
  className: "MemoryRealm" | "UserDatabaseRealm" | "DataSourceRealm" | "LockOutRealm" | "CombinedRealm";
  /** Tomcat's LockOutRealm around it (or, for a LockOutRealm, its own settings); failureCount 0 turns it off. */
  failureCount: number;
  lockOutTime: number;
  cacheSize: number;
  cacheRemovalWarningTime: number;
  allRolesMode: string;
  credentialHandler?: CredentialHandlerConfig;
  /** MemoryRealm. */
  users?: Array<{ username: string; password?: string; roles: string[] }>;
  pathname?: string;
  /** UserDatabaseRealm. */
  resourceName?: string;
  /** DataSourceRealm. */
  dataSourceName?: string;
  localDataSource?: boolean;
  userTable?: string;
  userNameCol?: string;
  userCredCol?: string;
  userRoleTable?: string;
  roleNameCol?: string;
  /** LockOutRealm, CombinedRealm. */
  realms?: RealmConfig[];
}

import type { CredentialHandlerConfig } from "../core/credentials.ts";

export interface SecurityConstraintConfig {
  displayName?: string;
  urlPatterns: string[];
  httpMethods?: string[];
  httpMethodOmissions?: string[];
  authRoles?: string[];
  /** Always set after loading: an <auth-constraint> is present (no authRoles then means nobody). */
  authConstraint?: boolean;
  transportGuarantee: "NONE" | "INTEGRAL" | "CONFIDENTIAL";
}

export type ValveConfig =
  | AccessLogValveConfig
  | RemoteIpValveConfig
  | SSLValveConfig
  | RequestFilterValveConfig
  | HealthCheckValveConfig
  | ErrorReportValveConfig;

/** RemoteAddrValve, RemoteHostValve (regexes) and RemoteCIDRValve (lists of ranges). */
export interface RequestFilterValveConfig {
  className: "RemoteAddrValve" | "RemoteHostValve" | "RemoteCIDRValve";
  allow?: string | string[];
  deny?: string | string[];
  denyStatus: number;
  addConnectorPort: boolean;
  invalidAuthenticationWhenDeny: boolean;
  usePeerAddress: boolean;
}

export interface HealthCheckValveConfig {
  className: "HealthCheckValve";
  path: string;
  checkContainersAvailable: boolean;
}

export interface ErrorReportValveConfig {
  className: "ErrorReportValve";
  showReport: boolean;
  showServerInfo: boolean;
  errorCodes: Record<string, string>;
  exceptionTypes: Record<string, string>;
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
