/**
 * SNI name and Host header against a TLS connector's SSLHostConfigs. The TLS layer applies the
 * config the SNI name chose (certificate, client-certificate mode and trust, protocols, ciphers);
 * requests are routed by Host (or HTTP/2 :authority). A request whose Host picks a config that
 * differs from the SNI one in anything that matters for security is refused with 421 Misdirected
 * Request — Tomcat's strictSni (which answers 400 to any other config, even an identical one).
 */
import { nodeCrypto } from "../util/node-crypto.ts";
import { parseIp } from "../util/ip.ts";
import type { TlsInfo } from "../core/context.ts";
import type { ConnectorTls, TlsHost } from "./tls-material.ts";

/**
 * Tomcat's SNI lookup, used for the SNI name and the Host name alike: exact (lower-cased) name,
 * then a one-level `*.` wildcard, then the default. No name or an IP literal gives the default;
 * a Host's trailing dot (`a.example.`) names the same host as `a.example`.
 */
export function sniLookup<T>(byName: Map<string, T>, fallback: T, servername: string | undefined): T {
  if (!servername) return fallback;
  let name = servername.toLowerCase();
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (parseIp(name)) return fallback;
  const exact = byName.get(name);
  if (exact) return exact;
  const dot = name.indexOf(".");
  return (dot > 0 && byName.get("*" + name.slice(dot))) || fallback;
}

const sha256 = (bytes: ArrayBuffer | string) =>
  nodeCrypto().createHash("sha256").update(typeof bytes === "string" ? bytes : new Uint8Array(bytes)).digest("hex");

/**
 * What a connection negotiated under one SSLHostConfig is worth for a request governed by
 * another: the client-certificate mode, the trust anchors, CRLs, OCSP settings and verification
 * depth (only when certificates are checked at all), the protocols and the ciphers. Certificates,
 * session caching and cipher order do not change who may get in, so they are left out.
 */
export function securitySettings(h: TlsHost): Record<string, string> {
  const c = h.config;
  const out: Record<string, string> = {
    certificateVerification: c.certificateVerification,
    protocols: h.versions.join("+"),
    ciphers: h.ciphers.tls12 ?? "(default)",
    cipherSuites: h.ciphers.tls13?.join(":") ?? "(default)",
  };
  if (c.certificateVerification !== "none") {
    out.certificateVerificationDepth = String(c.certificateVerificationDepth);
    out["trusted CAs"] = (h.trust?.anchors ?? []).map((a) => sha256(a.rawData)).sort().join(",");
    out.certificateRevocationListFile = (h.trust?.crls ?? []).map((x) => sha256(x.rawData)).sort().join(",");
    out.ocsp = c.ocspEnabled ? `on, softFail=${c.ocspSoftFail}, timeout=${c.ocspTimeout}` : "off";
  }
  return out;
}

/** The settings in which two SSLHostConfigs differ (empty: one may serve requests for the other). */
export function securityDifferences(a: TlsHost, b: TlsHost): string[] {
  if (a === b) return [];
  const sa = securitySettings(a);
  const sb = securitySettings(b);
  return [...new Set([...Object.keys(sa), ...Object.keys(sb)])].filter((k) => sa[k] !== sb[k]);
}

/** Returns null when the request may be served, else why not (for the log). */
export type SniHostCheck = (hostname: string, tls: TlsInfo | undefined) => string | null;

/**
 * The per-request check for a connector, or undefined when its SSLHostConfigs are all
 * equivalent (then nothing can be gained by choosing one by SNI and another by Host).
 */
export function sniHostCheck(tls: ConnectorTls | undefined): SniHostCheck | undefined {
  if (!tls || tls.hosts.length < 2) return undefined;
  const keys = new Map(tls.hosts.map((h) => [h, JSON.stringify(securitySettings(h))]));
  if (new Set(keys.values()).size < 2) return undefined;
  const byName = new Map(tls.hosts.map((h) => [h.hostName, h]));
  return (hostname, info) => {
    // Only the node-compat back-end sees the SNI name; the plan never gives such a connector to
    // another, and if it did, not knowing is a refusal.
    if (!info) return "this back-end cannot tell which SNI name the connection used";
    const bySni = sniLookup(byName, tls.defaultHost, info.serverName);
    const byHost = sniLookup(byName, tls.defaultHost, hostname);
    if (bySni === byHost || keys.get(bySni) === keys.get(byHost)) return null;
    return `Host [${hostname}] maps to SSLHostConfig [${byHost.hostName}], but the connection was set up by SNI [${
      info.serverName ?? "none"
    }] under SSLHostConfig [${bySni.hostName}], which differs in ${securityDifferences(bySni, byHost).join(", ")}`;
  };
}
