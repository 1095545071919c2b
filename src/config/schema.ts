/**
 * The config schema: one definition per server.xml element, with Tomcat's attribute names
 * (case and all) and defaults. Validation, the JSON Schema (`config/server.schema.json`) and
 * `bobcat check` all read these definitions.
 */
import type { AttrDef, ElementDef } from "./schema-types.ts";
import { LEVELS } from "../util/log.ts";
import { DEFAULT_INTERNAL_PROXIES } from "../core/proxy-defaults.ts";

const str = (doc: string, extra: Partial<AttrDef> = {}): AttrDef => ({ kind: "string", doc, ...extra });
const int = (doc: string, def?: number, extra: Partial<AttrDef> = {}): AttrDef => ({
  kind: "int",
  doc,
  default: def,
  ...extra,
});
const bool = (doc: string, def?: boolean, extra: Partial<AttrDef> = {}): AttrDef => ({
  kind: "boolean",
  doc,
  default: def,
  ...extra,
});
const path = (doc: string, extra: Partial<AttrDef> = {}): AttrDef => ({ kind: "path", doc, ...extra });
const ignored = (doc: string, why: string, kind: AttrDef["kind"] = "string"): AttrDef => ({ kind, doc, ignored: why });

export const ConfigFile: ElementDef = {
  name: "bobcat",
  doc: "A bobcat configuration file (YAML or TOML).",
  attrs: {
    properties: {
      kind: "map",
      doc: "Properties for `${name}` expansion, like Tomcat's catalina.properties.",
      default: {},
    },
  },
  children: {
    logging: { element: () => Logging, list: false },
    server: { element: () => Server, list: false },
  },
};

export const Logging: ElementDef = {
  name: "Logging",
  doc: "Leveled logging per component (the counterpart of logging.properties).",
  attrs: {
    level: { kind: "enum", values: LEVELS, default: "info", doc: "Default level for every component." },
    components: {
      kind: "map",
      default: {},
      doc: "Level per component: config, connector, tls, handshake, core, session, access, app.",
    },
  },
};

export const Server: ElementDef = {
  name: "Server",
  doc: "The whole server: services and global resources.",
  attrs: {
    port: ignored("Tomcat's shutdown port.", "bobcat stops on SIGTERM/SIGINT; there is no shutdown port", "int"),
    shutdown: ignored("Tomcat's shutdown command.", "bobcat stops on SIGTERM/SIGINT; there is no shutdown port"),
    portOffset: int("Added to every connector port and redirectPort, as in Tomcat.", 0, { min: 0 }),
    strictServletCompliance: bool(
      "Tomcat's STRICT_SERVLET_COMPLIANCE: flips the defaults of sessionActivityCheck and sessionLastAccessAtStart.",
      false,
    ),
    gracefulStopTimeout: int("Seconds to wait for requests in flight on SIGTERM before closing them.", 30, { min: 0 }),
  },
  children: {
    listeners: { element: () => Listener, list: true },
    globalNamingResources: { element: () => GlobalNamingResources, list: false },
    services: { element: () => Service, list: true },
  },
};

export const GlobalNamingResources: ElementDef = {
  name: "GlobalNamingResources",
  doc: "Resources every context can use (data sources for DataSourceStore).",
  attrs: {},
  children: {
    resources: { element: () => Resource, list: true },
  },
};

const dbcp = (doc: string) =>
  ignored(doc, "bobcat's connection pools need no tuning beyond maxTotal and maxWaitMillis");
export const Resource: ElementDef = {
  name: "Resource",
  doc: "A named data source: `sqlite:PATH` (embedded), `postgres://...`, `mysql://...` (the jdbc: forms too).",
  attrs: {
    name: str("Name that a DataSourceStore's dataSourceName refers to, e.g. jdbc/sessions.", { required: true }),
    type: str("DataSource (javax.sql.DataSource); other JNDI types are not data sources.", { default: "DataSource" }),
    url: str("Database URL: sqlite:work/sessions.db, postgres://user@host:5432/db, mysql://user@host/db."),
    username: str("Database user (if not in the URL)."),
    password: str("Database password (if not in the URL).", { secret: true }),
    maxTotal: int("Most connections open at once.", undefined, { min: 1 }),
    maxActive: int("DBCP 1 spelling of maxTotal.", undefined, { min: 1 }),
    maxWaitMillis: int("Milliseconds to wait for a connection.", undefined, { min: 0 }),
    maxWait: int("DBCP 1 spelling of maxWaitMillis.", undefined, { min: 0 }),
    auth: ignored("JNDI auth (Container/Application).", "not applicable"),
    description: ignored("Description.", "for people only"),
    driverClassName: ignored("JDBC driver class.", "the driver follows from the URL"),
    factory: ignored("JNDI object factory.", "not applicable"),
    closeMethod: ignored("JNDI close method.", "not applicable"),
    singleton: ignored("JNDI singleton.", "not applicable"),
    maxIdle: dbcp("Idle connections kept."),
    minIdle: dbcp("Idle connections kept at least."),
    initialSize: dbcp("Connections opened at start."),
    validationQuery: dbcp("Query that validates a connection."),
    testOnBorrow: dbcp("Validate on borrow."),
    testWhileIdle: dbcp("Validate while idle."),
    removeAbandonedOnBorrow: dbcp("Reclaim abandoned connections."),
    removeAbandonedTimeout: dbcp("Seconds before a connection counts as abandoned."),
    logAbandoned: dbcp("Log abandoned connections."),
    timeBetweenEvictionRunsMillis: dbcp("Idle eviction interval."),
  },
};

/** Tomcat's server-level lifecycle listeners: accepted so a server.xml translates, each with what it means here. */
const listener = (doc: string, note: string): ElementDef => ({
  name: "Listener",
  doc,
  attrs: {
    SSLEngine: ignored("APR: use OpenSSL.", note),
    SSLRandomSeed: ignored("APR/OpenSSL: source of entropy.", "the runtime's CSPRNG is always used"),
    useOpenSSL: ignored("APR: use OpenSSL for TLS.", note),
    FIPSMode: ignored("OpenSSL FIPS mode.", note),
  },
});

export const Listener: ElementDef = {
  name: "Listener",
  doc: "A server lifecycle listener.",
  attrs: {},
  variants: {
    map: {
      AprLifecycleListener: {
        fullName: "org.apache.catalina.core.AprLifecycleListener",
        element: () =>
          listener(
            "Tomcat Native/APR.",
            "bobcat picks the TLS back-end per connector from the features it needs (native, or node:http2 on OpenSSL/BoringSSL); there is no APR",
          ),
      },
      OpenSSLLifecycleListener: {
        fullName: "org.apache.catalina.core.OpenSSLLifecycleListener",
        element: () =>
          listener(
            "OpenSSL through Java's FFM API.",
            "bobcat picks the TLS back-end per connector; --runtime node runs on Node's OpenSSL",
          ),
      },
      VersionLoggerListener: {
        fullName: "org.apache.catalina.startup.VersionLoggerListener",
        element: () => listener("Logs versions at start.", "bobcat logs its version and runtime at start"),
      },
      JreMemoryLeakPreventionListener: {
        fullName: "org.apache.catalina.core.JreMemoryLeakPreventionListener",
        element: () => listener("JRE leak workarounds.", "not applicable without a JVM"),
      },
      GlobalResourcesLifecycleListener: {
        fullName: "org.apache.catalina.mbeans.GlobalResourcesLifecycleListener",
        element: () => listener("JMX for global resources.", "not applicable"),
      },
      ThreadLocalLeakPreventionListener: {
        fullName: "org.apache.catalina.core.ThreadLocalLeakPreventionListener",
        element: () => listener("Thread-local leak workarounds.", "not applicable"),
      },
    },
  },
};

export const Service: ElementDef = {
  name: "Service",
  doc: "Connectors sharing one Engine.",
  attrs: {
    name: str("Service name.", { default: "Catalina" }),
  },
  children: {
    connectors: { element: () => Connector, list: true },
    engine: { element: () => Engine, list: false },
  },
};

export const Connector: ElementDef = {
  name: "Connector",
  doc: "A listening socket: HTTP, or HTTPS when SSLEnabled.",
  attrs: {
    port: int("TCP port to listen on (0 = any free port).", undefined, { required: true, min: 0, max: 65535 }),
    address: str("Interface address to bind (default: all interfaces)."),
    protocol: {
      kind: "enum",
      values: [
        "HTTP/1.1",
        "org.apache.coyote.http11.Http11NioProtocol",
        "org.apache.coyote.http11.Http11Nio2Protocol",
        "org.apache.coyote.http11.Http11AprProtocol",
      ],
      default: "HTTP/1.1",
      doc:
        "Tomcat's protocol handler; every HTTP/1.1 variant (NIO, NIO2, APR) maps onto bobcat's HTTP/1.1, with HTTP/2 over TLS.",
    },
    sslImplementationName: {
      kind: "enum",
      values: [
        "org.apache.tomcat.util.net.jsse.JSSEImplementation",
        "org.apache.tomcat.util.net.openssl.OpenSSLImplementation",
        "org.apache.tomcat.util.net.openssl.panama.OpenSSLImplementation",
      ],
      doc:
        "Tomcat's TLS engine; accepted with a note: bobcat picks the back-end from the TLS features the connector needs.",
    },
    SSLEnabled: bool("Turn on TLS; makes the connector secure with scheme https.", false),
    scheme: str("Value of ctx.scheme on a non-TLS connector (behind a TLS-terminating proxy).", { default: "http" }),
    secure: bool("Value of ctx.secure on a non-TLS connector (behind a TLS-terminating proxy).", false),
    redirectPort: int("Port that CONFIDENTIAL constraints redirect to (<= 0 answers 403).", 443),
    proxyName: str("Server name reported to applications and used in redirects."),
    proxyPort: int("Server port reported to applications and used in redirects.", undefined, { min: 0, max: 65535 }),
    maxThreads: int("Requests processed at once on this connector.", 200, { min: 1 }),
    acceptCount: int("Requests queued beyond maxThreads; more are answered 503.", 100, { min: 0 }),
    maxConnections: int(
      "Open TCP connections on this connector, counted from accept (before TLS); acceptCount more are held unread until one closes, the rest are closed. -1: no limit. Bun.serve cannot count connections (see README).",
      8192,
      { min: -1 },
    ),
    connectionTimeout: int(
      "Milliseconds a connection may go without a request in progress before it is closed: the TLS handshake and request headers after accept, idle keep-alive after a response, and each wait for request-body bytes. -1: no limit.",
      20000,
      { min: -1 },
    ),
    maxRequestBodySize: int(
      "Largest request body (bytes) on this connector, for every request: a larger Content-Length is answered 413 before the body is read, a chunked body fails (413) once it passes the limit; the connection is closed. bobcat's own name: Tomcat's maxPostSize/maxSwallowSize bound only some bodies. -1: no limit.",
      104857600,
      { min: -1 },
    ),
    keepAliveTimeout: ignored("Idle keep-alive timeout (ms).", "the runtime's keep-alive timeout applies", "int"),
    maxKeepAliveRequests: ignored("Requests per keep-alive connection.", "the runtime decides", "int"),
    maxHttpHeaderSize: ignored("Largest request header (bytes).", "the runtime's limit applies", "int"),
    maxPostSize: int(
      "Largest form body (bytes) that bobcat reads and parses for an application (e.g. the manager's forms); larger ones get 413. -1: no limit.",
      2097152,
      { min: -1 },
    ),
    URIEncoding: ignored("URI character encoding.", "URIs are always UTF-8"),
    enableLookups: ignored("Reverse DNS lookups.", "never done"),
    server: str("Value of the Server response header (none by default)."),
    xpoweredBy: bool("Send `X-Powered-By: bobcat`.", false),
    defaultSSLHostConfigName: str("SSLHostConfig used when the client sends no or an unknown SNI name.", {
      default: "_default_",
    }),
    executor: ignored("Shared thread pool.", "bobcat has no thread pools; maxThreads applies per connector"),
    compression: ignored("Response compression.", "not implemented; put a compressing proxy in front"),
    // Legacy (Tomcat 8.5/9) connector-level TLS attributes, mapped the way Tomcat 9 mapped them.
    keystoreFile: path("Legacy: Certificate certificateKeystoreFile.", { movedTo: "certificateKeystoreFile" }),
    keystorePass: str("Legacy: Certificate certificateKeystorePassword.", {
      movedTo: "certificateKeystorePassword",
      secret: true,
    }),
    keystoreType: str("Legacy: Certificate certificateKeystoreType.", { movedTo: "certificateKeystoreType" }),
    keyAlias: str("Legacy: Certificate certificateKeyAlias.", { movedTo: "certificateKeyAlias" }),
    keyPass: str("Legacy: Certificate certificateKeyPassword.", { movedTo: "certificateKeyPassword", secret: true }),
    SSLCertificateFile: path("Legacy: Certificate certificateFile.", { movedTo: "certificateFile" }),
    SSLCertificateKeyFile: path("Legacy: Certificate certificateKeyFile.", { movedTo: "certificateKeyFile" }),
    SSLCertificateChainFile: path("Legacy: Certificate certificateChainFile.", { movedTo: "certificateChainFile" }),
    sslEnabledProtocols: str("Legacy: SSLHostConfig protocols.", { movedTo: "protocols" }),
    sslProtocol: str("Legacy: SSLHostConfig sslProtocol.", { movedTo: "sslProtocol" }),
    ciphers: str("Legacy: SSLHostConfig ciphers.", { movedTo: "ciphers" }),
    clientAuth: str("Legacy: SSLHostConfig certificateVerification (true/want/false).", {
      movedTo: "certificateVerification",
    }),
    SSLVerifyClient: str("Legacy (APR): SSLHostConfig certificateVerification.", {
      movedTo: "certificateVerification",
    }),
    truststoreFile: path("Legacy: SSLHostConfig truststoreFile.", { movedTo: "truststoreFile" }),
    truststorePass: str("Legacy: SSLHostConfig truststorePassword.", { movedTo: "truststorePassword", secret: true }),
    truststoreType: str("Legacy: SSLHostConfig truststoreType.", { movedTo: "truststoreType" }),
    crlFile: path("Legacy: SSLHostConfig certificateRevocationListFile.", { movedTo: "certificateRevocationListFile" }),
    SSLCACertificateFile: path("Legacy (APR): SSLHostConfig caCertificateFile.", { movedTo: "caCertificateFile" }),
    trustMaxCertLength: int("Legacy: SSLHostConfig certificateVerificationDepth.", undefined, {
      movedTo: "certificateVerificationDepth",
    }),
  },
  children: {
    sslHostConfigs: { element: () => SSLHostConfig, list: true },
  },
};

export const SSLHostConfig: ElementDef = {
  name: "SSLHostConfig",
  doc: "TLS settings for one SNI host name (or _default_).",
  attrs: {
    hostName: str("SNI name: exact, `*.example.com`, or `_default_`.", { default: "_default_" }),
    protocols: str("Enabled TLS versions in Tomcat's syntax, e.g. `TLSv1.2+TLSv1.3`, `+TLSv1.3`, `all`.", {
      default: "TLSv1.2+TLSv1.3",
    }),
    sslProtocol: str("JSSE SSLContext algorithm.", { default: "TLS" }),
    ciphers: str("TLS 1.2 ciphers in OpenSSL syntax or a comma list of OpenSSL/IANA names."),
    cipherSuites: str("TLS 1.3 suites (restricting them needs Node's TLS stack: --runtime node)."),
    honorCipherOrder: bool("The server's cipher order wins over the client's.", false),
    disableSessionTickets: bool("Turn off RFC 5077 session tickets.", false),
    sessionTimeout: int("TLS session lifetime in seconds.", 86400, { min: 0 }),
    sessionCacheSize: ignored("TLS session cache size.", "no runtime exposes the session cache size", "int"),
    certificateVerification: {
      kind: "enum",
      values: ["none", "optional", "optionalNoCA", "required"],
      synonyms: {
        false: "none",
        no: "none",
        want: "optional",
        optional_no_ca: "optionalNoCA",
        require: "required",
        true: "required",
        yes: "required",
      },
      default: "none",
      doc:
        "Client certificates: none, optional (checked if sent), optionalNoCA (any accepted, unverified: only in ctx.unverifiedPeerCertificates, never a CLIENT-CERT login), required.",
    },
    certificateVerificationDepth: int("Longest client certificate chain accepted.", 10, { min: 1 }),
    truststoreFile: path("JKS/PKCS12 keystore whose trusted certificates verify client certificates."),
    truststorePassword: str("Truststore password (none: the integrity check is skipped, as in Java).", {
      secret: true,
    }),
    truststoreType: {
      kind: "enum",
      values: ["PKCS12", "JKS", "PEM"],
      doc: "Truststore type (detected from the content).",
    },
    truststoreProvider: ignored("JCA provider of the truststore.", "the runtime's own crypto is used"),
    truststoreAlgorithm: {
      kind: "enum",
      values: ["PKIX"],
      default: "PKIX",
      doc: "Trust manager algorithm; PKIX is the only one.",
    },
    caCertificateFile: path("PEM file of trusted CA certificates for client certificates."),
    caCertificatePath: path("Directory of PEM CA certificates for client certificates."),
    certificateRevocationListFile: path("PEM or DER CRL(s); revoked client certificates are refused."),
    ocspEnabled: bool("Check client certificates with the OCSP responder named in them.", false),
    ocspSoftFail: bool(
      "An unreachable responder (or tryLater/internalError) lets the client in, with a warning.",
      true,
    ),
    ocspTimeout: int("Milliseconds to wait for an OCSP responder.", 15000, { min: 100 }),
    ocspStapling: bool(
      "Staple OCSP responses for the server certificate: unset = where the runtime can (Node), true = required, false = off.",
    ),
    revocationEnabled: ignored(
      "Provider-configured revocation checks.",
      "use certificateRevocationListFile or ocspEnabled",
    ),
    disableCompression: ignored("TLS compression off.", "TLS compression is always off"),
    insecureRenegotiation: ignored("Legacy renegotiation.", "insecure renegotiation is never allowed"),
    keyManagerAlgorithm: ignored("JSSE key manager algorithm.", "not applicable"),
  },
  children: {
    certificates: { element: () => Certificate, list: true },
  },
};

export const Certificate: ElementDef = {
  name: "Certificate",
  doc: "A server certificate and its key: PEM files or a keystore.",
  attrs: {
    type: { kind: "enum", values: ["UNDEFINED", "RSA", "EC", "DSA", "MLDSA"], default: "UNDEFINED", doc: "Key type." },
    certificateFile: path("PEM certificate (leaf, optionally followed by the chain)."),
    certificateKeyFile: path("PEM private key (default: certificateFile)."),
    certificateChainFile: path("PEM intermediates, without the leaf."),
    certificateKeystoreFile: path("JKS or PKCS12 keystore."),
    certificateKeystorePassword: str("Keystore password (default: changeit, as in Tomcat).", { secret: true }),
    certificateKeystorePasswordFile: path("File whose first line is the keystore password."),
    certificateKeystoreType: {
      kind: "enum",
      values: ["PKCS12", "JKS", "PEM", "PKCS11"],
      doc: "Keystore type (default PKCS12; also detected from the content).",
    },
    certificateKeystoreProvider: str("JCA provider (accepted and ignored)."),
    certificateKeyAlias: str("Key entry to use (default: the first key entry)."),
    certificateKeyPassword: str("Key password (default: the keystore password).", { secret: true }),
    certificateKeyPasswordFile: path("File whose first line is the key password."),
    createSelfSigned: bool(
      "bobcat: when certificateFile and certificateKeyFile do not exist, create a self-signed localhost certificate there.",
      false,
    ),
  },
};

export const Engine: ElementDef = {
  name: "Engine",
  doc: "Routes requests of a service to its hosts.",
  attrs: {
    name: str("Engine name (first part of session app ids and work directories).", { default: "Catalina" }),
    defaultHost: str("Host that serves requests for unknown host names.", { required: true }),
    jvmRoute: str("Appended to session ids as `.route` for sticky load balancing."),
    backgroundProcessorDelay: int("Seconds between background ticks (session expiry).", 10, { min: 1 }),
  },
  children: {
    hosts: { element: () => Host, list: true },
    valves: { element: () => Valve, list: true },
  },
};

export const Host: ElementDef = {
  name: "Host",
  doc: "A virtual host.",
  attrs: {
    name: str("Host name (matched case-insensitively against the Host header).", { required: true }),
    aliases: { kind: "list", default: [], doc: "Other names of this host." },
    appBase: path("Directory that relative docBase values resolve against.", { default: "webapps" }),
    workDir: path("Work directory (default: work/<Engine>/<Host>)."),
    autoDeploy: ignored("Deploy new webapps while running.", "contexts are listed in the config", "boolean"),
    unpackWARs: ignored("Unpack WAR files.", "bobcat serves directories and handler modules, not WARs", "boolean"),
    deployOnStartup: ignored("Deploy webapps at start.", "contexts are listed in the config", "boolean"),
  },
  children: {
    contexts: { element: () => Context, list: true },
    valves: { element: () => Valve, list: true },
  },
};

export const Context: ElementDef = {
  name: "Context",
  doc: "A web application: a static docBase and/or a handler module.",
  attrs: {
    path: str('Context path: "" for ROOT, otherwise "/name".', { default: "" }),
    docBase: str("Static files directory (relative to the host's appBase, as in Tomcat)."),
    handler: str(
      "Module exporting a Hono app or `{ fetch(request, ctx) }` (relative to the base directory), or a built-in app: `bobcat:root`, `bobcat:examples`.",
    ),
    welcomeFiles: { kind: "list", default: ["index.html", "index.htm"], doc: "Files served for a directory request." },
    listings: bool("Directory listings when no welcome file exists.", false),
    workDir: path("Work directory (default: <host workDir>/<context name>)."),
    sessionTimeout: int("Session timeout in minutes (<= 0: never).", 30),
    sessionCookieName: str("Name of the session cookie and of the URL path parameter.", { default: "JSESSIONID" }),
    sessionCookiePath: str('Cookie Path (default: the context path, "/" for ROOT).'),
    sessionCookieDomain: str("Cookie Domain (default: none, the cookie goes to this host only)."),
    sessionCookiePathUsesTrailingSlash: bool("Add a trailing slash to the cookie path (/app/ instead of /app).", false),
    useHttpOnly: bool("HttpOnly on the session cookie.", true),
    sessionCookieSecure: bool(
      "Secure on the session cookie; default: set on HTTPS requests (and on a secure connector).",
    ),
    sessionTrackingModes: {
      kind: "list",
      default: ["COOKIE", "URL"],
      doc:
        "How the session id travels: COOKIE, URL (;jsessionid= path parameter), or SSL alone (the TLS session id is the session id).",
    },
    distributable: bool("<distributable/>: setting a session attribute that cannot be serialized throws.", false),
    changeSessionIdOnAuthentication: bool("Give the session a new id at login (against session fixation).", true),
    allowLoopbackBehindProxy: bool(
      "bobcat:manager without loginConfig: when a RemoteIpValve applies to this context, still let in clients whose connection and every forwarded address are loopback (off: behind a proxy nobody gets in without a login).",
      false,
    ),
    hstsEnabled: bool("Send Strict-Transport-Security on HTTPS responses.", false),
    hstsMaxAgeSeconds: int("HSTS max-age.", 0, { min: 0 }),
    hstsIncludeSubDomains: bool("HSTS includeSubDomains.", false),
    hstsPreload: bool("HSTS preload.", false),
    reloadable: ignored("Reload on class changes.", "restart bobcat to load a changed handler", "boolean"),
    crossContext: ignored("Cross-context dispatch.", "not applicable", "boolean"),
    allowLinking: ignored(
      "Follow symbolic links that leave docBase.",
      "symbolic links that leave docBase are never followed",
      "boolean",
    ),
  },
  children: {
    securityConstraints: { element: () => SecurityConstraint, list: true },
    valves: { element: () => Valve, list: true },
    manager: { element: () => Manager, list: false },
    cookieProcessor: { element: () => CookieProcessor, list: false },
    loginConfig: { element: () => LoginConfig, list: false },
    realm: { element: () => Realm, list: false },
    resources: { element: () => Resource, list: true },
  },
};

export const LoginConfig: ElementDef = {
  name: "LoginConfig",
  doc: "web.xml <login-config>: how users of constrained URLs authenticate.",
  attrs: {
    authMethod: {
      kind: "enum",
      values: ["CLIENT-CERT", "BASIC"],
      required: true,
      doc: "CLIENT-CERT: the verified TLS client certificate; BASIC: user name and password against the realm.",
    },
    realmName: str("Realm name shown by BASIC authentication.", { default: "bobcat" }),
  },
};

export const Realm: ElementDef = {
  name: "Realm",
  doc:
    "Users and their roles (Tomcat's MemoryRealm with tomcat-users.xml inline), inside Tomcat's LockOutRealm: after failureCount failed BASIC logins in a row a user name is refused, even with the right password, for lockOutTime seconds.",
  attrs: {
    className: {
      kind: "enum",
      values: ["MemoryRealm", "org.apache.catalina.realm.MemoryRealm"],
      default: "MemoryRealm",
      doc: "The realm implementation.",
    },
    failureCount: int("LockOutRealm: failed logins in a row that lock a user name out (0: no lock-out).", 5, {
      min: 0,
    }),
    lockOutTime: int(
      "LockOutRealm: seconds a locked-out user name stays refused (from its last failed attempt).",
      300,
      { min: 0 },
    ),
    cacheSize: int(
      "LockOutRealm: user names whose failures are remembered (the least recent are forgotten first).",
      1000,
      { min: 1 },
    ),
    cacheRemovalWarningTime: int(
      "LockOutRealm: warn when a user name is forgotten sooner than this many seconds after its last failure.",
      3600,
      { min: 0 },
    ),
  },
  children: {
    users: { element: () => RealmUser, list: true },
  },
};

export const RealmUser: ElementDef = {
  name: "User",
  doc: "A user: for CLIENT-CERT the username is the certificate's subject DN (e.g. `CN=alice, O=Example`).",
  attrs: {
    username: str("User name, or the subject DN for CLIENT-CERT.", { required: true }),
    password: str("Password for BASIC authentication.", { secret: true }),
    roles: { kind: "list", default: [], doc: "Roles of the user." },
  },
};

export const CookieProcessor: ElementDef = {
  name: "CookieProcessor",
  doc: "Cookie settings (Tomcat's Rfc6265CookieProcessor).",
  attrs: {
    className: {
      kind: "enum",
      values: ["Rfc6265CookieProcessor", "org.apache.tomcat.util.http.Rfc6265CookieProcessor"],
      doc: "The only cookie processor.",
      default: "Rfc6265CookieProcessor",
    },
    sameSiteCookies: {
      kind: "enum",
      values: ["unset", "none", "lax", "strict"],
      default: "lax",
      doc: "SameSite on the session cookie (bobcat's default is lax; Tomcat's is unset).",
    },
  },
};

export const Manager: ElementDef = {
  name: "Manager",
  doc: "The session manager of a context.",
  attrs: {
    maxActiveSessions: int("Most sessions at once; creating one more answers 503 (-1: no limit).", -1),
    sessionActivityCheck: bool("A session with a request in flight never expires (default: strictServletCompliance)."),
    sessionLastAccessAtStart: bool(
      "Idle time counts from the start of the last request (default: strictServletCompliance).",
    ),
    notifyAttributeListenerOnUnchangedValue: bool("attributeReplaced fires when the same value is set again.", true),
    notifyBindingListenerOnUnchangedValue: bool(
      "valueUnbound/valueBound fire when the same value is set again.",
      false,
    ),
    processExpiresFrequency: int("Expire sessions every Nth background tick (backgroundProcessorDelay).", 6, {
      min: 1,
    }),
    persistAuthentication: bool("Keep the authenticated principal when sessions are persisted.", false),
    sessionAttributeNameFilter: { kind: "regex", doc: "Only attributes whose name matches (anchored) are persisted." },
    sessionAttributeValueClassNameFilter: {
      kind: "regex",
      doc:
        "Only values whose type name matches (anchored) are persisted: String, Number, Boolean, Object, Map, a registered class...",
    },
    warnOnSessionAttributeFilterFailure: bool("Log filtered-out attributes at WARN instead of DEBUG.", false),
    secureRandomClass: str("Accepted: ids always come from the runtime's CSPRNG (crypto.getRandomValues)."),
    secureRandomProvider: str("Accepted: ids always come from the runtime's CSPRNG."),
    secureRandomAlgorithm: str("Accepted: ids always come from the runtime's CSPRNG."),
  },
  children: {
    sessionIdGenerator: { element: () => SessionIdGenerator, list: false },
  },
  variants: {
    defaultVariant: "StandardManager",
    map: {
      StandardManager: { fullName: "org.apache.catalina.session.StandardManager", element: () => StandardManagerDef },
      PersistentManager: {
        fullName: "org.apache.catalina.session.PersistentManager",
        element: () => PersistentManagerDef,
      },
    },
  },
};

export const StandardManagerDef: ElementDef = {
  name: "StandardManager",
  doc: "Sessions in memory, written to one file on stop and read back on start.",
  attrs: {
    pathname: str('Persistence file, relative to the context\'s work directory; "" turns persistence off.', {
      default: "SESSIONS.ser",
    }),
  },
};

export const PersistentManagerDef: ElementDef = {
  name: "PersistentManager",
  doc:
    "Sessions swapped out to a Store, backed up, and saved on restart; several instances can share a DataSourceStore.",
  attrs: {
    maxIdleBackup: int(
      "Seconds idle before a session is also written to the store (-1: never; 0: each change is in the store before the response that confirms it).",
      -1,
      { min: -1 },
    ),
    maxIdleSwap: int("Seconds idle before a session is written and dropped from memory (-1: never).", -1, { min: -1 }),
    minIdleSwap: int(
      "Seconds idle before a session may be swapped out to stay under maxActiveSessions (-1: never).",
      -1,
      { min: -1 },
    ),
    saveOnRestart: bool("On stop, write every session to the store (false: expire them).", true),
    storeBacklogLimit: int("bobcat: most failed store writes kept for retry while the store is down.", 50000, {
      min: 0,
    }),
    consistency: {
      kind: "enum",
      values: ["sticky", "shared"],
      default: "sticky",
      doc:
        "bobcat: sticky = the instance holding a session owns it, the store is its backup (jvmRoute + JvmRouteBinderValve for failover); shared = the store holds every session, any instance serves any request, writes are conditional on the version read and merge per attribute (DataSourceStore on PostgreSQL/MySQL, or RedisStore).",
    },
  },
  children: {
    store: { element: () => Store, list: false },
  },
};

export const Store: ElementDef = {
  name: "Store",
  doc: "Where a PersistentManager keeps sessions.",
  attrs: {},
  variants: {
    map: {
      FileStore: { fullName: "org.apache.catalina.session.FileStore", element: () => FileStoreDef },
      DataSourceStore: { fullName: "org.apache.catalina.session.DataSourceStore", element: () => DataSourceStoreDef },
      RedisStore: { fullName: "org.apache.catalina.session.RedisStore", element: () => RedisStoreDef },
    },
  },
};

export const FileStoreDef: ElementDef = {
  name: "FileStore",
  doc: "One <id>.session file per session.",
  attrs: {
    directory: str("Directory, relative to the context's work directory (default: the work directory itself)."),
  },
};

export const DataSourceStoreDef: ElementDef = {
  name: "DataSourceStore",
  doc: "Sessions in a database table (SQLite, PostgreSQL, MySQL) through a named data source.",
  attrs: {
    dataSourceName: str("Name of the Resource (global first, then the context's).", { required: true }),
    localDataSource: bool("Look the data source up among the context's resources only.", false),
    sessionTable: str("Table.", { default: "tomcat$sessions" }),
    sessionAppCol: str("Column holding /Engine/Host/Context.", { default: "app" }),
    sessionDataCol: str("Column holding the serialized session.", { default: "data" }),
    sessionIdCol: str("Column holding the session id.", { default: "id" }),
    sessionLastAccessedCol: str("Column holding the last access time (ms).", { default: "lastaccess" }),
    sessionMaxInactiveCol: str("Column holding maxInactiveInterval (s).", { default: "maxinactive" }),
    sessionValidCol: str("Column holding the valid flag.", { default: "valid" }),
    sessionVersionCol: str("bobcat: column holding the version number (consistency: shared only).", {
      default: "version",
    }),
  },
};

export const RedisStoreDef: ElementDef = {
  name: "RedisStore",
  doc:
    "bobcat: sessions in Redis or Valkey (ioredis); TTLs follow maxInactiveInterval, every write is one atomic script.",
  attrs: {
    url: str("The server: redis://[user:password@]host:port[/db] (rediss:// for TLS).", { required: true }),
    keyPrefix: str("First part of every key.", { default: "bobcat" }),
  },
};

export const SessionIdGenerator: ElementDef = {
  name: "SessionIdGenerator",
  doc: "How session ids are made.",
  attrs: {
    className: {
      kind: "enum",
      values: ["StandardSessionIdGenerator", "org.apache.catalina.util.StandardSessionIdGenerator"],
      default: "StandardSessionIdGenerator",
      doc: "The only generator.",
    },
    sessionIdLength: int("Random bytes per id; the id has twice as many upper-case hex characters.", 16, { min: 2 }),
    jvmRoute: str("Ignored in favour of the Engine's jvmRoute, as in Tomcat."),
  },
};

export const SecurityConstraint: ElementDef = {
  name: "SecurityConstraint",
  doc: "web.xml <security-constraint>: URL patterns, the transport they require, and who may see them.",
  attrs: {
    displayName: str("Name for logs."),
    urlPatterns: { kind: "list", required: true, doc: "Servlet URL patterns: `/*`, `/admin/*`, `*.jsp`, `/exact`." },
    httpMethods: { kind: "list", doc: "Methods the constraint applies to (default: all)." },
    authRoles: {
      kind: "list",
      doc: "Roles allowed (`*`: any authenticated user); requires loginConfig on the context.",
    },
    transportGuarantee: {
      kind: "enum",
      values: ["NONE", "INTEGRAL", "CONFIDENTIAL"],
      default: "NONE",
      doc: "CONFIDENTIAL/INTEGRAL redirect plain HTTP to the connector's redirectPort (302).",
    },
  },
};

export const Valve: ElementDef = {
  name: "Valve",
  doc: "A request-processing component chosen by className.",
  attrs: {},
  variants: {
    map: {
      AccessLogValve: { fullName: "org.apache.catalina.valves.AccessLogValve", element: () => AccessLogValve },
      RemoteIpValve: { fullName: "org.apache.catalina.valves.RemoteIpValve", element: () => RemoteIpValve },
      SSLValve: { fullName: "org.apache.catalina.valves.SSLValve", element: () => SSLValve },
      JvmRouteBinderValve: {
        fullName: "org.apache.catalina.ha.session.JvmRouteBinderValve",
        element: () => JvmRouteBinderValve,
      },
    },
  },
};

export const AccessLogValve: ElementDef = {
  name: "AccessLogValve",
  doc: "Writes one line per request in common/combined or a custom pattern.",
  attrs: {
    pattern: str("`common`, `combined`, or a pattern of %h %l %u %t %r %s %b %D %T %{Header}i ...", {
      default: "common",
    }),
    directory: path("Log directory (relative to the base directory); `-` writes to stdout.", { default: "logs" }),
    prefix: str("File name prefix.", { default: "localhost_access_log" }),
    suffix: str("File name suffix.", { default: ".txt" }),
    fileDateFormat: str("Date in the file name (Java SimpleDateFormat subset: yyyy MM dd HH).", {
      default: ".yyyy-MM-dd",
    }),
    rotatable: bool("Start a new file when the formatted date changes.", true),
    buffered: bool("Buffer lines and flush every second.", true),
    enabled: bool("Turn the valve off without removing it.", true),
  },
};

const INTERNAL_PROXIES_DOC =
  "Regex of proxy addresses whose forwarded headers are believed (default: private, loopback and link-local ranges, as Tomcat).";

export const JvmRouteBinderValve: ElementDef = {
  name: "JvmRouteBinderValve",
  doc:
    "Sticky-session failover: a request whose session id ends in another node's jvmRoute takes the session over (loaded from the PersistentManager's store) and rewrites the id's route to this Engine's jvmRoute, so the balancer keeps the client here.",
  attrs: {
    enabled: bool("Take sessions over (false: leave ids as they are).", true),
    sessionIdAttribute: ignored(
      "Request attribute holding the original id.",
      "the old id is told to sessionIdChanged listeners instead",
    ),
  },
};

export const RemoteIpValve: ElementDef = {
  name: "RemoteIpValve",
  doc: "Client address and protocol from a trusted proxy's X-Forwarded-* headers.",
  attrs: {
    remoteIpHeader: str("Header with the client address chain.", { default: "X-Forwarded-For" }),
    internalProxies: { kind: "regex", doc: INTERNAL_PROXIES_DOC, default: DEFAULT_INTERNAL_PROXIES },
    trustedProxies: { kind: "regex", doc: "Regex of further proxies that are trusted and listed in proxiesHeader." },
    proxiesHeader: str("Request attribute listing the trusted proxies passed.", { default: "X-Forwarded-By" }),
    protocolHeader: str("Header whose value says the client used https.", { default: "X-Forwarded-Proto" }),
    protocolHeaderHttpsValue: str("Value of protocolHeader that means https.", { default: "https" }),
    portHeader: str("Header with the port the client used."),
    hostHeader: str("Header with the host name the client used."),
    httpServerPort: int("Server port reported for http requests.", 80),
    httpsServerPort: int("Server port reported for https requests.", 443),
    changeLocalPort: ignored("Also change the local port.", "serverPort is changed; there is no separate local port"),
    requestAttributesEnabled: ignored(
      "Set the access log's request attributes.",
      "the access log always uses the forwarded values",
    ),
  },
};

export const SSLValve: ElementDef = {
  name: "SSLValve",
  doc: "Client certificate, cipher and TLS session id from a trusted proxy's headers (mod_headers, nginx).",
  attrs: {
    sslClientCertHeader: str("PEM client certificate (newlines as spaces, as mod_headers sends it).", {
      default: "ssl_client_cert",
    }),
    sslClientEscapedCertHeader: str("URL-encoded PEM client certificate (nginx $ssl_client_escaped_cert).", {
      default: "ssl_client_escaped_cert",
    }),
    sslCipherHeader: str("Cipher suite.", { default: "ssl_cipher" }),
    sslSessionIdHeader: str("TLS session id.", { default: "ssl_session_id" }),
    sslCipherUserKeySizeHeader: str("Key size (accepted; not exposed).", { default: "ssl_cipher_usekeysize" }),
    internalProxies: { kind: "regex", doc: INTERNAL_PROXIES_DOC, default: DEFAULT_INTERNAL_PROXIES },
    trustedProxies: { kind: "regex", doc: "Regex of further proxy addresses whose headers are believed." },
  },
};

/** Every element, for the JSON Schema and the README reference. */
export const ALL_ELEMENTS: ElementDef[] = [
  ConfigFile,
  Logging,
  Server,
  Listener,
  Service,
  Connector,
  SSLHostConfig,
  Certificate,
  Engine,
  Host,
  Context,
  SecurityConstraint,
  LoginConfig,
  Realm,
  RealmUser,
  GlobalNamingResources,
  Resource,
  Manager,
  StandardManagerDef,
  PersistentManagerDef,
  Store,
  FileStoreDef,
  DataSourceStoreDef,
  RedisStoreDef,
  SessionIdGenerator,
  CookieProcessor,
  AccessLogValve,
  RemoteIpValve,
  SSLValve,
  JvmRouteBinderValve,
];
