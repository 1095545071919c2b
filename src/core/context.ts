/**
 * The request context handed to every handler as the second argument of `fetch` (a Hono app
 * sees it as `c.env`): the HttpServletRequest extras of Tomcat, on web-standard parts.
 */
import type { X509Certificate } from "@peculiar/x509";

import type { HttpSession } from "../session/types.ts";
import { cipherKeySize } from "../tls/key-size.ts";
import {
  type ContextWebSockets,
  type UpgradeOptions,
  upgradeWebSocket,
  type WebSocketPort,
  type WSEvents as WSEventsOf,
  type WSSocket as WSSocketOf,
} from "./websocket.ts";
export type { HttpSession };
export type { UpgradeOptions };
/** WebSocket events and socket with the full request context as `ws.ctx`. */
export type WSEvents = WSEventsOf<BobcatContext>;
export type WSSocket = WSSocketOf<BobcatContext>;

/** A Host header's name and port, as the boundary parsed it (request-target.ts). */
export interface HostPort {
  /** Lower-case; an IPv6 literal without its brackets. */
  hostname: string;
  /** Digits, or "" when the Host names no port. */
  port: string;
}

/** What the runtime adapter knows about the connection a request came on. */
export interface ConnectionInfo {
  remoteAddr: string;
  remotePort: number;
  /** "HTTP/1.1" or "HTTP/2.0", where the back-end says (node-compat). */
  httpVersion?: string;
  /** The request-target exactly as received, where the back-end exposes it (node-compat). */
  target?: string;
  /** Every Host header value received (HTTP/2: the :authority), where the back-end exposes them (node-compat). */
  hostHeaders?: string[];
  /** Set on TLS connections whose back-end exposes the TLS state (node-compat). */
  tls?: TlsInfo;
  /**
   * Keeps the request's background work (session store writes) alive after the response: an
   * edge platform's waitUntil (Workers' ctx.waitUntil). Servers live on anyway and leave it unset.
   */
  waitUntil?: (work: Promise<unknown>) => void;
  /** Set by a back-end that can upgrade this request to a WebSocket (webSocketEnabled). */
  webSocket?: WebSocketPort;
}

export interface TlsInfo {
  /** Lower-case hex id of the TLS session behind the connection. */
  sslSessionId?: string;
  /** Leaf first; only a chain verified against the trust of the request's SSLHostConfig. */
  peerCertificates?: X509Certificate[];
  /** Whatever chain the client sent (optionalNoCA included), verified or not. Leaf first. */
  unverifiedPeerCertificates?: X509Certificate[];
  cipherSuite?: string;
  /** Bits of the cipher's key when a proxy says so (SSLValve); otherwise derived from cipherSuite. */
  keySize?: number;
  protocol?: string;
  serverName?: string;
}

/** The connector as the core sees it (no sockets: those belong to the adapter). */
export interface ConnectorInfo {
  name: string;
  /** The interface the connector is bound to, when the config names one. */
  address?: string;
  port: number;
  scheme: string;
  secure: boolean;
  redirectPort: number;
  proxyName?: string;
  proxyPort?: number;
  /**
   * Whether a request for `hostname` may be served on this TLS connection (Host against the SNI
   * name: see runtime/sni.ts). Returns null to go on, else why not; the engine answers 421.
   */
  hostCheck?: (hostname: string, tls: TlsInfo | undefined) => string | null;
  /** Largest form body bobcat reads for an application (bytes; -1: no limit; default 2 MiB). */
  maxPostSize?: number;
}

export interface Principal {
  name: string;
  roles: string[];
  authType?: string;
}

/** Per-request API for handlers. Session members are filled in by the session layer. */
export interface BobcatContext {
  readonly secure: boolean;
  readonly scheme: string;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** The TCP peer's address, whatever a proxy's forwarded headers made of remoteAddr. */
  readonly connectionAddr: string;
  /** Host name the request addressed (Host header without port, or proxyName). */
  readonly serverName: string;
  readonly serverPort: number;
  /** "" for ROOT, otherwise "/name". The request URL the handler sees is relative to it. */
  readonly contextPath: string;
  /** The path as the client sent it, context path included. */
  readonly requestURI: string;
  readonly connector: ConnectorInfo;
  readonly sslSessionId: string | undefined;
  /** The client's chain, leaf first, only when it was verified against the configured trust. */
  readonly peerCertificates: X509Certificate[];
  /** The chain the client sent, verified or not (optionalNoCA): never a proof of identity. */
  readonly unverifiedPeerCertificates: X509Certificate[];
  readonly cipherSuite: string | undefined;
  /** Tomcat's `jakarta.servlet.request.key_size`: the cipher suite's strength in bits (AES-128: 128). */
  readonly keySize: number | undefined;
  principal: Principal | null;
  getSession(create?: boolean): HttpSession | null;
  changeSessionId(): string;
  /** Adds `;jsessionid=` to a URL when the session cannot travel in a cookie (URL tracking). */
  encodeURL(url: string): string;
  /** Marks the session (if any) as authenticated; a new session id guards against fixation. */
  login(name: string, roles?: string[]): void;
  logout(): void;
  isUserInRole(role: string): boolean;
  /** Request-scoped attributes, like ServletRequest attributes. */
  readonly attributes: Map<string, unknown>;
  /**
   * Accepts a WebSocket upgrade of this request (events shaped as Hono's); returns the Response
   * to give back. A refused upgrade (bad handshake, cross-site Origin, too many sockets) returns
   * the error response instead.
   */
  upgradeWebSocket(request: Request, events: WSEvents, options?: UpgradeOptions): Response;
}

/** Hooks the session layer plugs into a request context. */
export interface SessionAccess {
  getSession(create: boolean): HttpSession | null;
  changeSessionId(): string;
  /** Looks up the requested session if that has not happened yet. */
  ensure?(): void;
  encodeURL?(url: string): string;
  onLogin?(principal: Principal): void;
  onLogout?(): void;
}

/** The Request class, read once: on Deno the global is a lazy accessor (see engine.ts's ResponseClass). */
const RequestClass = Request;

const NO_SESSIONS: SessionAccess = {
  getSession(create) {
    if (create) throw new Error("this context has no session manager");
    return null;
  },
  changeSessionId() {
    throw new Error("changeSessionId: there is no session");
  },
};

/** Makes a request's session state on first use (SessionBinding, for managers without a store). */
export interface SessionOpener {
  open(ctx: RequestContext, req: Request, urlSessionId: string | null): SessionAccess;
}

/**
 * The context a request was mapped to, as its RequestContext reads it (the engine's
 * ContextRuntime): its path, and what opens the request's session state on first use. One field
 * of the RequestContext for both, rather than the path and the opener each in one of their own.
 */
export interface RequestScope {
  /** "" for ROOT, otherwise "/name". */
  readonly path: string;
  /** None where no context took the request (a host's RewriteValve deciding where it goes). */
  readonly sessions?: SessionOpener;
}

/** The scope of a request no context has taken (yet): the root path, no sessions. */
export const NO_CONTEXT: RequestScope = Object.freeze({ path: "" });

/** A request's session state once used; before that the request, to open it from; undefined: none. */
type SessionSlot = SessionAccess | Request | undefined;

/**
 * What few requests have (a principal, attributes, a proxy's overrides, WebSocket settings, a
 * `;jsessionid=`), in one object made on first use, which from then on holds the request's
 * session slot too: the RequestContext keeps either in one field.
 */
class RareRequestState {
  principal: Principal | null = null;
  attrs: Map<string, unknown> | undefined = undefined;
  /** Set by a trusted proxy's headers (RemoteIpValve, SSLValve). */
  remoteOverride: string | undefined = undefined;
  tlsOverride: TlsInfo | undefined = undefined;
  secure: boolean | undefined = undefined;
  scheme: string | undefined = undefined;
  serverName: string | undefined = undefined;
  serverPort: number | undefined = undefined;
  webSockets: ContextWebSockets | undefined = undefined;
  sessionUrlId: string | null = null;
  constructor(public sessionSlot: SessionSlot) {}
}

/**
 * Every request makes one, and a request that makes a session makes it beside the session: its
 * six own fields keep it at 64 bytes in JavaScriptCore (7 or 8 take 80, 9 to 12 112), out of the
 * size class of the sessions (80), whose blocks garbage of their own size would leave partly
 * empty once collected.
 */
export class RequestContext implements BobcatContext {
  /**
   * The session slot (`sessionSlot`), or the rare state that holds it once a request has any.
   * The slot: the session state once the request has used it (or it was set); before that, the
   * request whose cookies it will read, opened on first use by the scope's SessionOpener (most
   * requests never use it, and then no per-request session object is made); undefined: none.
   */
  private state: SessionSlot | RareRequestState = undefined;

  /**
   * `hostPort`: the Host the request named (the engine's default host's name, no port, when it
   * named none), for serverName and serverPort. `scope`: the context the request was mapped to.
   */
  constructor(
    readonly connector: ConnectorInfo,
    readonly conn: ConnectionInfo,
    private readonly hostPort: HostPort,
    private readonly scope: RequestScope,
    readonly requestURI: string,
  ) {}

  /** "" for ROOT, otherwise "/name". */
  get contextPath(): string {
    return this.scope.path;
  }

  /** Host name the request addressed (Host header without port, or proxyName; a proxy's header may override it). */
  get serverName(): string {
    const rare = this.rareState;
    return (rare === null ? undefined : rare.serverName) ?? this.connector.proxyName ?? this.hostPort.hostname;
  }
  get serverPort(): number {
    const rare = this.rareState;
    const port = this.hostPort.port;
    return (rare === null ? undefined : rare.serverPort) ?? this.connector.proxyPort ??
      (port === "" ? this.connector.port : Number(port));
  }
  get secure(): boolean {
    const rare = this.rareState;
    return (rare === null ? undefined : rare.secure) ?? this.connector.secure;
  }
  get scheme(): string {
    const rare = this.rareState;
    return (rare === null ? undefined : rare.scheme) ?? this.connector.scheme;
  }

  /** The rare state, or null while the request has none. */
  private get rareState(): RareRequestState | null {
    const state = this.state;
    return state instanceof RareRequestState ? state : null;
  }
  /** The rare state, made on first use. */
  private get rare(): RareRequestState {
    const state = this.state;
    return state instanceof RareRequestState ? state : (this.state = new RareRequestState(state));
  }
  private get sessionSlot(): SessionSlot {
    const state = this.state;
    return state instanceof RareRequestState ? state.sessionSlot : state;
  }
  private set sessionSlot(slot: SessionSlot) {
    const state = this.state;
    if (state instanceof RareRequestState) state.sessionSlot = slot;
    else this.state = slot;
  }

  /** The context's WebSocket settings and sockets by session (set by the engine). */
  get webSockets(): ContextWebSockets | undefined {
    return this.rareState?.webSockets;
  }
  set webSockets(w: ContextWebSockets | undefined) {
    this.rare.webSockets = w;
  }

  /** The session hooks: opened on first use, NO_SESSIONS for a context without a manager. */
  get sessions(): SessionAccess {
    const slot = this.sessionSlot;
    if (slot === undefined) return NO_SESSIONS;
    if (!(slot instanceof RequestClass)) return slot;
    return this.sessionSlot = this.scope.sessions!.open(this, slot, this.rareState?.sessionUrlId ?? null);
  }
  set sessions(s: SessionAccess) {
    this.sessionSlot = s;
  }
  /** The session state if the request has used it (or it was set), without opening it. */
  get openedSessions(): SessionAccess | undefined {
    const slot = this.sessionSlot;
    return slot instanceof RequestClass ? undefined : slot;
  }
  /** Defers the session state to its first use, when the scope's SessionOpener opens it for `req`. */
  deferSessions(req: Request, urlSessionId: string | null): void {
    if (!this.scope.sessions) throw new Error(`context "${this.scope.path}" opens no sessions`);
    this.sessionSlot = req;
    if (urlSessionId !== null || this.rareState !== null) this.rare.sessionUrlId = urlSessionId;
  }

  get remoteAddr(): string {
    return this.rareState?.remoteOverride ?? this.conn.remoteAddr;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }
  /** The address of the peer of the TCP connection, whatever a proxy header says. */
  get connectionAddr(): string {
    return this.conn.remoteAddr;
  }
  private get tls(): TlsInfo | undefined {
    return this.rareState?.tlsOverride ?? this.conn.tls;
  }
  get sslSessionId(): string | undefined {
    return this.tls?.sslSessionId;
  }
  get peerCertificates(): X509Certificate[] {
    return this.tls?.peerCertificates ?? [];
  }
  get unverifiedPeerCertificates(): X509Certificate[] {
    return this.tls?.unverifiedPeerCertificates ?? this.peerCertificates;
  }
  get cipherSuite(): string | undefined {
    return this.tls?.cipherSuite;
  }
  get keySize(): number | undefined {
    const tls = this.tls;
    return tls?.keySize ?? cipherKeySize(tls?.cipherSuite);
  }
  get attributes(): Map<string, unknown> {
    return (this.rare.attrs ??= new Map());
  }

  overrideRemote(addr: string): void {
    this.rare.remoteOverride = addr;
  }
  overrideTransport(secure: boolean, scheme: string, port: number): void {
    const rare = this.rare;
    rare.secure = secure;
    rare.scheme = scheme;
    rare.serverPort = port;
  }
  overrideServerName(name: string): void {
    this.rare.serverName = name;
  }
  overrideTls(info: TlsInfo): void {
    // A chain from a trusted proxy replaces the connection's, verified and unverified alike.
    if (info.peerCertificates && !info.unverifiedPeerCertificates) {
      info = { ...info, unverifiedPeerCertificates: info.peerCertificates };
    }
    this.rare.tlsOverride = {
      ...this.conn.tls,
      ...Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined)),
    };
  }

  /** The authenticated user: set by login(), a trusted proxy or TLS, or restored from the session. */
  get principal(): Principal | null {
    this.sessions.ensure?.();
    return this.rareState === null ? null : this.rareState.principal;
  }
  set principal(p: Principal | null) {
    if (p !== null || this.rareState !== null) this.rare.principal = p;
  }
  /** Used by the session layer: sets the principal without triggering a session lookup. */
  restorePrincipal(p: Principal): void {
    this.rare.principal ??= p;
  }

  getSession(create = true): HttpSession | null {
    return this.sessions.getSession(create);
  }
  changeSessionId(): string {
    return this.sessions.changeSessionId();
  }
  encodeURL(url: string): string {
    return this.sessions.encodeURL?.(url) ?? url;
  }
  login(name: string, roles: string[] = []): void {
    const principal = { name, roles, authType: "PROGRAMMATIC" };
    this.rare.principal = principal;
    this.sessions.onLogin?.(principal);
  }
  logout(): void {
    this.principal = null;
    this.sessions.onLogout?.();
  }
  isUserInRole(role: string): boolean {
    return this.principal?.roles.includes(role) ?? false;
  }
  upgradeWebSocket(request: Request, events: WSEvents, options?: UpgradeOptions): Response {
    return upgradeWebSocket(this, this.conn.webSocket, this.webSockets, request, events, options);
  }
  /**
   * Bun's server as hono/bun's upgradeWebSocket finds it (`c.env.server`): its upgrade() goes
   * through ctx.upgradeWebSocket, on every back-end.
   */
  get server(): { upgrade(req: Request, options?: { data?: { events?: WSEvents; protocol?: string } }): boolean } {
    return {
      upgrade: (req, options) => {
        if (!this.conn.webSocket) {
          throw new Error(
            `WebSocket upgrades are off on connector ${this.connector.name}: set webSocketEnabled: true on it`,
          );
        }
        const events = options?.data?.events ?? {};
        const protocol = options?.data?.protocol || undefined;
        const res = this.upgradeWebSocket(req, events, protocol ? { protocol } : {});
        if (this.conn.webSocket.pending) return true;
        this.conn.webSocket.refusal = res;
        return false;
      },
    };
  }
}
