/**
 * WebSocket on the native Bun back-end: Bun.serve's own WebSocket server. The request goes
 * through the pipeline; when a handler accepted the upgrade (ctx.upgradeWebSocket, or hono/bun's
 * upgradeWebSocket through ctx.server), `server.upgrade` runs with the pipeline's response
 * headers (session cookie, Server, HSTS) on the 101, and Bun's socket events drive the core's
 * WsConnection. Bun enforces the message size (1009); idle timeout and pings are the core's.
 */
import type { ConnectionInfo } from "../core/context.ts";
import {
  takeUpgrade,
  upgradeHeaders,
  type WebSocketHub,
  type WebSocketPort,
  type WsConnection,
  type WsLimits,
} from "../core/websocket.ts";
import { errorPage } from "../core/error-page.ts";

interface BunSocket {
  data: WsConnection;
  send(data: string | Uint8Array): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  ping(): number;
  getBufferedAmount(): number;
}

interface BunServer {
  upgrade(req: Request, options: { data: unknown; headers: Array<[string, string]> }): boolean;
}

type Handle = (req: Request, conn: ConnectionInfo) => Response | Promise<Response>;

/** The fetch function of a Bun.serve whose connector accepts WebSockets. */
export function bunWebSocketServe<S extends BunServer>(
  hub: WebSocketHub,
  handle: Handle,
  connection: (srv: S, req: Request) => ConnectionInfo,
): (req: Request, srv: S) => Response | undefined | Promise<Response | undefined> {
  return (req, srv) => {
    const conn = connection(srv, req);
    const port: WebSocketPort = { hub };
    conn.webSocket = port;
    const finish = (res: Response): Response | undefined => {
      const ws = takeUpgrade(port, res);
      if (!ws) return port.refusal ?? res;
      if (srv.upgrade(req, { data: ws, headers: upgradeHeaders(res) })) return undefined;
      ws.abandon();
      return errorPage(400, "Bad Request: the WebSocket upgrade failed");
    };
    const res = handle(req, conn);
    return res instanceof Response ? finish(res) : res.then(finish);
  };
}

export function bunWebSocketHandler(limits: WsLimits): Record<string, unknown> {
  return {
    maxPayloadLength: limits.maxMessageSize,
    // The core's timer does idle timeouts and pings, the same on every back-end.
    idleTimeout: 0,
    sendPings: false,
    backpressureLimit: limits.backpressureLimit > 0 ? limits.backpressureLimit : 2 ** 31,
    closeOnBackpressureLimit: false,
    perMessageDeflate: false,
    open(ws: BunSocket) {
      ws.data.opened({
        send: (d) => void ws.send(d),
        close: (code, reason) => ws.close(code, reason),
        terminate: () => ws.terminate(),
        ping: () => void ws.ping(),
        bufferedAmount: () => ws.getBufferedAmount(),
      });
    },
    message(ws: BunSocket, m: string | Uint8Array) {
      ws.data.message(m);
    },
    pong(ws: BunSocket) {
      ws.data.activity();
    },
    close(ws: BunSocket, code: number, reason: string) {
      ws.data.closed(code, reason);
    },
  };
}
