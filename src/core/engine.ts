/**
 * The runtime-neutral core: Engine › Host › Context routing, security constraints, HSTS, the
 * handler module or static docBase, access logs. A runtime adapter calls
 * `engine.handle(request, connector, connection)`; nothing here knows about sockets.
 */
import type { ContextConfig, EngineConfig, HostConfig, ServiceConfig } from "../config/model.ts";
import { AccessLog } from "./access-log.ts";
import { ConstraintChecker, secureRedirect } from "./constraints.ts";
import { RequestContext, type ConnectionInfo, type ConnectorInfo } from "./context.ts";
import { errorPage } from "./error-page.ts";
import { loadHandler, type FetchHandler } from "./handler-module.ts";
import { serveStatic } from "./static/index.ts";
import { logger } from "../util/log.ts";

const log = logger("core");

/** Per-context hooks other layers (sessions) attach; the core calls them around the handler. */
export interface ContextExtension {
  /** Runs before the handler; may return a response (e.g. 503) to stop the request. */
  before?(req: Request, ctx: RequestContext, url: URL): Promise<Response | void> | Response | void;
  /** Runs after the handler; may return a replacement response (e.g. with a Set-Cookie). */
  after?(req: Request, ctx: RequestContext, res: Response): Promise<Response> | Response;
  start?(): Promise<void>;
  stop?(): Promise<void>;
  backgroundProcess?(): void | Promise<void>;
}

export class ContextRuntime {
  handler?: FetchHandler;
  readonly constraints: ConstraintChecker;
  readonly extensions: ContextExtension[] = [];
  readonly accessLogs: AccessLog[];
  readonly hsts?: string;

  constructor(
    readonly config: ContextConfig,
    readonly host: HostRuntime,
  ) {
    this.constraints = new ConstraintChecker(config.securityConstraints);
    this.accessLogs = config.valves.filter((v) => v.className === "AccessLogValve").map((v) => new AccessLog(v));
    if (config.hstsEnabled) {
      this.hsts =
        `max-age=${config.hstsMaxAgeSeconds}` +
        (config.hstsIncludeSubDomains ? ";includeSubDomains" : "") +
        (config.hstsPreload ? ";preload" : "");
    }
  }

  get path(): string {
    return this.config.path;
  }

  async start(): Promise<void> {
    if (this.config.handler) this.handler = await loadHandler(this.config.handler, this.config);
    for (const ext of this.extensions) await ext.start?.();
  }

  async stop(): Promise<void> {
    for (const ext of [...this.extensions].reverse()) {
      try {
        await ext.stop?.();
      } catch (e) {
        log.error(`context ${this.config.path || "/"}: stop failed: ${(e as Error).message}`);
      }
    }
    await Promise.all(this.accessLogs.map((l) => l.close()));
  }
}

export class HostRuntime {
  /** Longest path first, so the first prefix match is the longest. */
  readonly contexts: ContextRuntime[];
  readonly accessLogs: AccessLog[];
  readonly root?: ContextRuntime;

  constructor(readonly config: HostConfig) {
    this.contexts = config.contexts
      .map((c) => new ContextRuntime(c, this))
      .sort((a, b) => b.path.length - a.path.length);
    this.root = this.contexts.find((c) => c.path === "");
    this.accessLogs = config.valves.filter((v) => v.className === "AccessLogValve").map((v) => new AccessLog(v));
  }

  /** Longest-prefix match on whole path segments; "" (ROOT) matches everything. */
  match(pathname: string): ContextRuntime | undefined {
    for (const c of this.contexts) {
      const p = c.path;
      if (p === "") return c;
      if (pathname.startsWith(p) && (pathname.length === p.length || pathname.charCodeAt(p.length) === 47)) return c;
    }
    return undefined;
  }
}

export class Engine {
  readonly hosts: HostRuntime[];
  private readonly byName = new Map<string, HostRuntime>();
  private readonly defaultHost: HostRuntime;
  private readonly accessLogs: AccessLog[];
  private readonly logsAnywhere: boolean;
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    readonly service: ServiceConfig,
    readonly config: EngineConfig = service.engine,
  ) {
    this.hosts = config.hosts.map((h) => new HostRuntime(h));
    for (const h of this.hosts) {
      for (const n of [h.config.name, ...h.config.aliases]) this.byName.set(n.toLowerCase(), h);
    }
    this.defaultHost = this.byName.get(config.defaultHost.toLowerCase())!;
    this.accessLogs = config.valves.filter((v) => v.className === "AccessLogValve").map((v) => new AccessLog(v));
    this.logsAnywhere =
      this.accessLogs.length > 0 ||
      this.hosts.some((h) => h.accessLogs.length > 0 || h.contexts.some((c) => c.accessLogs.length > 0));
  }

  get contexts(): ContextRuntime[] {
    return this.hosts.flatMap((h) => h.contexts);
  }

  async start(): Promise<void> {
    for (const c of this.contexts) await c.start();
    const ms = this.config.backgroundProcessorDelay * 1000;
    this.timer = setInterval(() => void this.backgroundProcess(), ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** The engine's background thread: session expiry and other periodic work. */
  async backgroundProcess(): Promise<void> {
    for (const c of this.contexts) {
      for (const ext of c.extensions) {
        try {
          await ext.backgroundProcess?.();
        } catch (e) {
          log.error(`background processing of context ${c.path || "/"} failed: ${(e as Error).message}`);
        }
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.contexts) await c.stop();
    await Promise.all([...this.accessLogs, ...this.hosts.flatMap((h) => h.accessLogs)].map((l) => l.close()));
  }

  hostFor(hostHeader: string | null): HostRuntime {
    if (!hostHeader) return this.defaultHost;
    const name = stripPort(hostHeader).toLowerCase();
    return this.byName.get(name) ?? this.defaultHost;
  }

  async handle(req: Request, connector: ConnectorInfo, conn: ConnectionInfo): Promise<Response> {
    if (!this.logsAnywhere) return (await this.route(req, connector, conn)).res;
    const start = performance.now();
    const startMs = Date.now();
    const { res, ctx, host, context, url } = await this.route(req, connector, conn);
    const len = res.headers.get("content-length");
    const entry = {
      request: req,
      url,
      ctx,
      remoteAddr: ctx?.remoteAddr ?? conn.remoteAddr,
      status: res.status,
      bytes: len === null ? undefined : Number(len),
      responseHeaders: res.headers,
      startMs,
      endMs: startMs + (performance.now() - start),
      localPort: connector.port,
      protocol: "HTTP/1.1",
    };
    for (const l of this.accessLogs) l.log(entry);
    if (host) for (const l of host.accessLogs) l.log(entry);
    if (context) for (const l of context.accessLogs) l.log(entry);
    return res;
  }

  private async route(req: Request, connector: ConnectorInfo, conn: ConnectionInfo) {
    const url = new URL(req.url);
    // Every back-end builds the URL's authority from the Host header (or :authority on h2).
    const host = this.hostFor(url.host);
    const pathname = url.pathname;
    const context = host.match(pathname);
    if (!context) {
      return { res: errorPage(404, `The requested resource [${pathname}] is not available`), ctx: null, host, context, url };
    }
    const serverName = connector.proxyName ?? url.hostname.replace(/^\[|\]$/g, "");
    const serverPort = connector.proxyPort ?? (url.port ? Number(url.port) : connector.port);
    const ctx = new RequestContext(connector, conn, serverName, serverPort, context.path, pathname);
    let res: Response;
    try {
      res = await this.invoke(req, url, context, ctx);
    } catch (e) {
      log.error(`${req.method} ${pathname}: ${(e as Error).stack ?? e}`);
      res = errorPage(500, "The server encountered an unexpected condition that prevented it from fulfilling the request.");
    }
    if (context.hsts && ctx.secure) {
      res = withHeader(res, "strict-transport-security", context.hsts);
    }
    return { res, ctx, host, context, url };
  }

  private async invoke(req: Request, url: URL, context: ContextRuntime, ctx: RequestContext): Promise<Response> {
    const relPath = context.path === "" ? url.pathname : url.pathname.slice(context.path.length);
    if (!ctx.secure && !context.constraints.empty && context.constraints.needsSecure(req.method, relPath || "/")) {
      return secureRedirect(url, ctx.serverName, ctx.connector.redirectPort);
    }
    for (const ext of context.extensions) {
      const early = await ext.before?.(req, ctx, url);
      if (early) return early;
    }
    let res = await this.dispatch(req, url, relPath, context, ctx);
    for (const ext of context.extensions) if (ext.after) res = await ext.after(req, ctx, res);
    return res;
  }

  /** The handler answers first; what it leaves as 404 falls through to the static docBase. */
  private async dispatch(req: Request, url: URL, relPath: string, context: ContextRuntime, ctx: RequestContext): Promise<Response> {
    const cfg = context.config;
    if (context.handler) {
      const inner = context.path === "" ? req : rebase(req, url, relPath);
      const res = await context.handler(inner, ctx);
      if (res.status !== 404 || !cfg.docBase) return res;
    }
    if (cfg.docBase) {
      if (relPath === "" && context.path !== "") {
        // "/app" → "/app/", as Tomcat redirects a context root without its slash.
        return new Response(null, { status: 302, headers: { location: `${context.path}/${url.search}` } });
      }
      const res = await serveStatic(req, relPath, {
        docBase: cfg.docBase,
        welcomeFiles: cfg.welcomeFiles,
        listings: cfg.listings,
        contextPath: context.path,
      });
      if (res) return res;
    }
    return errorPage(404, `The requested resource [${url.pathname}] is not available`);
  }
}

/** The handler of a non-ROOT context sees URLs relative to its context path. */
function rebase(req: Request, url: URL, relPath: string): Request {
  const inner = new URL(url);
  inner.pathname = relPath === "" ? "/" : relPath;
  return new Request(inner, req);
}

function stripPort(host: string): string {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end > 0 ? host.slice(1, end) : host;
  }
  const colon = host.indexOf(":");
  return colon >= 0 ? host.slice(0, colon) : host;
}

/** Responses from fetch() or Response.redirect() have immutable headers: copy when needed. */
export function withHeader(res: Response, name: string, value: string): Response {
  try {
    res.headers.set(name, value);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    copy.headers.set(name, value);
    return copy;
  }
}
