/**
 * bobcat's own HTTP/1.1 server on a TLS socket, for node-compat connectors that serve HTTP/1.1
 * only (no Http2Protocol): node:tls gives the TLS surface (SNICallback, the peer chain), this
 * module the HTTP: strict parsing (h1-parse.ts: any framing fault is answered with its status
 * and the connection closed, never a second request after it), keep-alive, pipelined requests
 * answered in order one at a time, request bodies as a web stream with backpressure, responses
 * written as node-bridge.ts writes them (in-memory bodies in one write with a Content-Length,
 * streams chunked with 'drain'), 100-continue, and WebSocket upgrades handed to ws-node.ts.
 * It replaces node:https/node:http2 there because their HTTP layers cost 2–3× the CPU per
 * request on Bun and Deno (bench/probes/h1-on-tls.ts); BOBCAT_NODE_HTTP=1 selects them again.
 */
import { Buffer } from "node:buffer";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { ConnectionInfo } from "../core/context.ts";
import { ClientAbortError, isClientBodyError } from "../core/body-limit.ts";
import { parseHost } from "../core/request-target.ts";
import { logger } from "../util/log.ts";
import { BodyDecoder, H1Error, type H1Head, headEnd, parseHead } from "./h1-parse.ts";
import { FETCH_FORBIDDEN_METHODS, noBodyStatus, readSoon, staticBody } from "./node-bridge.ts";
import { makeRequest } from "./deno-request.ts";

const log = logger("connector");

/** node's default --max-http-header-size: the limit node-compat's node:https/node:http2 applied. */
export const DEFAULT_MAX_HEAD = 16384;
/** Bytes of a body the handler did not read that are discarded to keep the connection; beyond: close. */
const DISCARD_MAX = 256 * 1024;
/** Unparsed bytes (pipelined requests) held while a request is answered before reading pauses. */
const PIPELINE_BUFFER = 64 * 1024;
/** How long a connection closed with an upload still coming keeps reading (and dropping) it. */
const LINGER_MS = 2000;
const GATHER_MAX = 256 * 1024;
/** A whole body up to this size is copied after its head into one write; a larger one follows it. */
const COPY_MAX = 64 * 1024;

export interface UpgradeRequest {
  method: string;
  url: string;
  httpVersion: string;
  rawHeaders: string[];
  headers: Record<string, string | undefined>;
}

/**
 * What the HTTP/1.1 layer needs of a connection (already through its TLS handshake): a node
 * socket (serveH1) or a Bun.listen socket (bun-listen.ts). Events come back through the
 * H1Connection's data/end/closed/drained methods.
 */
export interface H1Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Closed or destroyed: nothing more can be written. */
  readonly destroyed: boolean;
  /** Queues bytes; false when they wait in a buffer (drained() follows). */
  write(b: Uint8Array): boolean;
  /** Writes between cork and uncork leave as one. */
  cork(): void;
  uncork(): void;
  /** Closes after what is queued (and `last`) is sent. */
  end(last?: Uint8Array): void;
  /** Closes now. */
  destroy(): void;
  pause(): void;
  resume(): void;
}

export interface H1Options {
  scheme: string;
  /** The connector pipeline (its synchronous fast path). */
  handle: (r: Request, c: ConnectionInfo) => Response | Promise<Response>;
  /** connectionTimeout: the longest wait for request body bytes the application asked for. */
  readTimeoutMs: number;
  maxHeadSize: number;
  /** TLS state for ConnectionInfo; undefined on plain sockets. */
  tls?: () => ConnectionInfo["tls"];
  /** Resolves false when the connection must not be served (client-certificate verdict). */
  verdict?: Promise<boolean>;
  /** A request starts / its response is done (the connection gate's busy count). */
  started: () => void;
  ended: () => void;
  /** WebSocket upgrades; without it an upgrade request is an ordinary request. */
  upgrade?: (req: UpgradeRequest, socket: Socket, head: Buffer) => void;
}

/** H1Options for any transport: an upgrade gets the bytes read after the head. */
export interface H1TransportOptions extends Omit<H1Options, "upgrade"> {
  /** The connection is handed over (the transport delivers nothing more to the HTTP layer). */
  upgrade?: (req: UpgradeRequest, head: Buffer) => void;
}

const EMPTY = Buffer.alloc(0);
const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1");
const LAST_CHUNK = Buffer.from("0\r\n\r\n", "latin1");
const CRLF = Buffer.from("\r\n", "latin1");

const ascii = new TextEncoder();

/**
 * Writes `text` (a response head: latin1, one byte per character) at the start of `out`, which
 * has room for it. A head is nearly always ASCII, where UTF-8 and latin1 are the same bytes, and
 * TextEncoder.encodeInto is native on every runtime where Deno's `Buffer.write(.., "latin1")` is
 * JavaScript (~1.2 µs a head there against ~0.15); a head with other characters (a header value
 * with é) is written again as latin1.
 */
function putLatin1(out: Buffer, text: string): void {
  const r = ascii.encodeInto(text, out);
  // Every character one byte: ASCII. Anything else takes two or three in UTF-8.
  if (r.read !== text.length || r.written !== text.length) out.write(text, 0, "latin1");
}

let dateSecond = 0;
let dateText = "";
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

const enum St {
  Head,
  Busy,
  Closed,
  Upgraded,
}

/** One request's body: decoded from the connection's bytes into its stream (or dropped). */
class BodyState {
  controller?: ReadableStreamDefaultController<Uint8Array>;
  ended = false;
  discarded = 0;
  timer?: ReturnType<typeof setTimeout>;
  continueDue: boolean;
  constructor(readonly decoder: BodyDecoder, expectContinue: boolean) {
    this.continueDue = expectContinue;
  }
  stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
  fail(e: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.stopTimer();
    this.controller?.error(e);
    this.controller = undefined;
  }
}

/** Serves HTTP/1.1 on a node `socket` (already through its TLS handshake) until it closes. */
export function serveH1(socket: Socket, o: H1Options): void {
  const parent = (socket as Socket & { _parent?: Socket })._parent;
  const transport: H1Transport = {
    // Deno's node:tls keeps the TCP peer on _parent only.
    get remoteAddress() {
      return socket.remoteAddress ?? parent?.remoteAddress ?? "";
    },
    get remotePort() {
      return socket.remotePort ?? parent?.remotePort ?? 0;
    },
    get destroyed() {
      return socket.destroyed;
    },
    write: (b) => socket.write(b),
    cork: () => socket.cork(),
    uncork: () => socket.uncork(),
    end: (last) => (last ? socket.end(last) : socket.end()),
    destroy: () => socket.destroy(),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
  const onData = (d: Buffer) => conn.data(d);
  const onEnd = () => conn.end();
  const onClose = () => conn.closed();
  const onDrain = () => conn.drained();
  const upgrade = o.upgrade;
  const conn = new H1Connection(transport, {
    ...o,
    upgrade: upgrade &&
      ((req, head) => {
        socket.off("data", onData);
        socket.off("end", onEnd);
        socket.off("close", onClose);
        socket.off("drain", onDrain);
        upgrade(req, socket, head);
      }),
  });
  socket.on("data", onData);
  socket.on("error", () => {});
  socket.on("end", onEnd);
  socket.on("close", onClose);
  socket.on("drain", onDrain);
}

/** Serves HTTP/1.1 on `transport` until it closes; the caller passes its events to the result. */
export function serveH1On(transport: H1Transport, o: H1TransportOptions): H1Connection {
  return new H1Connection(transport, o);
}

export class H1Connection {
  private buf: Buffer = EMPTY;
  private state = St.Head;
  private body?: BodyState;
  private pumping = false;
  private allowed = false;
  /** A request head is parsed but waits for the client-certificate verdict: no byte is consumed. */
  private awaitingVerdict = false;
  /** The response of the current request has started (its head is written). */
  private responding = false;
  private closeAfter = false;
  private paused = false;
  /** The client sent FIN: what it sent is answered, then the connection closes. */
  private peerEnded = false;
  /** Bytes that arrive from now on are dropped (a refused request, a lingering close). */
  private dropping = false;
  private lingerTimer?: ReturnType<typeof setTimeout>;
  private drainWaiter?: () => void;
  /** The last head parsed here: its bytes, what they parse to, the URL built from it. */
  private lastHead?: { bytes: Buffer; head: H1Head; url: string | undefined };

  constructor(private readonly socket: H1Transport, private readonly o: H1TransportOptions) {}

  /** Bytes from the client. */
  data(d: Buffer): void {
    if (this.dropping || this.state === St.Upgraded || this.state === St.Closed) return;
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    this.pump();
  }

  /** The client finished sending: answer what it sent, then close. */
  end(): void {
    this.peerEnded = true;
    if (this.body && !this.body.decoder.done) this.body.fail(new ClientAbortError());
    if (this.state === St.Head) this.pump();
  }

  /** The connection is gone. */
  closed(): void {
    if (this.state === St.Upgraded) return;
    this.state = St.Closed;
    this.body?.fail(new ClientAbortError());
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.drained();
  }

  /** What was queued is written (or the connection is gone). */
  drained(): void {
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.();
  }

  /** FIN now; the connection is destroyed after LINGER_MS if the client keeps it open. */
  private linger(): void {
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }
  private resume(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private close(): void {
    if (this.state === St.Closed) return;
    this.state = St.Closed;
    this.socket.end();
  }

  /** A framing fault: its status (when no response is under way) and the connection closed. */
  private refuse(e: unknown): void {
    const status = e instanceof H1Error ? e.status : 400;
    log.debug(`refused a request from ${this.socket.remoteAddress}: ${status} ${(e as Error).message}`);
    this.body?.fail(new ClientAbortError(`malformed request body (${(e as Error).message})`));
    const wasBusy = this.state === St.Busy;
    this.state = St.Closed;
    this.buf = EMPTY;
    this.dropping = true;
    if (!this.responding) {
      this.responding = true;
      this.socket.end(
        Buffer.from(
          `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
          "latin1",
        ),
      );
    } else this.socket.destroy();
    // The request in flight (if any) still ends through its own path and calls ended().
    void wasBusy;
    this.linger();
  }

  /** Consumes buffered bytes: the current body, then (when idle) the next request heads. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.state === St.Closed || this.state === St.Upgraded) return;
        // Bytes that come before the verdict (the request's body) stay buffered until its
        // request is dispatched: the body's stream does not exist yet to take them.
        if (this.awaitingVerdict) return;
        if (this.body && !this.body.decoder.done) {
          if (!this.feedBody()) {
            if (this.peerEnded && this.state === St.Head) this.close();
            return;
          }
          continue;
        }
        if (this.state === St.Busy) {
          if (this.buf.length > PIPELINE_BUFFER) this.pause();
          return;
        }
        if (this.buf.length === 0 || !this.nextRequest()) {
          if (this.peerEnded && this.state === St.Head) this.close();
          return;
        }
      }
    } catch (e) {
      this.refuse(e);
    } finally {
      this.pumping = false;
    }
  }

  /** Moves body bytes to the request's stream; false when more bytes are needed (or must wait). */
  private feedBody(): boolean {
    const b = this.body!;
    let at = 0;
    let progressed = false;
    while (!b.decoder.done) {
      const r = b.decoder.next(this.buf, at);
      if (r.at === at && !r.data) break;
      at = r.at;
      progressed = true;
      if (r.data && r.data.length) {
        if (b.controller && !b.ended) {
          b.stopTimer();
          b.controller.enqueue(new Uint8Array(r.data));
        } else if (!b.ended || b.controller === undefined) {
          b.discarded += r.data.length;
          if (this.state === St.Head && b.discarded > DISCARD_MAX) {
            // The answer is out: an unread upload this large is not worth reading to the end.
            this.buf = EMPTY;
            this.close();
            return false;
          }
        }
      }
    }
    this.buf = at >= this.buf.length ? EMPTY : this.buf.subarray(at);
    if (b.decoder.done) {
      b.stopTimer();
      if (b.controller && !b.ended) {
        b.ended = true;
        b.controller.close();
      }
      b.ended = true;
      if (this.state === St.Head) this.body = undefined;
      return true;
    }
    // Backpressure: the application has not taken what it was given. With a high-water mark of
    // 0 the desired size is 0 both when the queue is empty and a read waits (pull came: more is
    // wanted) and when nothing was asked for yet; only bytes queued and not read (below 0) mean
    // stop. Pausing at 0 would stop a connection whose reader's pull came before this check.
    if (b.controller && (b.controller.desiredSize ?? 1) < 0) this.pause();
    else this.resume();
    return progressed && this.buf.length > 0;
  }

  /** Parses the next head from the buffer and starts its request; false when more bytes are needed. */
  private nextRequest(): boolean {
    let from = 0;
    // Empty lines before a request line are ignored (RFC 9112 2.2).
    while (from + 1 < this.buf.length && this.buf[from] === 13 && this.buf[from + 1] === 10) from += 2;
    let end: number;
    let head: H1Head;
    const last = this.lastHead;
    if (
      last && this.buf.length - from >= last.bytes.length &&
      this.buf.compare(last.bytes, 0, last.bytes.length, from, from + last.bytes.length) === 0
    ) {
      // A keep-alive client sends the same head request after request: the same bytes (up to
      // and with the CRLFCRLF that ends them) parse to the same head, already checked.
      end = from + last.bytes.length;
      head = last.head;
    } else {
      end = headEnd(this.buf, from, this.o.maxHeadSize);
      if (end < 0) {
        this.resume();
        return false;
      }
      head = parseHead(this.buf.toString("latin1", from, end - 4));
      // A copy: the buffer may be much larger than the head (a body read with it).
      this.lastHead = { bytes: Buffer.from(this.buf.subarray(from, end)), head, url: undefined };
    }
    this.buf = end >= this.buf.length ? EMPTY : this.buf.subarray(end);
    if (head.websocket && this.o.upgrade && head.method === "GET" && !head.chunked && !head.contentLength) {
      this.state = St.Upgraded;
      const rest = this.buf;
      this.buf = EMPTY;
      this.resume();
      this.o.upgrade(
        {
          method: head.method,
          url: head.target,
          httpVersion: head.version,
          rawHeaders: head.rawHeaders,
          headers: { "sec-websocket-key": head.wsKey },
        },
        rest,
      );
      return false;
    }
    this.state = St.Busy;
    this.responding = false;
    const framed = head.chunked || head.contentLength !== undefined;
    this.body = framed
      ? new BodyState(new BodyDecoder(head.chunked, head.contentLength ?? 0, this.o.maxHeadSize), head.expectContinue)
      : undefined;
    if (this.body?.decoder.done) this.body = undefined;
    this.o.started();
    if (!this.allowed && this.o.verdict) {
      this.pause();
      this.awaitingVerdict = true;
      this.o.verdict.then((ok) => {
        this.awaitingVerdict = false;
        if (!ok) {
          this.socket.destroy();
          this.o.ended();
          return;
        }
        this.allowed = true;
        this.resume();
        this.dispatch(head);
        this.pump();
      }, () => {
        this.awaitingVerdict = false;
        this.socket.destroy();
        this.o.ended();
      });
      return false;
    }
    this.allowed = true;
    this.dispatch(head);
    return true;
  }

  private requestStream(b: BodyState): ReadableStream<Uint8Array> {
    const readTimeoutMs = this.o.readTimeoutMs;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        b.controller = controller;
      },
      pull: () => {
        if (b.ended) return;
        if (b.continueDue) {
          b.continueDue = false;
          if (!this.responding && this.state === St.Busy) this.socket.write(CONTINUE);
        }
        if (readTimeoutMs > 0 && !b.timer) {
          b.timer = setTimeout(() => {
            b.timer = undefined;
            b.fail(new ClientAbortError(`no request body bytes for ${readTimeoutMs} ms (connectionTimeout)`));
            this.socket.destroy();
          }, readTimeoutMs);
        }
        this.resume();
        // Bytes already buffered go to the stream now.
        if (this.buf.length) queueMicrotask(() => this.pump());
      },
      cancel: () => {
        // Dropped from now on; the answer (413 for a body over maxRequestBodySize) still goes out.
        b.stopTimer();
        b.ended = true;
        b.controller = undefined;
        this.resume();
      },
    }, { highWaterMark: 0 });
  }

  private dispatch(head: H1Head): void {
    const o = this.o;
    const hostHeaders = head.hostHeaders;
    const target = head.target;
    const last = this.lastHead?.head === head ? this.lastHead : undefined;
    let url = last?.url;
    if (url === undefined) {
      const authority = hostHeaders.length === 1 && parseHost(hostHeaders[0]!) ? hostHeaders[0]! : "localhost";
      url = `${o.scheme}://${authority}${target.charCodeAt(0) === 47 ? target : "/"}`;
      if (last) last.url = url;
    }
    const method = head.method;
    const isHead = method === "HEAD";
    this.closeAfter = this.closeAfter || !head.keepAlive;
    const forbidden = method === "GET" ? undefined : FETCH_FORBIDDEN_METHODS.get(method.toUpperCase());
    if (forbidden) {
      this.respond(forbidden(), head, isHead);
      return;
    }
    let response: Response | Promise<Response>;
    try {
      const b = this.body;
      const hasBody = b !== undefined && method !== "GET" && method !== "HEAD";
      const request = hasBody
        ? makeRequest(url, { method, body: this.requestStream(b!), duplex: "half" } as RequestInit)
        : method === "GET"
        ? makeRequest(url)
        : makeRequest(url, { method });
      const headers = request.headers;
      const raw = head.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
      const conn: ConnectionInfo = {
        remoteAddr: this.socket.remoteAddress,
        remotePort: this.socket.remotePort,
        httpVersion: head.version === "1.1" ? "HTTP/1.1" : "HTTP/1.0",
        target,
        hostHeaders,
        tls: o.tls?.(),
      };
      response = o.handle(request, conn);
    } catch (e) {
      this.failed(e, head);
      return;
    }
    if (response instanceof Response) this.respond(response, head, isHead);
    else response.then((r) => this.respond(r, head, isHead), (e) => this.failed(e, head));
  }

  private failed(e: unknown, head: H1Head): void {
    if (isClientBodyError(e) || this.state === St.Closed) {
      log.debug(`${head.method} ${head.target}: ${(e as Error)?.message ?? e}`);
    } else log.error(`request failed: ${(e as Error)?.stack ?? e}`);
    if (!this.responding && this.state !== St.Closed) {
      this.respond(new Response(null, { status: 500 }), head, false);
    } else {
      this.socket.destroy();
      this.finish();
    }
  }

  /** Writes the response; finish() once it is all written. */
  private respond(res: Response, head: H1Head, isHead: boolean): void {
    if (this.state === St.Closed) {
      res.body?.cancel().catch(() => {});
      this.finish();
      return;
    }
    let p: Promise<void> | undefined;
    try {
      p = this.write(res, head, isHead);
    } catch (e) {
      log.error(`writing a response failed: ${(e as Error)?.stack ?? e}`);
      this.socket.destroy();
    }
    if (p) {
      p.then(() => this.finish(), (e) => {
        log.debug(`response body failed: ${(e as Error)?.message ?? e}`);
        this.socket.destroy();
        this.finish();
      });
    } else this.finish();
  }

  /** The response is written: next request, or close. */
  private finish(): void {
    this.o.ended();
    if (this.state !== St.Busy) return;
    const b = this.body;
    const unread = b !== undefined && !b.decoder.done;
    if (b) {
      // The application did not read it all: what is left is dropped.
      b.stopTimer();
      if (b.controller && !b.ended) {
        b.ended = true;
        try {
          b.controller.error(new ClientAbortError("the response was sent before the request body was read"));
        } catch { /* already closed */ }
      }
      b.controller = undefined;
      b.ended = true;
    }
    if (this.closeAfter) {
      this.state = St.Closed;
      this.dropping = true;
      if (unread) {
        // Lingering close: FIN, then keep reading (and dropping) the upload for a while, so the
        // kernel does not reset the connection before the client has read the answer.
        this.resume();
        this.socket.end();
        this.linger();
      } else this.socket.end();
      return;
    }
    this.state = St.Head;
    this.responding = false;
    if (!unread) this.body = undefined;
    this.resume();
    this.pump();
  }

  /**
   * Serialises `res`. An in-memory body goes out with its head in one write and a
   * Content-Length; a stream that is still producing is written chunked (close-delimited for an
   * HTTP/1.0 client) as it comes, waiting for 'drain'. Returns a promise only while streaming.
   */
  private write(res: Response, head: H1Head, isHead: boolean): Promise<void> | undefined {
    this.responding = true;
    const status = res.status;
    let h = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n`;
    let length: string | undefined;
    let hasDate = false;
    res.headers.forEach((value, name) => {
      if (name === "connection") {
        if (value.toLowerCase().split(",").some((t) => t.trim() === "close")) this.closeAfter = true;
        return;
      }
      if (name === "transfer-encoding" || name === "keep-alive") return;
      if (name === "content-length") {
        length = value;
        return;
      }
      if (name === "date") hasDate = true;
      // Headers iterates each Set-Cookie on its own.
      h += `${name}: ${value}\r\n`;
    });
    if (!hasDate) h += `date: ${httpDate()}\r\n`;
    const noBody = isHead || noBodyStatus(status);
    if (noBody) {
      if (length !== undefined && status !== 204 && status >= 200) h += `content-length: ${length}\r\n`;
      res.body?.cancel().catch(() => {});
      this.socket.write(Buffer.from(this.connectionLine(h, head), "latin1"));
      return;
    }
    const whole = staticBody(res);
    if (whole instanceof Promise) return whole.then((bytes) => this.writeWhole(h, head, bytes));
    if (whole) return this.writeWhole(h, head, whole);
    const body = res.body;
    if (!body) return this.writeWhole(h, head, EMPTY);
    return this.writeStream(body, h, head, length);
  }

  private connectionLine(h: string, head: H1Head): string {
    if (this.closeAfter) return h + "connection: close\r\n\r\n";
    if (head.version === "1.0") return h + "connection: keep-alive\r\n\r\n";
    return h + "\r\n";
  }

  /**
   * Head and body in one write (a large body after its head, not copied). When the transport has
   * to queue them, the response is done only once they are gone: a pipelined request is not
   * answered (and its answer queued too) while the client is not reading.
   */
  private writeWhole(h: string, head: H1Head, body: Uint8Array): Promise<void> | undefined {
    const text = this.connectionLine(h + `content-length: ${body.byteLength}\r\n`, head);
    let sent: boolean;
    if (body.byteLength > COPY_MAX) {
      this.socket.write(Buffer.from(text, "latin1"));
      sent = this.socket.write(body);
    } else {
      const out = Buffer.allocUnsafe(text.length + body.byteLength);
      putLatin1(out, text);
      out.set(body, text.length);
      sent = this.socket.write(out);
    }
    if (sent || this.socket.destroyed) return;
    return new Promise<void>((resolve) => (this.drainWaiter = resolve));
  }

  private async writeStream(body: ReadableStream<Uint8Array>, h: string, head: H1Head, length?: string): Promise<void> {
    const reader = body.getReader();
    let pending: Promise<{ done: boolean; value?: Uint8Array }> | undefined = reader.read();
    try {
      const chunks: Uint8Array[] = [];
      let size = 0;
      let r: { done: boolean; value?: Uint8Array } | undefined = await pending;
      for (;;) {
        if (r.done || !r.value) {
          pending = undefined;
          break;
        }
        chunks.push(r.value);
        size += r.value.byteLength;
        pending = reader.read();
        if (size > GATHER_MAX) break;
        const next = await readSoon(pending);
        if (next === undefined) break;
        r = next;
      }
      if (pending === undefined) {
        await this.writeWhole(h, head, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
        return;
      }
      // Still producing: the head and what is there, then the rest as it comes.
      const declared = length !== undefined ? Number(length) : undefined;
      const chunked = declared === undefined && head.version === "1.1";
      if (declared === undefined && !chunked) this.closeAfter = true;
      const text = this.connectionLine(
        h +
          (declared !== undefined ? `content-length: ${length}\r\n` : chunked ? "transfer-encoding: chunked\r\n" : ""),
        head,
      );
      let sent = 0;
      const socket = this.socket;
      const put = (c: Uint8Array): boolean => {
        sent += c.byteLength;
        if (!chunked) return socket.write(c);
        socket.cork();
        socket.write(Buffer.from(`${c.byteLength.toString(16)}\r\n`, "latin1"));
        socket.write(c);
        const ok = socket.write(CRLF);
        socket.uncork();
        return ok;
      };
      socket.write(Buffer.from(text, "latin1"));
      for (const c of chunks) if (c.byteLength) put(c);
      for (;;) {
        const { done, value } = await pending!;
        if (done) break;
        if (this.state === St.Closed || socket.destroyed) break;
        if (value && value.byteLength && !put(value)) {
          await new Promise<void>((resolve) => (this.drainWaiter = resolve));
          if (socket.destroyed) break;
        }
        pending = reader.read();
      }
      pending = undefined;
      if (socket.destroyed) return;
      if (chunked) socket.write(LAST_CHUNK);
      // A body that is not the length the handler declared leaves the connection unusable.
      if (declared !== undefined && sent !== declared) {
        log.error(`a response body of ${sent} bytes was declared as ${declared} (content-length): connection closed`);
        socket.destroy();
      }
    } finally {
      if (pending) {
        pending.catch(() => {});
        reader.releaseLock();
      }
    }
  }
}
