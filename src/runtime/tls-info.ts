/**
 * What a handler may know about its TLS connection (node-compat back-end only): the peer's
 * certificate chain, a session id, protocol, cipher and SNI name. Computed once per connection
 * and kept on the socket. The chain starts out as unverified only; the client-certificate check
 * moves it to `peerCertificates` when it was verified against the SNI host's trust.
 */
import { createHash } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { X509Certificate } from "@peculiar/x509";
import type { TlsInfo } from "../core/context.ts";
import { x509 } from "../tls/keystore/x509.ts";

const INFO = Symbol("bobcat.tlsInfo");
type Tagged = TLSSocket & { [INFO]?: TlsInfo };

/**
 * Parsed certificates by SHA-256 fingerprint: every connection of the same client (and every
 * client under the same CA) presents the same DER, parsed once. Bounded: cleared when full.
 */
const parsed = new Map<string, X509Certificate>();
const PARSED_MAX = 1024;

function parsedCert(fingerprint: string, raw: Uint8Array): X509Certificate {
  let c = parsed.get(fingerprint);
  if (!c) {
    if (parsed.size >= PARSED_MAX) parsed.clear();
    c = new x509.X509Certificate(new Uint8Array(raw));
    parsed.set(fingerprint, c);
  }
  return c;
}

/** Leaf first, as getPeerCertificate(true) links them; empty when the client sent none. */
export function peerChain(socket: TLSSocket): X509Certificate[] {
  return linkedChain(socket.getPeerCertificate?.(true));
}

type LinkedCert = { raw?: Uint8Array; fingerprint256: string; issuerCertificate?: unknown };

/** The certificates of a detailed peer certificate, leaf first, following issuerCertificate. */
export function linkedChain(first: object | null | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c = first as LinkedCert | undefined;
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(c.fingerprint256 ? parsedCert(c.fingerprint256, c.raw) : new x509.X509Certificate(new Uint8Array(c.raw)));
    c = c.issuerCertificate as LinkedCert | undefined;
  }
  return out;
}

/**
 * Tomcat's `jakarta.servlet.request.ssl_session_id`, as lower-case hex. TLS 1.3 has no session id
 * on the wire, so bobcat derives one per connection: keying material exported for a bobcat
 * label (Bun, Node), or a hash of both Finished messages where that API is missing (Deno).
 * It is stable for the life of the connection; a resumed or new connection gets a new one.
 */
export function sslSessionIdOf(
  socket: Partial<Pick<TLSSocket, "exportKeyingMaterial" | "getFinished" | "getPeerFinished">>,
): string | undefined {
  try {
    if (typeof socket.exportKeyingMaterial === "function") {
      return socket.exportKeyingMaterial(32, "EXPORTER-bobcat-ssl-session-id", Buffer.alloc(0)).toString("hex");
    }
    const mine = socket.getFinished?.();
    const peer = socket.getPeerFinished?.();
    if (mine && peer) return createHash("sha256").update(mine).update(peer).digest("hex");
  } catch {
    // A socket closed under us has no keying material: no id.
  }
  return undefined;
}

/** What tlsInfoOf reads of a Bun.listen TLS socket (bun-listen.ts). */
export interface BunTlsSocket {
  getTLSVersion(): string;
  getCipher(): { name?: string; standardName?: string } | null;
  getServername(): string | undefined;
  exportKeyingMaterial: TLSSocket["exportKeyingMaterial"];
  /** Bun's argument means "abbreviated": false links the verified chain by issuerCertificate. */
  getPeerCertificate(abbreviated?: boolean): object | null | undefined;
}

/** tlsInfoOf for a Bun.listen socket: the same fields, from Bun's socket API. */
export function bunTlsInfoOf(socket: BunTlsSocket): TlsInfo {
  const cipher = socket.getCipher?.();
  return {
    protocol: socket.getTLSVersion?.() || undefined,
    cipherSuite: cipher?.standardName ?? cipher?.name,
    serverName: socket.getServername?.() || undefined,
    sslSessionId: sslSessionIdOf(socket),
    peerCertificates: [],
    unverifiedPeerCertificates: linkedChain(socket.getPeerCertificate(false)),
  };
}

export function tlsInfoOf(socket: TLSSocket): TlsInfo {
  const tagged = socket as Tagged;
  if (tagged[INFO]) return tagged[INFO];
  const cipher = socket.getCipher?.();
  const info: TlsInfo = {
    protocol: socket.getProtocol?.() ?? undefined,
    cipherSuite: cipher?.standardName ?? cipher?.name,
    serverName: (socket as { servername?: string | false }).servername || undefined,
    sslSessionId: sslSessionIdOf(socket),
    // Nothing is trusted until the client-certificate check of the SNI host says so (node-compat).
    peerCertificates: [],
    unverifiedPeerCertificates: peerChain(socket),
  };
  tagged[INFO] = info;
  return info;
}
