/**
 * The runtime-neutral core: Engine › Host › Context routing, security constraints, HSTS, the
 * handler module or static docBase, access logs. A runtime adapter calls
 * `engine.handle(request, connector, connection)`; nothing here knows about sockets.
 */
import { isBodyTooLarge, isClientBodyError } from "./body-limit.ts";
import type {
  BobcatConfig,
  ContextConfig,
  EngineConfig,
  HostConfig,
  ServiceConfig,
  ValveConfig,
} from "../config/model.ts";
import { ConstraintChecker, secureRedirect, urlPatternMatches } from "./constraints.ts";
import { type ConnectionInfo, type ConnectorInfo, NO_CONTEXT, RequestContext } from "./context.ts";
import { applyErrorReport, errorPage, type ErrorReportSettings, isGeneratedError } from "./error-page.ts";
import { type AccessValve, accessValves, HealthCheck } from "./access-valves.ts";
import { isAbsolute, join, resolve } from "../util/host/path.ts";
import { type FetchHandler, loadHandler } from "./handlers.ts";
import { SessionBinding, type SessionSettings } from "./sessions.ts";
import type { DataSources } from "../datasource/resources.ts";
import type { AccessLogWriter, Platform } from "./platform.ts";
import type { AdminView } from "./admin.ts";
import { BobcatError } from "../util/errors.ts";
import { backgroundInterval, type BackgroundTimer } from "../util/background-timer.ts";
import { Authenticator, normaliseDn } from "./auth.ts";
import { createRealm } from "./realm.ts";
import type { ResourceConfig } from "../config/model.ts";
import { locateError, sourceOf } from "../config/validate.ts";
import { RemoteIpValve, type RequestValve, SSLValve } from "./proxy-valves.ts";
import {
  encodeSegment,
  type HostPort,
  isCanonicalPath,
  normalizePath,
  readTarget,
  type TargetFields,
} from "./request-target.ts";
import { logger } from "../util/log.ts";
import { latencyClock, type RequestMetrics } from "./metrics.ts";
import { bindRequest, ContextWebSockets } from "./websocket.ts";
import { decide, decorate, RewriteValveRuntime } from "./rewrite-valve.ts";
import { mark } from "../util/timing.ts";
import { requestHeader } from "./request-header.ts";
import { rebaseRequest } from "./rebase-request.ts";

const log = logger("core");
/**
 * The Response class, read once: on Deno the global is a lazy accessor, and each read of it
 * calls a getter (measured in the per-request profile; `instanceof Response` pays it each time).
 */
const ResponseClass = Response;

/** What an engine needs from whoever builds it: the platform, and the server's handlers and view. */
export interface EngineSettings extends SessionSettings {
  /** Handler objects by the spec a context names in `handler:` (e.g. "app:main"), for this engine only. */
  handlers?: Readonly<Record<string, unknown>>;
  /** The view of the server (or edge handler) the built-in manager app shows. */
  admin?: () => AdminView | undefined;
  /** Where the engine counts requests and their latency (the server's /metrics); none on the edge. */
  requestMetrics?: RequestMetrics;
  /** `server.globalNamingResources.resources`: UserDatabase resources for UserDatabaseRealm. */
  globalResources?: readonly ResourceConfig[];
}

function accessLogs(valves: ValveConfig[], platform: Platform): AccessLogWriter[] {
  return valves.flatMap((v) => {
    if (v.className !== "AccessLogValve") return [];
    if (!platform.accessLog) {
      throw new BobcatError(
        "platform.noAccessLog",
        `AccessLogValve writes log files, which ${platform.name} does not have`,
        {
          where: sourceOf(v).self,
          fix: "remove the AccessLogValve and use the platform's request logs",
        },
      );
    }
    return [platform.accessLog(v)];
  });
}

/** The valves that rewrite what a request says about itself (proxy headers), in config order. */
function requestValves(valves: ValveConfig[]): RequestValve[] {
  return valves.flatMap((
    v,
  ): RequestValve[] => (v.className === "RemoteIpValve"
    ? [new RemoteIpValve(v)]
    : v.className === "SSLValve"
    ? [new SSLValve(v)]
    : [])
  );
}

export class ContextRuntime {
  handler?: FetchHandler;
  readonly constraints: ConstraintChecker;
  readonly auth: Authenticator;
  readonly sessions: SessionBinding;
  /** The context's own `resources`, for a DataSourceStore with localDataSource. */
  readonly dataSources?: DataSources;
  readonly accessLogs: AccessLogWriter[];
  readonly hsts?: string;
  /** Engine, host and context request valves, outermost first. */
  valves: RequestValve[] = [];
  /** Engine, host and context access valves (RemoteAddrValve...), outermost first. */
  filters: AccessValve[] = [];
  /** The innermost ErrorReportValve (context, host, engine), read at start. */
  errorReport?: ErrorReportSettings;
  started = false;
  /** The context path as it appears in an encoded URL. */
  readonly encodedPath: string;
  /** web.xml <mime-mapping>s. */
  readonly mimeTypes?: ReadonlyMap<string, string>;
  /** Set while the context is being reloaded: requests wait for it, then are routed again. */
  pending?: Promise<void>;
  /** The host's and the context's RewriteValves (read at start), outermost first; undefined: none. */
  rewriters?: RewriteValveRuntime[];
  /**
   * Nothing between the routing and the handler: no valves (request, access, rewrite), constraints,
   * authentication, store, error pages, HSTS or docBase. Set by start(); the synchronous fast path
   * (Engine.handleSync) serves such a context.
   */
  direct = false;
  /** Origin allow-list, session refresh and the sockets of each session. */
  readonly webSockets: ContextWebSockets;

  constructor(
    readonly config: ContextConfig,
    readonly host: HostRuntime,
    readonly engine: EngineConfig,
    private readonly settings: EngineSettings,
  ) {
    const platform = settings.platform;
    if (config.docBase !== undefined && !platform.serveStatic) {
      throw new BobcatError(
        "platform.noDocBase",
        `context ${config.path || "/"}: docBase serves files, which ${platform.name} does not have`,
        {
          where: sourceOf(config).attr("docBase"),
          fix: "serve static files through the platform (e.g. Workers static assets) and leave docBase out",
        },
      );
    }
    this.constraints = new ConstraintChecker(config.securityConstraints, config.denyUncoveredHttpMethods);
    this.dataSources = config.resources.length > 0
      ? platform.createDataSources(config.resources, {
        baseDir: settings.baseDir,
        path: `${host.config.name}${config.path || "/"}: resources`,
      })
      : undefined;
    const realm = createRealm(config.realm, {
      platform,
      globalResources: settings.globalResources ?? [],
      globalDataSources: settings.globalDataSources,
      localDataSources: this.dataSources,
      where: `${host.config.name}${config.path || "/"}`,
      baseDir: settings.baseDir,
    }, config.loginConfig?.authMethod === "CLIENT-CERT" ? normaliseDn : undefined);
    this.auth = new Authenticator(config, realm);
    this.sessions = new SessionBinding(config, host.config, engine, settings, this.dataSources);
    this.accessLogs = accessLogs(config.valves, platform);
    this.webSockets = new ContextWebSockets(
      config.webSocketAllowedOrigins ?? [],
      config.webSocketSessionRefresh ?? true,
      this.sessions.manager,
    );
    this.encodedPath = config.path.split("/").map(encodeSegment).join("/");
    if (config.mimeMappings.length > 0) {
      this.mimeTypes = new Map(config.mimeMappings.map((m) => [m.extension.toLowerCase(), m.mimeType]));
    }
    if (config.hstsEnabled) {
      this.hsts = `max-age=${config.hstsMaxAgeSeconds}` +
        (config.hstsIncludeSubDomains ? ";includeSubDomains" : "") +
        (config.hstsPreload ? ";preload" : "");
    }
  }

  get path(): string {
    return this.config.path;
  }

  /** The servlet (web.xml) a path below the context is mapped to, when bobcat cannot run it. */
  unrunnableServlet(relPath: string): { servletName: string; servletClass?: string } | undefined {
    const path = relPath || "/";
    return this.config.servletMappings.find((m) => m.urlPatterns.some((p) => urlPatternMatches(p, path)));
  }

  /** The error page (web.xml) for a status, or for an error a handler threw; undefined: none. */
  errorPageFor(status: number, error?: unknown): string | undefined {
    const pages = this.config.errorPages;
    if (pages.length === 0) return undefined;
    if (error !== undefined) {
      const names = new Set<string>();
      for (let p = error as object | null; p && names.size < 20; p = Object.getPrototypeOf(p)) {
        const name = (p as { constructor?: { name?: string } }).constructor?.name;
        if (name) names.add(name);
      }
      if (error instanceof Error) names.add(error.name);
      const any = ["java.lang.Throwable", "java.lang.Exception", "java.lang.RuntimeException", "Error", "Throwable"];
      const hit = pages.find((p) => p.exceptionType && names.has(p.exceptionType)) ??
        pages.find((p) => p.exceptionType && any.includes(p.exceptionType));
      if (hit) return hit.location;
    }
    return (pages.find((p) => p.errorCode === status) ?? pages.find((p) => !p.errorCode && !p.exceptionType))
      ?.location;
  }

  /** Reads the RewriteValve rules of the context (WEB-INF/rewrite.config or inline) after the host's. */
  async loadRewrite(): Promise<void> {
    const valve = this.config.valves.find((v) => v.className === "RewriteValve");
    const own = valve?.className === "RewriteValve"
      ? await RewriteValveRuntime.load(valve, {
        contextLevel: true,
        label: `context ${this.config.path || "/"}`,
        file: this.config.docBase ? join(this.config.docBase, "WEB-INF", "rewrite.config") : undefined,
        baseDir: this.settings.baseDir,
        platform: this.settings.platform,
      })
      : undefined;
    const all = [this.host.rewrite, own].filter((r): r is RewriteValveRuntime => r !== undefined);
    this.rewriters = all.length > 0 ? all : undefined;
    // Every request of a context with a RewriteValve goes through it: never the fast path.
    if (this.rewriters) this.direct = false;
  }

  /** Loads the handler and its session listeners, then the session manager (persisted sessions). */
  async start(): Promise<void> {
    if (this.valves.some((v) => v instanceof SSLValve)) await SSLValve.ready();
    await this.loadRewrite();
    await this.auth.realm.start();
    if (this.config.handler) {
      const loaded = await loadHandler(this.config.handler, this.config, {
        engine: this.engine,
        host: this.host.config,
        admin: this.settings.admin,
      }, {
        provided: this.settings.handlers,
        platform: this.settings.platform,
      });
      this.handler = loaded.handler;
      this.sessions.addListeners(loaded.sessionListeners);
      mark(`context ${this.config.path || "/"}: handler loaded`);
    }
    try {
      // Persisted sessions are checked and indexed once the connectors listen (what needs them
      // sooner finishes that first): a large sessions file does not hold up the start.
      this.sessions.manager.backgroundRestore = true;
      await this.sessions.manager.start();
    } catch (e) {
      const m = this.config.manager;
      throw locateError(e, [m.className === "PersistentManager" ? m.store : undefined, m, this.config]);
    }
    this.errorReport = await loadErrorReport(
      [...this.config.valves, ...this.host.config.valves, ...this.engine.valves],
      this.settings,
    );
    this.direct = this.handler !== undefined && this.config.docBase === undefined && this.valves.length === 0 &&
      this.filters.length === 0 && this.rewriters === undefined && this.constraints.empty && this.auth.empty &&
      !this.sessions.manager.hasStore && this.errorReport === undefined && this.config.errorPages.length === 0 &&
      this.hsts === undefined;
    this.started = true;
  }

  async stop(): Promise<void> {
    try {
      await this.sessions.manager.stop();
    } catch (e) {
      log.error(`context ${this.config.path || "/"}: stopping the session manager failed: ${(e as Error).message}`);
    }
    await this.dataSources?.close();
    await Promise.all(this.accessLogs.map((l) => l.close()));
  }
}

/** The innermost ErrorReportValve of `valves` (innermost first), its page files read. */
async function loadErrorReport(
  valves: ValveConfig[],
  settings: EngineSettings,
): Promise<ErrorReportSettings | undefined> {
  const report = valves.find((v) => v.className === "ErrorReportValve");
  if (report?.className !== "ErrorReportValve") return undefined;
  {
    const pages = new Map<string, string>();
    const files: Array<[string, string, string]> = [
      ...Object.entries(report.errorCodes).map(([k, f]) => [k, f, `errorCodes.${k}`] as [string, string, string]),
      // There are no Java exceptions: a page for Throwable/Exception is the page of every 500.
      ...Object.entries(report.exceptionTypes)
        .filter(([k]) => /^java\.lang\.(Throwable|Exception|RuntimeException|Error)$/.test(k))
        .map(([k, f]) => ["500", f, `exceptionTypes.${k}`] as [string, string, string]),
    ];
    for (const [code, file, attr] of files) {
      if (code !== "0" && !/^[1-5]\d\d$/.test(code)) {
        throw new BobcatError("config.valve", `ErrorReportValve: "${code}" is not a status code`, {
          where: sourceOf(report).attr("errorCodes"),
          fix: "use errorCode.NNN with a status such as 404, or 0 for every status",
        });
      }
      const full = isAbsolute(file) ? file : resolve(settings.baseDir, file);
      const read = settings.platform.readTextFile;
      if (!read) {
        throw new BobcatError(
          "platform.noFiles",
          `ErrorReportValve pages are files, which ${settings.platform.name} does not have`,
          {
            where: sourceOf(report).self,
            fix: "leave out errorCodes and exceptionTypes",
          },
        );
      }
      try {
        pages.set(code, await read(full));
      } catch (e) {
        throw new BobcatError("config.valve", `ErrorReportValve: cannot read ${full}: ${(e as Error).message}`, {
          where: sourceOf(report).attr(attr.split(".")[0]!),
          fix: "point it at a readable file (relative paths resolve against the base directory)",
        });
      }
    }
    return { showReport: report.showReport, showServerInfo: report.showServerInfo, pages };
  }
}

export class HostRuntime {
  /** Longest path first, so the first prefix match is the longest. */
  contexts: ContextRuntime[];
  readonly accessLogs: AccessLogWriter[];
  private readonly hostValves: RequestValve[];
  private readonly hostFilters: AccessValve[];
  /** HealthCheckValves of the engine and the host. */
  readonly health: HealthCheck[];
  /** The host's RewriteValve, once its rules are read (start). */
  rewrite?: RewriteValveRuntime;
  /** The host's (or engine's) ErrorReportValve, for what no context answers: the boundary's 400s, the no-context 404. */
  errorReport?: ErrorReportSettings;

  constructor(
    readonly config: HostConfig,
    private readonly engine: EngineConfig,
    private readonly settings: EngineSettings,
  ) {
    this.contexts = config.contexts
      .map((c) => new ContextRuntime(c, this, engine, settings))
      .sort((a, b) => b.path.length - a.path.length);
    this.accessLogs = accessLogs(config.valves, settings.platform);
    this.hostValves = [...requestValves(engine.valves), ...requestValves(config.valves)];
    this.hostFilters = [...accessValves(engine.valves), ...accessValves(config.valves)];
    for (const c of this.contexts) {
      c.valves = [...this.hostValves, ...requestValves(c.config.valves)];
      c.filters = [...this.hostFilters, ...accessValves(c.config.valves)];
    }
    this.health = [...engine.valves, ...config.valves].flatMap((v) =>
      v.className === "HealthCheckValve" ? [new HealthCheck(v, () => this.contexts.every((c) => c.started))] : []
    );
  }

  /**
   * Reads the host's ErrorReportValve pages and the rules of its RewriteValve
   * (conf/<Engine>/<Host>/rewrite.config, or inline).
   */
  async start(): Promise<void> {
    if (this.hostValves.some((v) => v instanceof SSLValve)) await SSLValve.ready();
    this.errorReport = await loadErrorReport([...this.config.valves, ...this.engine.valves], this.settings);
    const valve = this.config.valves.find((v) => v.className === "RewriteValve");
    if (valve?.className !== "RewriteValve") return;
    this.rewrite = await RewriteValveRuntime.load(valve, {
      contextLevel: false,
      label: `host ${this.config.name}`,
      file: join("conf", this.engine.name, this.config.name, "rewrite.config"),
      baseDir: this.settings.baseDir,
      platform: this.settings.platform,
    });
  }

  /** The engine's and host's request valves applied, and their filters' refusal if any (a request no context takes). */
  admit(req: Request, ctx: RequestContext, port: number): Response | undefined {
    for (const v of this.hostValves) v.apply(req, ctx);
    for (const f of this.hostFilters) {
      const refused = f.check(ctx, port);
      if (refused) return refused;
    }
    return undefined;
  }

  /**
   * Deploys `config` while running (autoDeploy, reloadable): a context already at its path is
   * stopped first (its sessions persisted) and requests for it wait until the new one has
   * started (and restored them). If the new one fails to start, the path is left undeployed
   * and the error thrown.
   */
  async deploy(config: ContextConfig): Promise<ContextRuntime> {
    const next = new ContextRuntime(config, this, this.engine, this.settings);
    next.valves = [...this.hostValves, ...requestValves(config.valves)];
    next.filters = [...this.hostFilters, ...accessValves(config.valves)];
    const old = this.contexts.find((c) => c.path === config.path);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    if (old) {
      old.pending = gate;
      await old.stop();
    } else {
      next.pending = gate;
      this.contexts = [...this.contexts, next].sort((a, b) => b.path.length - a.path.length);
    }
    try {
      await next.start();
      if (old) this.contexts = this.contexts.map((c) => (c === old ? next : c));
      next.sessions.manager.serving();
    } catch (e) {
      this.contexts = this.contexts.filter((c) => c !== old && c !== next);
      await next.stop().catch(() => {});
      throw e;
    } finally {
      next.pending = undefined;
      release();
    }
    return next;
  }

  /** Stops and removes the context at `path` (its persisted sessions are discarded, as Tomcat deletes its work directory). */
  async undeploy(path: string): Promise<ContextRuntime | undefined> {
    const old = this.contexts.find((c) => c.path === path);
    if (!old) return undefined;
    this.contexts = this.contexts.filter((c) => c !== old);
    await old.stop();
    return old;
  }

  /** Longest-prefix match on whole path segments; "" (ROOT) matches everything. */
  match(pathname: string): ContextRuntime | undefined {
    for (const c of this.contexts) {
      const p = c.path;
      if (p === "") return c;
      // The character after "/" first: most paths that differ do there, for less than a startsWith.
      if (
        pathname.charCodeAt(1) === p.charCodeAt(1) && pathname.startsWith(p) &&
        (pathname.length === p.length || pathname.charCodeAt(p.length) === 47)
      ) return c;
    }
    return undefined;
  }
}

export class Engine {
  readonly hosts: HostRuntime[];
  private readonly byName = new Map<string, HostRuntime>();
  private readonly defaultHost: HostRuntime;
  /** What a request without a Host names: the default host, no port (serverName, serverPort). */
  private readonly defaultHostPort: HostPort;
  private readonly accessLogs: AccessLogWriter[];
  private logsAnywhere: boolean;
  private readonly serveStatic: Platform["serveStatic"];
  private readonly platform: Platform;
  private readonly metrics?: RequestMetrics;
  private timer?: BackgroundTimer;
  /**
   * Where locate() puts what it made of the request in hand, reused for every request (no
   * object per request on the synchronous path): read it right after locate() returns, before
   * anything else can run; what goes on asynchronously takes a copy (Mapping.snapshot).
   */
  private readonly located = new Mapping();

  /**
   * The engine of one service of a loaded config: the one way servers, `bobcat check` and edge
   * handlers build engines. The server-wide settings (STRICT_SERVLET_COMPLIANCE, the base
   * directory) come from the config; the caller gives the platform, the global data sources it
   * opened (and closes), and for scripts their handler objects and the manager app's view.
   */
  static fromConfig(
    config: BobcatConfig,
    service: ServiceConfig,
    env: Omit<EngineSettings, "strictServletCompliance" | "baseDir">,
  ): Engine {
    return new Engine(service, {
      ...env,
      strictServletCompliance: config.server.strictServletCompliance,
      baseDir: config.baseDir,
    });
  }

  /** `settings.platform` says what the engine may use beyond web standards (files, databases). */
  constructor(
    readonly service: ServiceConfig,
    settings: EngineSettings,
    readonly config: EngineConfig = service.engine,
  ) {
    this.serveStatic = settings.platform.serveStatic;
    this.platform = settings.platform;
    this.metrics = settings.requestMetrics;
    this.hosts = config.hosts.map((h) => new HostRuntime(h, config, settings));
    for (const h of this.hosts) {
      for (const n of [h.config.name, ...h.config.aliases]) this.byName.set(n.toLowerCase(), h);
    }
    this.defaultHost = this.byName.get(config.defaultHost.toLowerCase())!;
    this.defaultHostPort = Object.freeze({ hostname: this.defaultHost.config.name.toLowerCase(), port: "" });
    this.accessLogs = accessLogs(config.valves, settings.platform);
    this.logsAnywhere = this.accessLogs.length > 0 ||
      this.hosts.some((h) => h.accessLogs.length > 0 || h.contexts.some((c) => c.accessLogs.length > 0));
  }

  get contexts(): ContextRuntime[] {
    return this.hosts.flatMap((h) => h.contexts);
  }

  /** Deploys (or redeploys) a context on a host while running; see HostRuntime.deploy. */
  async deploy(hostName: string, config: ContextConfig): Promise<ContextRuntime> {
    const host = this.byName.get(hostName.toLowerCase())!;
    try {
      return await host.deploy(config);
    } finally {
      this.logsAnywhere ||= host.contexts.some((c) => c.accessLogs.length > 0);
    }
  }

  async undeploy(hostName: string, path: string): Promise<ContextRuntime | undefined> {
    return await this.byName.get(hostName.toLowerCase())?.undeploy(path);
  }

  /**
   * Starts every context. `timer: false` leaves the background processing to the caller (an
   * edge handler runs it between requests, where a timer outside a request may never fire).
   */
  async start(opts: { timer?: boolean } = {}): Promise<void> {
    await this.loadRewrites(false);
    for (const c of this.contexts) await c.start();
    if (opts.timer === false) return;
    const ms = this.config.backgroundProcessorDelay * 1000;
    this.timer = backgroundInterval(() => void this.backgroundProcess(), ms);
  }

  /**
   * Starts the hosts (their RewriteValve rules and ErrorReportValve pages) and, with `contexts`,
   * reads every context's RewriteValve rules too: `bobcat check`, which starts no context.
   */
  async loadRewrites(contexts = true): Promise<void> {
    const onEngine = this.config.valves.find((v) => v.className === "RewriteValve");
    if (onEngine) {
      throw new BobcatError("config.valve", "a RewriteValve on the Engine is not supported by bobcat", {
        where: sourceOf(onEngine).self,
        fix: "put it on each Host (rules in conf/<Engine>/<Host>/rewrite.config) or on a Context",
      });
    }
    for (const h of this.hosts) await h.start();
    if (contexts) { for (const c of this.contexts) await c.loadRewrite(); }
  }

  /** The engine's background thread: session expiry (every processExpiresFrequency-th tick). */
  async backgroundProcess(): Promise<void> {
    for (const c of this.contexts) {
      try {
        await c.sessions.manager.backgroundProcess();
      } catch (e) {
        log.error(`background processing of context ${c.path || "/"} failed: ${(e as Error).message}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    for (const c of this.contexts) await c.stop();
    await Promise.all([...this.accessLogs, ...this.hosts.flatMap((h) => h.accessLogs)].map((l) => l.close()));
  }

  private hostOf(target: Target): HostRuntime {
    return target.host ? this.hostFor(target.host.hostname) : this.defaultHost;
  }

  /** `hostname` is lower-case, without port or brackets. */
  hostFor(hostname: string): HostRuntime {
    return this.byName.get(hostname) ?? this.defaultHost;
  }

  /** Every request on the general path: counted for /metrics and written to the access logs where configured. */
  handle(req: Request, connector: ConnectorInfo, conn: ConnectionInfo): Promise<Response> {
    if (this.logsAnywhere) return this.handleLogged(req, connector, conn);
    if (this.metrics) return this.handleMeasured(req, connector, conn);
    return this.route(req, connector, conn, null);
  }

  private async handleMeasured(req: Request, connector: ConnectorInfo, conn: ConnectionInfo): Promise<Response> {
    const start = latencyClock();
    const seen: Seen = { ctx: null, host: undefined, context: undefined };
    const res = await this.route(req, connector, conn, seen);
    this.measure(req, seen, finalStatus(res, conn), latencyClock() - start);
    return res;
  }

  // ══════════════════════════════════════════════════════════════════════════════════════════
  // THE SYNCHRONOUS FAST PATH. Bun.serve (and Deno.serve) write a Response that the fetch
  // handler returns synchronously at once; a Promise costs a trip through the microtask queue
  // and a pending-request record in the runtime. So for a request routed to a "direct" context
  // (a handler and nothing between it and the routing: see ContextRuntime.direct) on an engine
  // without access logs, the handler is called here without an await, and a Response it returns
  // synchronously goes straight back. Every other request, and a handler that returns a Promise
  // or throws, continues on the general path, which is plain async code. The back-ends reach
  // this through ConnectorPipeline.handleSync; bench/https-hello.ts --without-fast-path
  // measures what it buys (BOBCAT_SYNC_FAST_PATH=0 turns it off).
  // Such a request makes no object of its own here but its RequestContext: the mapping is read
  // from the engine's reused one (this.located) before the handler runs, the metrics are given
  // their labels as strings (no Seen record).
  // ══════════════════════════════════════════════════════════════════════════════════════════
  handleSync(req: Request, connector: ConnectorInfo, conn: ConnectionInfo): Response | Promise<Response> {
    if (this.logsAnywhere) return this.handleLogged(req, connector, conn);
    const metrics = this.metrics;
    const start = metrics ? latencyClock() : 0;
    const answer = this.locate(req, connector, conn);
    const at = this.located;
    const method = at.method;
    const context = at.context;
    if (answer || !context || !context.direct || conn.webSocket) {
      // Everything but the direct path: the general path's record of the request (Seen).
      const seen: Seen | null = metrics ? { ctx: null, host: undefined, context: undefined } : null;
      if (seen) at.report(seen);
      const res = answer ?? this.proceed(req, connector, conn, seen);
      if (!seen) return res;
      if (res instanceof ResponseClass) {
        this.measure(req, seen, finalStatus(res, conn), latencyClock() - start);
        return res;
      }
      return res.then((r) => {
        this.measure(req, seen, finalStatus(r, conn), latencyClock() - start);
        return r;
      });
    }
    // The direct path. What is needed after the handler is taken out of this.located first: the
    // handler may route another request through this engine before it returns.
    const pathname = at.pathname;
    const ctx = this.requestContext(at, connector, conn);
    const sessions = context.sessions;
    let res: Response | Promise<Response>;
    // Synchronous: a direct context's manager has no store to load the session from.
    void sessions.prepare(req, ctx, at.params === null ? null : at.params.get(sessions.pathParamName) ?? null);
    // The request as it came when its URL already says all (the RoutedPath is built only otherwise).
    const asIs = context.path === "" && at.target.origin !== "" && at.target.urlPath === at.encoded;
    try {
      res = context.handler!(asIs ? req : rebase(req, this.routedPath(at, connector, ctx), context), ctx);
      if (res instanceof ResponseClass) res = sessions.finish(ctx, res);
      else res = this.settle(req, pathname, context, ctx, res);
    } catch (e) {
      res = this.settle(req, pathname, context, ctx, Promise.reject(e));
    }
    if (!metrics) return res;
    const hostName = context.host.config.name;
    const contextLabel = context.path || "/";
    if (res instanceof ResponseClass) {
      metrics.record(hostName, contextLabel, method, finalStatus(res, conn), (latencyClock() - start) / 1000);
      return res;
    }
    return res.then((r) => {
      metrics.record(hostName, contextLabel, method, finalStatus(r, conn), (latencyClock() - start) / 1000);
      return r;
    });
  }

  /** What the general path does after the handler of a direct context, when it did not answer synchronously. */
  private async settle(
    req: Request,
    pathname: string,
    context: ContextRuntime,
    ctx: RequestContext,
    outcome: Promise<Response>,
  ): Promise<Response> {
    try {
      let res: Response;
      try {
        res = await outcome;
      } catch (e) {
        return sessionFailure(context.sessions, ctx, e);
      }
      return await context.sessions.finish(ctx, res);
    } catch (e) {
      return await this.internalError(req, pathname, e, context);
    }
  }
  // ═══════════════════════════════ end of the synchronous fast path ═════════════════════════

  /** `ms`: the request's time, in milliseconds. */
  private measure(req: Request, seen: Seen, status: number, ms: number): void {
    this.metrics!.record(
      seen.host?.config.name ?? "",
      seen.context ? seen.context.path || "/" : "",
      seen.method ?? req.method,
      status,
      ms / 1000,
    );
  }

  private async handleLogged(req: Request, connector: ConnectorInfo, conn: ConnectionInfo): Promise<Response> {
    const start = performance.now();
    const startMs = Date.now();
    const seen: Seen = { ctx: null, host: undefined, context: undefined };
    const res = await this.route(req, connector, conn, seen);
    const status = finalStatus(res, conn);
    const elapsed = performance.now() - start;
    if (this.metrics) this.measure(req, seen, status, elapsed);
    const entry = {
      request: req,
      url: urlForLog(req.url),
      ctx: seen.ctx,
      remoteAddr: seen.ctx?.remoteAddr ?? conn.remoteAddr,
      status,
      bytes: bodySent(req.method, status, res.headers),
      responseHeaders: res.headers,
      startMs,
      endMs: startMs + elapsed,
      localPort: connector.port,
      localAddr: connector.address && connector.address !== "0.0.0.0" && connector.address !== "::"
        ? connector.address
        : undefined,
      protocol: conn.httpVersion ?? "HTTP/1.1",
    };
    for (const l of this.accessLogs) l.log(entry);
    if (seen.host) { for (const l of seen.host.accessLogs) l.log(entry); }
    if (seen.context) { for (const l of seen.context.accessLogs) l.log(entry); }
    return res;
  }

  /** The general path: the boundary and the mapping (locate), then everything else (proceed). */
  private async route(
    req: Request,
    connector: ConnectorInfo,
    conn: ConnectionInfo,
    seen: Seen | null,
    again?: Rerouted,
  ): Promise<Response> {
    const answer = this.locate(req, connector, conn, again);
    if (seen) this.located.report(seen);
    return answer ?? await this.proceed(req, connector, conn, seen, again);
  }

  /**
   * After locate() found no answer, from what it left in this.located (read here, before anything
   * else runs): a host's RewriteValve for a path no context takes, a context being redeployed
   * (wait, then route again), or the general path (serve) with its own copy of the mapping.
   */
  private proceed(
    req: Request,
    connector: ConnectorInfo,
    conn: ConnectionInfo,
    seen: Seen | null,
    again?: Rerouted,
  ): Response | Promise<Response> {
    const at = this.located;
    const context = at.context;
    if (!context) {
      return this.rewriteUnmapped(req, connector, conn, seen, at.ownTarget(), at.pathname, at.host!, again);
    }
    // Being redeployed: wait for the new one, then route again (it may be gone).
    if (context.pending) return context.pending.then(() => this.route(req, connector, conn, seen, again));
    return this.serve(req, connector, conn, seen, at.snapshot(), again);
  }

  /**
   * The boundary and the mapping, synchronous and without a URL object: the Host and the path
   * are checked and normalised here, once (request-target.ts); everything after uses that one
   * path. Answers the requests that end here (400, OPTIONS *, TRACE, 421, health checks, 404 for
   * a path no context takes); otherwise returns undefined, and this.located holds the mapping: a
   * context (it may be being redeployed), or none and a host whose RewriteValve is still to run
   * (see proceed). Either way this.located says the method and the host as far as they were
   * known, for the metrics and access logs (Mapping.report). `again`: a path a RewriteValve rewrote.
   */
  private locate(
    req: Request,
    connector: ConnectorInfo,
    conn: ConnectionInfo,
    again?: Rerouted,
  ): Response | undefined {
    const at = this.located;
    // Read once (a getter into the runtime's request on Bun and Deno), kept for the metrics.
    const method = req.method;
    at.method = method;
    at.host = undefined;
    at.context = undefined;
    const target = again
      ? again.target
      : readTarget(req.url, conn.hostHeaders ? null : requestHeader(req, "host"), conn, at.freshTarget);
    // The boundary's 400s get the ErrorReportValve page of the host (the default host when the
    // Host itself is refused), as Tomcat 10.1 renders them; no context's error pages apply.
    if (!target.ok) return badRequest(req, target.reason, this.defaultHost);
    at.target = target;
    const raw = target.rawPath;
    if (raw === "*") {
      // "OPTIONS *" asks the server, not a resource (Tomcat answers it the same way).
      return method === "OPTIONS"
        ? new Response(null, { headers: { allow: ALLOWED_METHODS } })
        : badRequest(req, '"*" is only a target for OPTIONS', this.hostOf(target));
    }
    // A canonical path (the usual) is its own normalised and encoded form: no result object.
    if (isCanonicalPath(raw)) {
      at.pathname = at.encoded = raw;
      at.params = null;
    } else {
      const normalized = normalizePath(raw);
      if (!normalized.ok) return badRequest(req, normalized.reason, this.hostOf(target));
      at.pathname = normalized.path;
      at.encoded = normalized.encoded;
      at.params = normalized.params;
    }
    // Tomcat's allowTrace=false: TRACE never reaches an application.
    if (method === "TRACE") return traceNotAllowed();
    const pathname = at.pathname;
    if (connector.hostCheck) {
      const refused = connector.hostCheck(target.host?.hostname ?? "", conn.tls);
      if (refused) {
        log.debug(`${connector.name}: 421 for ${conn.remoteAddr}: ${refused}`);
        return errorPage(421, "The host header does not match the SNI host: open a new connection for this host");
      }
    }
    const host = target.host ? this.hostFor(target.host.hostname) : this.defaultHost;
    for (const h of host.health) {
      const answer = h.answer(pathname);
      if (answer) return answer;
    }
    const context = host.match(pathname);
    at.host = host;
    if (!context) {
      if (host.rewrite && !again?.done.has(host.rewrite)) return undefined;
      return notFound(pathname, host);
    }
    at.context = context;
    return undefined;
  }

  private requestContext(at: Located, connector: ConnectorInfo, conn: ConnectionInfo): RequestContext {
    return new RequestContext(
      connector,
      conn,
      at.target.host ?? this.defaultHostPort,
      at.context!,
      at.target.rawPath,
    );
  }

  private routedPath(at: Located, connector: ConnectorInfo, ctx: RequestContext): RoutedPath {
    const { target, encoded, pathname, context } = at;
    return {
      pathname,
      encoded,
      search: target.search,
      relPath: context!.path === "" ? pathname : pathname.slice(context!.path.length),
      params: at.params,
      // The handler gets the request as it came only when its URL already says all this.
      urlIsCanonical: target.origin !== "" && target.urlPath === encoded,
      origin: target.origin || `${connector.scheme}://${hostForUrl(ctx.serverName)}:${connector.port}`,
    };
  }

  /** The general path after the mapping: valves, access valves, then invoke, HSTS and the error report. */
  private async serve(
    req: Request,
    connector: ConnectorInfo,
    conn: ConnectionInfo,
    seen: Seen | null,
    at: Routed,
    again?: Rerouted,
  ): Promise<Response> {
    const context = at.context;
    const ctx = this.requestContext(at, connector, conn);
    // The handler's URL names the server as the request did, before a valve changes ctx.serverName.
    const r = this.routedPath(at, connector, ctx);
    for (const v of context.valves) v.apply(req, ctx);
    if (conn.webSocket) ctx.webSockets = context.webSockets;
    if (seen) seen.ctx = ctx;
    const report = context.errorReport;
    for (const f of context.filters) {
      const refused = f.check(ctx, connector.port);
      if (refused) return report ? applyErrorReport(refused, report) : refused;
    }
    if (again) { for (const [k, v] of again.attributes) ctx.attributes.set(k, v); }
    if (context.rewriters) {
      // The RewriteValves (host's, then context's) that have not run yet: a rewritten path is routed again.
      const rewritten = this.rewrite(req, connector, conn, seen, at.target, at.pathname, context, ctx, again);
      if (rewritten) return await rewritten;
    }
    let res: Response;
    try {
      res = await this.invoke(req, r, context, ctx);
    } catch (e) {
      res = await this.internalError(req, at.pathname, e, context);
    }
    if (report) res = applyErrorReport(res, report);
    return context.hsts && ctx.secure ? withHeader(res, "strict-transport-security", context.hsts) : res;
  }

  /**
   * The RewriteValves of the mapped context (the host's, then the context's) that have not run
   * for this request yet. An internal rewrite routes the new path from the start (normalised,
   * mapped, constrained like any request's); undefined when no rule changed anything.
   */
  private rewrite(
    req: Request,
    connector: ConnectorInfo,
    conn: ConnectionInfo,
    seen: Seen | null,
    target: Target,
    pathname: string,
    context: ContextRuntime,
    ctx: RequestContext,
    again: Rerouted | undefined,
  ): Response | Promise<Response> | undefined {
    const done = new Set(again?.done);
    const attributes = [...(again?.attributes ?? [])];
    const cookies: string[] = [];
    let type: string | undefined;
    let search = target.search;
    let acted = false;
    for (const valve of context.rewriters!) {
      if (done.has(valve)) continue;
      done.add(valve);
      const d = decide(valve, {
        req,
        ctx,
        requestURI: target.rawPath,
        search,
        pathname,
        contextPath: context.path,
        encodedContextPath: context.encodedPath,
        docBase: context.config.docBase,
        platform: this.platform,
      });
      if (!d) continue;
      if (d.kind === "respond") {
        const res = decorate(d.response, cookies, undefined);
        return context.errorReport ? applyErrorReport(res, context.errorReport) : res;
      }
      acted = true;
      attributes.push(...d.attributes);
      cookies.push(...d.cookies);
      type = d.type ?? type;
      if (d.search !== undefined) search = d.search;
      if (d.rawPath !== undefined) {
        return this.reroute(
          req,
          connector,
          conn,
          seen,
          {
            target: { ...target, rawPath: d.rawPath, search, urlPath: "" },
            done,
            attributes,
          },
          cookies,
          type,
        );
      }
    }
    if (!acted) return undefined;
    // Attributes, cookies or a type, or a discarded query, but the same path: on with the request as it is.
    for (const v of context.rewriters!) done.add(v);
    return this.reroute(
      req,
      connector,
      conn,
      seen,
      {
        target: { ...target, search },
        done,
        attributes,
      },
      cookies,
      type,
    );
  }

  private reroute(
    req: Request,
    connector: ConnectorInfo,
    conn: ConnectionInfo,
    seen: Seen | null,
    next: Rerouted,
    cookies: string[],
    type: string | undefined,
  ): Response | Promise<Response> {
    const res = this.route(req, connector, conn, seen, next);
    if (cookies.length === 0 && type === undefined) return res;
    return res instanceof Response ? decorate(res, cookies, type) : res.then((r) => decorate(r, cookies, type));
  }

  /** A path no context takes, on a host with a RewriteValve: its rules may send it somewhere (Tomcat runs host valves first). */
  private rewriteUnmapped(
    req: Request,
    connector: ConnectorInfo,
    conn: ConnectionInfo,
    seen: Seen | null,
    target: Target,
    pathname: string,
    host: HostRuntime,
    again: Rerouted | undefined,
  ): Response | Promise<Response> {
    const ctx = new RequestContext(connector, conn, target.host ?? this.defaultHostPort, NO_CONTEXT, target.rawPath);
    const refused = host.admit(req, ctx, connector.port);
    if (refused) return host.errorReport ? applyErrorReport(refused, host.errorReport) : refused;
    const valve = host.rewrite!;
    const d = decide(valve, {
      req,
      ctx,
      requestURI: target.rawPath,
      search: target.search,
      pathname,
      contextPath: "",
      encodedContextPath: "",
      docBase: undefined,
      platform: this.platform,
    });
    const done = new Set(again?.done).add(valve);
    if (d?.kind === "respond") return host.errorReport ? applyErrorReport(d.response, host.errorReport) : d.response;
    if (d?.rawPath !== undefined) {
      return this.reroute(
        req,
        connector,
        conn,
        seen,
        {
          target: { ...target, rawPath: d.rawPath, search: d.search ?? target.search, urlPath: "" },
          done,
          attributes: [...(again?.attributes ?? []), ...d.attributes],
        },
        d.cookies,
        d.type,
      );
    }
    const res = notFound(pathname, host);
    return d ? decorate(res, d.cookies, d.type) : res;
  }

  private internalError(
    req: Request,
    pathname: string,
    e: unknown,
    context?: ContextRuntime,
  ): Response | Promise<Response> {
    const page = context && !isClientBodyError(e) ? context.errorPageFor(500, e) : undefined;
    if (page) {
      log.error(`${req.method} ${pathname}: ${(e as Error)?.stack ?? e}`);
      const fallback = errorPage(
        500,
        "The server encountered an unexpected condition that prevented it from fulfilling the request.",
      );
      return this.withErrorPage(req, context!, fallback, page);
    }
    // An upload the client aborted (or that passed a body limit) is not a server fault.
    if (isClientBodyError(e)) {
      log.debug(`${req.method} ${pathname}: ${(e as Error)?.message ?? e}`);
      return errorPage(isBodyTooLarge(e) ? 413 : 400, (e as Error)?.message ?? "bad request body", {
        connection: "close",
      });
    }
    log.error(`${req.method} ${pathname}: ${(e as Error)?.stack ?? e}`);
    return errorPage(
      500,
      "The server encountered an unexpected condition that prevented it from fulfilling the request.",
    );
  }

  /** Constraints, then the session lookup (from the store, where the manager has one), then the handler. */
  private async invoke(
    req: Request,
    r: RoutedPath,
    context: ContextRuntime,
    ctx: RequestContext,
  ): Promise<Response> {
    if (!ctx.secure && !context.constraints.empty && context.constraints.needsSecure(req.method, r.relPath || "/")) {
      return secureRedirect(r.encoded, r.search, ctx.serverName, ctx.connector.redirectPort);
    }
    const urlSessionId = r.params?.get(context.sessions.pathParamName) ?? null;
    await context.sessions.prepare(req, ctx, urlSessionId);
    const sessions = context.sessions;
    let res: Response;
    try {
      if (context.auth.empty) res = await this.dispatch(req, r, context, ctx);
      else {
        const outcome = await context.auth.check(
          req,
          ctx,
          r.relPath,
          r.encoded + r.search,
          (page, status) => this.forward(req, r, context, ctx, page, status),
        );
        res = outcome instanceof Response ? outcome : await this.dispatch(outcome ?? req, r, context, ctx);
      }
      if (context.config.errorPages.length > 0) {
        // web.xml <error-page>: the page's body for the errors bobcat itself answers.
        const page = isGeneratedError(res) ? context.errorPageFor(res.status) : undefined;
        if (page) res = await this.withErrorPage(req, context, res, page);
      }
    } catch (e) {
      return sessionFailure(sessions, ctx, e);
    }
    return await sessions.finish(ctx, res);
  }

  /** A page of the context served in place of the one asked for (FORM's login and error pages), as a GET. */
  private async forward(
    req: Request,
    r: RoutedPath,
    context: ContextRuntime,
    ctx: RequestContext,
    page: string,
    status: number,
  ): Promise<Response> {
    const rel = page.startsWith("/") ? page : `/${page}`;
    const normalized = normalizePath(context.path + rel);
    if (!normalized.ok) return errorPage(500, `the page ${page} is not a path in the context`);
    const inner: RoutedPath = {
      ...r,
      pathname: normalized.path,
      encoded: normalized.encoded,
      search: "",
      relPath: normalized.path.slice(context.path.length),
      params: null,
      urlIsCanonical: false,
    };
    const get = new Request(r.origin + normalized.encoded, { method: "GET", headers: req.headers });
    const res = await this.dispatch(get, inner, context, ctx);
    if (res.status !== 200) {
      log.error(`context ${context.path || "/"}: the FORM page ${page} answered ${res.status}`);
      return res;
    }
    const copy = new Response(res.body, { status, headers: res.headers });
    return copy;
  }

  /** The handler answers first; what it leaves as 404 falls through to the static docBase. */
  private dispatch(
    req: Request,
    r: RoutedPath,
    context: ContextRuntime,
    ctx: RequestContext,
  ): Response | Promise<Response> {
    const cfg = context.config;
    if (context.handler) {
      // The handler sees the normalised path relative to its context, canonically encoded.
      const inner = context.path === "" && r.urlIsCanonical ? req : rebase(req, r, context);
      if (ctx.conn.webSocket) bindRequest(inner, ctx);
      if (!cfg.docBase) return context.handler(inner, ctx);
      return Promise.resolve(context.handler(inner, ctx)).then((
        res,
      ) => (res.status === 404 ? this.serveDocBase(req, r, context) : res));
    }
    return this.serveDocBase(req, r, context);
  }

  private async serveDocBase(req: Request, r: RoutedPath, context: ContextRuntime): Promise<Response> {
    const cfg = context.config;
    if (cfg.docBase) {
      if (r.relPath === "" && context.path !== "") {
        // "/app" → "/app/", as Tomcat redirects a context root without its slash.
        return new Response(null, { status: 302, headers: { location: `${context.encodedPath}/${r.search}` } });
      }
      // A path web.xml maps to a servlet (a JSP) is never sent as a file: that would send its source.
      const servlet = cfg.servletMappings.length > 0 ? context.unrunnableServlet(r.relPath) : undefined;
      if (servlet) {
        log.debug(`${req.method} ${r.pathname}: mapped to servlet ${servlet.servletName}, which bobcat cannot run`);
        return errorPage(
          404,
          `The requested resource [${r.pathname}] is served by the servlet ${servlet.servletName}${
            servlet.servletClass ? ` (${servlet.servletClass})` : ""
          }, which bobcat cannot run`,
        );
      }
      const res = await this.serveStatic!(req, r.relPath, {
        docBase: cfg.docBase,
        welcomeFiles: cfg.welcomeFiles,
        listings: cfg.listings,
        contextPath: context.encodedPath,
        mimeTypes: context.mimeTypes,
      });
      if (res) return res;
    }
    return errorPage(404, `The requested resource [${r.pathname}] is not available`);
  }

  /**
   * The error page's file (a path below the context's docBase) as the body of `original`, whose
   * status and challenge headers stay. A page that cannot be read leaves `original` as it was.
   */
  private async withErrorPage(
    req: Request,
    context: ContextRuntime,
    original: Response,
    location: string,
  ): Promise<Response> {
    const cfg = context.config;
    if (!cfg.docBase || !this.serveStatic || context.unrunnableServlet(location)) return original;
    try {
      const page = await this.serveStatic(
        new Request(new URL(location, "http://localhost/"), { method: "GET" }),
        location,
        {
          docBase: cfg.docBase,
          welcomeFiles: [],
          listings: false,
          contextPath: context.encodedPath,
          mimeTypes: context.mimeTypes,
        },
      );
      if (!page || page.status !== 200) return original;
      const headers = new Headers(original.headers);
      headers.set("content-type", page.headers.get("content-type") ?? "text/html");
      headers.delete("content-length");
      const len = page.headers.get("content-length");
      if (len) headers.set("content-length", len);
      if (req.method === "HEAD") {
        await page.body?.cancel();
        return new Response(null, { status: original.status, headers });
      }
      return new Response(page.body, { status: original.status, headers });
    } catch (e) {
      log.warn(`context ${context.path || "/"}: error page ${location} could not be read: ${(e as Error).message}`);
      return original;
    }
  }
}

/** What Tomcat lists for "OPTIONS *" and for a refused TRACE (allowTrace=false). */
const ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";

/** Tomcat's allowTrace=false answer. */
export function traceNotAllowed(): Response {
  return errorPage(405, "TRACE is not allowed", { allow: ALLOWED_METHODS });
}

/** A request the boundary refuses: 400, as Tomcat's connector answers it, and a debug line. */
function badRequest(req: Request, reason: string, host?: HostRuntime): Response {
  log.debug(`400 for ${req.method} request: ${reason}`);
  const res = errorPage(400, `Bad Request: ${reason}`, { connection: "close" });
  return host?.errorReport ? applyErrorReport(res, host.errorReport) : res;
}

/** No context takes the path: 404 with the host's ErrorReportValve page, as Tomcat's StandardHostValve. */
function notFound(pathname: string, host: HostRuntime): Response {
  const res = errorPage(404, `The requested resource [${pathname}] is not available`);
  return host.errorReport ? applyErrorReport(res, host.errorReport) : res;
}

const hostForUrl = (name: string) => (name.includes(":") ? `[${name}]` : name);

/**
 * The bytes of the body a response sends, as Tomcat's %b counts them: its Content-Length (which
 * the bodies bobcat writes itself carry: error pages, listings, the built-in apps), none for a
 * HEAD or a status that has no body; undefined when unknown (a stream without the header).
 */
function bodySent(method: string, status: number, headers: Headers): number | undefined {
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) return 0;
  const len = headers.get("content-length");
  return len === null ? undefined : Number(len);
}

/** The access log's URL even for requests the boundary refused (Bun gives a path-only URL without Host). */
function urlForLog(href: string): URL {
  try {
    return new URL(href.charCodeAt(0) === 47 ? "http://localhost" + href : href);
  } catch {
    // "http://a b/x": a Host the boundary refused; keep the path.
    const start = href.indexOf("/", href.indexOf("//") + 2);
    try {
      return new URL("http://localhost" + (start >= 0 ? href.slice(start) : "/"));
    } catch {
      return new URL("http://localhost/");
    }
  }
}

/** A refused session (maxActiveSessions) answers 503; any other error goes on to the 500 page. */
function sessionFailure(sessions: SessionBinding, ctx: RequestContext, e: unknown): Response {
  const refused = sessions.failed(ctx, e);
  if (refused) return refused;
  throw e;
}

interface RoutedPath {
  /** The decoded, normalised path (request-target.ts), context path included. */
  pathname: string;
  /** `pathname` canonically percent-encoded. */
  encoded: string;
  search: string;
  /** Decoded path below the context path ("" for the context root itself). */
  relPath: string;
  /** Path parameters (lower-cased names), when the path had any. */
  params: Map<string, string> | null;
  /** req.url already has an origin and the canonical path. */
  urlIsCanonical: boolean;
  /** "scheme://authority" for URLs handed to handlers. */
  origin: string;
}

type Target = TargetFields;

/** A request routed again after a RewriteValve rewrote it. */
interface Rerouted {
  /** The rewritten path (raw, as a client would send it) and query; the Host as sent. */
  target: Target;
  /** The valves that have run for this request (each runs once, as Tomcat's). */
  done: Set<RewriteValveRuntime>;
  /** E= request attributes set so far. */
  attributes: Array<[string, string]>;
}

/** A request the boundary accepted and mapped to a context (Engine.locate). */
interface Located {
  target: Target;
  /** The decoded, normalised path (request-target.ts), context path included. */
  pathname: string;
  /** `pathname` canonically percent-encoded. */
  encoded: string;
  /** Path parameters (lower-cased names), when the path had any. */
  params: Map<string, string> | null;
  /** Undefined only in Engine.located while no context takes the path. */
  context: ContextRuntime | undefined;
}

/**
 * Engine.locate()'s answer for the request in hand: one object per engine, refilled for each
 * request (its target too, while the request's own came from the back-end), so that a request
 * on the synchronous path makes none. Whatever keeps a mapping past the moment locate()
 * returns — the general path across its awaits, a RewriteValve routing the request again —
 * takes a snapshot.
 */
/** A mapping to a context, the general path's own. */
type Routed = Located & { context: ContextRuntime };

class Mapping implements Located {
  /** Filled by readTarget for a request as it came (a rerouted request brings its own target). */
  readonly freshTarget: Target = { ok: true, host: undefined, rawPath: "/", search: "", urlPath: "/", origin: "" };
  target: Target = this.freshTarget;
  pathname = "/";
  encoded = "/";
  params: Map<string, string> | null = null;
  context: ContextRuntime | undefined = undefined;
  /** The host the path was mapped on, once it was (health checks and refusals come before). */
  host: HostRuntime | undefined = undefined;
  method = "";

  /** The target, copied when it is the reused one. */
  ownTarget(): Target {
    const t = this.target;
    return t === this.freshTarget
      ? { ok: true, host: t.host, rawPath: t.rawPath, search: t.search, urlPath: t.urlPath, origin: t.origin }
      : t;
  }

  /** A copy that stays as it is whatever the engine routes next (of a mapping to a context). */
  snapshot(): Routed {
    return {
      target: this.ownTarget(),
      pathname: this.pathname,
      encoded: this.encoded,
      params: this.params,
      context: this.context!,
    };
  }

  /**
   * What the metrics and the access logs take from the mapping. Only what this routing found is
   * written: a request a RewriteValve routed again keeps the host and context of its first
   * routing where the second found none, and a context being redeployed is left to the next.
   */
  report(seen: Seen): void {
    seen.method = this.method;
    if (this.host) seen.host = this.host;
    const context = this.context;
    if (context && !context.pending) seen.context = context;
  }
}

/** A response that becomes 101 Switching Protocols in the back-end counts (and is logged) as 101. */
function finalStatus(res: Response, conn: ConnectionInfo): number {
  return conn.webSocket?.pending && res.status < 300 ? 101 : res.status;
}

interface Seen {
  ctx: RequestContext | null;
  host: HostRuntime | undefined;
  context: ContextRuntime | undefined;
  /** req.method, as locate() read it. */
  method?: string;
}

/** The handler of a non-ROOT context sees URLs relative to its context path, and every handler the normalised path. */
function rebase(req: Request, r: RoutedPath, context: ContextRuntime): Request {
  const path = context.path === "" ? r.encoded : r.encoded.slice(context.encodedPath.length) || "/";
  return rebaseRequest(r.origin + path + r.search, req);
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
