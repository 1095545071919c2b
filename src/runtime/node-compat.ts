/**
 * The node-compatibility back-end: `node:http` for plain connectors and `node:http2`
 * `createSecureServer({ allowHTTP1: true })` for TLS — not `node:https`, which on Bun loses the
 * TLS surface. It runs on Bun, Deno and Node and is the one that sees the TLS socket
 * (SNI callbacks, peer certificates, protocol and cipher, connection counts).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { constants } from "node:crypto";
import { createServer as createNetServer, type Socket } from "node:net";
import type { ConnectionInfo } from "../core/context.ts";
import { logger } from "../util/log.ts";
import { type BackendOptions, type Listener, listenError, MODERN_TLS12_CIPHERS, wantsHttp2 } from "./listener.ts";
import type { TlsHost } from "./tls-material.ts";
import { checkClient, verifiedChain } from "./client-auth.ts";
import { tlsInfoOf } from "./tls-info.ts";
import { sniLookup } from "./sni.ts";
import { OcspStapler, ocspUrlOf } from "../tls/ocsp/index.ts";
import { RUNTIME } from "./detect.ts";
import { BobcatError } from "../util/errors.ts";
import { parseHost } from "../core/request-target.ts";
import { traceNotAllowed } from "../core/engine.ts";
import { errorPage } from "../core/error-page.ts";
import { ConnectionGate, type GatedConnection } from "../core/limiter.ts";
import { ClientAbortError, isClientBodyError } from "../core/body-limit.ts";
import { serveUpgrade } from "./ws-node.ts";
import { installDenoUpgrade } from "./ws-deno.ts";

/**
 * Options of the server itself, which also serve clients that send no SNI name: the default
 * host's, but with every host's protocol versions, because some TLS stacks (Bun's) keep the
 * server's version range after SNI has picked another host's context. Each connection's protocol
 * is checked against its own host right after the handshake.
 */
function serverSecureOptions(t: { hosts: TlsHost[]; defaultHost: TlsHost }) {
  const all = t.hosts.flatMap((h) => h.versions).sort();
  return { ...secureOptions(t.defaultHost), minVersion: all[0], maxVersion: all[all.length - 1] };
}

/** The client-certificate verdict of a connection, awaited before its first request is served. */
const VERDICT = Symbol("bobcat.clientVerdict");
type CheckedSocket = TLSSocket & { [VERDICT]?: Promise<boolean> };

const log = logger("connector");
type AnyReq = IncomingMessage | Http2ServerRequest;
type AnyRes = ServerResponse | Http2ServerResponse;

/** Methods a web Request cannot have: TRACE as the engine refuses it (allowTrace=false), the others 501. */
const FETCH_FORBIDDEN_METHODS = new Map<string, () => Response>([
  ["TRACE", traceNotAllowed],
  ["TRACK", () => errorPage(501, "The TRACK method is not implemented")],
  ["CONNECT", () => errorPage(501, "The CONNECT method is not implemented")],
]);

/** Headers HTTP/2 forbids; node:http2 throws if a handler's Response carries them. */
const H2_FORBIDDEN = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

function secureOptions(h: TlsHost) {
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

export async function startNodeCompat({ config, tls, pipeline }: BackendOptions): Promise<Listener> {
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
    void serve(req, res, tls ? "https" : "http", pipeline.handle, config.connectionTimeout);
  };
  let server: ReturnType<typeof createHttpServer> | ReturnType<typeof createSecureServer>;
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
  if (tls) {
    install(tls);
    const modes = new Set(tls.hosts.map((h) => h.config.certificateVerification));
    const requestCert = tls.hosts.some((h) => h.config.certificateVerification !== "none");
    server = createSecureServer(
      {
        allowHTTP1: true,
        ...serverSecureOptions(tls),
        requestCert,
        // With one mode for every host the TLS stack refuses a missing or untrusted certificate
        // in the handshake itself; mixed modes are enforced right after it, per SNI host.
        rejectUnauthorized: modes.size === 1 && modes.has("required"),
        SNICallback: (servername, cb) => cb(null, sniLookup(contexts, fallback!, servername)),
        // node:http2 always offers h2; without Http2Protocol only http/1.1 is agreed, as Tomcat does.
        ...(wantsHttp2(config) ? {} : { ALPNCallback: () => "http/1.1" }),
      } as Parameters<typeof createSecureServer>[0],
    );
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
        const info = tlsInfoOf(socket);
        const chain = info.unverifiedPeerCertificates ?? [];
        const ocsp = host.ocsp;
        const revocation = ocsp
          ? async (c: typeof chain) => {
            const r = await ocsp.check(c);
            return r.ok ? null : `OCSP: ${r.reason}`;
          }
          : undefined;
        socket[VERDICT] = checkClient(socket, chain, { config: host.config, trust: host.trust, revocation }).then(
          (reason) => {
            if (!reason) {
              // Handlers and CLIENT-CERT see only a chain verified against this host's trust.
              info.peerCertificates = verifiedChain(socket, chain, host.config.certificateVerification);
              if (host.config.certificateVerification === "none") info.unverifiedPeerCertificates = [];
              return true;
            }
            logger("handshake").info(
              `${config.name}: refused client ${socket.remoteAddress}:${socket.remotePort}: ${reason}`,
            );
            socket.destroy();
            return false;
          },
          (e) => {
            log.error(`${config.name}: client certificate check failed: ${(e as Error).message}`);
            socket.destroy();
            return false;
          },
        );
      });
    }
  } else {
    server = createHttpServer();
  }
  server.on("request", onRequest as never);
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
  if (hub) {
    if (RUNTIME === "deno") installDenoUpgrade();
    // An upgraded connection counts as busy: connectionTimeout does not close it, the WebSocket limits do.
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const g = stateOf(socket);
      if (g) socket.once("close", gate.busy(g));
      const tlsSocket = tls ? (socket as CheckedSocket) : undefined;
      void serveUpgrade(req, socket, head, {
        scheme: tls ? "https" : "http",
        handle: pipeline.handle,
        hub,
        tls: tlsSocket && typeof tlsSocket.getProtocol === "function" ? tlsInfoOf(tlsSocket) : undefined,
        verdict: tlsSocket?.[VERDICT],
      });
    });
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
  // Only Node emits OCSPRequest (runtimes.md): stapling lives here and nowhere else.
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
    acceptor.listen(config.port, config.address ?? "0.0.0.0", () => resolve());
  });
  const addr = acceptor.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : config.port,
    stopAccepting: async () => {
      acceptor.close();
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

/** One stapler per certificate that names an OCSP responder (unless ocspStapling is false). */
async function startStaplers(connector: string, tls: { hosts: TlsHost[] }): Promise<Map<string, OcspStapler>> {
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

/**
 * The counterpart of Tomcat's NioEndpoint.handshake debug log: who failed, for which SNI host,
 * against which protocols, and why. Native back-ends never see failed handshakes, so this
 * logging level selects the node-compat back-end.
 */
function logHandshakeFailure(
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
  const text = `${err.code} ${err.message}`;
  const reason =
    /UNSUPPORTED_PROTOCOL|WRONG_VERSION|VERSION_TOO_LOW|PROTOCOL_VERSION|SignatureAlgorithmsExtensionRequired|UnsupportedVersion/i
        .test(text)
      ? `the client offered no protocol this host enables (enabled: ${enabled})`
      : /NO_SHARED_CIPHER|HANDSHAKE_FAILURE|NO_CIPHERS|peer is incompatible/i.test(text)
      ? `no cipher suite or signature algorithm in common (protocols enabled: ${enabled})`
      : /ECONNRESET|socket hang up/i.test(text)
      ? "the client closed the connection during the handshake"
      : `protocols enabled: ${enabled}`;
  hlog.debug(
    `${connector}: Handshake failed for client connection from IP address [${peer.remoteAddress}] and port [${peer.remotePort}], SNI [${
      sni ?? "none"
    }] (SSLHostConfig ${host.hostName}): ${reason} — ${err.code ?? ""} ${err.message}`,
  );
}

/** A bounded label for a failed handshake (the metrics' reason). */
function handshakeFailureReason(err: Error & { code?: string }): string {
  const text = `${err.code} ${err.message}`;
  if (/UNSUPPORTED_PROTOCOL|WRONG_VERSION|VERSION_TOO_LOW|PROTOCOL_VERSION|UnsupportedVersion/i.test(text)) {
    return "protocol";
  }
  if (/NO_SHARED_CIPHER|HANDSHAKE_FAILURE|NO_CIPHERS|peer is incompatible|SignatureAlgorithms/i.test(text)) {
    return "cipher";
  }
  if (/CERTIFICATE|CERT_|UNKNOWN_CA|BAD_CERT/i.test(text)) return "certificate";
  if (/ECONNRESET|socket hang up|EPIPE|closed/i.test(text)) return "client_closed";
  return "other";
}

/** The TLS socket under a request; HTTP/2 requests reach it through their session. */
function tlsSocketOf(req: AnyReq): CheckedSocket | undefined {
  const s =
    (req.httpVersionMajor === 2
      ? ((req as Http2ServerRequest).stream?.session?.socket ?? req.socket)
      : req.socket) as CheckedSocket;
  return s && typeof s.getProtocol === "function" ? s : undefined;
}

async function serve(
  req: AnyReq,
  res: AnyRes,
  scheme: string,
  handle: (r: Request, c: ConnectionInfo) => Response | Promise<Response>,
  readTimeoutMs: number,
): Promise<void> {
  const h2 = req.httpVersionMajor === 2;
  const socket = req.socket as TLSSocket;
  const tlsSocket = scheme === "https" ? tlsSocketOf(req) : undefined;
  try {
    const verdict = tlsSocket?.[VERDICT];
    if (verdict && !(await verdict)) return;
    const headers = new Headers();
    const raw = req.rawHeaders;
    // Every Host line as sent (Headers would join them): the engine refuses two.
    const hostHeaders: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.charCodeAt(0) === 58 /* ":" pseudo-header */) continue;
      if (name.length === 4 && name.toLowerCase() === "host") hostHeaders.push(raw[i + 1]!);
      headers.append(name, raw[i + 1]!);
    }
    const h2Authority = h2 ? (req as Http2ServerRequest).authority : undefined;
    if (h2Authority) {
      if (hostHeaders.length === 0) headers.set("host", h2Authority);
      if (!hostHeaders.includes(h2Authority)) hostHeaders.unshift(h2Authority);
    }
    // The URL is only a carrier here: the engine reads the Host and the raw target from `conn`
    // and checks them; a Host it would refuse must not make this URL throw first.
    const authority = hostHeaders.length === 1 && parseHost(hostHeaders[0]!) ? hostHeaders[0]! : "localhost";
    const target = req.url ?? "/";
    const url = `${scheme}://${authority}${target.charCodeAt(0) === 47 ? target : "/"}`;
    const method = req.method ?? "GET";
    const forbidden = FETCH_FORBIDDEN_METHODS.get(method.toUpperCase());
    if (forbidden) {
      // The Fetch API cannot carry these (Deno's Request constructor throws): answer here.
      await writeResponse(forbidden(), res, h2, method === "HEAD");
      return;
    }
    const hasBody = method !== "GET" && method !== "HEAD";
    const request = new Request(url, {
      method,
      headers,
      body: hasBody ? (toWebStream(req, readTimeoutMs) as ReadableStream<Uint8Array>) : undefined,
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
    const conn: ConnectionInfo = {
      remoteAddr: socket?.remoteAddress ?? "",
      remotePort: socket?.remotePort ?? 0,
      httpVersion: h2 ? "HTTP/2.0" : `HTTP/${req.httpVersion}`,
      target,
      hostHeaders,
      tls: tlsSocket ? tlsInfoOf(tlsSocket) : undefined,
    };
    const response = await handle(request, conn);
    // An answer before the body was read (413, 401, ...) that closes the connection: close it
    // gently, or the unread upload makes the kernel reset it and the client never sees the answer.
    const linger = !h2 && !req.complete && response.headers.get("connection")?.toLowerCase() === "close";
    await writeResponse(response, res, h2, method === "HEAD", linger ? () => lingerClose(req.socket) : undefined);
    // "Connection: close" ends the connection (and with it the TLS session id) on HTTP/2 too.
    if (h2 && response.headers.get("connection")?.toLowerCase() === "close") {
      (req as Http2ServerRequest).stream.session?.close();
    }
  } catch (e) {
    // A client that went away mid-upload is not a server fault: one line at debug.
    if (isClientBodyError(e) || res.destroyed || req.destroyed) {
      log.debug(`${req.method} ${req.url}: ${(e as Error).message ?? e}`);
    } else log.error(`request failed: ${(e as Error).stack ?? e}`);
    if (!res.headersSent) {
      res.statusCode = 500;
      res.end();
    } else {
      res.destroy?.();
    }
  }
}

/**
 * The request body as a web stream. While the application waits for body bytes, the client
 * must send some within connectionTimeout (Tomcat's read timeout), or the connection is closed.
 */
function toWebStream(req: AnyReq, readTimeoutMs: number): ReadableStream<Uint8Array> {
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopTimer = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  let fail: (e: Error) => void = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      fail = (e: Error) => {
        if (ended) return;
        ended = true;
        stopTimer();
        controller.error(e);
      };
      req.on("data", (chunk: Buffer) => {
        stopTimer();
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.on("end", () => {
        if (ended) return;
        ended = true;
        stopTimer();
        controller.close();
      });
      req.on("error", (e) => fail(new ClientAbortError(`the client aborted the request body (${e.message})`)));
      req.on("close", () => fail(new ClientAbortError()));
    },
    pull() {
      req.resume();
      if (readTimeoutMs > 0 && !ended && !timer) {
        timer = setTimeout(() => {
          timer = undefined;
          fail(new ClientAbortError(`no request body bytes for ${readTimeoutMs} ms (connectionTimeout)`));
          req.destroy();
        }, readTimeoutMs);
      }
    },
    cancel() {
      ended = true;
      stopTimer();
      // Discard the rest instead of resetting the connection, so that the answer (413 for a
      // body over maxRequestBodySize) reaches the client; the response then closes it.
      req.removeAllListeners("data");
      req.resume();
    },
  });
}

/** How long a connection closed with an upload still coming keeps reading (and dropping) it. */
const LINGER_MS = 2000;

/**
 * Lingering close: send FIN, keep reading what the client is still uploading (the request
 * stream discards it), and close for good when the client closes or after LINGER_MS.
 */
function lingerClose(socket: Socket): void {
  socket.end();
  const t = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once("close", () => clearTimeout(t));
}

/** `closeAfter`: the connection is closed by the caller's way, not node:http's (see lingerClose). */
async function writeResponse(
  response: Response,
  res: AnyRes,
  h2: boolean,
  head: boolean,
  closeAfter?: () => void,
): Promise<void> {
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") return;
    if (h2 && H2_FORBIDDEN.has(name)) return;
    if (closeAfter && name === "connection") return;
    out[name] = value;
  });
  // No "Connection: close" then: node:http would destroy the socket the moment the answer is
  // written (a reset, with the upload unread); the FIN of lingerClose tells the client instead.
  if (closeAfter) res.once("finish", closeAfter);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  (res as ServerResponse).writeHead(response.status, out as never);
  if (!response.body || head) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!(res as ServerResponse).write(value)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.on("drain", done);
          res.on("close", done);
        });
        if ((res as ServerResponse).destroyed) break;
      }
    }
  } finally {
    reader.releaseLock();
  }
  res.end();
}
