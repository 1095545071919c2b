/**
 * WebSocket on top of the request pipeline. A handler calls `ctx.upgradeWebSocket(request,
 * events)` (events shaped as Hono's: onOpen, onMessage, onClose, onError, each with the event and
 * the socket) after the request went through host/context mapping, constraints, login and the
 * valves like any other; the core checks the handshake and the Origin, reserves a socket on the
 * connector, and leaves a pending upgrade on the connection for the back-end, which performs it
 * once the response has passed the rest of the pipeline (session cookie, Server header). The
 * back-end then drives the socket through `WsConnection` (opened, message, closed, drained).
 *
 * Limits live here, the same on every back-end: message size (the back-end's framing enforces it,
 * 1009), idle timeout and ping interval (one timer per connector), sockets per connector,
 * backpressure (bytes queued for a slow client: closed with 1013 over the limit), graceful stop
 * (1001 once queued messages are written, within the stop timeout), and the HTTP session: socket
 * activity refreshes its last access, invalidating it closes its sockets with 1008.
 */
import type { ConnectorConfig } from "../config/model.ts";
import type { ManagerBase } from "../session/manager-base.ts";
import type { HttpSession } from "../session/types.ts";
import type { StandardSession } from "../session/session.ts";
import { errorPage } from "./error-page.ts";
import { logger } from "../util/log.ts";

const log = logger("websocket");

/**
 * What this module reads of the upgrade request's context. The request context (context.ts,
 * which imports this module) has all of it; handlers see their full context type through
 * context.ts's WSEvents and WSSocket.
 */
export interface UpgradeContext {
  getSession(create?: boolean): HttpSession | null;
  readonly serverName: string;
  readonly serverPort: number;
  readonly scheme: string;
  readonly secure: boolean;
  readonly remoteAddr: string;
  readonly connector: { readonly name: string };
}

/** What a handler gives `upgradeWebSocket`: Hono's WSEvents shape. */
export interface WSEvents<C extends UpgradeContext = UpgradeContext> {
  onOpen?(evt: Event, ws: WSSocket<C>): void | Promise<void>;
  onMessage?(evt: MessageEvent, ws: WSSocket<C>): void | Promise<void>;
  onClose?(evt: CloseEvent, ws: WSSocket<C>): void | Promise<void>;
  onError?(evt: Event, ws: WSSocket<C>): void | Promise<void>;
}

/** The socket handlers see: Hono's WSContext members, plus the request context of the upgrade. */
export interface WSSocket<C extends UpgradeContext = UpgradeContext> {
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  readonly readyState: 0 | 1 | 2 | 3;
  readonly protocol: string | null;
  readonly url: URL | null;
  readonly raw: unknown;
  binaryType: "arraybuffer" | "blob";
  /** Bytes queued for the client and not yet written. */
  readonly bufferedAmount: number;
  /** The request context of the upgrade request: session, principal, peer certificates. */
  readonly ctx: C;
}

export interface UpgradeOptions {
  /** The subprotocol to answer with (one the client offered in Sec-WebSocket-Protocol). */
  protocol?: string;
}

/** What a back-end offers the socket it carries. */
export interface WsTransport {
  send(data: string | Uint8Array): void;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
  ping(): void;
  bufferedAmount(): number;
}

/** The WebSocket settings of a connector (Connector attributes). */
export interface WsLimits {
  maxMessageSize: number;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  maxSockets: number;
  backpressureLimit: number;
}

export function wsLimits(c: ConnectorConfig): WsLimits {
  return {
    maxMessageSize: c.webSocketMaxMessageSize,
    idleTimeoutMs: c.webSocketIdleTimeout,
    pingIntervalMs: c.webSocketPingInterval,
    maxSockets: c.maxWebSocketConnections,
    backpressureLimit: c.webSocketBackpressureLimit,
  };
}

/** The sockets of one connector: counts, limits, the idle/ping timer and graceful stop. */
export class WebSocketHub {
  readonly open = new Set<WsConnection>();
  /** Upgrades accepted by a handler whose socket has not opened yet. */
  reserved = 0;
  opened = 0;
  refused = 0;
  private timer?: ReturnType<typeof setInterval>;
  stopping = false;

  constructor(readonly connector: string, readonly limits: WsLimits) {}

  /** A socket slot for an upgrade, or why not. */
  reserve(): string | null {
    if (this.stopping) return "the server is shutting down";
    if (this.limits.maxSockets > 0 && this.open.size + this.reserved >= this.limits.maxSockets) {
      this.refused++;
      return `connector ${this.connector} has its maximum of ${this.limits.maxSockets} WebSocket connections (maxWebSocketConnections)`;
    }
    this.reserved++;
    return null;
  }

  added(c: WsConnection): void {
    this.open.add(c);
    this.opened++;
    if (!this.timer && (this.limits.idleTimeoutMs > 0 || this.limits.pingIntervalMs > 0)) {
      const every = Math.max(
        50,
        Math.min(
          ...[this.limits.idleTimeoutMs / 4, this.limits.pingIntervalMs].filter((n) => n > 0),
          1000,
        ),
      );
      this.timer = setInterval(() => this.tick(), every);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  removed(c: WsConnection): void {
    this.open.delete(c);
    if (this.open.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    const now = Date.now();
    const { idleTimeoutMs, pingIntervalMs } = this.limits;
    for (const c of this.open) {
      if (idleTimeoutMs > 0 && now - c.lastActivity >= idleTimeoutMs) {
        log.debug(`${this.connector}: closing a WebSocket idle for ${now - c.lastActivity} ms (webSocketIdleTimeout)`);
        c.close(1001, "idle timeout");
        continue;
      }
      if (pingIntervalMs > 0 && now - c.lastPing >= pingIntervalMs) c.ping(now);
    }
  }

  /**
   * Graceful stop: every socket gets 1001 once what is queued for it is written; whatever is
   * still open when `timeoutMs` runs out is dropped.
   */
  async closeAll(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.open.size === 0) return;
    const deadline = Date.now() + timeoutMs;
    for (const c of [...this.open]) c.closeWhenFlushed(1001, "server shutting down", deadline);
    while (this.open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of [...this.open]) c.terminate();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Per request: the back-end's offer of an upgrade, and what the handler made of it. */
export interface WebSocketPort {
  hub: WebSocketHub;
  /** Set by upgradeWebSocket: the socket to open once the response has passed the pipeline. */
  pending?: WsConnection;
  /** An upgrade refused through an API that can only say yes or no (hono/bun's server.upgrade). */
  refusal?: Response;
}

/** What a context adds: its Origin allow-list, its session manager, the sockets of each session. */
export class ContextWebSockets {
  private readonly bySession = new Map<StandardSession, Set<WsConnection>>();

  constructor(
    readonly allowedOrigins: readonly string[],
    readonly refreshSession: boolean,
    readonly manager: ManagerBase,
  ) {
    manager.addListener({
      sessionDestroyed: (e) => {
        const set = this.bySession.get(e.session as StandardSession);
        if (!set) return;
        this.bySession.delete(e.session as StandardSession);
        for (const c of set) c.close(1008, "session ended");
      },
    });
  }

  bind(session: StandardSession, c: WsConnection): void {
    let set = this.bySession.get(session);
    if (!set) this.bySession.set(session, set = new Set());
    set.add(c);
  }

  unbind(session: StandardSession, c: WsConnection): void {
    const set = this.bySession.get(session);
    if (!set) return;
    set.delete(c);
    if (set.size === 0) this.bySession.delete(session);
  }
}

const READY = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

/** One WebSocket, as the core sees it: the handler's events on one side, the back-end's transport on the other. */
export class WsConnection implements WSSocket {
  private transport?: WsTransport;
  private state: 0 | 1 | 2 | 3 = READY.CONNECTING;
  binaryType: "arraybuffer" | "blob" = "arraybuffer";
  lastActivity = Date.now();
  lastPing = Date.now();
  private session: StandardSession | null;
  private flushTimer?: ReturnType<typeof setInterval>;

  constructor(
    readonly ctx: UpgradeContext,
    private readonly events: WSEvents,
    private readonly hub: WebSocketHub,
    private readonly scope: ContextWebSockets | undefined,
    readonly protocol: string | null,
    readonly url: URL | null,
  ) {
    let s: HttpSession | null = null;
    try {
      s = ctx.getSession(false);
    } catch {
      s = null;
    }
    this.session = s as StandardSession | null;
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return this.state;
  }
  get raw(): unknown {
    return this.transport;
  }
  get bufferedAmount(): number {
    return this.transport?.bufferedAmount() ?? 0;
  }

  /** The back-end could not perform the upgrade after all: free the slot. */
  abandon(): void {
    if (this.state !== READY.CONNECTING) return;
    this.state = READY.CLOSED;
    this.hub.reserved--;
  }

  // ---- back-end side ----

  opened(t: WsTransport): void {
    this.hub.reserved--;
    this.transport = t;
    this.state = READY.OPEN;
    this.hub.added(this);
    if (this.session && this.scope) {
      if (this.session.isValid()) this.scope.bind(this.session, this);
      else {
        // Invalidated between the handler and the upgrade.
        this.close(1008, "session ended");
        return;
      }
    }
    this.run("onOpen", () => this.events.onOpen?.(new Event("open"), this));
  }

  message(data: string | Uint8Array): void {
    this.activity();
    if (this.scope?.refreshSession && this.session?.isValid()) {
      this.scope.manager.access(this.session);
      this.scope.manager.endAccess(this.session);
    }
    const payload = typeof data === "string"
      ? data
      : this.binaryType === "blob"
      ? new Blob([data as Uint8Array<ArrayBuffer>])
      : (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data.buffer : data.slice().buffer);
    this.run("onMessage", () => this.events.onMessage?.(new MessageEvent("message", { data: payload }), this));
  }

  activity(): void {
    this.lastActivity = Date.now();
  }

  closed(code: number, reason: string): void {
    if (this.state === READY.CLOSED) return;
    this.state = READY.CLOSED;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.hub.removed(this);
    if (this.session && this.scope) this.scope.unbind(this.session, this);
    const evt = new CloseEvent("close", { code, reason, wasClean: code !== 1006 });
    this.run("onClose", () => this.events.onClose?.(evt, this));
  }

  error(e: unknown): void {
    const evt = new Event("error");
    (evt as { error?: unknown }).error = e;
    const onError = this.events.onError;
    if (onError) {
      try {
        void Promise.resolve(onError(evt, this)).catch((x) => log.error(`onError failed: ${(x as Error)?.stack ?? x}`));
      } catch (x) {
        log.error(`onError failed: ${(x as Error)?.stack ?? x}`);
      }
    } else log.error(`WebSocket handler failed: ${(e as Error)?.stack ?? e}`);
  }

  /** Runs a handler event; a throw or rejection goes to onError (or the log), never further. */
  private run(_name: string, f: () => unknown): void {
    try {
      const r = f();
      if (r instanceof Promise) r.catch((e) => this.error(e));
    } catch (e) {
      this.error(e);
    }
  }

  ping(now = Date.now()): void {
    this.lastPing = now;
    try {
      this.transport?.ping();
    } catch {
      // closing
    }
  }

  // ---- handler side ----

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.state !== READY.OPEN || !this.transport) return;
    const bytes = typeof data === "string"
      ? data
      : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.transport.send(bytes);
    const limit = this.hub.limits.backpressureLimit;
    if (limit > 0 && this.transport.bufferedAmount() > limit) {
      log.debug(
        `${this.hub.connector}: closing a WebSocket whose client does not read (${this.transport.bufferedAmount()} bytes queued, webSocketBackpressureLimit ${limit})`,
      );
      // The queue will not drain: no closing handshake behind it.
      this.transport.terminate();
      this.closed(1013, "backpressure limit");
    }
  }

  close(code = 1000, reason = ""): void {
    if (this.state === READY.CONNECTING) {
      this.abandon();
      return;
    }
    if (this.state !== READY.OPEN) return;
    this.state = READY.CLOSING;
    this.transport?.close(code, reason);
  }

  terminate(): void {
    if (this.state === READY.CLOSED) return;
    this.transport?.terminate();
    this.closed(1006, "");
  }

  /** Closes once the queue to the client is empty (or at the deadline). */
  closeWhenFlushed(code: number, reason: string, deadline: number): void {
    if (this.state !== READY.OPEN) return;
    if (this.bufferedAmount === 0) return this.close(code, reason);
    this.flushTimer = setInterval(() => {
      if (this.bufferedAmount === 0 || Date.now() >= deadline) {
        clearInterval(this.flushTimer);
        this.close(code, reason);
      }
    }, 10);
  }
}

/** Why a request is not a valid WebSocket handshake (RFC 6455 4.2.1), or null. */
export function handshakeProblem(
  req: Request,
): { status: number; text: string; headers?: Record<string, string> } | null {
  const h = req.headers;
  if (req.method !== "GET") return { status: 400, text: "a WebSocket upgrade must be a GET request" };
  if (!/(^|,)\s*websocket\s*(,|$)/i.test(h.get("upgrade") ?? "")) {
    return { status: 426, text: "this resource needs a WebSocket upgrade", headers: { upgrade: "websocket" } };
  }
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(h.get("connection") ?? "")) {
    return { status: 400, text: "Connection: Upgrade is missing" };
  }
  const key = h.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key.trim())) {
    return { status: 400, text: "Sec-WebSocket-Key is missing or malformed" };
  }
  if ((h.get("sec-websocket-version") ?? "").trim() !== "13") {
    return {
      status: 426,
      text: "only WebSocket version 13 is supported",
      headers: { "sec-websocket-version": "13" },
    };
  }
  return null;
}

/** `https://Example.com:443` → `https://example.com`; null for `null` and non-URLs. */
export function normalOrigin(origin: string): string | null {
  try {
    const u = new URL(origin);
    return u.protocol === "http:" || u.protocol === "https:" ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * Cross-site WebSocket hijacking: browsers send Origin on every WebSocket handshake and apply no
 * CORS to it. An upgrade whose Origin is neither the origin it was addressed to nor on the
 * context's allow-list is refused. No Origin at all is a non-browser client: allowed.
 */
export function originProblem(
  req: Request,
  ctx: UpgradeContext,
  allowed: readonly string[],
): string | null {
  const origin = req.headers.get("origin");
  if (origin === null) return null;
  if (allowed.includes("*")) return null;
  const o = normalOrigin(origin);
  if (o === null) return `Origin ${JSON.stringify(origin)} is not an http(s) origin`;
  const own = new Set<string>();
  const host = req.headers.get("host");
  const name = ctx.serverName.includes(":") && !ctx.serverName.startsWith("[") ? `[${ctx.serverName}]` : ctx.serverName;
  for (const scheme of new Set([ctx.scheme, ctx.secure ? "https" : "http"])) {
    const a = host ? normalOrigin(`${scheme}://${host}`) : null;
    if (a) own.add(a);
    const b = normalOrigin(`${scheme}://${name}:${ctx.serverPort}`);
    if (b) own.add(b);
  }
  if (own.has(o)) return null;
  if (allowed.some((a) => normalOrigin(a) === o)) return null;
  return `cross-site WebSocket upgrade refused (Origin: ${origin}); allowed: ${
    [...own, ...allowed].join(", ")
  } (add it to the context's webSocketAllowedOrigins if it is yours)`;
}

/**
 * ctx.upgradeWebSocket: checks, then a pending upgrade on the connection. Returns the response
 * to give back (the back-end turns it into 101 Switching Protocols), or the refusal.
 */
export function upgradeWebSocket(
  ctx: UpgradeContext,
  port: WebSocketPort | undefined,
  scope: ContextWebSockets | undefined,
  req: Request,
  events: WSEvents,
  opts: UpgradeOptions = {},
): Response {
  const bad = handshakeProblem(req);
  if (bad) return errorPage(bad.status, `Bad WebSocket handshake: ${bad.text}`, bad.headers);
  if (!port) {
    return errorPage(
      501,
      `WebSocket upgrades are off on connector ${ctx.connector.name}: set webSocketEnabled: true on it`,
    );
  }
  if (port.pending) throw new Error("upgradeWebSocket: this request has been upgraded already");
  const cross = originProblem(req, ctx, scope?.allowedOrigins ?? []);
  if (cross) {
    log.info(`${ctx.connector.name}: ${cross} from ${ctx.remoteAddr}`);
    return errorPage(403, cross);
  }
  const full = port.hub.reserve();
  if (full) return errorPage(503, `WebSocket refused: ${full}`, { "retry-after": "5" });
  const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  let protocol: string | null = null;
  if (opts.protocol) {
    if (!offered.includes(opts.protocol)) {
      port.hub.reserved--;
      throw new Error(`upgradeWebSocket: the client did not offer the subprotocol ${JSON.stringify(opts.protocol)}`);
    }
    protocol = opts.protocol;
  }
  let url: URL | null = null;
  try {
    url = new URL(req.url);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  } catch {
    url = null;
  }
  port.pending = new WsConnection(ctx, events, port.hub, scope, protocol, url);
  const headers: Record<string, string> = {};
  if (protocol) headers["sec-websocket-protocol"] = protocol;
  return new Response(null, { status: 200, headers });
}

/** Headers of the pipeline's response that belong on the 101 answer as well. */
export function upgradeHeaders(res: Response): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  res.headers.forEach((v, k) => {
    if (k === "set-cookie" || k === "content-length" || k === "content-type" || k === "connection") return;
    if (k === "upgrade" || k === "transfer-encoding") return;
    out.push([k, v]);
  });
  for (const c of res.headers.getSetCookie()) out.push(["set-cookie", c]);
  return out;
}

/**
 * After the pipeline: the socket to open, when the handler upgraded and nothing after it (a
 * session store failure, a refused session) turned the answer into an error.
 */
export function takeUpgrade(port: WebSocketPort | undefined, res: Response): WsConnection | undefined {
  const c = port?.pending;
  if (!c) return undefined;
  port!.pending = undefined;
  if (res.status >= 300) {
    c.abandon();
    return undefined;
  }
  return c;
}

/** The request context of each request a handler may upgrade, by the Request the handler got. */
const contexts = new WeakMap<Request, UpgradeContext>();

export function bindRequest(req: Request, ctx: UpgradeContext): void {
  contexts.set(req, ctx);
}

export function contextOfRequest(req: Request): UpgradeContext | undefined {
  return contexts.get(req);
}
