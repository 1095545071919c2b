/**
 * The per-connector request pipeline every back-end calls: maxThreads/acceptCount, server
 * headers, and the in-flight count that graceful stop waits on. Back-ends only turn sockets
 * into `Request`s and `ConnectionInfo`.
 */
import type { ConnectorConfig } from "../config/model.ts";
import type { ConnectionInfo, ConnectorInfo } from "../core/context.ts";
import type { Engine } from "../core/engine.ts";
import { errorPage } from "../core/error-page.ts";
import { RequestLimiter } from "../core/limiter.ts";

export type RequestHandler = (req: Request, conn: ConnectionInfo) => Promise<Response>;

export class ConnectorPipeline {
  readonly info: ConnectorInfo;
  readonly limiter: RequestLimiter;
  private drainWaiters: Array<() => void> = [];
  private inFlight = 0;
  /** Set once stopping: new requests on kept-alive connections get 503 and Connection: close. */
  stopping = false;

  constructor(
    readonly config: ConnectorConfig,
    private readonly engine: Engine,
  ) {
    this.info = {
      name: config.name,
      port: config.port,
      scheme: config.scheme,
      secure: config.secure,
      redirectPort: config.redirectPort,
      proxyName: config.proxyName,
      proxyPort: config.proxyPort,
    };
    this.limiter = new RequestLimiter(config.maxThreads, config.acceptCount);
  }

  /** Called by the back-end once the real port is known (port 0 = any free port). */
  setPort(port: number): void {
    this.info.port = port;
  }

  readonly handle: RequestHandler = async (req, conn) => {
    if (this.stopping) return errorPage(503, "The server is shutting down", { connection: "close" });
    const slot = this.limiter.acquire();
    if (slot === false) {
      return errorPage(503, `All ${this.config.maxThreads} request slots and ${this.config.acceptCount} queue places of connector ${this.config.name} are in use`, { "retry-after": "1" });
    }
    this.inFlight++;
    try {
      if (slot !== true) await slot;
      const res = await this.engine.handle(req, this.info, conn);
      if (this.config.server) res.headers.set("server", this.config.server);
      if (this.config.xpoweredBy) res.headers.set("x-powered-by", "bobcat");
      return res;
    } finally {
      this.limiter.release();
      if (--this.inFlight === 0) for (const w of this.drainWaiters.splice(0)) w();
    }
  };

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
