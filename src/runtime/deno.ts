/**
 * The native Deno back-end: Deno's HTTP engine (hyper, rustls for TLS: one certificate, TLS
 * 1.2+1.3, h2 by ALPN). bobcat accepts the connections itself and serves each with
 * serveHttpOnConnection (see deno-conn.ts), so maxConnections/acceptCount and connectionTimeout
 * (TLS handshake, request headers, idle keep-alive) hold here as on the node-compat back-end.
 */
import { type BackendOptions, type Listener, listenError, rebind, uncaughtError, wantsHttp2 } from "./listener.ts";
import { setNoDelayOnListener } from "./deno-nodelay.ts";
import { type DenoHttpServer, serveOnConnection, shutdownSockets } from "./deno-conn.ts";
import { sentWhole } from "./deno-response.ts";
import { ConnectionGate, type GatedConnection } from "../core/limiter.ts";
import { logger } from "../util/log.ts";
import { sharesPorts } from "./worker-env.ts";

interface DenoConn {
  readonly remoteAddr: { hostname: string; port: number };
  setNoDelay?(on?: boolean): void;
  close(): void;
}
interface DenoListener {
  readonly addr: { port: number };
  accept(): Promise<DenoConn>;
  close(): void;
}
declare const Deno: {
  listen(o: { hostname: string; port: number; reusePort?: boolean }): DenoListener;
  listenTls(
    o: { hostname: string; port: number; cert: string; key: string; alpnProtocols: string[]; reusePort?: boolean },
  ): DenoListener;
};

const log = logger("connector");
/** Deno's global Response is a lazy accessor that costs a getter call on every read: read once. */
const ResponseClass = Response;

/**
 * Aborting a connection's server after it finished throws inside Deno — from the signal's abort
 * listener, which the runtime reports as an uncaught error (the process would exit), not to this
 * caller. So a finished server is never aborted, and guardBadResource() covers the last window.
 */
function abort(c: Served): void {
  if (c.finished) return;
  try {
    c.abort.abort();
  } catch {
    // already finished
  }
}

interface Served {
  conn: DenoConn;
  abort: AbortController;
  server?: DenoHttpServer;
  /** Set once the connection's server has finished. */
  finished?: boolean;
}

let guarded = false;
/**
 * A "Bad resource ID" raised inside Deno while a connection that has just closed is aborted is
 * harmless (the resource is gone either way); as an uncaught error it would end the process.
 */
function guardBadResource(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("error", (e: Event) => {
    const err = (e as ErrorEvent).error as { name?: string } | undefined;
    if (err?.name === "BadResource") {
      e.preventDefault();
      log.debug(`ignored a BadResource error from a connection that had already closed`);
    }
  });
  globalThis.addEventListener("unhandledrejection", (e: Event) => {
    const reason = (e as PromiseRejectionEvent).reason as { name?: string } | undefined;
    if (reason?.name === "BadResource") {
      e.preventDefault();
      log.debug(`ignored a BadResource rejection from a connection that had already closed`);
    }
  });
}

export async function startDenoNative({ config, tls, pipeline }: BackendOptions): Promise<Listener> {
  const serveConn = serveOnConnection();
  if (!serveConn) {
    throw new Error("Deno[Deno.internal].serveHttpOnConnection is missing (the plan should have chosen node-compat)");
  }
  guardBadResource();
  // Deno.serve also sends a Response returned synchronously without a microtask hop: the fast path.
  const handle = pipeline.handleSync;
  const hostname = config.address ?? "0.0.0.0";
  let listener: DenoListener | undefined;
  let port = config.port;

  // Timed-out TLS connections that never carried a request may sit in a handshake no Deno API
  // can close: shut their sockets down in one batch per tick.
  const toShut = new Set<number>();
  const shutSoon = (peerPort: number) => {
    if (toShut.size === 0) {
      setTimeout(() => {
        const n = shutdownSockets(port, toShut);
        log.debug(`${config.name}: shut down ${n} of ${toShut.size} TLS connections stuck before their handshake`);
        toShut.clear();
      }, 0);
    }
    toShut.add(peerPort);
  };

  const gate = new ConnectionGate<Served>({
    maxConnections: config.maxConnections,
    acceptCount: config.acceptCount,
    timeoutMs: config.connectionTimeout,
    start: (g: GatedConnection<Served>) => {
      const c = g.conn;
      const remote = c.conn.remoteAddr;
      if (!tls) c.conn.setNoDelay?.(true);
      // One function per connection for the end of each of its responses (not one per request).
      const ended = () => gate.ended(g);
      // What the engine learns of the connection: the same for each of its requests.
      const connInfo = { remoteAddr: remote.hostname, remotePort: remote.port };
      c.server = serveConn(
        c.conn,
        c.abort.signal,
        (req, info) => {
          let res: Response | Promise<Response>;
          try {
            res = handle(req, connInfo);
          } catch (e) {
            // Deno answers with onError's page, synchronously.
            gate.served(g);
            throw e;
          }
          // A body Deno takes whole as this returns: the request is over (see deno-response.ts).
          if (res instanceof ResponseClass && sentWhole(res)) {
            gate.served(g);
            return res;
          }
          // A promise or a stream: busy until Deno says the response is done.
          gate.started(g);
          info.completed.then(ended, ended);
          return res;
        },
        (e) => uncaughtError(e, config),
        () => {},
      );
      const closed = () => {
        c.finished = true;
        gate.closed(g);
      };
      c.server.finished.then(closed, closed);
    },
    kill: (g) => {
      abort(g.conn);
      if (tls && g.requests === 0) shutSoon(g.conn.conn.remoteAddr.port);
    },
    refuse: (c) => {
      try {
        c.conn.close();
      } catch {
        // already closed
      }
      // An accepted TLS connection is already in its handshake, which keeps the socket open.
      if (tls) shutSoon(c.conn.remoteAddr.port);
    },
    onFull: () =>
      log.warn(
        `${config.name}: maxConnections (${config.maxConnections}) reached; holding up to ${config.acceptCount} more connections unread (acceptCount)`,
      ),
    onRefused: (c) =>
      log.debug(
        `${config.name}: maxConnections and acceptCount full; closed a new connection from ${c.conn.remoteAddr.hostname}:${c.conn.remoteAddr.port}`,
      ),
    onTimeout: (g, idle) =>
      log.debug(
        `${config.name}: closed a connection from ${g.conn.conn.remoteAddr.hostname}:${g.conn.conn.remoteAddr.port} after ${idle} ms without a request (connectionTimeout ${config.connectionTimeout} ms)`,
      ),
  });

  pipeline.backendStats = () => ({ open: gate.size, refused: gate.refused, timedOut: gate.timedOut });

  const listen = (t: typeof tls, p: number): DenoListener => {
    const cert = t?.defaultHost.certs[0];
    // server.workers > 1: every worker listens on the port (needs --unstable-net, which bobcat runs with).
    const reuse = sharesPorts() ? { reusePort: true } : {};
    const l = cert
      ? Deno.listenTls({
        hostname,
        port: p,
        ...reuse,
        cert: cert.certPem,
        key: cert.keyPem,
        alpnProtocols: wantsHttp2(config) ? ["h2", "http/1.1"] : ["http/1.1"],
      })
      : Deno.listen({ hostname, port: p, ...reuse });
    if (cert && !setNoDelayOnListener(l.addr.port)) {
      log.warn(
        `${config.name}: could not set TCP_NODELAY on the listener (needs Linux and FFI permission); HTTPS responses of a few KB will wait ~40 ms each on Deno`,
      );
    }
    void acceptLoop(l);
    return l;
  };
  const acceptLoop = async (l: DenoListener) => {
    for (;;) {
      let conn: DenoConn;
      try {
        conn = await l.accept();
      } catch (e) {
        if (l !== listener) return; // closed by stop or reload
        const text = `${(e as Error).name} ${(e as Error).message}`;
        if (/BadResource|Interrupted|closed/i.test(text)) return;
        // Out of descriptors and the like: wait a little instead of spinning.
        log.warn(`${config.name}: accept failed: ${text}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      gate.accept({ conn, abort: new AbortController() });
    }
  };

  try {
    listener = listen(tls, config.port);
    port = listener.addr.port;
  } catch (e) {
    throw listenError(e, config);
  }

  const closeListener = () => {
    const l = listener;
    listener = undefined;
    try {
      l?.close();
    } catch {
      // already closed
    }
  };
  return {
    get port() {
      return port;
    },
    stopAccepting: async () => {
      closeListener();
      gate.stopAccepting();
      // Idle connections close now; a connection with a request in flight finishes it first.
      for (const g of gate.connections()) {
        if (g.inflight > 0) {
          void g.conn.server?.shutdown().catch(() => {});
          continue;
        }
        abort(g.conn);
        if (tls && g.requests === 0) shutSoon(g.conn.conn.remoteAddr.port);
      }
    },
    closeAll: async () => {
      closeListener();
      // Responses the engine has finished may still be on their way out: give them a moment.
      for (let i = 0; i < 50 && [...gate.connections()].some((g) => g.inflight > 0); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const finished = [...gate.connections()].map((g) => g.conn.server?.finished.catch(() => {}));
      gate.closeAll();
      await Promise.race([Promise.all(finished), new Promise((r) => setTimeout(r, 1000))]);
    },
    // New handshakes get the new certificate; connections already open keep theirs.
    reloadTls: async (next) => {
      closeListener();
      listener = await rebind(() => listen(next, port), config);
    },
  };
}
