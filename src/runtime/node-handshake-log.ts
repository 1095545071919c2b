/** Handshake-failure logging of the node-compatibility back-end. */
import type { TLSSocket } from "node:tls";
import { logger } from "../util/log.ts";
import type { TlsHost } from "./tls-material.ts";
import { sniLookup } from "./sni.ts";

/**
 * The counterpart of Tomcat's NioEndpoint.handshake debug log: who failed, for which SNI host,
 * against which protocols, and why. Native back-ends never see failed handshakes, so this
 * logging level selects the node-compat back-end.
 */
export function logHandshakeFailure(
  connector: string,
  tls: { hosts: TlsHost[]; defaultHost: TlsHost },
  err: Error & { code?: string },
  socket: TLSSocket,
): void {
  const hlog = logger("handshake");
  if (!hlog.enabled("debug")) return;
  const sni = (socket as { servername?: string | false }).servername || undefined;
  const host = sniLookup(new Map(tls.hosts.map((h) => [h.hostName, h])), tls.defaultHost, sni);
  const enabled = host.versions.join("+");
  // Deno's node:tls keeps the TCP peer on _parent only.
  const peer = socket.remoteAddress !== undefined
    ? socket
    : ((socket as { _parent?: { remoteAddress?: string; remotePort?: number } })._parent ?? socket);
  const why = handshakeFailureReason(err);
  const reason = why === "protocol"
    ? `the client offered no protocol this host enables (enabled: ${enabled})`
    : why === "cipher"
    ? `no cipher suite or signature algorithm in common (protocols enabled: ${enabled})`
    : why === "client_closed"
    ? "the client closed the connection during the handshake"
    : `protocols enabled: ${enabled}`;
  hlog.debug(
    `${connector}: Handshake failed for client connection from IP address [${peer.remoteAddress}] and port [${peer.remotePort}], SNI [${
      sni ?? "none"
    }] (SSLHostConfig ${host.hostName}): ${reason} — ${err.code ?? ""} ${err.message}`,
  );
}

/** Why a handshake failed, as a bounded label: the metrics' reason and the debug log's sentence. */
export function handshakeFailureReason(err: Error & { code?: string }): string {
  const text = `${err.code} ${err.message}`;
  // Deno says SignatureAlgorithmsExtensionRequired to a TLS 1.0/1.1 ClientHello: a protocol matter.
  if (
    /UNSUPPORTED_PROTOCOL|WRONG_VERSION|VERSION_TOO_LOW|PROTOCOL_VERSION|SignatureAlgorithmsExtensionRequired|UnsupportedVersion/i
      .test(text)
  ) {
    return "protocol";
  }
  if (/NO_SHARED_CIPHER|HANDSHAKE_FAILURE|NO_CIPHERS|peer is incompatible|SignatureAlgorithms/i.test(text)) {
    return "cipher";
  }
  if (/CERTIFICATE|CERT_|UNKNOWN_CA|BAD_CERT/i.test(text)) return "certificate";
  if (/ECONNRESET|socket hang up|EPIPE|closed/i.test(text)) return "client_closed";
  return "other";
}
