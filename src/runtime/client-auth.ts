/**
 * Client-certificate checks after the TLS stack's own: Tomcat's certificateVerification modes
 * when SNI hosts differ, certificateVerificationDepth, CRLs and (when configured) OCSP. A
 * connection that fails is closed before any request on it is served.
 */
import type { X509Certificate } from "@peculiar/x509";
import type { SSLHostConfig } from "../config/model.ts";
import type { ClientTrust } from "../tls/trust.ts";
import type { OcspChecker } from "../tls/ocsp/checker.ts";
import type { TlsInfo } from "../core/context.ts";
import { logger } from "../util/log.ts";

export interface ClientAuthPolicy {
  config: SSLHostConfig;
  trust?: ClientTrust;
  /** Extra asynchronous check of the chain (OCSP); resolves to a reason to refuse, or null. */
  revocation?: (chain: X509Certificate[]) => Promise<string | null>;
}

/** No certificate sent: Node reports it as one of these. */
const NO_CERT = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "ERR_TLS_CERT_NO_PEER",
  undefined as unknown as string,
]);

/** What the TLS stack said of the chain (a node TLSSocket has both). */
export interface StackVerdict {
  authorized: boolean;
  authorizationError?: unknown;
}

/** Returns null when the connection may go on, else the reason it is refused. */
export async function checkClient(
  socket: StackVerdict,
  chain: X509Certificate[],
  policy: ClientAuthPolicy,
): Promise<string | null> {
  const mode = policy.config.certificateVerification;
  if (mode === "none") return null;
  if (chain.length === 0) {
    return mode === "required" ? "no client certificate was sent and certificateVerification is required" : null;
  }
  if (mode !== "optionalNoCA" && !socket.authorized) {
    const err = String(socket.authorizationError ?? "");
    if (NO_CERT.has(err) && chain.length === 0) return null;
    return `the client certificate (${chain[0]!.subject}) is not trusted: ${err}`;
  }
  if (chain.length > policy.config.certificateVerificationDepth + 1) {
    return `the client certificate chain has ${chain.length} certificates, more than certificateVerificationDepth ${policy.config.certificateVerificationDepth} allows`;
  }
  for (const crl of policy.trust?.crls ?? []) {
    for (const cert of chain) {
      if (cert.issuer !== crl.issuer) continue;
      const entry = crl.findRevoked(cert);
      if (entry) {
        return `the client certificate ${cert.subject} (serial ${cert.serialNumber}) is revoked by the CRL of ${crl.issuer}`;
      }
    }
  }
  return policy.revocation ? policy.revocation(chain) : null;
}

/**
 * The chain handlers and CLIENT-CERT may rely on: only one the TLS stack verified against the
 * trust anchors of the connection's SSLHostConfig (optional or required) after `checkClient`
 * let it through. `optionalNoCA` and `none` never yield one, whatever the client sent.
 */
export function verifiedChain(
  socket: StackVerdict,
  chain: X509Certificate[],
  mode: SSLHostConfig["certificateVerification"],
): X509Certificate[] {
  return (mode === "optional" || mode === "required") && socket.authorized === true ? chain : [];
}

/** What the verdict needs of the connection's SSLHostConfig (tls-material.ts's TlsHost). */
export interface ClientAuthHost {
  config: SSLHostConfig;
  trust?: ClientTrust;
  ocsp?: Pick<OcspChecker, "check">;
}

/**
 * The verdict on a connection once its handshake completed, the same on every socket layer of
 * bobcat's HTTP/1.1 (node:tls, Bun.listen): `checkClient` with the host's OCSP checker; when the
 * connection may go on, the chain handlers and CLIENT-CERT see is set in `info`; when it may not,
 * the refusal is logged (handshake) and `close` called. Resolves to whether it may go on.
 */
export function clientVerdict(
  stack: StackVerdict,
  info: TlsInfo,
  host: ClientAuthHost,
  who: { connector: string; peer: string },
  close: () => void,
): Promise<boolean> {
  const chain = info.unverifiedPeerCertificates ?? [];
  const ocsp = host.ocsp;
  const revocation = ocsp
    ? async (c: X509Certificate[]) => {
      const r = await ocsp.check(c);
      return r.ok ? null : `OCSP: ${r.reason}`;
    }
    : undefined;
  const mode = host.config.certificateVerification;
  return checkClient(stack, chain, { config: host.config, trust: host.trust, revocation }).then(
    (reason) => {
      if (!reason) {
        // Handlers and CLIENT-CERT see only a chain verified against this host's trust.
        info.peerCertificates = verifiedChain(stack, chain, mode);
        if (mode === "none") info.unverifiedPeerCertificates = [];
        return true;
      }
      logger("handshake").info(`${who.connector}: refused client ${who.peer}: ${reason}`);
      close();
      return false;
    },
    (e) => {
      logger("connector").error(`${who.connector}: client certificate check failed: ${(e as Error).message}`);
      close();
      return false;
    },
  );
}
