/**
 * TLS set-up of the node-compatibility back-end: secure-context options per SSLHostConfig, the
 * per-connection client-certificate verdict, and OCSP stapling (Node only).
 */
import { constants } from "node:crypto";
import type { TLSSocket } from "node:tls";
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
