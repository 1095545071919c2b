/**
 * WebSocket on the node-compat back-end: the node:http(2) server's 'upgrade' event (Bun's, Deno's
 * and Node's node layers all emit it, on plain and TLS connectors). The upgrade request goes
 * through the pipeline like any request; when a handler accepted it, bobcat answers 101 with the
 * pipeline's headers and speaks RFC 6455 on the socket itself (`FrameConn`); otherwise the
 * pipeline's answer is written and the connection closed.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { ConnectionInfo, TlsInfo } from "../core/context.ts";
import {
  takeUpgrade,
  upgradeHeaders,
  type WebSocketHub,
  type WebSocketPort,
  type WsConnection,
  type WsTransport,
} from "../core/websocket.ts";
import { parseHost } from "../core/request-target.ts";
import { logger } from "../util/log.ts";

const log = logger("websocket");
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  301: "Moved Permanently",
  302: "Found",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  421: "Misdirected Request",
  426: "Upgrade Required",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

export interface UpgradeSetup {
  scheme: string;
  handle: (r: Request, c: ConnectionInfo) => Response | Promise<Response>;
  hub: WebSocketHub;
  tls?: TlsInfo;
  /** The client-certificate verdict of a TLS connection, awaited first. */
  verdict?: Promise<boolean>;
}

export async function serveUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, o: UpgradeSetup): Promise<void> {
  socket.on("error", () => {});
  try {
    if (o.verdict && !(await o.verdict)) return void socket.destroy();
    const headers = new Headers();
    const hostHeaders: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i]!.toLowerCase() === "host") hostHeaders.push(raw[i + 1]!);
      headers.append(raw[i]!, raw[i + 1]!);
    }
    const authority = hostHeaders.length === 1 && parseHost(hostHeaders[0]!) ? hostHeaders[0]! : "localhost";
    const target = req.url ?? "/";
    const request = new Request(`${o.scheme}://${authority}${target.charCodeAt(0) === 47 ? target : "/"}`, {
      method: req.method ?? "GET",
      headers,
    });
    const port: WebSocketPort = { hub: o.hub };
    const conn: ConnectionInfo = {
      remoteAddr: socket.remoteAddress ?? (socket as { _parent?: Socket })._parent?.remoteAddress ?? "",
      remotePort: socket.remotePort ?? (socket as { _parent?: Socket })._parent?.remotePort ?? 0,
      httpVersion: `HTTP/${req.httpVersion}`,
      target,
      hostHeaders,
      tls: o.tls,
      webSocket: port,
    };
    const res = await o.handle(request, conn);
    const ws = takeUpgrade(port, res);
    if (!ws) return writePlain(socket, port.refusal ?? res);
    const key = (req.headers["sec-websocket-key"] as string).trim();
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    const lines = [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${accept}`,
      ...upgradeHeaders(res).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(lines.join("\r\n") + "\r\n\r\n");
    new FrameConn(socket, head, o.hub.limits.maxMessageSize, ws);
  } catch (e) {
    log.error(`WebSocket upgrade failed: ${(e as Error)?.stack ?? e}`);
    writePlain(socket, new Response("Internal Server Error", { status: 500 }));
  }
}

/** An answer that is not an upgrade, on a connection that then closes. */
async function writePlain(socket: Socket, res: Response): Promise<void> {
  const body = new Uint8Array(await res.arrayBuffer());
  const lines = [`HTTP/1.1 ${res.status} ${STATUS_TEXT[res.status] ?? res.statusText ?? ""}`];
  res.headers.forEach((v, k) => {
    if (k !== "set-cookie" && k !== "content-length" && k !== "connection" && k !== "transfer-encoding") {
      lines.push(`${k}: ${v}`);
    }
  });
  for (const c of res.headers.getSetCookie()) lines.push(`set-cookie: ${c}`);
  lines.push(`content-length: ${body.byteLength}`, "connection: close");
  socket.end(Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n"), Buffer.from(body)]));
}

const EMPTY = Buffer.alloc(0);

/** XORs the client's mask over a payload in place, four bytes at a time where aligned. */
function unmask(p: Buffer, mask: Buffer): void {
  let i = 0;
  if (p.length >= 64 && (p.byteOffset & 3) === 0) {
    // The mask as one word in this machine's byte order.
    const m = new Uint32Array(Uint8Array.from(mask).buffer)[0]!;
    const words = new Uint32Array(p.buffer, p.byteOffset, p.length >>> 2);
    for (let w = 0; w < words.length; w++) words[w]! ^= m;
    i = words.length * 4;
  }
  for (; i < p.length; i++) p[i]! ^= mask[i & 3]!;
}
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** RFC 6455 on a socket, server side: masked client frames, fragments, control frames, the closing handshake. */
class FrameConn {
  private buf: Buffer = EMPTY;
  /** Chunks of a frame still arriving, joined once all `need` bytes are here (no copy per chunk). */
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private need = 0;
  private fragments: Buffer[] = [];
  private fragOpcode = 0;
  private fragSize = 0;
  private closeSent = false;
  private closeCode?: number;
  private closeReason = "";
  private dead = false;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
    private readonly max: number,
    private readonly ws: WsConnection,
  ) {
    socket.setNoDelay?.(true);
    socket.setTimeout?.(0);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.once("close", () => {
      this.dead = true;
      ws.closed(this.closeCode ?? 1006, this.closeReason);
    });
    const transport: WsTransport = {
      send: (d) => this.frame(typeof d === "string" ? 1 : 2, typeof d === "string" ? Buffer.from(d) : Buffer.from(d)),
      close: (code, reason) => this.sendClose(code, reason),
      terminate: () => socket.destroy(),
      ping: () => this.frame(9, EMPTY),
      bufferedAmount: () => socket.writableLength,
    };
    ws.opened(transport);
    if (head.length > 0) this.onData(head);
  }

  private onData(d: Buffer): void {
    if (this.dead) return;
    if (this.need > 0) {
      this.pending.push(d);
      this.pendingLen += d.length;
      if (this.buf.length + this.pendingLen < this.need) return;
      this.buf = Buffer.concat([this.buf, ...this.pending]);
      this.pending = [];
      this.pendingLen = 0;
      this.need = 0;
    } else this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (!this.dead && this.parseOne());
  }

  private parseOne(): boolean {
    const b = this.buf;
    if (b.length < 2) return false;
    const fin = (b[0]! & 0x80) !== 0;
    const op = b[0]! & 0x0f;
    if (b[0]! & 0x70) return this.fail(1002, "reserved bits set without an extension");
    if (!(b[1]! & 0x80)) return this.fail(1002, "client frames must be masked");
    let len = b[1]! & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return false;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return false;
      const hi = b.readUInt32BE(2);
      if (hi > 0) return this.fail(1009, `message larger than ${this.max} bytes (webSocketMaxMessageSize)`);
      len = b.readUInt32BE(6);
      off = 10;
    }
    if (op >= 8) {
      if (!fin || len > 125) return this.fail(1002, "control frames must be whole and at most 125 bytes");
    } else if (this.fragSize + len > this.max) {
      return this.fail(1009, `message larger than ${this.max} bytes (webSocketMaxMessageSize)`);
    }
    if (b.length < off + 4 + len) {
      this.need = off + 4 + len;
      return false;
    }
    const mask = b.subarray(off, off + 4);
    const payload = Buffer.from(b.subarray(off + 4, off + 4 + len));
    unmask(payload, mask);
    this.buf = b.length === off + 4 + len ? EMPTY : b.subarray(off + 4 + len);
    switch (op) {
      case 0:
        if (!this.fragOpcode) return this.fail(1002, "continuation frame without a message");
        this.fragments.push(payload);
        this.fragSize += len;
        if (fin) {
          const whole = Buffer.concat(this.fragments);
          const kind = this.fragOpcode;
          this.fragments = [];
          this.fragOpcode = 0;
          this.fragSize = 0;
          return this.deliver(kind, whole);
        }
        return true;
      case 1:
      case 2:
        if (this.fragOpcode) return this.fail(1002, "new message inside a fragmented one");
        if (fin) return this.deliver(op, payload);
        this.fragOpcode = op;
        this.fragments = [payload];
        this.fragSize = len;
        return true;
      case 8: {
        const code = len >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = len > 2 ? payload.subarray(2).toString("utf8") : "";
        if (!this.closeSent) {
          this.closeCode = code;
          this.closeReason = reason;
          this.sendClose(code === 1005 ? 1000 : code, "");
        }
        this.socket.end();
        return false;
      }
      case 9:
        this.ws.activity();
        this.frame(10, payload);
        return true;
      case 10:
        this.ws.activity();
        return true;
      default:
        return this.fail(1002, `unknown opcode ${op}`);
    }
  }

  private deliver(op: number, data: Buffer): boolean {
    if (op === 1) {
      let text: string;
      try {
        text = utf8.decode(data);
      } catch {
        return this.fail(1007, "text message is not valid UTF-8");
      }
      this.ws.message(text);
    } else this.ws.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return true;
  }

  private fail(code: number, reason: string): boolean {
    log.debug(`closing a WebSocket from ${this.socket.remoteAddress}: ${code} ${reason}`);
    this.buf = EMPTY;
    this.pending = [];
    this.fragments = [];
    // Read nothing more: what the client still sends waits in its own buffers, not in ours.
    this.socket.pause();
    this.sendClose(code, reason.slice(0, 120));
    this.closeCode = code;
    this.closeReason = reason;
    this.socket.end();
    this.dead = true;
    return false;
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.closeCode ??= code;
    this.closeReason ||= reason;
    const r = Buffer.from(reason);
    const p = Buffer.alloc(2 + r.length);
    p.writeUInt16BE(code, 0);
    r.copy(p, 2);
    this.frame(8, p);
    // The client answers with its close frame and closes; one that does not is dropped.
    const t = setTimeout(() => this.socket.destroy(), 2000);
    this.socket.once("close", () => clearTimeout(t));
  }

  private frame(op: number, payload: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    const n = payload.length;
    const head = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = 0x80 | op;
    if (n < 126) head[1] = n;
    else if (n < 65536) {
      head[1] = 126;
      head.writeUInt16BE(n, 2);
    } else {
      head[1] = 127;
      head.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
      head.writeUInt32BE(n >>> 0, 6);
    }
    this.socket.write(n > 0 ? Buffer.concat([head, payload]) : head);
  }
}
