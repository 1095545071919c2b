/**
 * The per-connector request pipeline every back-end calls: the Host-against-SNI check,
 * maxThreads/acceptCount, server headers, and the in-flight count that graceful stop waits on.
 * Back-ends only turn sockets into `Request`s and `ConnectionInfo`.
 */
import type { ConnectorConfig } from "../config/model.ts";
import type { ConnectionInfo, ConnectorInfo } from "../core/context.ts";
import { type Engine, withHeader } from "../core/engine.ts";
import { errorPage } from "../core/error-page.ts";
import { RequestLimiter } from "../core/limiter.ts";
import { sniHostCheck } from "./sni.ts";
import type { ConnectorTls } from "./tls-material.ts";
import { countedStream, declaredLength, isClientBodyError } from "../core/body-limit.ts";
import { WebSocketHub, wsLimits } from "../core/websocket.ts";
import { mayHaveBody } from "../core/request-header.ts";
import { env } from "../util/host/proc.ts";

const ACME_PREFIX = "/.well-known/acme-challenge/";
const FAST_PATH = env("BOBCAT_SYNC_FAST_PATH") !== "0";

/** Read once: Deno's global Response is a lazy accessor that costs a getter call on every read. */
const ResponseClass = Response;

export type RequestHandler = (req: Request, conn: ConnectionInfo) => Response | Promise<Response>;

/** Connection and handshake counts of a back-end that sees connections (not Bun.serve). */
export interface BackendStats {
  open: number;
  refused: number;
  timedOut: number;
  /** Completed and failed TLS handshakes by reason (node-compat only). */
  handshakes?: number;
  handshakeFailures?: Record<string, number>;
}

export class ConnectorPipeline {
  readonly info: ConnectorInfo;
  readonly limiter: RequestLimiter;
  private drainWaiters: Array<() => void> = [];
  private inFlight = 0;
  /** Set once stopping: new requests on kept-alive connections get 503 and Connection: close. */
  stopping = false;
  /** The connector's WebSockets (webSocketEnabled). */
  readonly webSockets?: WebSocketHub;
  /** What the back-end reports for /metrics: open connections and TLS handshakes, where it sees them. */
  backendStats?: () => BackendStats;

  constructor(
    readonly config: ConnectorConfig,
    private readonly engine: Engine,
    tls?: ConnectorTls,
  ) {
    this.info = {
      name: config.name,
      address: config.address,
      port: config.port,
      scheme: config.scheme,
      secure: config.secure,
      redirectPort: config.redirectPort,
      proxyName: config.proxyName,
      proxyPort: config.proxyPort,
      maxPostSize: config.maxPostSize,
    };
    this.limiter = new RequestLimiter(config.maxThreads, config.acceptCount);
    if (config.webSocketEnabled) this.webSockets = new WebSocketHub(config.name, wsLimits(config));
    this.setTls(tls);
  }

  /** Called by the back-end once the real port is known (port 0 = any free port). */
  setPort(port: number): void {
    this.info.port = port;
  }

  /** The TLS material the back-end serves (at start and after each reload). */
  setTls(tls: ConnectorTls | undefined): void {
    // The engine runs it on the Host it routes by, once the boundary has parsed it.
    this.info.hostCheck = sniHostCheck(tls);
  }
  /** ACME HTTP-01 (plain connectors of a server with acme): the key authorization of a token. */
  acmeChallenge?: (token: string) => Promise<string | undefined>;
  /** ACME TLS-ALPN-01 (TLS connectors of a server with acme; node-compat answers it): a name's challenge certificate. */
  acmeTlsAlpn?: (name: string) => { certPem: string; keyPem: string } | undefined;
  /** Set by a back-end whose server enforces maxRequestBodySize itself (Bun.serve). */
  bodyLimitEnforced = false;

  /** Every request, on the general path. */
  readonly handle: RequestHandler = (req, conn) => this.accept(req, conn, false);

  /**
   * The synchronous fast path (see Engine.handleSync): a Response the handler returns
   * synchronously comes back synchronously. BOBCAT_SYNC_FAST_PATH=0 makes it the general path
   * (for bench/https-hello.ts --without-fast-path).
   */
  readonly handleSync: RequestHandler = FAST_PATH ? (req, conn) => this.accept(req, conn, true) : this.handle;

  private accept(req: Request, conn: ConnectionInfo, sync: boolean): Response | Promise<Response> {
    if (this.acmeChallenge && req.url.includes(ACME_PREFIX)) {
      const path = new URL(req.url).pathname;
      if (path.startsWith(ACME_PREFIX) && (req.method === "GET" || req.method === "HEAD")) {
        return this.acmeChallenge(path.slice(ACME_PREFIX.length)).then((answer) =>
          answer === undefined
            ? new Response("no such ACME challenge token\n", { status: 404, headers: { "content-type": "text/plain" } })
            : new Response(answer, { headers: { "content-type": "application/octet-stream" } })
        );
      }
    }
    if (this.stopping) return Promise.resolve(errorPage(503, "The server is shutting down", { connection: "close" }));
    const max = this.config.maxRequestBodySize;
    if (max >= 0 && !this.bodyLimitEnforced && mayHaveBody(req)) {
      const declared = declaredLength(req);
      // Refused before a byte is read; the connection closes instead of draining the rest.
      if (declared !== undefined && declared > max) return Promise.resolve(this.tooLarge());
      if (declared === undefined) return this.limited(req, conn, max);
    }
    return this.dispatch(req, conn, sync);
  }

  /** maxThreads/acceptCount, then the engine. */
  private dispatch(req: Request, conn: ConnectionInfo, sync = false): Response | Promise<Response> {
    const slot = this.limiter.acquire();
    if (slot === false) {
      return Promise.resolve(
        errorPage(
          503,
          `All ${this.config.maxThreads} request slots and ${this.config.acceptCount} queue places of connector ${this.config.name} are in use`,
          { "retry-after": "1" },
        ),
      );
    }
    this.inFlight++;
    if (slot !== true) return slot.then(() => this.engine.handle(req, this.info, conn)).then(this.done, this.failed);
    let res: Response | Promise<Response>;
    try {
      res = sync ? this.engine.handleSync(req, this.info, conn) : this.engine.handle(req, this.info, conn);
    } catch (e) {
      return this.failed(e);
    }
    return res instanceof ResponseClass ? this.done(res) : res.then(this.done, this.failed);
  }

  private tooLarge(): Response {
    return errorPage(
      413,
      `The request body is larger than the limit of ${this.config.maxRequestBodySize} bytes (maxRequestBodySize of connector ${this.config.name})`,
      { connection: "close" },
    );
  }

  /** A body of unknown length (chunked, HTTP/2): counted as it streams; over the limit it is 413. */
  private async limited(req: Request, conn: ConnectionInfo, max: number): Promise<Response> {
    let over = false;
    const body = countedStream(req.body!, max, () => (over = true));
    const wrapped = new Request(req, { body, duplex: "half" } as RequestInit);
    try {
      const res = await this.dispatch(wrapped, conn);
      if (!over) return res;
      await res.body?.cancel().catch(() => {});
    } catch (e) {
      if (!over && !isClientBodyError(e)) throw e;
    }
    return this.tooLarge();
  }

  private readonly done = (res: Response): Response => {
    this.finish();
    if (this.config.server) res = withHeader(res, "server", this.config.server);
    if (this.config.xpoweredBy) res = withHeader(res, "x-powered-by", "bobcat");
    return res;
  };

  private readonly failed = (e: unknown): never => {
    this.finish();
    throw e;
  };

  private finish(): void {
    this.limiter.release();
    // (splice only when someone waits: an empty array per request otherwise)
    if (--this.inFlight === 0 && this.drainWaiters.length > 0) { for (const w of this.drainWaiters.splice(0)) w(); }
  }

  get active(): number {
    return this.inFlight;
  }

  /** Resolves when no request is in flight, or after `timeoutMs` (false). */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }
}
