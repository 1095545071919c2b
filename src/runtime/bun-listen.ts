/**
 * The node-compat back-end's HTTP/1.1 connectors on Bun, on Bun.listen's TLS sockets: bobcat's
 * own HTTP/1.1 layer (h1-server.ts) over BoringSSL sockets that uSockets reads and writes
 * natively. node:tls on Bun wraps the same kind of socket in node streams, and bobcat's
 * acceptor (which counts connections before TLS) makes it run TLS over a JS duplex: every
 * record passes through JS twice. Here the TLS stays native; bobcat keeps everything else the
 * node:tls path does: the connection gate (maxConnections, acceptCount, connectionTimeout from
 * accept), the client-certificate checks after the handshake (client-auth.ts: modes, depth,
 * CRLs, OCSP), the verified chain for handlers and CLIENT-CERT, handshake counts.
 * Only connectors Bun.listen can serve whole come here (listener.ts: bunListenBlocker).
 */
import { Buffer } from "node:buffer";
import { logger } from "../util/log.ts";
import { ConnectionGate, type GatedConnection } from "../core/limiter.ts";
import type { TlsInfo } from "../core/context.ts";
import type { TlsHost } from "./tls-material.ts";
import { type BackendOptions, type Listener, listenError, rebind } from "./listener.ts";
import { bunTls } from "./bun.ts";
import { clientVerdict } from "./client-auth.ts";
import { bunTlsInfoOf, type BunTlsSocket } from "./tls-info.ts";
import { handshakeFailureReason } from "./node-handshake-log.ts";
import { DEFAULT_MAX_HEAD, type H1Connection, type H1Transport, serveH1On } from "./h1-server.ts";
import { sharesPorts } from "./worker-env.ts";

const log = logger("connector");

/** The part of Bun's TLS socket used here. */
interface BunSocket extends BunTlsSocket {
  data: BunConnection;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly authorized: boolean;
  /** Bytes taken (the rest is the caller's to send on drain); -1 when closed. */
  write(b: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
}

interface BunListener {
  readonly port: number;
  stop(closeActive?: boolean): void;
}

declare const Bun: {
  listen(options: Record<string, unknown>): BunListener;
};

/** How long a connection being closed may take to say goodbye before it is reset. */
const CLOSE_GRACE_MS = 2000;

/** ALPN: only http/1.1 is agreed (wire format: length-prefixed names). */
const ALPN_H1 = Buffer.from("\x08http/1.1", "latin1");

/** One TCP connection: Bun's socket under the HTTP/1.1 layer, with a write queue of its own. */
class BunConnection implements H1Transport {
  h1?: H1Connection;
  g?: GatedConnection<BunConnection>;
  handshaken = false;
  gone = false;
  private info?: TlsInfo;
  private queue: Uint8Array[] = [];
  private corked?: Uint8Array[];
  private ending = false;
  private killTimer?: ReturnType<typeof setTimeout>;

  /** Read once: Bun asks the kernel (getpeername) on every read of these. */
  readonly remoteAddress: string;
  readonly remotePort: number;

  constructor(readonly s: BunSocket, readonly host: TlsHost) {
    this.remoteAddress = s.remoteAddress ?? "";
    this.remotePort = s.remotePort ?? 0;
  }
  get destroyed(): boolean {
    return this.gone;
  }
  tlsInfo(): TlsInfo {
    return (this.info ??= bunTlsInfoOf(this.s));
  }

  write(b: Uint8Array): boolean {
    if (this.corked) {
      this.corked.push(b);
      return true;
    }
    return this.send(b);
  }
  private send(b: Uint8Array): boolean {
    if (this.gone) return false;
    if (this.queue.length > 0) {
      this.queue.push(b);
      return false;
    }
    const n = this.s.write(b);
    if (n >= b.byteLength) return true;
    this.queue.push(n > 0 ? b.subarray(n) : b);
    return false;
  }
  cork(): void {
    this.corked ??= [];
  }
  uncork(): void {
    const c = this.corked;
    this.corked = undefined;
    if (c && c.length > 0) this.send(c.length === 1 ? c[0]! : Buffer.concat(c));
  }
  end(last?: Uint8Array): void {
    if (last) this.write(last);
    if (this.queue.length > 0) this.ending = true;
    else if (!this.gone) this.s.end();
  }
  /**
   * Closes now: nothing queued here goes out. Bun's end() (close_notify and FIN, as a node
   * socket's destroy() gives) rather than terminate() (a reset the client may see before the
   * answer it already has); terminate() only if the client does not let the close finish.
   */
  destroy(): void {
    if (this.gone) return;
    this.gone = true;
    this.queue = [];
    this.s.end();
    this.killTimer = setTimeout(() => this.s.terminate(), CLOSE_GRACE_MS);
  }
  /** The socket is closed. */
  closed(): void {
    this.gone = true;
    if (this.killTimer) clearTimeout(this.killTimer);
  }
  pause(): void {
    this.s.pause();
  }
  resume(): void {
    this.s.resume();
  }

  /** Bun can take more: what is queued goes out; the HTTP layer hears once it is all gone. */
  drain(): void {
    while (this.queue.length > 0 && !this.gone) {
      const b = this.queue[0]!;
      const n = this.s.write(b);
      if (n >= b.byteLength) this.queue.shift();
      else {
        if (n > 0) this.queue[0] = b.subarray(n);
        return;
      }
    }
    if (this.ending) {
      this.ending = false;
      if (!this.gone) this.s.end();
    }
    this.h1?.drained();
  }
}

/** Bun.listen's TLS options for the connector's one SSLHostConfig. */
function tlsOptions(h: TlsHost): Record<string, unknown> {
  const { ca: _ca, requestCert: _r, rejectUnauthorized: _u, ...own } = bunTls(h, false);
  return {
    ...own,
    // certificateVerification required: BoringSSL refuses a missing or untrusted certificate in
    // the handshake; the other modes are enforced right after it (client-auth.ts).
    requestCert: h.config.certificateVerification !== "none",
    rejectUnauthorized: h.config.certificateVerification === "required",
    ...(h.trust && h.trust.caPems.length > 0 ? { ca: h.trust.caPems } : {}),
    ALPNProtocols: ALPN_H1,
  };
}

export async function startBunListenH1({ config, tls, pipeline }: BackendOptions): Promise<Listener> {
  let host = tls!.defaultHost;
  const gate = new ConnectionGate<BunConnection>({
    maxConnections: config.maxConnections,
    acceptCount: config.acceptCount,
    timeoutMs: config.connectionTimeout,
    // Held connections stay paused before their handshake; admitted ones go on with it.
    start: (g) => {
      // A held client that left meanwhile: the gate frees its slot.
      if (g.conn.gone) throw new Error("closed while held");
      g.conn.g = g;
      g.conn.resume();
    },
    kill: (g) => g.conn.destroy(),
    refuse: (c) => c.destroy(),
    onFull: (held) =>
      log.warn(
        `${config.name}: maxConnections (${config.maxConnections}) reached; holding up to ${config.acceptCount} more connections unread (acceptCount)${
          held ? `, ${held} held` : ""
        }`,
      ),
    onRefused: (c) =>
      log.debug(
        `${config.name}: maxConnections and acceptCount full; closed a new connection from ${c.remoteAddress}:${c.remotePort}`,
      ),
    onTimeout: (g, idle) =>
      log.debug(
        `${config.name}: closed a connection from ${g.conn.remoteAddress}:${g.conn.remotePort} after ${idle} ms without a request (connectionTimeout ${config.connectionTimeout} ms)`,
      ),
  });
  let handshakes = 0;
  const handshakeFailures: Record<string, number> = {};
  const failed = (e: Error & { code?: string }) => {
    const r = handshakeFailureReason(e);
    handshakeFailures[r] = (handshakeFailures[r] ?? 0) + 1;
  };

  /** After a completed handshake: the client-certificate verdict, then HTTP/1.1. */
  const secured = (c: BunConnection, authorizationError: (Error & { code?: string }) | null) => {
    handshakes++;
    const h = c.host;
    const mode = h.config.certificateVerification;
    let verdict: Promise<boolean> | undefined;
    if (mode !== "none") {
      const stack = {
        authorized: c.s.authorized === true && !authorizationError,
        authorizationError: authorizationError?.code ?? authorizationError?.message,
      };
      const who = { connector: config.name, peer: `${c.remoteAddress}:${c.remotePort}` };
      verdict = clientVerdict(stack, c.tlsInfo(), h, who, () => c.destroy());
    }
    const g = c.g;
    c.h1 = serveH1On(c, {
      scheme: "https",
      handle: pipeline.handleSync,
      readTimeoutMs: config.connectionTimeout,
      maxHeadSize: DEFAULT_MAX_HEAD,
      tls: () => c.tlsInfo(),
      verdict,
      started: g ? () => gate.started(g) : () => {},
      ended: g ? () => gate.ended(g) : () => {},
    });
  };

  const handlers = {
    binaryType: "buffer",
    open(s: BunSocket) {
      const c = new BunConnection(s, host);
      s.data = c;
      // Not a byte of the handshake is read before the gate admits the connection.
      s.pause();
      gate.accept(c);
    },
    handshake(s: BunSocket, ok: boolean, err: (Error & { code?: string }) | null) {
      const c = s.data;
      if (c.gone) return;
      c.handshaken = true;
      if (!ok) {
        // The handshake itself failed (certificateVerification required and no certificate).
        if (err) failed(err);
        c.destroy();
        return;
      }
      secured(c, err);
    },
    data(s: BunSocket, d: Buffer) {
      s.data.h1?.data(d);
    },
    drain(s: BunSocket) {
      s.data.drain();
    },
    end(s: BunSocket) {
      s.data.h1?.end();
    },
    close(s: BunSocket) {
      const c = s.data;
      if (!c) return;
      c.closed();
      if (c.g) gate.closed(c.g);
      c.h1?.closed();
    },
    error(s: BunSocket, e: Error & { code?: string }) {
      // Before the handshake completed: a protocol, cipher or record failure of it.
      if (s.data && !s.data.handshaken) failed(e);
    },
  };

  const listen = (h: TlsHost) => {
    return Bun.listen({
      hostname: config.address ?? "0.0.0.0",
      port: current?.port ?? config.port,
      // server.workers > 1: every worker listens on the port, the kernel spreads connections.
      ...(sharesPorts() ? { reusePort: true } : {}),
      tls: tlsOptions(h),
      socket: handlers,
    });
  };
  let current: BunListener | undefined;
  try {
    current = listen(host);
  } catch (e) {
    throw listenError(e, config);
  }
  pipeline.backendStats = () => ({
    open: gate.size,
    refused: gate.refused,
    timedOut: gate.timedOut,
    handshakes,
    handshakeFailures: { ...handshakeFailures },
  });
  return {
    get port() {
      return current!.port;
    },
    stopAccepting: async () => {
      current!.stop(false);
      gate.stopAccepting();
      // Idle keep-alive connections end now; connections with a request in flight finish it first.
      for (const g of gate.connections()) if (g.inflight === 0) g.conn.end();
    },
    closeAll: async () => {
      gate.closeAll();
      current!.stop(true);
    },
    // Bun.listen keeps its TLS context for life: a new listener takes the port; connections
    // of the old one (and their requests) go on undisturbed.
    reloadTls: async (next) => {
      const old = current!;
      old.stop(false);
      host = next.defaultHost;
      current = await rebind(() => listen(next.defaultHost), config, () => {
        current = old;
      });
    },
  };
}
