/** The node req/res ↔ fetch bridge of the node-compatibility back-end. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import type { ConnectionInfo } from "../core/context.ts";
import { logger } from "../util/log.ts";
import { tlsInfoOf } from "./tls-info.ts";
import { parseHost } from "../core/request-target.ts";
import { traceNotAllowed } from "../core/engine.ts";
import { errorPage } from "../core/error-page.ts";
import { ClientAbortError, isClientBodyError } from "../core/body-limit.ts";
import { type CheckedSocket, VERDICT } from "./node-tls.ts";
import { bunStaticBodies, bunStaticBody } from "./bun-static-body.ts";
import { makeRequest } from "./deno-request.ts";

const log = logger("connector");
export type AnyReq = IncomingMessage | Http2ServerRequest;
export type AnyRes = ServerResponse | Http2ServerResponse;

/** Methods a web Request cannot have: TRACE as the engine refuses it (allowTrace=false), the others 501. */
export const FETCH_FORBIDDEN_METHODS = new Map<string, () => Response>([
  ["TRACE", traceNotAllowed],
  ["TRACK", () => errorPage(501, "The TRACK method is not implemented")],
  ["CONNECT", () => errorPage(501, "The CONNECT method is not implemented")],
]);

/** Headers HTTP/2 forbids; node:http2 throws if a handler's Response carries them. */
const H2_FORBIDDEN = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** The TLS socket under a request; HTTP/2 requests reach it through their session. */
function tlsSocketOf(req: AnyReq): CheckedSocket | undefined {
  const s =
    (req.httpVersionMajor === 2
      ? ((req as Http2ServerRequest).stream?.session?.socket ?? req.socket)
      : req.socket) as CheckedSocket;
  return s && typeof s.getProtocol === "function" ? s : undefined;
}

/** Set on a TLS socket once its client-certificate verdict has resolved to "go on". */
const ALLOWED = Symbol("bobcat.clientAllowed");

export async function serve(
  req: AnyReq,
  res: AnyRes,
  scheme: string,
  handle: (r: Request, c: ConnectionInfo) => Response | Promise<Response>,
  readTimeoutMs: number,
): Promise<void> {
  const h2 = req.httpVersionMajor === 2;
  const socket = req.socket as TLSSocket;
  const tlsSocket = scheme === "https" ? tlsSocketOf(req) : undefined;
  try {
    // The verdict is the same for every request of a connection: awaited once.
    if (tlsSocket && !(tlsSocket as { [ALLOWED]?: true })[ALLOWED]) {
      const verdict = tlsSocket[VERDICT];
      if (verdict && !(await verdict)) return;
      (tlsSocket as { [ALLOWED]?: true })[ALLOWED] = true;
    }
    const raw = req.rawHeaders;
    // Every Host line as sent (Headers would join them): the engine refuses two.
    const hostHeaders: string[] = [];
    // HTTP/1.1 frames a body with Content-Length or Transfer-Encoding only (RFC 9112 6.3).
    let framed = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const len = name.length;
      if (len === 4 && name.toLowerCase() === "host") hostHeaders.push(raw[i + 1]!);
      else if (
        (len === 14 && (name.charCodeAt(0) | 32) === 99 /* c */ && name.toLowerCase() === "content-length" &&
          raw[i + 1] !== "0") ||
        (len === 17 && (name.charCodeAt(0) | 32) === 116 /* t */ && name.toLowerCase() === "transfer-encoding")
      ) {
        framed = true;
      }
    }
    const h2Authority = h2 ? (req as Http2ServerRequest).authority : undefined;
    if (h2Authority && !hostHeaders.includes(h2Authority)) hostHeaders.unshift(h2Authority);
    // The URL is only a carrier here: the engine reads the Host and the raw target from `conn`
    // and checks them; a Host it would refuse must not make this URL throw first.
    const authority = hostHeaders.length === 1 && parseHost(hostHeaders[0]!) ? hostHeaders[0]! : "localhost";
    const target = req.url ?? "/";
    const url = `${scheme}://${authority}${target.charCodeAt(0) === 47 ? target : "/"}`;
    const method = req.method ?? "GET";
    const forbidden = FETCH_FORBIDDEN_METHODS.get(method.toUpperCase());
    if (forbidden) {
      // The Fetch API cannot carry these (Deno's Request constructor throws): answer here.
      await writeResponse(forbidden(), res, h2, method === "HEAD");
      return;
    }
    // No stream for a request without a body: GET and HEAD, and on HTTP/1.1 any request
    // without Content-Length or Transfer-Encoding (HTTP/2 may send DATA frames regardless).
    const hasBody = method !== "GET" && method !== "HEAD" && (h2 || framed);
    // The Request is made without headers and they are appended to its own: on Deno a
    // RequestInit with `headers` costs several times the rest of the construction (webidl);
    // on Deno it is a copy of a template (deno-request.ts: the constructor's is left for a full GC).
    const request = hasBody
      ? makeRequest(url, { method, body: toWebStream(req, readTimeoutMs), duplex: "half" } as RequestInit)
      : method === "GET"
      ? makeRequest(url)
      : makeRequest(url, { method });
    const headers = request.headers;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.charCodeAt(0) !== 58 /* ":" pseudo-header */) headers.append(name, raw[i + 1]!);
    }
    if (h2Authority && hostHeaders.length === 0) headers.set("host", h2Authority);
    const conn: ConnectionInfo = {
      remoteAddr: socket?.remoteAddress ?? "",
      remotePort: socket?.remotePort ?? 0,
      httpVersion: h2 ? "HTTP/2.0" : req.httpVersion === "1.1" ? "HTTP/1.1" : `HTTP/${req.httpVersion}`,
      target,
      hostHeaders,
      tls: tlsSocket ? tlsInfoOf(tlsSocket) : undefined,
    };
    // The engine's synchronous fast path gives a Response the handler returned at once back at
    // once, and an in-memory body is written at once: no await between the request and the write.
    const answer = handle(request, conn);
    const response = answer instanceof Response ? answer : await answer;
    const streaming = writeResponse(response, res, h2, method === "HEAD", req);
    if (streaming) await streaming;
  } catch (e) {
    // A client that went away mid-upload is not a server fault: one line at debug.
    if (isClientBodyError(e) || res.destroyed || req.destroyed) {
      log.debug(`${req.method} ${req.url}: ${(e as Error).message ?? e}`);
    } else log.error(`request failed: ${(e as Error).stack ?? e}`);
    if (!res.headersSent) {
      res.statusCode = 500;
      res.end();
    } else {
      res.destroy?.();
    }
  }
}

/**
 * The request body as a web stream. While the application waits for body bytes, the client
 * must send some within connectionTimeout (Tomcat's read timeout), or the connection is closed.
 */
function toWebStream(req: AnyReq, readTimeoutMs: number): ReadableStream<Uint8Array> {
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopTimer = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  let fail: (e: Error) => void = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      fail = (e: Error) => {
        if (ended) return;
        ended = true;
        stopTimer();
        controller.error(e);
      };
      req.on("data", (chunk: Buffer) => {
        stopTimer();
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.on("end", () => {
        if (ended) return;
        ended = true;
        stopTimer();
        controller.close();
      });
      req.on("error", (e) => fail(new ClientAbortError(`the client aborted the request body (${e.message})`)));
      req.on("close", () => fail(new ClientAbortError()));
    },
    pull() {
      req.resume();
      if (readTimeoutMs > 0 && !ended && !timer) {
        timer = setTimeout(() => {
          timer = undefined;
          fail(new ClientAbortError(`no request body bytes for ${readTimeoutMs} ms (connectionTimeout)`));
          req.destroy();
        }, readTimeoutMs);
      }
    },
    cancel() {
      ended = true;
      stopTimer();
      // Discard the rest instead of resetting the connection, so that the answer (413 for a
      // body over maxRequestBodySize) reaches the client; the response then closes it.
      req.removeAllListeners("data");
      req.resume();
    },
  });
}

/** How long a connection closed with an upload still coming keeps reading (and dropping) it. */
const LINGER_MS = 2000;

/**
 * Lingering close: send FIN, keep reading what the client is still uploading (the request
 * stream discards it), and close for good when the client closes or after LINGER_MS.
 */
function lingerClose(socket: Socket): void {
  socket.end();
  const t = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once("close", () => clearTimeout(t));
}

/** Bytes of a response body gathered from reads that settle at once, to be written in one go. */
const GATHER_MAX = 256 * 1024;
/** Microtask turns a read may take and still count as "at once" (a body already in memory). */
const SETTLE_TURNS = 8;

type ReadResult = { done: boolean; value?: Uint8Array };

/** The read's result when it settles within SETTLE_TURNS microtask turns; else undefined (still pending). */
export async function readSoon(read: Promise<ReadResult>): Promise<ReadResult | undefined> {
  let out: { ok: true; r: ReadResult } | { ok: false; e: unknown } | undefined;
  read.then((r) => (out = { ok: true, r }), (e) => (out = { ok: false, e }));
  for (let i = 0; i < SETTLE_TURNS && out === undefined; i++) await undefined;
  if (out === undefined) return undefined;
  if (!out.ok) throw out.e;
  return out.r;
}

/** Statuses whose responses never carry a body (RFC 9110 §6.4.1): 1xx, 204, 304; so no Content-Length of one. */
export const noBodyStatus = (status: number) => status < 200 || status === 204 || status === 304;

/**
 * Writes a web Response to a node response. A body that is already in memory (a string, bytes,
 * JSON, a small file: every read settles at once) is written in one `end(bytes)` with a
 * Content-Length, head and body in the same tick; anything else streams with backpressure.
 * `req`: the request answered (not for answers made before a request exists), for the
 * connection handling that depends on it. Returns a promise only when the body is read
 * through its stream; a body known to be in memory (or none) is written before it returns.
 */
function writeResponse(
  response: Response,
  res: AnyRes,
  h2: boolean,
  head: boolean,
  req?: AnyReq,
): Promise<void> | undefined {
  const out: Record<string, string | string[]> = {};
  let cookies: string[] | undefined;
  let connection: string | undefined;
  let framed = false;
  response.headers.forEach((value, name) => {
    // Headers iterates each Set-Cookie on its own.
    if (name === "set-cookie") (cookies ??= []).push(value);
    else if (name === "connection") connection = value.toLowerCase();
    else if (h2 && H2_FORBIDDEN.has(name)) return;
    else {
      if (name === "content-length" || name === "transfer-encoding") framed = true;
      out[name] = value;
    }
  });
  if (cookies) out["set-cookie"] = cookies;
  const close = connection === "close";
  // An answer before the body was read (413, 401, ...) that closes the connection: close it
  // gently, or the unread upload makes the kernel reset it and the client never sees the answer.
  // No "Connection: close" then: node:http would destroy the socket the moment the answer is
  // written (a reset, with the upload unread); the FIN of lingerClose tells the client instead.
  const linger = req !== undefined && !h2 && !req.complete && close;
  if (connection !== undefined && !h2 && !linger) out["connection"] = connection;
  if (linger) res.once("finish", () => lingerClose(req!.socket));
  // "Connection: close" ends the connection (and with it the TLS session id) on HTTP/2 too.
  const endSession = req !== undefined && h2 && close
    ? () => (req as Http2ServerRequest).stream.session?.close()
    : undefined;
  const status = response.status;
  if (head) {
    (res as ServerResponse).writeHead(status, out as never);
    res.end();
    endSession?.();
    return;
  }
  // A body made from a string or bytes (Deno keeps it as is until someone asks for `.body`):
  // taken whole, without creating the stream and its reader.
  const whole = staticBody(response);
  if (whole instanceof Promise) {
    return whole.then((bytes) => {
      writeWhole(res, h2, status, out, framed, bytes, bytes.byteLength);
      endSession?.();
    });
  }
  if (whole) {
    writeWhole(res, h2, status, out, framed, whole, whole.byteLength);
    endSession?.();
    return;
  }
  const body = response.body;
  if (!body) {
    (res as ServerResponse).writeHead(status, out as never);
    res.end();
    endSession?.();
    return;
  }
  return writeStream(body, res, h2, status, out, framed, endSession);
}

/** A body read through its stream: gathered when every read settles at once, else streamed. */
async function writeStream(
  body: ReadableStream<Uint8Array>,
  res: AnyRes,
  h2: boolean,
  status: number,
  out: Record<string, string | string[]>,
  framed: boolean,
  endSession: (() => void) | undefined,
): Promise<void> {
  const reader = body.getReader();
  let pending: Promise<ReadResult> | undefined = reader.read();
  try {
    // Gather what is already there: most answers are one chunk, and the read after it is done.
    const chunks: Uint8Array[] = [];
    let size = 0;
    let r: ReadResult | undefined = await pending;
    for (;;) {
      if (r.done || !r.value) {
        pending = undefined;
        break;
      }
      chunks.push(r.value);
      size += r.value.byteLength;
      if (size > GATHER_MAX) {
        pending = reader.read();
        break;
      }
      pending = reader.read();
      const next = await readSoon(pending);
      if (next === undefined) break;
      r = next;
    }
    if (pending === undefined) {
      writeWhole(res, h2, status, out, framed, chunks.length === 1 ? chunks[0]! : concat(chunks, size), size);
      endSession?.();
      return;
    }
    // A stream that is still producing: head and what is there now, then the rest as it comes.
    (res as ServerResponse).writeHead(status, out as never);
    for (const c of chunks) (res as ServerResponse).write(c);
    for (;;) {
      const { done, value } = await pending;
      if (done) break;
      if (!(res as ServerResponse).write(value)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.on("drain", done);
          res.on("close", done);
        });
        if ((res as ServerResponse).destroyed) break;
      }
      pending = reader.read();
    }
  } finally {
    // A read still outstanding (the write failed) is refused by releaseLock: not an unhandled
    // rejection. A stream read to its end needs no release (it costs ~0.5 µs a request on Bun).
    if (pending) {
      pending.catch(() => {});
      reader.releaseLock();
    }
  }
  res.end();
  endSession?.();
}

/** Head and a body that is all there, with a Content-Length unless the handler framed it. */
function writeWhole(
  res: AnyRes,
  h2: boolean,
  status: number,
  out: Record<string, string | string[]>,
  framed: boolean,
  bytes: Uint8Array,
  size: number,
): void {
  if (!framed && !noBodyStatus(status)) out["content-length"] = String(size);
  // Head and body in one TLS record and one write: the socket takes both while corked.
  const sock = h2 ? undefined : (res as ServerResponse).socket;
  sock?.cork();
  (res as ServerResponse).writeHead(status, out as never);
  res.end(bytes);
  sock?.uncork();
}

/**
 * Deno's Response keeps a body given as a string or bytes in its inner response until `.body`
 * is read, which makes a ReadableStream of it. Where that inner state is there to see, such a
 * body is taken as it is (a string UTF-8 encoded, as `arrayBuffer()` would); on Bun,
 * bun-static-body.ts tells such a body by Bun's size estimate and takes it with `bytes()` (a
 * promise only if Bun does not hand it over at once: a body in memory all the same).
 * undefined: not known to be in memory (a stream, a file, another runtime), read through `.body`.
 */
const INNER = Object.getOwnPropertySymbols(new Response("")).find((s) => s.description === "response");
const utf8 = new TextEncoder();

export function staticBody(response: Response): Uint8Array | Promise<Uint8Array> | undefined {
  if (bunStaticBodies) return bunStaticBody(response);
  if (!INNER || response.bodyUsed) return undefined;
  const inner = (response as unknown as Record<symbol, { body?: { streamOrStatic?: unknown } | null } | undefined>)[
    INNER
  ];
  const s = inner?.body?.streamOrStatic as { body?: unknown; consumed?: boolean } | undefined;
  if (!s || s instanceof ReadableStream || s.consumed !== false) return undefined;
  const b = s.body;
  return typeof b === "string" ? utf8.encode(b) : b instanceof Uint8Array ? b : undefined;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
