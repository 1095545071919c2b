/** What every back-end returns for a listening connector, and the errors listening can raise. */
import type { ConnectorConfig } from "../config/model.ts";
import { sourceOf } from "../config/validate.ts";
import { BobcatError } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import { errorPage } from "../core/error-page.ts";
import type { ConnectorPipeline } from "./connector.ts";
import type { ConnectorTls } from "./tls-material.ts";
import type { RuntimeName } from "../util/runtime.ts";
import { env } from "../util/host/proc.ts";

export interface Listener {
  /** The bound port (the real one when the config said 0). */
  readonly port: number;
  /** Stop accepting connections; requests in flight go on. */
  stopAccepting(): Promise<void>;
  /** Close every connection now. */
  closeAll(): Promise<void>;
  /**
   * New keys and certificates (Tomcat's reloadSslHostConfigs): new handshakes use them,
   * connections and requests in flight go on undisturbed.
   */
  reloadTls(tls: ConnectorTls): Promise<void>;
}

/** `<UpgradeProtocol className="...Http2Protocol">` on the connector: h2 is offered by ALPN (TLS only). */
export function wantsHttp2(c: ConnectorConfig): boolean {
  return (c.upgradeProtocols ?? []).some((u) => u.className === "Http2Protocol");
}

/**
 * The node server the node-compat back-end runs a connector on. TLS without Http2Protocol is
 * HTTP/1.1 only: bobcat's own HTTP/1.1 layer on `node:tls` sockets (h1-server.ts). With
 * BOBCAT_NODE_HTTP=1 (see ownH1), Deno and Node take `node:https` there (3–4× the requests per
 * CPU-second of node:http2's compatibility API, the same TLS socket under each request); Bun's
 * `node:https` is its native HTTP server, whose requests have no TLS socket (no peer
 * certificate, no SNICallback): Bun keeps `node:http2`, as do connectors with Http2Protocol.
 */
export function compatServer(
  c: ConnectorConfig,
  runtime: RuntimeName,
  tls?: ConnectorTls,
): "node:http" | "node:https" | "node:http2" | "node:tls" | "Bun.listen" {
  if (!c.SSLEnabled) return "node:http";
  if (wantsHttp2(c)) return "node:http2";
  if (ownH1()) return runtime === "bun" && tls && !bunListenBlocker(c, tls) ? "Bun.listen" : "node:tls";
  return runtime === "bun" ? "node:http2" : "node:https";
}

/**
 * Why bobcat's HTTP/1.1 layer cannot run on Bun.listen's TLS sockets (bun-listen.ts) for this
 * connector, or undefined when it can. Bun.listen takes one TLS context: no SNI choice (no
 * SNICallback, no per-name contexts), no ALPN callback (ACME TLS-ALPN-01), no reason for a
 * failed handshake beyond a certificate error (handshake debug logging), no cipher order or
 * session lifetime, and gives no node socket to hand to the WebSocket layer. Those connectors
 * keep node:tls; BOBCAT_BUN_LISTEN=0 keeps every connector there.
 */
export function bunListenBlocker(c: ConnectorConfig, tls: ConnectorTls): string | undefined {
  if (env("BOBCAT_BUN_LISTEN") === "0") return "BOBCAT_BUN_LISTEN=0";
  if (tls.hosts.length !== 1) return "several SSLHostConfigs (chosen by SNI)";
  const h = tls.hosts[0]!;
  if (c.webSocketEnabled) return "WebSocket upgrades";
  if (h.config.acme) return "ACME certificates";
  if (h.versions.some((v) => v !== "TLSv1.2" && v !== "TLSv1.3")) return "protocols below TLSv1.2";
  if (h.ciphers.tls13) return "a TLS 1.3 cipherSuites restriction";
  if (h.config.honorCipherOrder) return "honorCipherOrder";
  if (h.config.sessionTimeout !== 86400) return "a sessionTimeout other than 86400";
  if (h.config.ocspStapling === true) return "OCSP stapling";
  if (logger("handshake").enabled("debug")) return "handshake debug logging";
  return undefined;
}

/**
 * Whether TLS connectors without Http2Protocol run bobcat's own HTTP/1.1 layer (h1-server.ts)
 * on node:tls sockets instead of node:https/node:http2: 2–3× the requests per CPU-second, the
 * same TLS setup. BOBCAT_NODE_HTTP=1 selects node's HTTP servers again.
 */
export function ownH1(): boolean {
  return env("BOBCAT_NODE_HTTP") !== "1";
}

/** The start-up log's name for a node-compat connector's server. */
export function compatServerLabel(c: ConnectorConfig, runtime: RuntimeName, tls?: ConnectorTls): string {
  const s = compatServer(c, runtime, tls);
  return s === "node:tls" || s === "Bun.listen" ? `bobcat HTTP/1.1 on ${s}` : s;
}

/** What a connector negotiates, for the start-up log and convert. */
export function negotiates(c: ConnectorConfig): string {
  if (!c.SSLEnabled) return "HTTP/1.1 (h2 needs TLS here: no h2c)";
  return wantsHttp2(c) ? "h2 and http/1.1 by ALPN" : "http/1.1 only (no Http2Protocol UpgradeProtocol)";
}

export interface BackendOptions {
  config: ConnectorConfig;
  tls?: ConnectorTls;
  pipeline: ConnectorPipeline;
}

/** Modern TLS 1.2 suites (forward secrecy + AEAD only), Tomcat's default minus static RSA. */
export const MODERN_TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/**
 * An error that escaped the engine, caught by the runtime's server: the message goes to the
 * log, the client gets the 500 page without it (it may name files, hosts or internals).
 */
export function uncaughtError(e: unknown, c: ConnectorConfig): Response {
  logger("connector").error(`${c.name}: request failed: ${(e as Error)?.stack ?? e}`);
  return errorPage(
    500,
    "The server encountered an unexpected condition that prevented it from fulfilling the request.",
  );
}

/** Turns the runtime's bind error into one that names the connector and says what to do. */
export function listenError(e: unknown, c: ConnectorConfig): Error {
  const err = e as { code?: string; name?: string; message?: string };
  const text = `${err.code ?? ""} ${err.name ?? ""} ${err.message ?? ""}`;
  const where = sourceOf(c).attr("port");
  const addr = `${c.address ?? "0.0.0.0"}:${c.port}`;
  if (/EADDRINUSE|AddrInUse|address already in use|in use/i.test(text)) {
    return new BobcatError("listen.inUse", `connector ${c.name}: port ${c.port} is already in use (${addr})`, {
      where,
      fix: `stop the process that holds it (see: ss -ltnp 'sport = :${c.port}') or choose another port`,
      cause: e,
    });
  }
  if (/EACCES|PermissionDenied|permission denied/i.test(text)) {
    return new BobcatError(
      "listen.permission",
      `connector ${c.name}: no permission to bind ${addr}${c.port < 1024 ? " (ports below 1024 are privileged)" : ""}`,
      {
        where,
        fix: c.port < 1024
          ? "use a port of 1024 or more and forward 80/443 to it (iptables, a proxy), or allow binding low ports: sudo setcap 'cap_net_bind_service=+ep' $(command -v bobcat)"
          : "check that the address belongs to this machine and that you may bind it",
        cause: e,
      },
    );
  }
  if (/EADDRNOTAVAIL|AddrNotAvailable|not available|cannot assign/i.test(text)) {
    return new BobcatError(
      "listen.address",
      `connector ${c.name}: address ${c.address} is not an address of this machine`,
      {
        where: sourceOf(c).attr("address"),
        fix: "use an address of one of this machine's interfaces, or remove address to listen on all",
        cause: e,
      },
    );
  }
  return new BobcatError("listen.failed", `connector ${c.name}: cannot listen on ${addr}: ${err.message ?? e}`, {
    where,
    cause: e,
  });
}

/**
 * Binds a connector's port again after a TLS reload released it (the native back-ends cannot swap
 * certificates on a live listener). The port can take a moment to come free, so this retries every
 * 20 ms, 50 times (about a second), and then fails with the bind's error; `giveUp` runs first.
 */
export async function rebind<T>(bind: () => T, config: ConnectorConfig, giveUp?: () => void): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return bind();
    } catch (e) {
      if (attempt >= 70) {
        giveUp?.();
        throw listenError(e, config);
      }
      // The old socket is usually free within a millisecond or two: retry soon, then less often.
      await new Promise((r) => setTimeout(r, attempt < 20 ? 1 : 20));
    }
  }
}
