/**
 * The node-compatibility back-end: `node:http` for plain connectors; for TLS connectors that
 * are HTTP/1.1 only, bobcat's own HTTP/1.1 layer (h1-server.ts) on a `node:tls` server (on Bun,
 * on Bun.listen's TLS sockets where they can serve the connector: bun-listen.ts) (with
 * BOBCAT_NODE_HTTP=1: `node:https` on Deno and Node, `node:http2` on Bun), else `node:http2`
 * `createSecureServer({ allowHTTP1: true })` (see compatServer: Bun's node:https loses the TLS
 * surface). It runs on Bun, Deno and Node and is the one that sees the TLS socket (SNI
 * callbacks, peer certificates, protocol and cipher, connection counts).
 */
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createSecureServer, type Http2ServerRequest } from "node:http2";
import { createSecureContext, createServer as createTlsServer, type SecureContext, type TLSSocket } from "node:tls";
import { createServer as createNetServer, type Socket } from "node:net";
import { logger } from "../util/log.ts";
import { type BackendOptions, compatServer, type Listener, listenError, wantsHttp2 } from "./listener.ts";
import type { TlsHost } from "./tls-material.ts";
import { clientVerdict } from "./client-auth.ts";
import { tlsInfoOf } from "./tls-info.ts";
import { sniLookup } from "./sni.ts";
import type { OcspStapler } from "../tls/ocsp/index.ts";
import { RUNTIME } from "../util/runtime.ts";
import { ConnectionGate, type GatedConnection } from "../core/limiter.ts";
import {
  acmeTlsAlpnHooks,
  type CheckedSocket,
  secureOptions,
  serverSecureOptions,
  startStaplers,
  VERDICT,
} from "./node-tls.ts";
import { handshakeFailureReason, logHandshakeFailure } from "./node-handshake-log.ts";
import { type AnyReq, type AnyRes, serve } from "./node-bridge.ts";
import { serveUpgrade } from "./ws-node.ts";
import { installDenoUpgrade } from "./ws-deno.ts";
import type { IncomingMessage } from "node:http";
import type { UpgradeRequest } from "./h1-server.ts";
import { sharesPorts } from "./worker-env.ts";
import { DEFAULT_MAX_HEAD, serveH1 } from "./h1-server.ts";
import { startBunListenH1 } from "./bun-listen.ts";

const log = logger("connector");

export async function startNodeCompat({ config, tls, pipeline }: BackendOptions): Promise<Listener> {
  const kind = compatServer(config, RUNTIME, tls);
  // Bun: the same HTTP/1.1 layer on Bun.listen's native TLS sockets where they can serve the connector.
  if (kind === "Bun.listen") return startBunListenH1({ config, tls, pipeline });
  // bobcat accepts every TCP connection itself (before TLS) so that maxConnections, acceptCount
  // and connectionTimeout hold on every runtime: the node:http/http2 servers' own counters and
  // timeouts do not work on Bun's and Deno's node layers.
  const states = new WeakMap<object, GatedConnection<Socket>>();
  const gate = new ConnectionGate<Socket>({
    maxConnections: config.maxConnections,
    acceptCount: config.acceptCount,
    timeoutMs: config.connectionTimeout,
    start: (g) => {
      states.set(g.conn, g);
      g.conn.once("close", () => gate.closed(g));
      // Deno's TLS sockets otherwise wait for delayed ACKs on every response of a few KB (Nagle).
      g.conn.setNoDelay?.(true);
      server.emit("connection", g.conn);
      g.conn.resume();
    },
    kill: (g) => {
      for (const s of [g.conn, ...((g as { tls?: Socket }).tls ? [(g as { tls?: Socket }).tls!] : [])]) s.destroy();
    },
    refuse: (s) => s.destroy(),
    onFull: (held) =>
      log.warn(
        `${config.name}: maxConnections (${config.maxConnections}) reached; holding up to ${config.acceptCount} more connections unread (acceptCount)${
          held ? `, ${held} held` : ""
        }`,
      ),
    onRefused: (s) =>
      log.debug(
        `${config.name}: maxConnections and acceptCount full; closed a new connection from ${s.remoteAddress}:${s.remotePort}`,
      ),
    onTimeout: (g, idle) =>
      log.debug(
        `${config.name}: closed a connection from ${g.conn.remoteAddress}:${g.conn.remotePort} after ${idle} ms without a request (connectionTimeout ${config.connectionTimeout} ms)`,
      ),
  });
  /** The gate's record of the TCP connection under a request's socket (TLS sockets keep it on _parent). */
  const stateOf = (
    s: object | undefined,
  ) => (s ? (states.get(s) ?? states.get((s as { _parent?: object })._parent ?? s)) : undefined);
  const onRequest = (req: AnyReq, res: AnyRes) => {
    const h2 = req.httpVersionMajor === 2;
    const g = stateOf(h2 ? ((req as Http2ServerRequest).stream?.session?.socket ?? req.socket) : req.socket);
    if (g) res.once("close", gate.busy(g));
    void serve(req, res, tls ? "https" : "http", pipeline.handleSync, config.connectionTimeout);
  };
  let server:
    | ReturnType<typeof createTlsServer>
    | ReturnType<typeof createHttpServer>
    | ReturnType<typeof createHttpsServer>
    | ReturnType<typeof createSecureServer>;
  /** Current TLS material by SNI host; replaced as a whole by a reload. */
  let contexts = new Map<string, SecureContext>();
  let hosts = new Map<string, TlsHost>();
  let fallback: SecureContext | undefined;
  let current = tls;
  const install = (t: NonNullable<typeof tls>) => {
    const nextContexts = new Map<string, SecureContext>();
    const nextHosts = new Map<string, TlsHost>();
    for (const h of t.hosts) {
      nextContexts.set(h.hostName, createSecureContext(secureOptions(h)));
      nextHosts.set(h.hostName, h);
    }
    [contexts, hosts, fallback, current] = [nextContexts, nextHosts, nextContexts.get(t.defaultHost.hostName)!, t];
  };
  // ACME TLS-ALPN-01: the CA's validation handshake gets the challenge certificate, then is closed.
  const acmeAlpn = tls && pipeline.acmeTlsAlpn ? acmeTlsAlpnHooks(pipeline.acmeTlsAlpn) : undefined;
  if (tls) {
    install(tls);
    const modes = new Set(tls.hosts.map((h) => h.config.certificateVerification));
    const requestCert = tls.hosts.some((h) => h.config.certificateVerification !== "none");
    const options = {
      ...serverSecureOptions(tls),
      requestCert,
      // With one mode for every host the TLS stack refuses a missing or untrusted certificate
      // in the handshake itself; mixed modes are enforced right after it, per SNI host.
      rejectUnauthorized: modes.size === 1 && modes.has("required"),
      SNICallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) =>
        cb(null, acmeAlpn?.context(servername) ?? sniLookup(contexts, fallback!, servername)),
      // node:http2 always offers h2; without Http2Protocol only http/1.1 is agreed, as Tomcat does.
      ...(acmeAlpn
        ? {
          ALPNCallback: (o: { servername?: string; protocols: string[] }) =>
            acmeAlpn.protocol(o, (p) => wantsHttp2(config) && p.includes("h2") ? "h2" : "http/1.1"),
        }
        : wantsHttp2(config)
        ? {}
        : { ALPNCallback: () => "http/1.1" }),
    };
    // node:tls: bobcat's own HTTP/1.1 (h1-server.ts) on the same TLS sockets, same options.
    server = kind === "node:tls"
      ? createTlsServer(options as Parameters<typeof createTlsServer>[0])
      : kind === "node:https"
      ? createHttpsServer(options as Parameters<typeof createHttpsServer>[0])
      : createSecureServer({ allowHTTP1: true, ...options } as Parameters<typeof createSecureServer>[0]);
    if (acmeAlpn) server.on("secureConnection", (s: TLSSocket) => s.alpnProtocol === "acme-tls/1" && s.end());
    server.on(
      "tlsClientError",
      (err: Error & { code?: string }, socket: TLSSocket) => logHandshakeFailure(config.name, current!, err, socket),
    );
    // Before any request is read: a protocol the SNI host does not enable ends the connection.
    server.on("secureConnection", (socket: CheckedSocket) => {
      const host = sniLookup(hosts, current!.defaultHost, (socket as { servername?: string }).servername);
      const protocol = socket.getProtocol?.();
      if (protocol && !(host.versions as string[]).includes(protocol)) {
        logger("handshake").info(
          `${config.name}: refused client ${socket.remoteAddress}:${socket.remotePort}: ${protocol} is not enabled for SSLHostConfig ${host.hostName} (enabled: ${
            host.versions.join("+")
          })`,
        );
        socket[VERDICT] = Promise.resolve(false);
        socket.destroy();
      }
    });
    if (requestCert) {
      server.on("secureConnection", (socket: CheckedSocket) => {
        if (socket.destroyed) return;
        const host = sniLookup(hosts, current!.defaultHost, (socket as { servername?: string }).servername);
        socket[VERDICT] = clientVerdict(
          socket,
          tlsInfoOf(socket),
          host,
          { connector: config.name, peer: `${socket.remoteAddress}:${socket.remotePort}` },
          () => socket.destroy(),
        );
      });
    }
  } else {
    server = createHttpServer();
  }
  server.on("request", onRequest as never);
  // The server never listens itself (the acceptor does), and Deno's node:http destroys a
  // keep-alive connection after each response when its server is not `listening`: every request
  // would pay a full TLS handshake. It listens, for that purpose, as long as the acceptor does.
  let accepting = false;
  Object.defineProperty(server, "listening", { get: () => accepting, configurable: true });
  // For /metrics: this back-end sees every connection and every TLS handshake.
  let handshakes = 0;
  const handshakeFailures: Record<string, number> = {};
  if (tls) {
    server.on("secureConnection", () => void handshakes++);
    server.on("tlsClientError", (err: Error & { code?: string }) => {
      const r = handshakeFailureReason(err);
      handshakeFailures[r] = (handshakeFailures[r] ?? 0) + 1;
    });
  }
  pipeline.backendStats = () => ({
    open: gate.size,
    refused: gate.refused,
    timedOut: gate.timedOut,
    ...(tls ? { handshakes, handshakeFailures: { ...handshakeFailures } } : {}),
  });
  const hub = pipeline.webSockets;
  let upgrade: ((req: UpgradeRequest, socket: Socket, head: Buffer) => void) | undefined;
  if (hub) {
    if (RUNTIME === "deno") installDenoUpgrade();
    // An upgraded connection counts as busy: connectionTimeout does not close it, the WebSocket limits do.
    upgrade = (req: IncomingMessage | UpgradeRequest, socket: Socket, head: Buffer) => {
      const g = stateOf(socket);
      if (g) socket.once("close", gate.busy(g));
      const tlsSocket = tls ? (socket as CheckedSocket) : undefined;
      void serveUpgrade(req as IncomingMessage, socket, head, {
        scheme: tls ? "https" : "http",
        handle: pipeline.handle,
        hub,
        tls: tlsSocket && typeof tlsSocket.getProtocol === "function" ? tlsInfoOf(tlsSocket) : undefined,
        verdict: tlsSocket?.[VERDICT],
      });
    };
    server.on("upgrade", upgrade);
  }
  if (tls) {
    server.on("secureConnection", (s: TLSSocket) => {
      const g = stateOf(s);
      if (g) {
        states.set(s, g);
        (g as { tls?: Socket }).tls = s;
      }
    });
  }
  if (kind === "node:tls") {
    // Registered last: the protocol check, the client-certificate verdict and the gate's
    // record of the TLS socket are in place when the first request is read.
    server.on("secureConnection", (s: CheckedSocket) => {
      if (s.destroyed || s.alpnProtocol === "acme-tls/1") return;
      const g = stateOf(s);
      serveH1(s, {
        scheme: "https",
        handle: pipeline.handleSync,
        readTimeoutMs: config.connectionTimeout,
        maxHeadSize: DEFAULT_MAX_HEAD,
        tls: typeof s.getProtocol === "function" ? () => tlsInfoOf(s) : undefined,
        verdict: s[VERDICT],
        started: g ? () => gate.started(g) : () => {},
        ended: g ? () => gate.ended(g) : () => {},
        upgrade,
      });
    });
  }
  // Only Node emits OCSPRequest (Bun's and Deno's node:tls do not): stapling lives here and nowhere else.
  let staplers = new Map<string, OcspStapler>();
  if (tls && RUNTIME === "node") {
    staplers = await startStaplers(config.name, tls);
    server.on("OCSPRequest", (cert: Buffer, _issuer: Buffer, cb: (err: Error | null, resp?: Buffer) => void) => {
      const der = staplers.get(cert.toString("hex"))?.current();
      cb(null, der ? Buffer.from(der) : undefined);
    });
  }
  const acceptor = createNetServer({ pauseOnConnect: true }, (s) => gate.accept(s));
  await new Promise<void>((resolve, reject) => {
    acceptor.once("error", (e) => reject(listenError(e, config)));
    // server.workers > 1: SO_REUSEPORT, so every worker listens on the port (Node 23.1+, Bun, Deno).
    const share = sharesPorts() ? { reusePort: true, exclusive: false } : {};
    acceptor.listen({ port: config.port, host: config.address ?? "0.0.0.0", ...share }, () => resolve());
  });
  accepting = true;
  const addr = acceptor.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : config.port,
    stopAccepting: async () => {
      acceptor.close();
      accepting = false;
      gate.stopAccepting();
      // Idle keep-alive connections end now; connections with a request in flight finish it first.
      for (const g of gate.connections()) if (g.inflight === 0) ((g as { tls?: Socket }).tls ?? g.conn).end();
    },
    closeAll: async () => {
      gate.closeAll();
      for (const st of staplers.values()) st.stop();
    },
    reloadTls: async (next) => {
      install(next);
      if (RUNTIME === "node") {
        const old = staplers;
        staplers = await startStaplers(config.name, next);
        for (const st of old.values()) st.stop();
      }
      // The default context also serves clients without SNI (setSecureContext is per server).
      (server as { setSecureContext?: (o: object) => void }).setSecureContext?.(serverSecureOptions(next));
    },
  };
}
