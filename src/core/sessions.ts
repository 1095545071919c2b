/**
 * HTTP side of sessions for one context: reads the requested session id (cookie or
 * `;jsessionid=` path parameter), resolves it through the manager before the handler runs
 * (so `ctx.getSession()` can stay synchronous), and writes the session cookie afterwards.
 */
import type { ContextConfig, EngineConfig, HostConfig } from "../config/model.ts";
import type { DataSources } from "../datasource/resources.ts";
import type { ManagerBase } from "../session/manager-base.ts";
import { TooManyActiveSessionsError } from "../session/errors.ts";
import { SessionNotStoredError } from "../session/not-stored.ts";
import { managerName } from "../config/app-key.ts";
import type { SessionListener } from "../session/types.ts";
import type { StandardSession } from "../session/session.ts";
import type { Platform } from "./platform.ts";
import type { Principal, RequestContext, SessionAccess, SessionOpener } from "./context.ts";
import { locateError } from "../config/validate.ts";
import { errorPage } from "./error-page.ts";
import { requestHeader } from "./request-header.ts";

export interface SessionSettings {
  strictServletCompliance: boolean;
  /** Relative `sqlite:` paths of data sources resolve against it. */
  baseDir: string;
  /** `server.globalNamingResources.resources`, opened once per server. */
  globalDataSources?: DataSources;
  /** Builds the managers (and their stores) with what the platform has: files on a server, not on the edge. */
  platform: Platform;
}

/** No requested session id (shared: never changed). */
const NO_IDS: readonly string[] = Object.freeze([]);

const FROM_COOKIE = 1;
const ANNOUNCE = 2;
const REJECTED = 4;
const RESOLVED = 8;
/** RequestSessions.session is null (the session was invalidated), though `current` still holds it. */
const NO_SESSION = 16;
/** RequestSessions' access has ended (release()), though `current` still holds the session. */
const RELEASED = 32;

/** What few requests' session state has, in one object made on first use. */
interface RareSessionState {
  /** The `;jsessionid=` of the URL. */
  urlSessionId: string | null;
  /** The store could not be read (shared consistency). */
  unavailable: SessionNotStoredError | null;
  /** Sessions the request used before the current one (it invalidated one and created another). */
  earlier: StandardSession[] | null;
}

/**
 * Per-request session state, kept on the request context. Like Tomcat's Request, it looks the
 * requested session up only when the handler asks (getSession, principal), so requests that
 * never touch sessions pay nothing; managers with a store resolve it before the handler instead.
 */
class RequestSessions implements SessionAccess {
  /**
   * The session the request uses: both `session` (the handler's, until it is invalidated) and
   * `accessed` (whose access the end of the request ends), which are never two different sessions;
   * NO_SESSION and RELEASED say which of the two no longer holds it.
   */
  private current: StandardSession | null = null;
  /**
   * FROM_COOKIE, ANNOUNCE, REJECTED, RESOLVED, NO_SESSION and RELEASED in one field, and what few
   * requests have in `rareState`: with 6 fields JavaScriptCore gives the object 64 bytes, with 7
   * or 8 80 — the size of a session, whose blocks a garbage object per request made with each new
   * session would leave a third empty (with the RequestContext) instead of half.
   */
  private flags = 0;
  private rareState: RareSessionState | null = null;

  constructor(
    private readonly binding: SessionBinding,
    private readonly ctx: RequestContext,
    private readonly req: Request | null,
    urlSessionId: string | null,
  ) {
    if (req === null) this.flags = RESOLVED;
    if (urlSessionId !== null) this.rare.urlSessionId = urlSessionId;
  }

  private get rare(): RareSessionState {
    return this.rareState ??= { urlSessionId: null, unavailable: null, earlier: null };
  }
  private get urlSessionId(): string | null {
    return this.rareState === null ? null : this.rareState.urlSessionId;
  }
  /** The store could not be read (shared consistency): the session is unknown, so nothing may use one. */
  get unavailable(): SessionNotStoredError | null {
    return this.rareState === null ? null : this.rareState.unavailable;
  }
  set unavailable(e: SessionNotStoredError | null) {
    if (e !== null || this.rareState !== null) this.rare.unavailable = e;
  }
  /** Whether the requested session has been looked up (or the request had none to look up). */
  get resolved(): boolean {
    return (this.flags & RESOLVED) !== 0;
  }
  set resolved(v: boolean) {
    this.flags = v ? this.flags | RESOLVED : this.flags & ~RESOLVED;
  }

  get fromCookie(): boolean {
    return (this.flags & FROM_COOKIE) !== 0;
  }
  set fromCookie(v: boolean) {
    this.flags = v ? this.flags | FROM_COOKIE : this.flags & ~FROM_COOKIE;
  }
  /** Set when a new id must reach the client (new session, changed id). */
  get announce(): boolean {
    return (this.flags & ANNOUNCE) !== 0;
  }
  set announce(v: boolean) {
    this.flags = v ? this.flags | ANNOUNCE : this.flags & ~ANNOUNCE;
  }
  /** createSession was refused (maxActiveSessions). */
  get rejected(): boolean {
    return (this.flags & REJECTED) !== 0;
  }
  set rejected(v: boolean) {
    this.flags = v ? this.flags | REJECTED : this.flags & ~REJECTED;
  }
  /** The request's session, until it is found invalid (then null). */
  get session(): StandardSession | null {
    return this.flags & NO_SESSION ? null : this.current;
  }
  /** The session whose access release() ends (null once it has). */
  private get accessed(): StandardSession | null {
    return this.flags & RELEASED ? null : this.current;
  }

  /** The ids the client sent: every cookie of the session cookie's name, else the URL's. */
  requestedIds(): readonly string[] {
    const b = this.binding;
    if (b.sslTracking) {
      const ssl = this.ctx.sslSessionId;
      return ssl ? [ssl.toUpperCase()] : NO_IDS;
    }
    let ids = b.cookieTracking && this.req ? cookieValues(requestHeader(this.req, "cookie"), b.cookieName) : NO_IDS;
    if (ids.length === 0 && this.urlSessionId && b.urlTracking) ids = [this.urlSessionId];
    if (ids.length > 0) this.fromCookie = b.cookieTracking && ids[0] !== this.urlSessionId;
    return ids;
  }

  ensure(): void {
    if (!this.resolved) this.lookUp();
  }

  /**
   * The lookup of the requested session, once per request: true when it found a live one (now
   * the request's). One clock reading serves the expiry check and the access time it records.
   */
  private lookUp(): boolean {
    this.resolved = true;
    const ids = this.requestedIds();
    if (ids.length === 0) return false;
    const manager = this.binding.manager;
    const now = manager.now();
    for (const id of ids) {
      const s = manager.findLoadedSession(id, now);
      if (s) {
        this.adopt(s, now);
        return true;
      }
    }
    return false;
  }

  /** `now`: the manager's clock as the caller just read it (else read here). */
  adopt(session: StandardSession, now?: number): void {
    this.binding.manager.access(session, now);
    const before = this.accessed;
    if (before && before !== session) (this.rare.earlier ??= []).push(before);
    this.current = session;
    this.flags &= ~(NO_SESSION | RELEASED);
    if (session.principal && !this.ctx.principal) {
      this.ctx.restorePrincipal({
        name: session.principal.name,
        roles: [...session.principal.roles],
        authType: session.authType ?? undefined,
      });
    }
  }

  encodeURL(url: string): string {
    this.ensure();
    return this.binding.encodeURL(this.ctx, url);
  }

  getSession(create: boolean): StandardSession | null {
    if (this.unavailable) throw this.unavailable;
    // The first call looks the session up: one it finds was found live at that very reading of
    // the clock, so it is not checked a second time.
    if (!this.resolved && this.lookUp()) return this.current!;
    const current = this.session;
    if (current && current.isValid()) return current;
    this.flags |= NO_SESSION;
    if (!create) return null;
    let s: StandardSession;
    try {
      // SSL tracking: the TLS session id is the session id (no cookie, nothing in the URL).
      const ssl = this.binding.sslTracking ? this.ctx.sslSessionId?.toUpperCase() : undefined;
      s = this.binding.manager.createSession(ssl);
    } catch (e) {
      if (e instanceof TooManyActiveSessionsError) this.rejected = true;
      throw e;
    }
    this.adopt(s);
    this.announce = true;
    return s;
  }

  changeSessionId(): string {
    const s = this.getSession(false);
    if (!s) throw new Error("changeSessionId: the request has no session (call getSession() first)");
    const id = this.binding.manager.changeSessionId(s);
    this.announce = true;
    return id;
  }

  onLogin(principal: Principal): void {
    const s = this.getSession(false);
    if (!s) return;
    if (this.binding.context.changeSessionIdOnAuthentication) this.changeSessionId();
    s.principal = { name: principal.name, roles: [...principal.roles] };
    s.authType = principal.authType ?? null;
  }

  onLogout(): void {
    const s = this.getSession(false);
    if (s) {
      s.principal = null;
      s.authType = null;
    }
  }

  /** Ends the access to the sessions used; with a store, returns what the response must wait for. */
  release(): Promise<void> | undefined {
    const s = this.accessed;
    if (!s) return undefined;
    const manager = this.binding.manager;
    const earlier = this.rareState === null ? null : this.rareState.earlier;
    const used = earlier ? [...earlier, s] : null;
    this.flags |= RELEASED;
    if (earlier) this.rareState!.earlier = null;
    if (used) { for (const e of used) manager.endAccess(e); }
    else manager.endAccess(s);
    return this.binding.hasStore ? manager.commit(used ?? [s]) : undefined;
  }
}

export class SessionBinding implements SessionOpener {
  readonly manager: ManagerBase;
  readonly cookieName: string;
  /** The cookie name in lower case: how the `;jsessionid=` path parameter is looked up. */
  readonly pathParamName: string;
  readonly cookieTracking: boolean;
  readonly urlTracking: boolean;
  readonly sslTracking: boolean;
  /** The manager keeps a store (PersistentManager): responses may wait for its writes. */
  readonly hasStore: boolean;
  /** JvmRouteBinderValve: this Engine's jvmRoute, which sessions arriving with another route are moved to. */
  private readonly bindRoute: string | null;
  /** The Set-Cookie value around the id, built once: `NAME=` and the attributes (with `; Secure`). */
  private readonly cookiePrefix: string;
  private readonly cookieAttrs: string;
  private readonly cookieAttrsSecure: string;

  constructor(
    readonly context: ContextConfig,
    host: HostConfig,
    engine: EngineConfig,
    settings: SessionSettings,
    /** The context's own `resources` (localDataSource). */
    localDataSources?: DataSources,
  ) {
    try {
      this.manager = settings.platform.createManager(context.manager, {
        name: managerName(engine.name, host.name, context.path),
        workDir: context.workDir,
        sessionTimeoutMinutes: context.sessionTimeout,
        distributable: context.distributable,
        strictServletCompliance: settings.strictServletCompliance,
        jvmRoute: engine.jvmRoute,
        dataSources: { global: settings.globalDataSources, local: localDataSources },
      });
    } catch (e) {
      const m = context.manager;
      throw locateError(e, [m.className === "PersistentManager" ? m.store : undefined, m, context]);
    }
    this.hasStore = this.manager.hasStore;
    const binder = [...engine.valves, ...host.valves, ...context.valves].find((v) =>
      v.className === "JvmRouteBinderValve"
    );
    this.bindRoute = binder && binder.enabled && engine.jvmRoute ? engine.jvmRoute : null;
    this.cookieName = context.sessionCookieName;
    this.pathParamName = context.sessionCookieName.toLowerCase();
    this.cookieTracking = context.sessionTrackingModes.includes("COOKIE");
    this.urlTracking = context.sessionTrackingModes.includes("URL");
    this.sslTracking = context.sessionTrackingModes.includes("SSL");
    let path = context.sessionCookiePath ?? (context.path === "" ? "/" : context.path);
    if (context.sessionCookiePathUsesTrailingSlash && !path.endsWith("/")) path += "/";
    const sameSite = context.cookieProcessor.sameSiteCookies;
    this.cookieAttrs = `; Path=${path}` +
      (context.sessionCookieDomain ? `; Domain=${context.sessionCookieDomain}` : "") +
      (context.useHttpOnly ? "; HttpOnly" : "") +
      (sameSite === "unset" ? "" : `; SameSite=${sameSite[0]!.toUpperCase()}${sameSite.slice(1)}`);
    this.cookieAttrsSecure = `${this.cookieAttrs}; Secure`;
    this.cookiePrefix = `${this.cookieName}=`;
  }

  addListeners(listeners: SessionListener[]): void {
    for (const l of listeners) this.manager.addListener(l);
  }

  /**
   * Installs session access on the request context. In-memory managers look the session up
   * lazily (synchronously) when the handler asks; a manager with a store must load it first.
   */
  prepare(req: Request, ctx: RequestContext, urlSessionId: string | null): void | Promise<void> {
    if (!this.manager.hasStore) {
      // Made when the handler (or a login, or the principal) first asks: most requests never do.
      ctx.deferSessions(req, urlSessionId);
      return;
    }
    const state = new RequestSessions(this, ctx, req, urlSessionId);
    ctx.sessions = state;
    state.resolved = true;
    const ids = state.requestedIds();
    if (ids.length > 0) {
      return this.resolve(state, ids).catch((err) => {
        if (!(err instanceof SessionNotStoredError)) throw err;
        state.unavailable = err;
      });
    }
  }

  open(ctx: RequestContext, req: Request, urlSessionId: string | null): SessionAccess {
    return new RequestSessions(this, ctx, req, urlSessionId);
  }

  /** Several cookies of the same name (different paths): the first that names a live session wins. */
  private async resolve(state: RequestSessions, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const s = await this.manager.findSession(id);
      if (s) {
        state.adopt(s);
        if (this.bindRoute) this.bindToThisNode(state, s);
        return;
      }
    }
  }

  /**
   * JvmRouteBinderValve: the session came with another node's route (that node failed, and the
   * balancer sent the client here); it is taken over under the same id with this node's route,
   * and the new cookie keeps the client here.
   */
  private bindToThisNode(state: RequestSessions, s: StandardSession): void {
    const dot = s.id.indexOf(".");
    const route = dot < 0 ? null : s.id.slice(dot + 1);
    if (route === this.bindRoute) return;
    const base = dot < 0 ? s.id : s.id.slice(0, dot);
    const id = `${base}.${this.bindRoute}`;
    if (this.manager.isLoaded(id)) return;
    this.manager.changeSessionId(s, id);
    state.announce = true;
  }

  /**
   * After the handler: end of access, then (with a store) the wait until the request's session
   * changes are durable — a change that could not be stored answers 503 instead of the handler's
   * response — then the cookie for a new or changed id. A refused session (maxActiveSessions)
   * throws TooManyActiveSessionsError to the handler: a handler that catches it answers what it
   * wants; one that lets it escape gets the 503 page — also when a framework turned the escaped
   * error into its generic 500 (Hono's default onError).
   */
  finish(ctx: RequestContext, res: Response): Response | Promise<Response> {
    const state = ctx.openedSessions as RequestSessions | undefined;
    if (!state || (!state.resolved && !state.rejected)) return res;
    const stored = state.release();
    this.keepAlive(ctx);
    if (stored) return stored.then(() => this.respond(state, ctx, res), (err) => notStored(err, res));
    return this.respond(state, ctx, res);
  }

  private respond(state: RequestSessions, ctx: RequestContext, res: Response): Response {
    if (state.rejected && res.status === 500) {
      void res.body?.cancel().catch(() => {});
      return errorPage(
        503,
        `The session could not be created: this context already has the most sessions it may hold (maxActiveSessions ${this.context.manager.maxActiveSessions})`,
        { "retry-after": "5" },
      );
    }
    const s = state.session;
    if (!state.announce || !s || !this.cookieTracking || !s.isValid()) return res;
    const secure = this.context.sessionCookieSecure ?? ctx.secure;
    const cookie = this.cookiePrefix + s.id + (secure ? this.cookieAttrsSecure : this.cookieAttrs);
    try {
      res.headers.append("set-cookie", cookie);
      return res;
    } catch {
      const copy = new Response(res.body, res);
      copy.headers.append("set-cookie", cookie);
      return copy;
    }
  }

  /**
   * The handler threw: release the session; a refused session (maxActiveSessions) that escaped
   * the handler answers 503. Returns undefined when the error is another one.
   */
  failed(ctx: RequestContext, e: unknown): Response | undefined {
    const state = ctx.openedSessions as RequestSessions | undefined;
    if (!state) return undefined;
    if (state.unavailable) return notStored(state.unavailable, new Response(null));
    // The error response acknowledges nothing; the writes go on, and their failures are logged.
    void state.release()?.catch(() => {});
    this.keepAlive(ctx);
    return e instanceof TooManyActiveSessionsError
      ? this.respond(state, ctx, new Response(null, { status: 500 }))
      : undefined;
  }

  /** On an edge platform, the store work this request set off goes to its waitUntil, so none is cut off. */
  private keepAlive(ctx: RequestContext): void {
    const waitUntil = ctx.conn.waitUntil;
    if (waitUntil && this.manager.hasStore) waitUntil(this.manager.whenIdle());
  }

  /** `url` with `;jsessionid=` when URL tracking is on and the id did not come from a cookie. */
  encodeURL(ctx: RequestContext, url: string): string {
    const state = ctx.sessions as RequestSessions;
    const s = state.session;
    if (!this.urlTracking || !s || !s.isValid() || state.fromCookie) return url;
    const cut = url.search(/[?#]/);
    const [path, rest] = cut < 0 ? [url, ""] : [url.slice(0, cut), url.slice(cut)];
    // Tomcat's path parameter: "jsessionid" by default, else the configured cookie name as written.
    const param = this.cookieName === "JSESSIONID" ? "jsessionid" : this.cookieName;
    return `${path};${param}=${s.id}${rest}`;
  }
}

/** The handler's response is dropped: it would tell the client that a change was made which a crash would lose. */
function notStored(err: unknown, res: Response): Response {
  if (!(err instanceof SessionNotStoredError)) throw err;
  void res.body?.cancel().catch(() => {});
  // Worker processes: another request changed the same session attribute first (shared-manager.ts).
  if (err.name === "SessionConflictError") {
    return errorPage(
      503,
      "Another request changed this session at the same moment. Nothing was confirmed; try again.",
      { "retry-after": "1" },
    );
  }
  return errorPage(
    503,
    "The session could not be saved: the session store is not available. Nothing was confirmed; try again shortly.",
    { "retry-after": "5" },
  );
}

/**
 * Values of every cookie called `name` in a Cookie header, in order: each `;`-separated part
 * whose text before the first `=`, trimmed, is `name`; the value trimmed, without surrounding
 * double quotes, and left out when empty. Read in place (no split, no slice per part): it runs
 * on every request that asks for its session.
 */
export function cookieValues(header: string | null, name: string): readonly string[] {
  // Most requests that ask for a session have no cookie for it (a new session): nothing allocated.
  if (!header || !header.includes(name)) return NO_IDS;
  const out: string[] = [];
  const plainName = name.length > 0 && name.trim() === name;
  const n = header.length;
  for (let start = 0; start <= n;) {
    let end = header.indexOf(";", start);
    if (end < 0) end = n;
    const eq = header.indexOf("=", start);
    if (eq >= 0 && eq < end && namedAt(header, start, eq, name, plainName)) {
      let v = header.slice(eq + 1, end).trim();
      if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      if (v) out.push(v);
    }
    start = end + 1;
  }
  return out;
}

/**
 * `header.slice(start, eq).trim() === name`, mostly without making the slice: when `name` has no
 * whitespace of its own, the usual parts (`name=`, `; name=`, another cookie) are decided from
 * the characters in place; anything with other whitespace is left to trim().
 */
function namedAt(header: string, start: number, eq: number, name: string, plainName: boolean): boolean {
  if (plainName) {
    const at = eq - name.length;
    if (at < start) return false;
    if (header.startsWith(name, at)) {
      let i = start;
      while (i < at && header.charCodeAt(i) === 32) i++;
      if (i === at) return true;
    } else {
      // The text before `=` ends in a character trim() keeps, and not in `name`: another cookie.
      const c = header.charCodeAt(eq - 1);
      if (c > 32 && c !== 0xa0 && c < 0x1680) return false;
    }
  }
  return header.slice(start, eq).trim() === name;
}
