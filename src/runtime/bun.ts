/** The native Bun back-end: Bun.serve, with BoringSSL doing TLS. */
import type { TlsHost } from "./tls-material.ts";
import {
  type BackendOptions,
  type Listener,
  listenError,
  MODERN_TLS12_CIPHERS,
  rebind,
  uncaughtError,
  wantsHttp2,
} from "./listener.ts";
import { bunWebSocketHandler, bunWebSocketServe } from "./ws-bun.ts";
import { sharesPorts } from "./worker-env.ts";

declare const Bun: {
  serve(options: Record<string, unknown>): {
    port: number;
    stop(closeActive?: boolean): Promise<void>;
    upgrade(req: Request, options: { data: unknown; headers: Array<[string, string]> }): boolean;
    requestIP(req: Request): { address: string; port: number } | null;
  };
};

/**
 * The SSL_OP_* flags of node:crypto's `constants` that bunTls sets (OpenSSL's and BoringSSL's
 * values, the same on Bun, Deno and Node; tests/runtime checks them against node:crypto), written
 * out so that starting an HTTPS connector does not load node:crypto (src/util/node-crypto.ts).
 */
export const SSL_OP = {
  NO_TLSv1: 0x04000000,
  NO_TLSv1_1: 0x10000000,
  NO_TLSv1_2: 0x08000000,
  NO_TLSv1_3: 0x20000000,
  NO_TICKET: 0x00004000,
} as const;

export function bunTls(h: TlsHost, withName: boolean): Record<string, unknown> {
  const keys = h.certs.map((c) => c.keyPem);
  const certs = h.certs.map((c) => c.certPem);
  let secureOptions = SSL_OP.NO_TLSv1 | SSL_OP.NO_TLSv1_1;
  if (!h.versions.includes("TLSv1.2")) secureOptions |= SSL_OP.NO_TLSv1_2;
  if (!h.versions.includes("TLSv1.3")) secureOptions |= SSL_OP.NO_TLSv1_3;
  if (h.config.disableSessionTickets) secureOptions |= SSL_OP.NO_TICKET;
  return {
    ...(withName ? { serverName: h.hostName } : {}),
    key: keys.length === 1 ? keys[0] : keys,
    cert: certs.length === 1 ? certs[0] : certs,
    // Bun's default list still accepts static-RSA suites: always pass an explicit one.
    ciphers: h.ciphers.tls12 ?? MODERN_TLS12_CIPHERS,
    secureOptions,
    lowMemoryMode: false,
    // certificateVerification required: BoringSSL refuses a missing or untrusted certificate in
    // the handshake. The plan sends every other mode (and CRLs, OCSP, a depth) to node-compat.
    ...(h.config.certificateVerification === "required"
      ? { requestCert: true, rejectUnauthorized: true, ca: h.trust?.caPems ?? [] }
      : {}),
  };
}

/**
 * What a handler sees of the TLS state on a Bun.serve connector that verifies client
 * certificates: Bun.serve passes no chain on, so reading one is an error naming the fix rather
 * than an empty list that looks like "no certificate". (Getters on the prototype: a proxy valve's
 * spread of the connection's TLS state copies nothing from here.)
 */
class NativeClientCertTls {
  constructor(private readonly connector: string) {}
  get peerCertificates(): never {
    throw new Error(
      `ctx.peerCertificates: connector ${this.connector} runs on Bun.serve, which verifies the client certificate in the TLS handshake but does not pass it to handlers; remove needsPeerCertificates: false from the context to have the node-compat back-end pass the verified chain`,
    );
  }
  get unverifiedPeerCertificates(): never {
    return this.peerCertificates;
  }
}

/** The peer address is looked up only when someone asks (requestIP costs on every request). */
class BunConnection {
  private ip?: { address: string; port: number } | null;
  constructor(
    private readonly server: { requestIP(req: Request): { address: string; port: number } | null },
    private readonly req: Request,
    readonly tls?: NativeClientCertTls,
  ) {}
  private lookup() {
    if (this.ip === undefined) this.ip = this.server.requestIP(this.req);
    return this.ip;
  }
  get remoteAddr(): string {
    return this.lookup()?.address ?? "";
  }
  get remotePort(): number {
    return this.lookup()?.port ?? 0;
  }
}

/**
 * Bun.serve closes the connection after answering a request that says `Connection: close` (with
 * a TLS close_notify), but does not say so in the response, which RFC 9112 §9.6 asks for: a
 * client that goes by the response (wrk) then reads the close as an error. Say it.
 */
function closeAsked(req: Request): boolean {
  const c = req.headers.get("connection");
  return c !== null && /(?:^|,)\s*close\s*(?:,|$)/i.test(c);
}
function sayClose(res: Response): Response {
  try {
    res.headers.set("connection", "close");
    return res;
  } catch {
    // Immutable headers (a Response from fetch()): copy it.
    const copy = new Response(res.body, res);
    copy.headers.set("connection", "close");
    return copy;
  }
}
function withClose(req: Request, res: Response | Promise<Response>): Response | Promise<Response> {
  if (!closeAsked(req)) return res;
  return res instanceof Promise ? res.then(sayClose) : sayClose(res);
}

export async function startBunNative({ config, tls, pipeline }: BackendOptions): Promise<Listener> {
  const handle = pipeline.handle;
  // Bun.serve sends a Response returned synchronously at once: the synchronous fast path.
  const handleSync = pipeline.handleSync;
  pipeline.bodyLimitEnforced = true;
  const hub = pipeline.webSockets;
  const clientCertTls = tls?.hosts.some((h) => h.config.certificateVerification !== "none")
    ? new NativeClientCertTls(config.name)
    : undefined;
  const serve = (t: typeof tls) => {
    let tlsOption: unknown;
    if (t) {
      // The first entry also serves clients that send no or an unknown SNI name.
      const ordered = [t.defaultHost, ...t.hosts.filter((h) => h !== t.defaultHost)];
      tlsOption = ordered.length === 1
        ? bunTls(ordered[0]!, false)
        : ordered.map((h, i) => bunTls(h, i > 0 || h.hostName !== "_default_"));
    }
    return Bun.serve({
      port: current?.port ?? config.port,
      hostname: config.address ?? "0.0.0.0",
      // server.workers > 1: every worker listens on the port, the kernel spreads connections.
      ...(sharesPorts() ? { reusePort: true } : {}),
      tls: tlsOption,
      // Bun.serve's HTTP/2 (h2 by ALPN, http/1.1 otherwise), only where the connector asks for it.
      ...(tlsOption && wantsHttp2(config) ? { http2: true } : {}),
      // HTTP/3 over QUIC on the same UDP port; Bun.serve adds Alt-Svc: h3=":port" to its responses.
      ...(tlsOption && config.http3 ? { http3: true } : {}),
      idleTimeout: config.connectionTimeout <= 0
        ? 0
        : Math.min(255, Math.max(1, Math.round(config.connectionTimeout / 1000))),
      // Bun answers 413 itself, for a Content-Length over it and for chunked bodies that pass it.
      maxRequestBodySize: config.maxRequestBodySize < 0 ? Number.MAX_SAFE_INTEGER : config.maxRequestBodySize,
      fetch: hub
        ? bunWebSocketServe(
          hub,
          handle,
          (srv: ReturnType<typeof Bun.serve>, req) => new BunConnection(srv, req, clientCertTls),
        )
        : (req: Request, srv: ReturnType<typeof Bun.serve>) =>
          withClose(req, handleSync(req, new BunConnection(srv, req, clientCertTls))),
      ...(hub ? { websocket: bunWebSocketHandler(hub.limits) } : {}),
      error(e: Error) {
        return uncaughtError(e, config);
      },
    });
  };
  let current: ReturnType<typeof Bun.serve> | undefined;
  try {
    current = serve(tls);
  } catch (e) {
    throw listenError(e, config);
  }
  /** Servers replaced by a reload, finishing their requests. */
  const retiring: Array<Promise<void>> = [];
  return {
    get port() {
      return current!.port;
    },
    stopAccepting: async () => {
      void current!.stop(false);
    },
    closeAll: async () => {
      await current!.stop(true);
      await Promise.all(retiring);
    },
    // Bun.serve keeps its old certificate on reload(): replace the listener instead. The old
    // one stops accepting and finishes what it has; the new one binds the same port.
    reloadTls: async (next) => {
      const old = current!;
      retiring.push(old.stop(false));
      current = await rebind(() => serve(next), config, () => {
        current = old;
      });
    },
  };
}
