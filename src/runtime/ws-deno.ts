/**
 * hono/deno's upgradeWebSocket calls `Deno.upgradeWebSocket(c.req.raw)`, which only works on
 * requests of Deno's own HTTP server. On Deno, bobcat wraps that function: for a request bobcat
 * is serving on a WebSocket connector it goes through ctx.upgradeWebSocket (the same checks,
 * limits and session binding as every other upgrade) and returns a WebSocket-like socket; any
 * other request goes to Deno's own function unchanged.
 */
import { contextOfRequest } from "../core/websocket.ts";
import type { BobcatContext, WSSocket } from "../core/context.ts";

type DenoUpgrade = (req: Request, options?: { protocol?: string; idleTimeout?: number }) => {
  response: Response;
  socket: unknown;
};

let installed = false;

export function installDenoUpgrade(): void {
  const deno = (globalThis as { Deno?: { upgradeWebSocket?: DenoUpgrade } }).Deno;
  if (installed || !deno?.upgradeWebSocket) return;
  installed = true;
  const original = deno.upgradeWebSocket.bind(deno);
  const wrapped: DenoUpgrade = (req, options) => {
    // Bound by the engine: the request context itself.
    const ctx = contextOfRequest(req) as BobcatContext | undefined;
    if (!ctx) return original(req, options);
    const socket = new SocketShim();
    const response = ctx.upgradeWebSocket(req, {
      onOpen: (e, ws) => socket.fire(e, ws),
      onMessage: (e, ws) => socket.fire(e, ws),
      onClose: (e, ws) => socket.fire(e, ws),
      onError: (e, ws) => socket.fire(e, ws),
    }, options?.protocol ? { protocol: options.protocol } : {});
    return { response, socket };
  };
  try {
    Object.defineProperty(deno, "upgradeWebSocket", { value: wrapped, configurable: true, writable: true });
  } catch {
    installed = false;
  }
}

/** The WebSocket members hono/deno uses: on* handlers, send, close, readyState, protocol, url. */
class SocketShim extends EventTarget {
  onopen: ((e: Event) => void) | null = null;
  onmessage: ((e: MessageEvent) => void) | null = null;
  onclose: ((e: CloseEvent) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  private ws?: WSSocket;

  fire(e: Event, ws: WSSocket): void {
    this.ws = ws;
    const h = (this as unknown as Record<string, ((e: Event) => void) | null>)[`on${e.type}`];
    // Re-dispatching needs an event not dispatched yet: the handler gets the original.
    h?.call(this, e);
  }
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    this.ws?.send(data);
  }
  close(code?: number, reason?: string): void {
    this.ws?.close(code, reason);
  }
  get readyState(): number {
    return this.ws?.readyState ?? 0;
  }
  get protocol(): string {
    return this.ws?.protocol ?? "";
  }
  get url(): string {
    return this.ws?.url?.href ?? "";
  }
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }
}
