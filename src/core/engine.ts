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
  before?(req: Request, ctx: RequestContext): Promise<Response | void> | Response | void;
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

  /** Only a handler, nothing around it: the engine calls it directly (set at start). */
  simple = false;

  async start(): Promise<void> {
    if (this.config.handler) this.handler = await loadHandler(this.config.handler, this.config);
    for (const ext of this.extensions) await ext.start?.();
    this.simple = this.handler !== undefined && !this.config.docBase && this.constraints.empty && this.extensions.length === 0;
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

  /** `hostname` is lower-case, without port or brackets. */
  hostFor(hostname: string): HostRuntime {
    return this.byName.get(hostname) ?? this.defaultHost;
  }

  /** Answers synchronously when the handler does: Bun.serve has a faster path for that. */
  handle(req: Request, connector: ConnectorInfo, conn: ConnectionInfo): Response | Promise<Response> {
    if (!this.logsAnywhere) return this.route(req, connector, conn, null);
    return this.handleLogged(req, connector, conn);
  }

  private async handleLogged(req: Request, connector: ConnectorInfo, conn: ConnectionInfo): Promise<Response> {
    const start = performance.now();
    const startMs = Date.now();
    const seen: Seen = { ctx: null, host: undefined, context: undefined };
    const res = await this.route(req, connector, conn, seen);
    const len = res.headers.get("content-length");
    const entry = {
      request: req,
      url: new URL(req.url),
      ctx: seen.ctx,
      remoteAddr: seen.ctx?.remoteAddr ?? conn.remoteAddr,
      status: res.status,
      bytes: len === null ? undefined : Number(len),
      responseHeaders: res.headers,
      startMs,
      endMs: startMs + (performance.now() - start),
      localPort: connector.port,
      protocol: "HTTP/1.1",
    };
    for (const l of this.accessLogs) l.log(entry);
    if (seen.host) for (const l of seen.host.accessLogs) l.log(entry);
    if (seen.context) for (const l of seen.context.accessLogs) l.log(entry);
    return res;
  }

  /**
   * The hot path: no URL object, no extra awaits for a plain handler context. `seen` collects
   * what the access log needs when one is configured.
   */
  private route(req: Request, connector: ConnectorInfo, conn: ConnectionInfo, seen: Seen | null): Response | Promise<Response> {
    const href = req.url;
    // Every back-end builds the URL's authority from the Host header (or :authority on h2).
    const { hostname, port, pathname, search } = splitUrl(href);
    const host = this.hostFor(hostname);
    const context = host.match(pathname);
    if (seen) seen.host = host;
    if (!context) return errorPage(404, `The requested resource [${pathname}] is not available`);
    if (seen) seen.context = context;
    const serverName = connector.proxyName ?? hostname;
    const serverPort = connector.proxyPort ?? (port ? Number(port) : connector.port);
    const ctx = new RequestContext(connector, conn, serverName, serverPort, context.path, pathname);
    if (seen) seen.ctx = ctx;
    const relPath = context.path === "" ? pathname : pathname.slice(context.path.length);
    const onError = (e: unknown) => {
      log.error(`${req.method} ${pathname}: ${(e as Error)?.stack ?? e}`);
      return errorPage(500, "The server encountered an unexpected condition that prevented it from fulfilling the request.");
    };
    const hsts = context.hsts && ctx.secure ? context.hsts : undefined;
    let res: Response | Promise<Response>;
    try {
      res =
        context.simple && relPath !== ""
          ? context.handler!(context.path === "" ? req : rebase(req, href, relPath), ctx)
          : this.invoke(req, pathname, search, relPath, context, ctx);
    } catch (e) {
      return onError(e);
    }
    if (res instanceof Response) return hsts ? withHeader(res, "strict-transport-security", hsts) : res;
    return Promise.resolve(res).then(hsts ? (r) => withHeader(r, "strict-transport-security", hsts) : undefined, onError);
  }

  private async invoke(req: Request, pathname: string, search: string, relPath: string, context: ContextRuntime, ctx: RequestContext): Promise<Response> {
    if (!ctx.secure && !context.constraints.empty && context.constraints.needsSecure(req.method, relPath || "/")) {
      return secureRedirect(pathname, search, ctx.serverName, ctx.connector.redirectPort);
    }
    for (const ext of context.extensions) {
      const early = await ext.before?.(req, ctx);
      if (early) return early;
    }
    let res = await this.dispatch(req, pathname, search, relPath, context, ctx);
    for (const ext of context.extensions) if (ext.after) res = await ext.after(req, ctx, res);
    return res;
  }

  /** The handler answers first; what it leaves as 404 falls through to the static docBase. */
  private async dispatch(req: Request, pathname: string, search: string, relPath: string, context: ContextRuntime, ctx: RequestContext): Promise<Response> {
    const cfg = context.config;
    if (context.handler) {
      const inner = context.path === "" ? req : rebase(req, req.url, relPath);
      const res = await context.handler(inner, ctx);
      if (res.status !== 404 || !cfg.docBase) return res;
    }
    if (cfg.docBase) {
      if (relPath === "" && context.path !== "") {
        // "/app" → "/app/", as Tomcat redirects a context root without its slash.
        return new Response(null, { status: 302, headers: { location: `${context.path}/${search}` } });
      }
      const res = await serveStatic(req, relPath, {
        docBase: cfg.docBase,
        welcomeFiles: cfg.welcomeFiles,
        listings: cfg.listings,
        contextPath: context.path,
      });
      if (res) return res;
    }
    return errorPage(404, `The requested resource [${pathname}] is not available`);
  }
}

interface Seen {
  ctx: RequestContext | null;
  host: HostRuntime | undefined;
  context: ContextRuntime | undefined;
}

/** Splits an absolute URL string (as runtimes give it: already normalised) without a URL object. */
export function splitUrl(href: string): { hostname: string; port: string; pathname: string; search: string } {
  const hostStart = href.indexOf("//") + 2;
  let pathStart = href.indexOf("/", hostStart);
  if (pathStart < 0) pathStart = href.length;
  const authority = href.slice(hostStart, pathStart);
  const q = href.indexOf("?", pathStart);
  const h = href.indexOf("#", pathStart);
  const pathEnd = q >= 0 ? q : h >= 0 ? h : href.length;
  const pathname = pathStart < pathEnd ? href.slice(pathStart, pathEnd) : "/";
  const search = q >= 0 ? href.slice(q, h > q ? h : href.length) : "";
  let hostname = authority;
  let port = "";
  const at = authority.lastIndexOf("@");
  if (at >= 0) hostname = authority.slice(at + 1);
  if (hostname.startsWith("[")) {
    const end = hostname.indexOf("]");
    port = hostname.slice(end + 2);
    hostname = hostname.slice(1, end);
  } else {
    const colon = hostname.lastIndexOf(":");
    if (colon >= 0) {
      port = hostname.slice(colon + 1);
      hostname = hostname.slice(0, colon);
    }
  }
  return { hostname: hostname.toLowerCase(), port, pathname, search };
}

/** The handler of a non-ROOT context sees URLs relative to its context path. */
function rebase(req: Request, href: string, relPath: string): Request {
  const inner = new URL(href);
  inner.pathname = relPath === "" ? "/" : relPath;
  return new Request(inner, req);
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
