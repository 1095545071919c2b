/**
 * The config schema: one definition per server.xml element, with Tomcat's attribute names
 * (case and all) and defaults. Validation, the JSON Schema (`config/server.schema.json`), the
 * reference docs, `bobcat check` (secrets masked by `secret`) and the model types all read
 * these definitions.
 *
 * To add an attribute or element: add it here (elements are `{ ... } as const satisfies
 * ElementDef`, and the helpers str/int/bool/path keep literal types), then run
 * scripts/gen-config-artifacts.ts. Its type appears in src/config/model.ts (inferred), and the
 * component receives it in its validated config object: no other list, type or default to edit.
 */
import type { AttrDef, ElementDef } from "./schema-types.ts";
import { LEVELS } from "../util/log.ts";
import { DEFAULT_INTERNAL_PROXIES } from "./proxy-defaults.ts";

type Extra = Partial<AttrDef>;
const str = <const X extends Extra = {}>(doc: string, extra?: X) =>
  ({ kind: "string", doc, ...extra }) as { kind: "string"; doc: string } & X;
const int = <const D extends number | undefined = undefined, const X extends Extra = {}>(
  doc: string,
  def?: D,
  extra?: X,
) => ({ kind: "int", doc, default: def, ...extra }) as { kind: "int"; doc: string; default: D } & X;
const bool = <const D extends boolean | undefined = undefined>(doc: string, def?: D) =>
  ({ kind: "boolean", doc, default: def }) as { kind: "boolean"; doc: string; default: D };
const path = <const X extends Extra = {}>(doc: string, extra?: X) =>
  ({ kind: "path", doc, ...extra }) as { kind: "path"; doc: string } & X;
const legacyBool = (doc: string, movedTo: string) =>
  ({ kind: "boolean", doc, movedTo }) as { kind: "boolean"; doc: string; movedTo: string };
const ignored = <const K extends AttrDef["kind"] = "string">(doc: string, why: string, kind?: K) =>
  ({ kind: kind ?? "string", doc, ignored: why }) as { kind: K; doc: string; ignored: string };

export const ConfigFile = {
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
    logging: { element: () => Logging, list: false, defaulted: true },
    server: { element: () => Server, list: false },
  },
} as const satisfies ElementDef;

export const Logging = {
  name: "Logging",
  doc: "Leveled logging per component (the counterpart of logging.properties).",
  attrs: {
    level: { kind: "enum", values: LEVELS, default: "info", doc: "Default level for every component." },
    components: {
      kind: "map",
      values: LEVELS,
      default: {},
      doc: "Level per component: config, connector, tls, handshake, core, session, access, websocket, app.",
    },
    format: {
      kind: "enum",
      values: ["text", "json"],
      default: "text",
      doc:
        "`text`: one readable line per message; `json`: one JSON object per line with time, level, component, message and fields.",
    },
  },
} as const satisfies ElementDef;

export const Server = {
  name: "Server",
  doc: "The whole server: services and global resources.",
  attrs: {
    port: ignored("Tomcat's shutdown port.", "bobcat stops on SIGTERM/SIGINT; there is no shutdown port", "int"),
    shutdown: ignored("Tomcat's shutdown command.", "bobcat stops on SIGTERM/SIGINT; there is no shutdown port"),
    portOffset: int("Added to every connector port and redirectPort, as in Tomcat.", 0, { min: 0 }),
    strictServletCompliance: {
      ...bool(
        "Tomcat's STRICT_SERVLET_COMPLIANCE: flips the defaults of sessionActivityCheck and sessionLastAccessAtStart. Unset: the property org.apache.catalina.STRICT_SERVLET_COMPLIANCE (-D on the command line, or properties:), else false.",
        false,
      ),
      property: "org.apache.catalina.STRICT_SERVLET_COMPLIANCE",
    },
    gracefulStopTimeout: int("Seconds to wait for requests in flight on SIGTERM before closing them.", 30, { min: 0 }),
    workers: str(
      "bobcat's own (Tomcat has none): worker processes that share every connector's port (SO_REUSEPORT; the kernel spreads new connections), `N` or `auto` (the cores available). With more than 1, a primary process starts, restarts and stops them, and every context that can hold sessions needs them in a store all workers share (`consistency: shared`, e.g. a DataSourceStore on a `sqlite:` file).",
      { default: "1" },
    ),
  },
  children: {
    listeners: { element: () => Listener, list: true },
    globalNamingResources: { element: () => GlobalNamingResources, list: false },
    services: { element: () => Service, list: true },
  },
} as const satisfies ElementDef;

export const GlobalNamingResources = {
  name: "GlobalNamingResources",
  doc: "Resources every context can use (data sources for DataSourceStore).",
  attrs: {},
  children: {
    resources: { element: () => Resource, list: true },
  },
} as const satisfies ElementDef;

const dbcp = (doc: string) =>
  ignored(doc, "bobcat's connection pools need no tuning beyond maxTotal and maxWaitMillis");
export const Resource = {
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
    pathname: path(
      "type UserDatabase: the tomcat-users.xml file (relative to the base directory; default conf/tomcat-users.xml).",
    ),
    readonly: ignored("type UserDatabase: no writes.", "bobcat never writes the users file", "boolean"),
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
} as const satisfies ElementDef;

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

export const Listener = {
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
} as const satisfies ElementDef;

export const Service = {
  name: "Service",
  doc: "Connectors sharing one Engine.",
  attrs: {
    name: str("Service name.", { default: "Catalina" }),
  },
  children: {
    connectors: { element: () => Connector, list: true },
    engine: { element: () => Engine, list: false, required: true },
  },
} as const satisfies ElementDef;

export const Connector = {
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
    http3: bool(
      "bobcat: also serve HTTP/3 (QUIC on the same UDP port) and advertise it with Alt-Svc on HTTPS responses. Needs SSLEnabled and Bun's native back-end (Bun.serve `http3`, experimental in Bun); a start-up error on Deno, on Node and where the connector needs node-compat.",
      false,
    ),
    webSocketEnabled: bool(
      "Accept WebSocket upgrades (ctx.upgradeWebSocket, hono/bun and hono/deno upgradeWebSocket) on this connector. On Deno this selects the node-compat back-end: Deno's native connection serving closes upgraded connections.",
      false,
    ),
    maxWebSocketConnections: int(
      "Open WebSocket connections on this connector; further upgrades are answered 503. -1: no limit.",
      10000,
      { min: -1 },
    ),
    webSocketMaxMessageSize: int(
      "Largest WebSocket message (bytes, fragments together) a client may send; a larger one closes the socket with 1009.",
      1048576,
      { min: 125 },
    ),
    webSocketIdleTimeout: int(
      "Milliseconds a WebSocket may go without a message or pong from the client before it is closed (1001). -1: no limit.",
      120000,
      { min: -1 },
    ),
    webSocketPingInterval: int(
      "Milliseconds between pings to each WebSocket client (answered pongs keep it alive). -1: no pings.",
      30000,
      { min: -1 },
    ),
    webSocketBackpressureLimit: int(
      "Bytes queued for one WebSocket client that does not read; past it the connection is dropped (1013) instead of growing memory. -1: no limit.",
      4194304,
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
    SSLPassword: str("Legacy (APR): Certificate certificateKeyPassword.", {
      movedTo: "certificateKeyPassword",
      secret: true,
    }),
    keyPassFile: path("Legacy: Certificate certificateKeyPasswordFile.", { movedTo: "certificateKeyPasswordFile" }),
    SSLPasswordFile: path("Legacy (APR): Certificate certificateKeyPasswordFile.", {
      movedTo: "certificateKeyPasswordFile",
    }),
    keystorePassFile: path("Legacy: Certificate certificateKeystorePasswordFile.", {
      movedTo: "certificateKeystorePasswordFile",
    }),
    keystoreProvider: str("Legacy: Certificate certificateKeystoreProvider.", {
      movedTo: "certificateKeystoreProvider",
    }),
    sslEnabledProtocols: str("Legacy: SSLHostConfig protocols.", { movedTo: "protocols" }),
    SSLProtocol: str("Legacy (APR): SSLHostConfig protocols.", { movedTo: "protocols" }),
    sslProtocol: str("Legacy: SSLHostConfig sslProtocol.", { movedTo: "sslProtocol" }),
    ciphers: str("Legacy: SSLHostConfig ciphers.", { movedTo: "ciphers" }),
    SSLCipherSuite: str("Legacy (APR): SSLHostConfig ciphers.", { movedTo: "ciphers" }),
    useServerCipherSuitesOrder: legacyBool("Legacy: SSLHostConfig honorCipherOrder.", "honorCipherOrder"),
    SSLHonorCipherOrder: legacyBool("Legacy (APR): SSLHostConfig honorCipherOrder.", "honorCipherOrder"),
    SSLDisableSessionTickets: legacyBool(
      "Legacy (APR): SSLHostConfig disableSessionTickets.",
      "disableSessionTickets",
    ),
    sessionTimeout: int("Legacy: SSLHostConfig sessionTimeout (seconds).", undefined, { movedTo: "sessionTimeout" }),
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
    SSLVerifyDepth: int("Legacy (APR): SSLHostConfig certificateVerificationDepth.", undefined, {
      movedTo: "certificateVerificationDepth",
    }),
    SSLCACertificatePath: path("Legacy (APR): SSLHostConfig caCertificatePath.", { movedTo: "caCertificatePath" }),
    SSLCARevocationFile: path("Legacy (APR): SSLHostConfig certificateRevocationListFile.", {
      movedTo: "certificateRevocationListFile",
    }),
    truststoreAlgorithm: str("Legacy: SSLHostConfig truststoreAlgorithm.", { movedTo: "truststoreAlgorithm" }),
  },
  children: {
    sslHostConfigs: { element: () => SSLHostConfig, list: true },
    upgradeProtocols: {
      element: () => UpgradeProtocol,
      list: true,
      doc: "`[{ className: Http2Protocol }]` turns HTTP/2 on for this connector, as in server.xml.",
    },
  },
} as const satisfies ElementDef;

const h2 = (doc: string, kind: AttrDef["kind"] = "int") =>
  ignored(doc, "the runtime's HTTP/2 implementation has its own limits", kind);
export const UpgradeProtocol = {
  name: "UpgradeProtocol",
  doc:
    "Tomcat's <UpgradeProtocol>: Http2Protocol turns on HTTP/2 for the connector (h2 by ALPN over TLS). Without it a TLS connector offers only http/1.1, as Tomcat does.",
  attrs: {},
  variants: {
    map: {
      Http2Protocol: { fullName: "org.apache.coyote.http2.Http2Protocol", element: () => Http2ProtocolDef },
    },
  },
} as const satisfies ElementDef;

export const Http2ProtocolDef = {
  name: "Http2Protocol",
  doc: "HTTP/2 over TLS (ALPN h2). Plain-text h2c upgrade is not offered.",
  attrs: {
    maxConcurrentStreams: h2("Streams per connection."),
    maxConcurrentStreamExecution: h2("Streams processed at once per connection."),
    initialWindowSize: h2("Initial flow-control window."),
    readTimeout: h2("Read timeout (ms)."),
    writeTimeout: h2("Write timeout (ms)."),
    keepAliveTimeout: h2("Idle timeout (ms)."),
    streamReadTimeout: h2("Stream read timeout (ms)."),
    streamWriteTimeout: h2("Stream write timeout (ms)."),
    maxHeaderCount: h2("Most headers in a request."),
    maxHeaderSize: h2("Largest request header block."),
    maxTrailerCount: h2("Most trailers."),
    maxTrailerSize: h2("Largest trailer block."),
    overheadCountFactor: h2("Overhead protection."),
    compression: ignored("Response compression.", "not implemented; put a compressing proxy in front"),
  },
} as const satisfies ElementDef;

export const SSLHostConfig = {
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
    acme: { element: () => Acme, list: false },
  },
} as const satisfies ElementDef;

export const Certificate = {
  name: "Certificate",
  doc: "A server certificate and its key: PEM files or a keystore.",
  attrs: {
    type: { kind: "enum", values: ["UNDEFINED", "RSA", "EC", "DSA", "MLDSA"], default: "UNDEFINED", doc: "Key type." },
    certificateFile: path("PEM certificate (leaf, optionally followed by the chain)."),
    certificateKeyFile: path("PEM private key (default: certificateFile)."),
    certificateChainFile: path("PEM intermediates, without the leaf."),
    certificateKeystoreFile: path(
      "JKS or PKCS12 keystore (default with another keystore attribute set: ${user.home}/.keystore, as in Tomcat).",
    ),
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
} as const satisfies ElementDef;

export const Acme = {
  name: "Acme",
  doc: "bobcat: obtain and renew this SSLHostConfig's certificate from an ACME CA (RFC 8555), instead of certificates.",
  attrs: {
    directory: str(
      "ACME directory: `letsencrypt` (production), `letsencrypt-staging` (or `staging`), or any RFC 8555 directory URL.",
      { default: "letsencrypt" },
    ),
    email: str("Contact e-mail registered with the account (expiry notices)."),
    termsOfServiceAgreed: bool("You agree to the CA's terms of service (required to register an account).", false),
    eabKeyId: str("External Account Binding key id (ZeroSSL, Google, Sectigo and other CAs ask for one)."),
    eabHmacKey: str("External Account Binding HMAC key (base64url, as the CA gives it).", { secret: true }),
    keyType: {
      kind: "enum",
      values: ["EC-P256", "RSA-2048", "RSA-3072", "RSA-4096"],
      synonyms: { ec: "EC-P256", "p-256": "EC-P256", rsa: "RSA-2048", rsa2048: "RSA-2048", rsa3072: "RSA-3072" },
      default: "EC-P256",
      doc: "Key of the certificate: EC P-256, or RSA 2048/3072/4096.",
    },
    names: {
      kind: "list",
      default: [],
      doc: "DNS names on the certificate besides the SSLHostConfig's hostName (`*.example.com` needs dns-01).",
    },
    challengeTypes: {
      kind: "list",
      default: ["http-01", "tls-alpn-01", "dns-01"],
      doc:
        "Challenge types allowed, in order of preference: http-01 (on the service's plain HTTP connectors; answered by any instance sharing the store), tls-alpn-01 (on the TLS connector, where the back-end can answer acme-tls/1: node-compat; allowing no other type puts the connector on it), dns-01 (needs dnsHook; the only one for wildcard names).",
    },
    dnsHook: path(
      "Module exporting `present(name, value)` and `cleanup(name, value)` that set DNS TXT records (dns-01).",
    ),
    directoryTrustFile: path(
      "PEM CA certificates trusted for the directory's HTTPS besides the system's (a private CA: step-ca, Pebble).",
    ),
    storeDirectory: path("Where the account key, certificates and keys are kept (0600 files).", { default: "acme" }),
    dataSourceName: str(
      "A global PostgreSQL Resource shared by several instances: certificates, challenge tokens and the order lock live there instead of storeDirectory.",
    ),
    retryDelay: int(
      "Seconds before the first retry after a failed order; doubled after each failure, up to a day.",
      60,
      {
        min: 1,
      },
    ),
    renewalInfoMinInterval: int(
      "Seconds: the shortest time between two checks of a certificate's ACME Renewal Information (RFC 9773) when the CA's Retry-After asks for less (longer ones are capped at a day).",
      60,
      { min: 1 },
    ),
  },
} as const satisfies ElementDef;

export const Engine = {
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
    realm: { element: () => Realm, list: false },
  },
} as const satisfies ElementDef;

export const Host = {
  name: "Host",
  doc: "A virtual host.",
  attrs: {
    name: str("Host name (matched case-insensitively against the Host header).", { required: true }),
    aliases: { kind: "list", default: [], doc: "Other names of this host." },
    appBase: path(
      "Directory of web applications: each directory in it is deployed as a context (ROOT → /, foo → /foo, foo#bar → /foo/bar, foo##2 → /foo), and relative docBase values resolve against it.",
      { default: "webapps" },
    ),
    workDir: path("Work directory (default: work/<Engine>/<Host>)."),
    autoDeploy: bool(
      "Watch appBase and conf/<Engine>/<Host>/ while running: a new application directory is deployed, a changed one (WEB-INF/web.xml, META-INF/context.xml, its descriptor) redeployed (its sessions kept when its manager persists them: pathname, PersistentManager), a removed one undeployed.",
      true,
    ),
    deployOnStartup: bool("Deploy the applications in appBase and conf/<Engine>/<Host>/*.xml at start.", true),
    deployIgnore: {
      kind: "regex",
      doc: "Directory and descriptor names in appBase that are not deployed (anchored regex, e.g. `(tmp|old).*`).",
    },
    deployXML: bool("Read an application's META-INF/context.xml (or META-INF/context.yaml).", true),
    copyXML: bool(
      "Copy an application's META-INF/context.xml to conf/<Engine>/<Host>/<name>.xml when it is deployed (Tomcat's copyXML).",
      false,
    ),
    unpackWARs: ignored("Unpack WAR files.", "bobcat serves directories and handler modules, not WARs", "boolean"),
  },
  children: {
    contexts: { element: () => Context, list: true },
    valves: { element: () => Valve, list: true },
    realm: { element: () => Realm, list: false },
  },
} as const satisfies ElementDef;

export const Context = {
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
      values: ["COOKIE", "URL", "SSL"],
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
    needsPeerCertificates: bool(
      "bobcat: the handler reads the client certificate chain (ctx.peerCertificates, ctx.unverifiedPeerCertificates), as Tomcat always passes it to applications. Set false on every context of a service whose handlers do not read it to let Bun run its `required` client-certificate connectors on Bun.serve, which verifies the certificate in the handshake at native speed but cannot pass it on (reading it there then throws). CLIENT-CERT login needs the chain whatever this says.",
      true,
    ),
    webSocketAllowedOrigins: {
      kind: "list",
      default: [],
      doc:
        "Origins (`https://app.example.com`) besides the request's own that may open WebSockets here; `*` allows every origin (no cross-site WebSocket hijacking protection).",
    },
    webSocketSessionRefresh: bool(
      "Each WebSocket message refreshes the last-access time of the HTTP session of the upgrade, so an active socket keeps its session.",
      true,
    ),
    hstsEnabled: bool("Send Strict-Transport-Security on HTTPS responses.", false),
    hstsMaxAgeSeconds: int("HSTS max-age.", 0, { min: 0 }),
    hstsIncludeSubDomains: bool("HSTS includeSubDomains.", false),
    hstsPreload: bool("HSTS preload.", false),
    reloadable: bool(
      "Reload the context when its handler module (or a file under its docBase's WEB-INF/) changes; sessions survive the reload when the manager persists them (a StandardManager pathname, a PersistentManager).",
      false,
    ),
    securityRoles: {
      kind: "list",
      doc:
        "web.xml <security-role>s. When listed, an authRoles `*` means any of these roles (Tomcat's strict allRolesMode); `**` is any authenticated user.",
    },
    denyUncoveredHttpMethods: bool(
      "web.xml <deny-uncovered-http-methods/>: a method a constraint's httpMethods leave out is refused (403) on its URL patterns.",
      false,
    ),
    crossContext: ignored("Cross-context dispatch.", "not applicable", "boolean"),
    allowLinking: ignored(
      "Follow symbolic links that leave docBase.",
      "symbolic links that leave docBase are never followed",
      "boolean",
    ),
  },
  children: {
    securityConstraints: { element: () => SecurityConstraint, list: true },
    errorPages: { element: () => ErrorPage, list: true },
    mimeMappings: { element: () => MimeMapping, list: true },
    servletMappings: { element: () => ServletMapping, list: true },
    valves: { element: () => Valve, list: true },
    manager: { element: () => Manager, list: false, defaulted: true },
    cookieProcessor: { element: () => CookieProcessor, list: false, defaulted: true },
    loginConfig: { element: () => LoginConfig, list: false },
    realm: { element: () => Realm, list: false },
    resources: { element: () => Resource, list: true },
  },
} as const satisfies ElementDef;

export const LoginConfig = {
  name: "LoginConfig",
  doc: "web.xml <login-config>: how users of constrained URLs authenticate.",
  attrs: {
    authMethod: {
      kind: "enum",
      values: ["CLIENT-CERT", "BASIC", "DIGEST", "FORM"],
      synonyms: { CLIENT_CERT: "CLIENT-CERT" },
      required: true,
      doc:
        "CLIENT-CERT: the verified TLS client certificate; BASIC, DIGEST (RFC 7616) and FORM (j_security_check): user name and password against the realm.",
    },
    realmName: str("Realm name shown by BASIC and DIGEST authentication.", { default: "bobcat" }),
    formLoginPage: str(
      "FORM: the login page, a path in the context (e.g. /login.html), served in place of the page asked for.",
    ),
    formErrorPage: str("FORM: the page served when a login fails (e.g. /error.html)."),
  },
} as const satisfies ElementDef;

export const ErrorPage = {
  name: "ErrorPage",
  doc:
    "web.xml <error-page>: the page (a file under docBase) sent, with the original status, for a status code or for an error the handler throws.",
  attrs: {
    errorCode: int("HTTP status this page answers (400-599).", undefined, { min: 400, max: 599 }),
    exceptionType: str(
      "Error type this page answers: the thrown error's name or class (TypeError, MyError), or Java's java.lang.Throwable / java.lang.Exception for any.",
    ),
    location: str("Page path below the context, starting with /.", { required: true }),
  },
} as const satisfies ElementDef;

export const MimeMapping = {
  name: "MimeMapping",
  doc: "web.xml <mime-mapping>: the Content-Type of static files with an extension.",
  attrs: {
    extension: str("File extension without the dot (compared case-insensitively).", { required: true }),
    mimeType: str("Content-Type sent for it.", { required: true }),
  },
} as const satisfies ElementDef;

export const ServletMapping = {
  name: "ServletMapping",
  doc:
    "web.xml <servlet-mapping> of a servlet bobcat cannot run (JSP, application servlets): requests its urlPatterns match are answered 404 instead of sending the files (JSP sources) there.",
  attrs: {
    servletName: str("The servlet's name.", { required: true }),
    servletClass: str("Its class (or JSP file), for messages."),
    urlPatterns: { kind: "list", required: true, doc: "Servlet URL patterns." },
  },
} as const satisfies ElementDef;

export const Realm = {
  name: "Realm",
  doc:
    "Users and their roles. Tomcat's realms: MemoryRealm (users inline or a tomcat-users.xml file), UserDatabaseRealm (the GlobalNamingResources UserDatabase), DataSourceRealm (users and roles tables), LockOutRealm and CombinedRealm around nested realms. The innermost realm defined (context, else host, else engine) applies. A realm that is not a LockOutRealm is still wrapped in one with the attributes below, as Tomcat's own server.xml wraps every realm: after failureCount failed logins in a row a user name is refused, even with the right password, for lockOutTime seconds.",
  attrs: {
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
    allRolesMode: {
      kind: "enum",
      values: ["strict", "authOnly", "strictAuthOnly"],
      default: "strict",
      doc: "How authRoles `*` is read; bobcat reads it as any authenticated user in every mode.",
    },
  },
  children: {
    credentialHandler: { element: () => CredentialHandler, list: false },
  },
  variants: {
    defaultVariant: "MemoryRealm",
    map: {
      MemoryRealm: { fullName: "org.apache.catalina.realm.MemoryRealm", element: () => MemoryRealmDef },
      UserDatabaseRealm: {
        fullName: "org.apache.catalina.realm.UserDatabaseRealm",
        element: () => UserDatabaseRealmDef,
      },
      DataSourceRealm: { fullName: "org.apache.catalina.realm.DataSourceRealm", element: () => DataSourceRealmDef },
      LockOutRealm: { fullName: "org.apache.catalina.realm.LockOutRealm", element: () => LockOutRealmDef },
      CombinedRealm: { fullName: "org.apache.catalina.realm.CombinedRealm", element: () => CombinedRealmDef },
    },
  },
} as const satisfies ElementDef;

export const MemoryRealmDef = {
  name: "MemoryRealm",
  doc: "Users listed inline (users:) and/or read at start from a tomcat-users.xml-format file (pathname).",
  attrs: {
    pathname: path("A tomcat-users.xml-format file (<user username password roles>), relative to the base directory."),
  },
  children: {
    users: { element: () => RealmUser, list: true },
  },
} as const satisfies ElementDef;

export const UserDatabaseRealmDef = {
  name: "UserDatabaseRealm",
  doc:
    "Users, roles and groups of a UserDatabase: the server.globalNamingResources resource named resourceName (type UserDatabase, pathname: conf/tomcat-users.xml).",
  attrs: {
    resourceName: str("Name of the global UserDatabase resource.", { default: "UserDatabase" }),
    localJndiResource: ignored(
      "Look the resource up in the context.",
      "the resource is always the global one",
      "boolean",
    ),
    useStaticPrincipal: ignored("Principal class.", "not applicable", "boolean"),
  },
} as const satisfies ElementDef;

export const DataSourceRealmDef = {
  name: "DataSourceRealm",
  doc: "Users and roles in database tables, through a named data source (SQLite, PostgreSQL, MySQL).",
  attrs: {
    dataSourceName: str("Name of the Resource (global first, then the context's).", { required: true }),
    localDataSource: bool("Look the data source up among the context's resources only.", false),
    userTable: str("Table of users.", { required: true }),
    userNameCol: str("Column of user names (in userTable and userRoleTable).", { required: true }),
    userCredCol: str("Column of stored passwords (in userTable), in the credentialHandler's format.", {
      required: true,
    }),
    userRoleTable: str("Table of user roles (user name, role name)."),
    roleNameCol: str("Column of role names (in userRoleTable)."),
  },
} as const satisfies ElementDef;

export const LockOutRealmDef = {
  name: "LockOutRealm",
  doc: "Tomcat's LockOutRealm: the nested realms, with user names locked out after failureCount failures.",
  attrs: {},
  children: {
    realms: { element: (): ElementDef => Realm, list: true },
  },
} as const satisfies ElementDef;

export const CombinedRealmDef = {
  name: "CombinedRealm",
  doc: "Tomcat's CombinedRealm: a user is authenticated by the first nested realm that knows the name.",
  attrs: {},
  children: {
    realms: { element: (): ElementDef => Realm, list: true },
  },
} as const satisfies ElementDef;

export const CredentialHandler = {
  name: "CredentialHandler",
  doc: "How stored passwords are compared (Tomcat's formats, as digest.sh prints them).",
  attrs: {},
  variants: {
    map: {
      MessageDigestCredentialHandler: {
        fullName: "org.apache.catalina.realm.MessageDigestCredentialHandler",
        element: () => MessageDigestCredentialHandlerDef,
      },
      SecretKeyCredentialHandler: {
        fullName: "org.apache.catalina.realm.SecretKeyCredentialHandler",
        element: () => SecretKeyCredentialHandlerDef,
      },
      NestedCredentialHandler: {
        fullName: "org.apache.catalina.realm.NestedCredentialHandler",
        element: () => NestedCredentialHandlerDef,
      },
    },
  },
} as const satisfies ElementDef;

export const MessageDigestCredentialHandlerDef = {
  name: "MessageDigestCredentialHandler",
  doc:
    "Digested passwords: `salt$iterations$hexdigest`, a plain hex digest, or {SHA}/{MD5}/{SSHA}; plain text without algorithm.",
  attrs: {
    algorithm: str("MessageDigest algorithm: SHA-256, SHA-512, SHA-1, MD5 (none: plain text)."),
    iterations: int("Iterations when making a stored password.", 1, { min: 1 }),
    saltLength: int("Salt bytes when making a stored password.", 32, { min: 0 }),
    encoding: str("Character encoding of passwords.", { default: "UTF-8" }),
    logInvalidStoredCredentials: ignored(
      "Log malformed stored passwords.",
      "malformed ones simply never match",
      "boolean",
    ),
  },
} as const satisfies ElementDef;

export const SecretKeyCredentialHandlerDef = {
  name: "SecretKeyCredentialHandler",
  doc: "PBKDF2 passwords: `salt$iterations$hexkey`.",
  attrs: {
    algorithm: str("PBKDF2WithHmacSHA1 (Tomcat's default), PBKDF2WithHmacSHA256, PBKDF2WithHmacSHA512.", {
      default: "PBKDF2WithHmacSHA1",
    }),
    iterations: int("Iterations when making a stored password.", 20000, { min: 1 }),
    keyLength: int("Key bits when making a stored password (matching uses the stored key's length).", 160, {
      min: 8,
    }),
    saltLength: int("Salt bytes when making a stored password.", 32, { min: 0 }),
    logInvalidStoredCredentials: ignored(
      "Log malformed stored passwords.",
      "malformed ones simply never match",
      "boolean",
    ),
  },
} as const satisfies ElementDef;

export const NestedCredentialHandlerDef = {
  name: "NestedCredentialHandler",
  doc: "A password matches when any of the nested handlers matches it.",
  attrs: {},
  children: {
    credentialHandlers: { element: (): ElementDef => CredentialHandler, list: true },
  },
} as const satisfies ElementDef;

export const RealmUser = {
  name: "User",
  doc: "A user: for CLIENT-CERT the username is the certificate's subject DN (e.g. `CN=alice, O=Example`).",
  attrs: {
    username: str("User name, or the subject DN for CLIENT-CERT.", { required: true }),
    password: str("Password for BASIC authentication.", { secret: true }),
    roles: { kind: "list", default: [], doc: "Roles of the user." },
  },
} as const satisfies ElementDef;

export const CookieProcessor = {
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
} as const satisfies ElementDef;

export const Manager = {
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
    sessionIdGenerator: { element: () => SessionIdGenerator, list: false, defaulted: true },
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
} as const satisfies ElementDef;

/** A sessionAttributeValueClassNameFilter written for Java (java.lang.String...): it would keep no attribute here. */
export function namesJavaClasses(pattern: string): boolean {
  return /\bjava(x)?\\?\.|jakarta\\?\./.test(pattern);
}

export const StandardManagerDef = {
  name: "StandardManager",
  doc: "Sessions in memory, written to one file on stop and read back on start.",
  attrs: {
    pathname: str(
      "Persistence file (e.g. SESSIONS.ser), relative to the context's work directory. Unset or \"\": persistence off (Tomcat's default).",
    ),
  },
} as const satisfies ElementDef;

export const PersistentManagerDef = {
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
    storeBacklogLimit: int(
      "bobcat: most failed store writes kept for retry while the store is down (0: none; a failed write is logged and dropped).",
      50000,
      {
        min: 0,
      },
    ),
    consistency: {
      kind: "enum",
      values: ["sticky", "shared"],
      default: "sticky",
      doc:
        "bobcat: sticky = the instance holding a session owns it, the store is its backup (jvmRoute + JvmRouteBinderValve for failover); shared = the store holds every session, any instance serves any request, writes are conditional on the version read and merge per attribute (DataSourceStore on PostgreSQL/MySQL, or RedisStore).",
    },
    sessionLockWait: int(
      "bobcat (consistency shared): most milliseconds a request waits for the earlier requests of the same session to finish (on this instance, and on the other worker processes through turns the primary keeps), and most a request holds its session that way; past it the request goes ahead on what it read and its write stays conditional (0: no waiting).",
      5000,
      { min: 0 },
    ),
  },
  children: {
    store: { element: () => Store, list: false },
  },
} as const satisfies ElementDef;

export const Store = {
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
} as const satisfies ElementDef;

export const FileStoreDef = {
  name: "FileStore",
  doc: "One <id>.session file per session.",
  attrs: {
    directory: str("Directory, relative to the context's work directory (default: the work directory itself)."),
  },
} as const satisfies ElementDef;

export const DataSourceStoreDef = {
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
} as const satisfies ElementDef;

export const RedisStoreDef = {
  name: "RedisStore",
  doc:
    "bobcat: sessions in Redis or Valkey (ioredis); TTLs follow maxInactiveInterval, every write is one atomic script.",
  attrs: {
    url: str("The server: redis://[user:password@]host:port[/db] (rediss:// for TLS).", { required: true }),
    keyPrefix: str("First part of every key.", { default: "bobcat" }),
  },
} as const satisfies ElementDef;

export const SessionIdGenerator = {
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
} as const satisfies ElementDef;

export const SecurityConstraint = {
  name: "SecurityConstraint",
  doc: "web.xml <security-constraint>: URL patterns, the transport they require, and who may see them.",
  attrs: {
    displayName: str("Name for logs."),
    urlPatterns: { kind: "list", required: true, doc: "Servlet URL patterns: `/*`, `/admin/*`, `*.jsp`, `/exact`." },
    httpMethods: { kind: "list", doc: "Methods the constraint applies to (default: all)." },
    httpMethodOmissions: {
      kind: "list",
      doc: "Methods the constraint does not apply to (web.xml <http-method-omission>); not with httpMethods.",
    },
    authRoles: {
      kind: "list",
      doc:
        "Roles allowed (`*`: any authenticated user, or any of securityRoles when the context lists them; `**`: any authenticated user); requires loginConfig on the context.",
    },
    authConstraint: bool(
      "web.xml <auth-constraint> present: with no authRoles nobody is allowed (403). Default: true when authRoles has roles.",
    ),
    transportGuarantee: {
      kind: "enum",
      values: ["NONE", "INTEGRAL", "CONFIDENTIAL"],
      default: "NONE",
      doc: "CONFIDENTIAL/INTEGRAL redirect plain HTTP to the connector's redirectPort (302).",
    },
  },
} as const satisfies ElementDef;

export const Valve = {
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
      RemoteAddrValve: { fullName: "org.apache.catalina.valves.RemoteAddrValve", element: () => RemoteAddrValve },
      RemoteCIDRValve: { fullName: "org.apache.catalina.valves.RemoteCIDRValve", element: () => RemoteCIDRValve },
      RemoteHostValve: { fullName: "org.apache.catalina.valves.RemoteHostValve", element: () => RemoteHostValve },
      HealthCheckValve: { fullName: "org.apache.catalina.valves.HealthCheckValve", element: () => HealthCheckValve },
      ErrorReportValve: { fullName: "org.apache.catalina.valves.ErrorReportValve", element: () => ErrorReportValve },
      RewriteValve: { fullName: "org.apache.catalina.valves.rewrite.RewriteValve", element: () => RewriteValve },
    },
  },
} as const satisfies ElementDef;

export const AccessLogValve = {
  name: "AccessLogValve",
  doc: "Writes one line per request in common/combined or a custom pattern.",
  attrs: {
    pattern: str(
      "`common`, `combined`, `json` (one JSON object per line), or a pattern of %h %l %u %t %r %s %b %D %T %{Header}i ...",
      {
        default: "common",
      },
    ),
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
} as const satisfies ElementDef;

const INTERNAL_PROXIES_DOC =
  "Regex of proxy addresses whose forwarded headers are believed (default: private, loopback and link-local ranges, as Tomcat).";

export const JvmRouteBinderValve = {
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
} as const satisfies ElementDef;

export const RemoteIpValve = {
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
} as const satisfies ElementDef;

export const SSLValve = {
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
    sslCipherUserKeySizeHeader: str("Key size in bits (`ctx.keySize`).", { default: "ssl_cipher_usekeysize" }),
    internalProxies: { kind: "regex", doc: INTERNAL_PROXIES_DOC, default: DEFAULT_INTERNAL_PROXIES },
    trustedProxies: { kind: "regex", doc: "Regex of further proxy addresses whose headers are believed." },
  },
} as const satisfies ElementDef;

const filterAttrs = <const K extends "regex" | "list">(what: string, kind: K) => ({
  allow: {
    kind,
    doc: kind === "regex"
      ? `Regex the whole ${what} must match to be let in.`
      : "Address ranges (CIDR: 10.0.0.0/8, ::1) let in.",
  },
  deny: {
    kind,
    doc: kind === "regex"
      ? `Regex of ${what}s refused (checked before allow).`
      : "Address ranges refused (checked before allow).",
  },
  denyStatus: int("Status answered to a refused request.", 403, { min: 400, max: 599 }),
  addConnectorPort: bool(
    kind === "regex"
      ? `Match \`${what};connectorPort\` instead (one valve for several connectors).`
      : "Entries may end in ;port, matched against the connector's port.",
    false,
  ),
  invalidAuthenticationWhenDeny: bool(
    "Tomcat turns a refusal into a failed login only with preemptiveAuthentication, which bobcat does not have: refused requests get denyStatus either way.",
    false,
  ),
  usePeerAddress: bool("Match the TCP peer's address, not the one a RemoteIpValve took from X-Forwarded-For.", false),
});

export const RemoteAddrValve = {
  name: "RemoteAddrValve",
  doc:
    "Lets in or refuses clients by their address (canonical text: 127.0.0.1, ::1), matched by regex. Without allow or deny everyone is refused, as Tomcat.",
  attrs: filterAttrs("address", "regex"),
} as const satisfies ElementDef;

export const RemoteCIDRValve = {
  name: "RemoteCIDRValve",
  doc: "Lets in or refuses clients by address range (allow/deny: comma lists of CIDR ranges).",
  attrs: filterAttrs("address", "list"),
} as const satisfies ElementDef;

export const RemoteHostValve = {
  name: "RemoteHostValve",
  doc:
    "Tomcat matches the client's host name, which is its address unless the connector has enableLookups; bobcat never looks names up, so the regex matches the address text, as Tomcat with enableLookups=false.",
  attrs: filterAttrs("host name", "regex"),
} as const satisfies ElementDef;

export const HealthCheckValve = {
  name: "HealthCheckValve",
  doc: 'Answers `path` with 200 {"status":"UP"} (503 {"status":"DOWN"} while a context of the host has not started).',
  attrs: {
    path: str("Path answered.", { default: "/health" }),
    checkContainersAvailable: bool("Answer DOWN while any context is not started.", true),
  },
} as const satisfies ElementDef;

export const ErrorReportValve = {
  name: "ErrorReportValve",
  doc:
    "The error pages bobcat itself writes (404, 403, 401, 500...): with or without the message, with or without the server name, or a file per status code (errorCode.404: path) or exception type (exceptionType.*).",
  attrs: {
    showReport: bool("Include the message and description.", true),
    showServerInfo: bool("Include the server name at the bottom.", true),
    errorCodes: {
      kind: "map",
      default: {},
      doc:
        'status code → file served as that status\'s page (server.xml: errorCode.404="path"); 0 is the page for every status without its own.',
    },
    exceptionTypes: {
      kind: "map",
      default: {},
      doc:
        'server.xml exceptionType.NAME="path": bobcat has no Java exceptions; java.lang.Throwable and java.lang.Exception are used for 500 pages.',
    },
  },
} as const satisfies ElementDef;

export const RewriteValve = {
  name: "RewriteValve",
  doc:
    "Tomcat's URL rewriting (mod_rewrite syntax: RewriteCond, RewriteRule, int: RewriteMaps). On a Host the rules are read from conf/<Engine>/<Host>/rewrite.config under the base directory, on a Context from its docBase's WEB-INF/rewrite.config, unless `configuration` holds them. A rewritten path is normalised and mapped again: constraints and the docBase's limits apply to it.",
  attrs: {
    enabled: bool("Apply the rules (false: the valve does nothing).", true),
    configuration: str(
      "The rules themselves, one directive per line (instead of the rewrite.config file; errors name the line within this text).",
    ),
  },
} as const satisfies ElementDef;

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
  Acme,
  UpgradeProtocol,
  Http2ProtocolDef,
  Engine,
  Host,
  Context,
  SecurityConstraint,
  LoginConfig,
  ErrorPage,
  MimeMapping,
  ServletMapping,
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
  RemoteAddrValve,
  RemoteCIDRValve,
  RemoteHostValve,
  HealthCheckValve,
  ErrorReportValve,
  RewriteValve,
  MemoryRealmDef,
  UserDatabaseRealmDef,
  DataSourceRealmDef,
  LockOutRealmDef,
  CombinedRealmDef,
  CredentialHandler,
  MessageDigestCredentialHandlerDef,
  SecretKeyCredentialHandlerDef,
  NestedCredentialHandlerDef,
];
