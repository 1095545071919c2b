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

const log = logger("connector");
export type AnyReq = IncomingMessage | Http2ServerRequest;
export type AnyRes = ServerResponse | Http2ServerResponse;

/** Methods a web Request cannot have: TRACE as the engine refuses it (allowTrace=false), the others 501. */
const FETCH_FORBIDDEN_METHODS = new Map<string, () => Response>([
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
    const verdict = tlsSocket?.[VERDICT];
    if (verdict && !(await verdict)) return;
    const headers = new Headers();
    const raw = req.rawHeaders;
    // Every Host line as sent (Headers would join them): the engine refuses two.
    const hostHeaders: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.charCodeAt(0) === 58 /* ":" pseudo-header */) continue;
      if (name.length === 4 && name.toLowerCase() === "host") hostHeaders.push(raw[i + 1]!);
      headers.append(name, raw[i + 1]!);
    }
    const h2Authority = h2 ? (req as Http2ServerRequest).authority : undefined;
    if (h2Authority) {
      if (hostHeaders.length === 0) headers.set("host", h2Authority);
      if (!hostHeaders.includes(h2Authority)) hostHeaders.unshift(h2Authority);
    }
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
    const hasBody = method !== "GET" && method !== "HEAD";
    const request = new Request(url, {
      method,
      headers,
      body: hasBody ? (toWebStream(req, readTimeoutMs) as ReadableStream<Uint8Array>) : undefined,
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
    const conn: ConnectionInfo = {
      remoteAddr: socket?.remoteAddress ?? "",
      remotePort: socket?.remotePort ?? 0,
      httpVersion: h2 ? "HTTP/2.0" : `HTTP/${req.httpVersion}`,
      target,
      hostHeaders,
      tls: tlsSocket ? tlsInfoOf(tlsSocket) : undefined,
    };
    const response = await handle(request, conn);
    // An answer before the body was read (413, 401, ...) that closes the connection: close it
    // gently, or the unread upload makes the kernel reset it and the client never sees the answer.
    const linger = !h2 && !req.complete && response.headers.get("connection")?.toLowerCase() === "close";
    await writeResponse(response, res, h2, method === "HEAD", linger ? () => lingerClose(req.socket) : undefined);
    // "Connection: close" ends the connection (and with it the TLS session id) on HTTP/2 too.
    if (h2 && response.headers.get("connection")?.toLowerCase() === "close") {
      (req as Http2ServerRequest).stream.session?.close();
    }
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

/** `closeAfter`: the connection is closed by the caller's way, not node:http's (see lingerClose). */
async function writeResponse(
  response: Response,
  res: AnyRes,
  h2: boolean,
  head: boolean,
  closeAfter?: () => void,
): Promise<void> {
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") return;
    if (h2 && H2_FORBIDDEN.has(name)) return;
    if (closeAfter && name === "connection") return;
    out[name] = value;
  });
  // No "Connection: close" then: node:http would destroy the socket the moment the answer is
  // written (a reset, with the upload unread); the FIN of lingerClose tells the client instead.
  if (closeAfter) res.once("finish", closeAfter);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  (res as ServerResponse).writeHead(response.status, out as never);
  if (!response.body || head) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
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
    }
  } finally {
    reader.releaseLock();
  }
  res.end();
}
