/**
 * Chooses the back-end for each connector: the fastest one of the running runtime that can do
 * every TLS feature the connector's config asks for. A feature no back-end here can do stops
 * start-up with a message naming the feature, the connector, this runtime and one that can —
 * we never hand a runtime an option it would silently ignore.
 */
import { existsSync } from "../util/host/fs.ts";
import { env } from "../util/host/proc.ts";
import type { ConnectorConfig, ServiceConfig } from "../config/model.ts";
import { BobcatError } from "../util/errors.ts";
import { sourceOf } from "../config/validate.ts";
import type { RuntimeName } from "../util/runtime.ts";
import type { ConnectorTls } from "./tls-material.ts";
import { logger } from "../util/log.ts";
import { sniHostCheck } from "./sni.ts";
import { compatServerLabel } from "./listener.ts";
import { denoConnectionControl } from "./deno-conn.ts";

export type Backend = "native" | "node-compat";

export type Feature =
  | "tls"
  | "sni-multiple-certificates"
  | "rsa-and-ec-certificates"
  | "protocol-limits"
  | "tls12-ciphers"
  | "max-connections"
  | "client-certificates"
  | "optional-client-certificates"
  | "client-certificate-chain"
  | "client-certificate-revocation"
  | "client-certificate-depth"
  | "tls-session-info"
  | "tls13-ciphersuites"
  | "honor-cipher-order"
  | "session-tickets-off"
  | "session-timeout"
  | "handshake-logging"
  | "ocsp-stapling"
  | "connection-timeout"
  | "short-connection-timeout"
  | "long-connection-timeout"
  | "sni-host-check"
  | "acme-swap"
  | "acme-tls-alpn"
  | "websocket"
  | "http3";

const FEATURE_TEXT: Record<Feature, string> = {
  tls: "TLS from one certificate",
  "sni-multiple-certificates": "several SSLHostConfigs chosen by SNI",
  "rsa-and-ec-certificates": "several certificates (RSA and EC) for one host",
  "protocol-limits": "protocols other than TLSv1.2+TLSv1.3",
  "tls12-ciphers": "a ciphers list",
  "max-connections": "maxConnections/acceptCount (connections counted from accept, extra ones held)",
  "client-certificates": "client certificates verified in the handshake (certificateVerification: required)",
  "optional-client-certificates":
    "optional client certificates (certificateVerification optional or optionalNoCA: an untrusted certificate is refused, a missing one is not)",
  "client-certificate-chain":
    "the client certificate chain passed to handlers (CLIENT-CERT login, or a context without needsPeerCertificates: false)",
  "client-certificate-revocation":
    "client certificate revocation checks (certificateRevocationListFile, ocspEnabled) on every certificate of the chain",
  "client-certificate-depth": "a certificateVerificationDepth other than 10",
  "tls-session-info": "the TLS session id for SSL session tracking",
  "tls13-ciphersuites": "a TLS 1.3 cipherSuites restriction",
  "honor-cipher-order": "honorCipherOrder",
  "session-tickets-off": "disableSessionTickets",
  "session-timeout": "a sessionTimeout other than 86400",
  "handshake-logging": "handshake debug logging (logging.components.handshake: debug)",
  "ocsp-stapling": "OCSP stapling (ocspStapling: true)",
  "connection-timeout": "connectionTimeout (TLS handshake, request header and idle keep-alive timeout)",
  "short-connection-timeout":
    "a connectionTimeout below 10 s (Bun.serve closes connections that send no complete request after a fixed ~10 s)",
  "long-connection-timeout": "a connectionTimeout above 255 s",
  "sni-host-check":
    "SSLHostConfigs that differ in client-certificate, trust, protocol or cipher settings (each request's Host is checked against the SNI name)",
  "acme-swap":
    "ACME certificates swapped in without closing keep-alive connections (Bun.serve closes them when its listener is replaced)",
  "acme-tls-alpn":
    "ACME TLS-ALPN-01 as the only way to validate (challengeTypes without http-01, or dns-01 without dnsHook): the certificate is chosen per handshake by ALPN",
  websocket: "WebSocket upgrades (webSocketEnabled; Deno's native connection serving closes upgraded connections)",
  http3: "HTTP/3 (http3: QUIC beside TLS over TCP)",
};

/** Which back-ends of each runtime can do a feature, best first. */
const CAN: Record<RuntimeName, Record<Feature, Backend[]>> = {
  bun: {
    tls: ["native", "node-compat"],
    "sni-multiple-certificates": ["native", "node-compat"],
    "rsa-and-ec-certificates": ["native", "node-compat"],
    "protocol-limits": ["native", "node-compat"],
    "tls12-ciphers": ["native", "node-compat"],
    "max-connections": ["node-compat"],
    // Bun.serve: requestCert + rejectUnauthorized + ca per server name; the handler never sees the chain.
    "client-certificates": ["native", "node-compat"],
    "optional-client-certificates": ["node-compat"],
    "client-certificate-chain": ["node-compat"],
    "client-certificate-revocation": ["node-compat"],
    "client-certificate-depth": ["node-compat"],
    "tls-session-info": ["node-compat"],
    "tls13-ciphersuites": [],
    "honor-cipher-order": ["node-compat"],
    "session-tickets-off": ["native", "node-compat"],
    "session-timeout": ["node-compat"],
    "handshake-logging": ["node-compat"],
    "ocsp-stapling": [],
    // idleTimeout for idle keep-alive; a fixed ~10 s limit for handshakes and request headers.
    "connection-timeout": ["native", "node-compat"],
    "short-connection-timeout": ["node-compat"],
    "long-connection-timeout": ["node-compat"],
    "sni-host-check": ["node-compat"],
    "acme-swap": ["node-compat"],
    "acme-tls-alpn": ["node-compat"],
    websocket: ["native", "node-compat"],
    http3: ["native"],
  },
  deno: {
    tls: ["native", "node-compat"],
    "sni-multiple-certificates": ["node-compat"],
    "rsa-and-ec-certificates": [],
    "protocol-limits": ["node-compat"],
    "tls12-ciphers": [],
    // Native only where bobcat can accept connections itself (deno-conn.ts); see planConnector.
    "max-connections": ["native", "node-compat"],
    // Deno.serve ignores requestCert and ca: a client without a certificate would get in.
    "client-certificates": ["node-compat"],
    "optional-client-certificates": ["node-compat"],
    "client-certificate-chain": ["node-compat"],
    "client-certificate-revocation": ["node-compat"],
    "client-certificate-depth": ["node-compat"],
    "tls-session-info": ["node-compat"],
    "tls13-ciphersuites": [],
    "honor-cipher-order": [],
    "session-tickets-off": [],
    "session-timeout": [],
    "handshake-logging": ["node-compat"],
    "ocsp-stapling": [],
    "connection-timeout": ["native", "node-compat"],
    "short-connection-timeout": ["native", "node-compat"],
    "long-connection-timeout": ["native", "node-compat"],
    "sni-host-check": ["node-compat"],
    "acme-swap": ["native", "node-compat"],
    // Deno's node:http2 agrees ALPN from a fixed list: no per-handshake acme-tls/1.
    "acme-tls-alpn": [],
    websocket: ["node-compat"],
    // Deno.serve has no QUIC listener (Deno.QuicEndpoint is unstable and not HTTP/3).
    http3: [],
  },
  node: {
    tls: ["node-compat"],
    "sni-multiple-certificates": ["node-compat"],
    "rsa-and-ec-certificates": ["node-compat"],
    "protocol-limits": ["node-compat"],
    "tls12-ciphers": ["node-compat"],
    "max-connections": ["node-compat"],
    "client-certificates": ["node-compat"],
    "optional-client-certificates": ["node-compat"],
    "client-certificate-chain": ["node-compat"],
    "client-certificate-revocation": ["node-compat"],
    "client-certificate-depth": ["node-compat"],
    "tls-session-info": ["node-compat"],
    "tls13-ciphersuites": ["node-compat"],
    "honor-cipher-order": ["node-compat"],
    "session-tickets-off": ["node-compat"],
    "session-timeout": ["node-compat"],
    "handshake-logging": ["node-compat"],
    "ocsp-stapling": ["node-compat"],
    "connection-timeout": ["node-compat"],
    "short-connection-timeout": ["node-compat"],
    "long-connection-timeout": ["node-compat"],
    "sni-host-check": ["node-compat"],
    "acme-swap": ["node-compat"],
    "acme-tls-alpn": ["node-compat"],
    websocket: ["node-compat"],
    http3: [],
  },
};

/** No challenge type besides tls-alpn-01 can be answered: the back-end must answer acme-tls/1. */
function onlyTlsAlpn(a: { challengeTypes: string[]; dnsHook?: string }): boolean {
  return a.challengeTypes.includes("tls-alpn-01") && !a.challengeTypes.includes("http-01") &&
    !(a.challengeTypes.includes("dns-01") && a.dnsHook);
}

export const DEFAULT_MAX_CONNECTIONS = 8192;

export interface Plan {
  backend: Backend;
  features: Feature[];
  /** One line for the start-up log: which back-end and why. */
  reason: string;
}

/**
 * `serviceNeeds`: what the service's contexts ask of every TLS connector (SSL session
 * tracking needs the TLS session id; CLIENT-CERT login needs the peer chain).
 */
export function requiredFeatures(
  c: ConnectorConfig,
  tls: ConnectorTls | undefined,
  serviceNeeds: Feature[] = [],
): Feature[] {
  const f: Feature[] = [];
  // Bun.serve cannot count connections: only a maxConnections someone chose moves it to
  // node-compat (the default would cost every Bun connector its native speed; see README).
  if (c.maxConnections > 0 && c.maxConnections !== DEFAULT_MAX_CONNECTIONS) f.push("max-connections");
  if (c.connectionTimeout > 0) f.push("connection-timeout");
  if (c.connectionTimeout > 0 && c.connectionTimeout < 10000) f.push("short-connection-timeout");
  if (c.connectionTimeout > 255000) f.push("long-connection-timeout");
  if (c.webSocketEnabled) f.push("websocket");
  if (!tls) return f;
  f.push("tls");
  if (tls.hosts.length > 1) f.push("sni-multiple-certificates");
  // Native back-ends never tell a request's SNI name, so they cannot refuse a Host of another config.
  if (sniHostCheck(tls)) f.push("sni-host-check");
  if (tls.hosts.some((h) => h.certs.length > 1)) f.push("rsa-and-ec-certificates");
  if (tls.hosts.some((h) => h.config.acme)) f.push("acme-swap");
  if (tls.hosts.some((h) => h.config.acme && onlyTlsAlpn(h.config.acme))) f.push("acme-tls-alpn");
  if (tls.hosts.some((h) => h.versions.length !== 2)) f.push("protocol-limits");
  if (tls.hosts.some((h) => h.ciphers.tls12)) f.push("tls12-ciphers");
  if (tls.hosts.some((h) => h.ciphers.tls13)) f.push("tls13-ciphersuites");
  if (tls.hosts.some((h) => h.config.honorCipherOrder)) f.push("honor-cipher-order");
  if (tls.hosts.some((h) => h.config.disableSessionTickets)) f.push("session-tickets-off");
  if (tls.hosts.some((h) => h.config.sessionTimeout !== 86400)) f.push("session-timeout");
  if (tls.hosts.some((h) => h.config.ocspStapling === true)) f.push("ocsp-stapling");
  // Native back-ends never report a failed handshake; the node:tls one does.
  if (logger("handshake").enabled("debug")) f.push("handshake-logging");
  const verifying = tls.hosts.filter((h) => h.config.certificateVerification !== "none");
  if (verifying.length > 0) f.push("client-certificates");
  if (verifying.some((h) => h.config.certificateVerification !== "required")) f.push("optional-client-certificates");
  // The TLS stacks' own CRL checks differ from Tomcat's (BoringSSL wants a CRL for every issuer
  // and checks the leaf only); OCSP is bobcat's own: both run after the handshake, on node-compat.
  if (verifying.some((h) => (h.trust?.crls.length ?? 0) > 0 || h.config.ocspEnabled)) {
    f.push("client-certificate-revocation");
  }
  if (verifying.some((h) => h.config.certificateVerificationDepth !== 10)) f.push("client-certificate-depth");
  for (const need of serviceNeeds) {
    // No chain to pass where no certificate is asked for (and node-compat would pass none either).
    if (need === "client-certificate-chain" && verifying.length === 0) continue;
    if (!f.includes(need)) f.push(need);
  }
  // Last, so that a conflict with a feature only node-compat has is reported as such.
  if (c.http3) f.push("http3");
  return f;
}

export function planConnector(
  c: ConnectorConfig,
  tls: ConnectorTls | undefined,
  runtime: RuntimeName,
  runtimeLabel: string,
  serviceNeeds: Feature[] = [],
): Plan {
  const features = requiredFeatures(c, tls, serviceNeeds);
  const table = CAN[runtime];
  let candidates: Backend[] = runtime === "node" ? ["node-compat"] : ["native", "node-compat"];
  // The native Deno back-end accepts connections itself through a Deno internal (deno-conn.ts).
  // (Planning for Deno from another runtime, as the unit tests do, assumes a Deno that has it.)
  const onDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  const denoMissing = runtime === "deno" && onDeno
    ? denoConnectionControl(tls !== undefined && c.connectionTimeout > 0)
    : undefined;
  if (denoMissing) candidates = ["node-compat"];
  // BOBCAT_BACKEND=node-compat: the same config on the other back-end, to compare behaviour.
  const forced = env("BOBCAT_BACKEND") === "node-compat";
  if (forced) candidates = ["node-compat"];
  if (c.http3 && !tls) {
    throw new BobcatError("runtime.http3NoTls", `http3 on connector ${c.name} needs TLS: HTTP/3 runs over QUIC only`, {
      where: sourceOf(c).attr("http3"),
      fix: "set SSLEnabled: true with sslHostConfigs, or remove http3",
    });
  }
  // QUIC is TLS 1.3 only: a connector whose SSLHostConfigs leave TLS 1.3 out would still agree
  // it over HTTP/3 (Bun's QUIC listener takes no protocol range).
  const without13 = c.http3 ? tls?.hosts.filter((h) => !h.versions.includes("TLSv1.3")) : undefined;
  if (without13?.length) {
    throw new BobcatError(
      "runtime.http3Protocols",
      `http3 on connector ${c.name} would serve TLS 1.3 over QUIC, but SSLHostConfig ${
        without13.map((h) => h.hostName).join(", ")
      } does not enable TLSv1.3 (protocols ${without13[0]!.versions.join("+")})`,
      { where: sourceOf(c).attr("http3"), fix: "add TLSv1.3 to the SSLHostConfig's protocols, or remove http3" },
    );
  }
  for (const f of features) {
    const ok = table[f];
    const next = candidates.filter((b) => ok.includes(b));
    if (next.length === 0 && f === "http3" && ok.length > 0) {
      const compatOnly = features.filter((x) => !table[x].includes("native"));
      throw new BobcatError(
        "runtime.http3Backend",
        `http3 on connector ${c.name} needs the native Bun.serve back-end, but ${
          forced
            ? "BOBCAT_BACKEND=node-compat forces node-compat"
            : `the connector also asks for what only node-compat can do: ${
              compatOnly.map((x) => FEATURE_TEXT[x]).join(", ")
            }`
        }`,
        { where: sourceOf(c).attr("http3"), fix: "remove http3, or the settings that need node-compat" },
      );
    }
    if (next.length === 0) {
      const others = (Object.keys(CAN) as RuntimeName[]).filter((r) => r !== runtime && CAN[r][f].length > 0);
      throw new BobcatError(
        "runtime.unsupportedFeature",
        `TLS feature "${
          FEATURE_TEXT[f]
        }" (connector ${c.name}) is not supported on ${runtimeLabel}: no back-end of this runtime can do it, and bobcat does not pass options a runtime would silently ignore`,
        {
          where: sourceOf(c).self,
          fix: `run bobcat on ${
            others.map((r) => (r === "node" ? "Node (--runtime node)" : r === "bun" ? "Bun" : "Deno")).join(" or ")
          }, or remove the setting`,
        },
      );
    }
    candidates = next;
  }
  const backend = candidates[0]!;
  const needsCompat = features.filter((f) => !table[f].includes("native"));
  const reason = backend === "native"
    ? `native ${runtime === "bun" ? "Bun.serve" : "Deno HTTP server on connections bobcat accepts"} (covers: ${
      features.map((f) => FEATURE_TEXT[f]).join(", ") || "plain HTTP"
    })`
    : runtime === "node"
    ? `node-compat back-end (the only one on Node) on ${compatServerLabel(c, runtime, tls)}`
    : `node-compat back-end${
      forced
        ? " (BOBCAT_BACKEND=node-compat)"
        : denoMissing
        ? `, because the native one cannot enforce maxConnections and connectionTimeout here: ${denoMissing}`
        : `, because the native one cannot do: ${needsCompat.map((f) => FEATURE_TEXT[f]).join(", ")}`
    }; on ${compatServerLabel(c, runtime, tls)}`;
  // Said at start-up rather than left silent: Bun.serve has no connection count at all.
  const uncounted = backend === "native" && runtime === "bun" && c.maxConnections > 0
    ? `; maxConnections ${c.maxConnections} (the default) is not enforced by Bun.serve, which cannot count connections: set maxConnections explicitly to have the node-compat back-end enforce it`
    : "";
  return { backend, features, reason: reason + uncounted };
}

/** What a service's contexts need from its TLS connectors. */
export function serviceTlsNeeds(service: ServiceConfig): Feature[] {
  const contexts = service.engine.hosts.flatMap((h) => h.contexts);
  const needs: Feature[] = [];
  if (contexts.some((x) => x.sessionTrackingModes.includes("SSL"))) needs.push("tls-session-info");
  // Applications deployed from an existing appBase are not known yet: they keep Tomcat's default
  // (the chain passed).
  const deploys = service.engine.hosts.some((h) =>
    (h.deployOnStartup || h.autoDeploy) && h.appBase !== undefined && existsSync(h.appBase)
  );
  if (deploys || contexts.some((x) => x.loginConfig?.authMethod === "CLIENT-CERT" || x.needsPeerCertificates)) {
    needs.push("client-certificate-chain");
  }
  return needs;
}
