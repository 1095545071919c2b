/**
 * TLS set-up of the node-compatibility back-end: secure-context options per SSLHostConfig, the
 * per-connection client-certificate verdict, and OCSP stapling (Node only).
 */
import { constants } from "node:crypto";
import { createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { logger } from "../util/log.ts";
import { BobcatError } from "../util/errors.ts";
import { OcspStapler, ocspUrlOf } from "../tls/ocsp/index.ts";
import { MODERN_TLS12_CIPHERS } from "./listener.ts";
import type { TlsHost } from "./tls-material.ts";

const log = logger("connector");

/**
 * Options of the server itself, which also serve clients that send no SNI name: the default
 * host's, but with every host's protocol versions, because some TLS stacks (Bun's) keep the
 * server's version range after SNI has picked another host's context. Each connection's protocol
 * is checked against its own host right after the handshake.
 */
export function serverSecureOptions(t: { hosts: TlsHost[]; defaultHost: TlsHost }) {
  const all = t.hosts.flatMap((h) => h.versions).sort();
  return { ...secureOptions(t.defaultHost), minVersion: all[0], maxVersion: all[all.length - 1] };
}

/** The client-certificate verdict of a connection, awaited before its first request is served. */
export const VERDICT = Symbol("bobcat.clientVerdict");
export type CheckedSocket = TLSSocket & { [VERDICT]?: Promise<boolean> };

export function secureOptions(h: TlsHost) {
  return {
    ...(h.trust && h.trust.caPems.length > 0 ? { ca: h.trust.caPems } : {}),
    key: h.certs.map((c) => c.keyPem),
    cert: h.certs.map((c) => c.certPem),
    minVersion: h.versions[0],
    maxVersion: h.versions[h.versions.length - 1],
    // Node takes TLS 1.3 suites (TLS_...) in the same string; BoringSSL (Bun) never gets them.
    ciphers: [h.ciphers.tls12 ?? MODERN_TLS12_CIPHERS, ...(h.ciphers.tls13 ?? [])].join(":"),
    honorCipherOrder: h.config.honorCipherOrder,
    ...(h.config.disableSessionTickets ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
    sessionTimeout: h.config.sessionTimeout,
  } as const;
}

/** One stapler per certificate that names an OCSP responder (unless ocspStapling is false). */
export async function startStaplers(connector: string, tls: { hosts: TlsHost[] }): Promise<Map<string, OcspStapler>> {
  const out = new Map<string, OcspStapler>();
  for (const h of tls.hosts) {
    if (h.config.ocspStapling === false) continue;
    for (const cert of h.certs) {
      const [leaf, issuer] = cert.chain;
      if (!leaf || !ocspUrlOf(leaf)) continue;
      if (!issuer) {
        const text =
          `${connector} SSLHostConfig "${h.hostName}": cannot staple OCSP for ${leaf.subject}: its issuer certificate is not in the chain (add certificateChainFile)`;
        if (h.config.ocspStapling) {
          throw new BobcatError("tls.staplingNoIssuer", text, {
            fix: "give the intermediate/issuer certificate in certificateChainFile or in the keystore entry's chain",
          });
        }
        log.warn(text);
        continue;
      }
      const stapler = new OcspStapler(leaf, issuer);
      // A responder that is down now does not stop start-up: the stapler retries in the background.
      const ok = await stapler.start();
      log.info(
        `${connector} SSLHostConfig "${h.hostName}": OCSP stapling for ${leaf.subject} via ${stapler.url}${
          ok ? "" : " (no response yet; retrying)"
        }`,
      );
      out.set(Buffer.from(leaf.rawData).toString("hex"), stapler);
    }
  }
  return out;
}

/** ACME TLS-ALPN-01: the challenge certificate and key for a name being validated, if any. */
export type AcmeTlsAlpnAnswer = (name: string) => { certPem: string; keyPem: string } | undefined;

/**
 * ACME TLS-ALPN-01 (RFC 8737) on a node:tls server: while a name is being validated, its SNI
 * name gets the challenge certificate and a client offering `acme-tls/1` (the CA's validator)
 * has it chosen. The SNI callback runs before the ALPN one on Bun and Deno, so another client of
 * that name in those seconds cannot get the real certificate: its handshake is refused with
 * no_application_protocol instead of serving the challenge certificate to it.
 */
export function acmeTlsAlpnHooks(answer: AcmeTlsAlpnAnswer) {
  const cache = new Map<string, { certPem: string; context: SecureContext }>();
  const lookup = (servername: string | undefined) => {
    const name = servername?.toLowerCase().replace(/\.$/, "");
    const a = name ? answer(name) : undefined;
    if (!a) {
      if (name) cache.delete(name);
      return undefined;
    }
    let c = cache.get(name!);
    if (c?.certPem !== a.certPem) {
      c = { certPem: a.certPem, context: createSecureContext({ key: a.keyPem, cert: a.certPem }) };
      cache.set(name!, c);
    }
    return c.context;
  };
  return {
    /** The challenge context for an SNI name being validated (undefined: the host's own). */
    context: lookup,
    /** The protocol to agree; `normal` decides for connections that are not a validation. */
    protocol(o: { servername?: string; protocols: string[] }, normal: (protocols: string[]) => string | undefined) {
      if (!lookup(o.servername)) return normal(o.protocols);
      if (o.protocols.includes("acme-tls/1")) {
        logger("acme").debug(`answering an acme-tls/1 validation for ${o.servername}`);
        return "acme-tls/1";
      }
      return undefined;
    },
  };
}
