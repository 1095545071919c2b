/**
 * Strict HTTP/1.1 request parsing for bobcat's own HTTP/1.1 layer (h1-server.ts): the request
 * head and the body framing (Content-Length or chunked). Anything RFC 9112 calls a framing fault,
 * and anything a lenient parser and a strict one could read differently (request smuggling),
 * is an H1Error: the server answers its status and closes the connection.
 */
import { Buffer } from "node:buffer";

/** A request the server refuses: its status, then the connection is closed. */
export class H1Error extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "H1Error";
  }
}

/** tchar (RFC 9110 5.6.2) by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** A field value: no control characters but HTAB (so no NUL, CR or LF). */
function validValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  return true;
}

/** A request target: visible characters only (no space, no control characters). */
function validTarget(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127) return false;
  }
  return true;
}

const trimOws = (s: string) => {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
};

export interface H1Head {
  method: string;
  target: string;
  /** "1.0" or "1.1". */
  version: string;
  /** Name, value, name, value, ... as sent (values without surrounding whitespace). */
  rawHeaders: string[];
  hostHeaders: string[];
  /** The body's length; undefined when chunked or without a body. */
  contentLength?: number;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
  /** `Upgrade: websocket` with `Connection: upgrade`. */
  websocket: boolean;
  /** Sec-WebSocket-Key, for the upgrade. */
  wsKey?: string;
}

/** Content-Length: digits only; beyond 15 digits no body this server takes. */
const CL_MAX_DIGITS = 15;

function connectionHas(v: string, token: string): boolean {
  // One option (keep-alive, close), the usual case: no list to split.
  if (v.indexOf(",") < 0) return trimOws(v).toLowerCase() === token;
  for (const p of v.split(",")) if (trimOws(p).toLowerCase() === token) return true;
  return false;
}

/**
 * Parses a request head (request line and header lines, CRLF separated, without the final
 * empty line), given as latin1 text. Throws H1Error for anything not strictly HTTP/1.x.
 */
export function parseHead(text: string): H1Head {
  const len = text.length;
  // Lines are taken where they are (no split into an array of lines): each character is
  // looked at once, for the line's end, the name's end and the value's checks together.
  let eol = text.indexOf("\r\n");
  if (eol < 0) eol = len;
  const line = eol === len ? text : text.slice(0, eol);
  // A CR or LF left in any line was not part of a CRLF: bare CR or bare LF.
  const sp1 = line.indexOf(" ");
  const sp2 = sp1 < 0 ? -1 : line.indexOf(" ", sp1 + 1);
  if (sp1 <= 0 || sp2 < 0) throw new H1Error(400, "malformed request line");
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const proto = line.slice(sp2 + 1);
  if (!isToken(method)) throw new H1Error(400, "the method is not a token");
  if (!validTarget(target)) throw new H1Error(400, "invalid request target");
  if (proto.length !== 8 || !proto.startsWith("HTTP/") || proto.charCodeAt(6) !== 46) {
    throw new H1Error(400, "malformed HTTP version");
  }
  const major = proto.charCodeAt(5) - 48;
  const minor = proto.charCodeAt(7) - 48;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) throw new H1Error(400, "malformed HTTP version");
  if (major !== 1) throw new H1Error(505, `HTTP/${major}.${minor} is not supported`);
  const version = minor === 0 ? "1.0" : "1.1";
  const rawHeaders: string[] = [];
  const hostHeaders: string[] = [];
  let contentLength: number | undefined;
  let te: string | undefined;
  let connection: string | undefined;
  let expect: string | undefined;
  let upgrade: string | undefined;
  let wsKey: string | undefined;
  for (let start = eol + 2; start <= len;) {
    let end = text.indexOf("\r\n", start);
    if (end < 0) end = len;
    const c0 = text.charCodeAt(start);
    if (c0 === 32 || c0 === 9) throw new H1Error(400, "obsolete line folding");
    // The name: tchars up to the colon.
    let colon = start;
    for (; colon < end; colon++) {
      const c = text.charCodeAt(colon);
      if (c === 58) break;
      if (c > 127 || TCHAR[c] === 0) throw new H1Error(400, "invalid header name");
    }
    if (colon === start || colon === end) throw new H1Error(400, "malformed header line");
    const name = text.slice(start, colon);
    // The value: no control characters but HTAB, without the whitespace around it.
    let from = colon + 1;
    while (from < end && (text.charCodeAt(from) === 32 || text.charCodeAt(from) === 9)) from++;
    let to = from;
    for (let k = from; k < end; k++) {
      const c = text.charCodeAt(k);
      if ((c < 32 && c !== 9) || c === 127) throw new H1Error(400, "invalid character in a header value");
      if (c !== 32 && c !== 9) to = k + 1;
    }
    const value = text.slice(from, to);
    start = end + 2;
    rawHeaders.push(name, value);
    const n = name.length;
    if (n === 4) {
      if (name.toLowerCase() === "host") hostHeaders.push(value);
    } else if (n === 14 && name.toLowerCase() === "content-length") {
      if (value.length === 0 || value.length > CL_MAX_DIGITS) throw new H1Error(400, "invalid Content-Length");
      for (let k = 0; k < value.length; k++) {
        const d = value.charCodeAt(k);
        if (d < 48 || d > 57) throw new H1Error(400, "invalid Content-Length");
      }
      const v = Number(value);
      if (contentLength !== undefined && contentLength !== v) throw new H1Error(400, "conflicting Content-Length");
      contentLength = v;
    } else if (n === 17 && name.toLowerCase() === "transfer-encoding") {
      te = te === undefined ? value : `${te}, ${value}`;
    } else if (n === 10 && name.toLowerCase() === "connection") {
      connection = connection === undefined ? value : `${connection}, ${value}`;
    } else if (n === 6 && name.toLowerCase() === "expect") {
      expect = value;
    } else if (n === 7 && name.toLowerCase() === "upgrade") {
      upgrade = value;
    } else if (n === 17 && name.toLowerCase() === "sec-websocket-key") {
      wsKey = value;
    }
  }
  let chunked = false;
  if (te !== undefined) {
    if (contentLength !== undefined) throw new H1Error(400, "both Content-Length and Transfer-Encoding");
    if (version === "1.0") throw new H1Error(400, "Transfer-Encoding on HTTP/1.0");
    if (te.toLowerCase() !== "chunked") {
      // A coding list (gzip, chunked) is well-formed HTTP but not one this server decodes.
      const codings = te.split(",").map(trimOws);
      throw codings.every(isToken)
        ? new H1Error(501, `Transfer-Encoding ${te} is not implemented`)
        : new H1Error(400, "malformed Transfer-Encoding");
    }
    chunked = true;
  }
  if (expect !== undefined && expect.toLowerCase() !== "100-continue") {
    throw new H1Error(417, `Expect: ${expect} is not supported`);
  }
  const keepAlive = version === "1.1"
    ? !(connection !== undefined && connectionHas(connection, "close"))
    : connection !== undefined && connectionHas(connection, "keep-alive") &&
      !connectionHas(connection, "close");
  const websocket = upgrade !== undefined && connection !== undefined && upgrade.toLowerCase() === "websocket" &&
    connectionHas(connection, "upgrade");
  return {
    method,
    target,
    version,
    rawHeaders,
    hostHeaders,
    contentLength: chunked ? undefined : contentLength,
    chunked,
    keepAlive,
    expectContinue: expect !== undefined && version === "1.1",
    websocket,
    wsKey,
  };
}

const CR = 13;
const LF = 10;

/**
 * Where the head in `buf` ends (the index after its CRLFCRLF), -1 when more bytes are needed.
 * Throws for a bare LF (or a bare CR before it) and for a head longer than `max` bytes.
 * `from`: where the head starts (after empty lines skipped before it).
 */
export function headEnd(buf: Buffer, from: number, max: number): number {
  // One pass over the bytes instead of Buffer.indexOf calls (one for the end, one per line for
  // LF and CR): Deno's Buffer.indexOf is JavaScript with a set-up cost per call (~1.5 µs for a
  // string needle), which a loop over a head of a few hundred bytes does not have.
  const n = buf.length;
  let end = -1;
  let bareLf = false;
  let bareCr = false;
  for (let i = from; i < n; i++) {
    const c = buf[i];
    if (c === LF) {
      // Every LF of the head must follow a CR, and every CR precede a LF.
      if (i === from || buf[i - 1] !== CR) bareLf = true;
    } else if (c === CR) {
      if (i + 1 < n) {
        if (buf[i + 1] !== LF) bareCr = true;
        else if (i + 3 < n && buf[i + 2] === CR && buf[i + 3] === LF) {
          // The LF at i + 1 follows this CR: nothing of the head is left to check.
          end = i;
          break;
        }
      }
    }
  }
  if (bareLf) throw new H1Error(400, "bare LF in the request head");
  if (bareCr) throw new H1Error(400, "bare CR in the request head");
  if (end < 0) {
    if (buf.length - from > max) throw new H1Error(431, "request header fields too large");
    return -1;
  }
  if (end + 4 - from > max) throw new H1Error(431, "request header fields too large");
  return end + 4;
}

/** Longest chunk-size line (size and extensions) and trailer section accepted. */
export const CHUNK_LINE_MAX = 4096;
/** Hex digits of a chunk size (leading zeros included): 2^52 at most. */
const CHUNK_SIZE_DIGITS = 13;

/**
 * A request body's framing: Content-Length or chunked. `next(buf, at)` takes what it can from
 * `buf` from `at`: returns the body bytes found (a view into buf) and where it stopped; `done`
 * once the body (and its trailers) is complete. Throws H1Error on a framing fault.
 */
export class BodyDecoder {
  done = false;
  private remaining: number;
  /** Chunked: 0 size line, 1 data, 2 CRLF after data, 3 trailers. */
  private state = 0;
  private trailerBytes = 0;

  constructor(readonly chunked: boolean, length: number, private readonly maxTrailer: number) {
    this.remaining = chunked ? 0 : length;
    if (!chunked && length === 0) this.done = true;
  }

  next(buf: Buffer, at: number): { data?: Buffer; at: number } {
    if (this.done) return { at };
    if (!this.chunked) {
      const n = Math.min(this.remaining, buf.length - at);
      if (n === 0) return { at };
      this.remaining -= n;
      if (this.remaining === 0) this.done = true;
      return { data: buf.subarray(at, at + n), at: at + n };
    }
    for (;;) {
      if (this.state === 1) {
        const n = Math.min(this.remaining, buf.length - at);
        if (n === 0) return { at };
        this.remaining -= n;
        if (this.remaining === 0) this.state = 2;
        return { data: buf.subarray(at, at + n), at: at + n };
      }
      if (this.state === 2) {
        if (buf.length - at < 2) {
          if (buf.length - at === 1 && buf[at] !== CR) throw new H1Error(400, "chunk data not followed by CRLF");
          return { at };
        }
        if (buf[at] !== CR || buf[at + 1] !== LF) throw new H1Error(400, "chunk data not followed by CRLF");
        at += 2;
        this.state = 0;
        continue;
      }
      const lf = buf.indexOf(LF, at);
      if (lf < 0) {
        if (buf.length - at > CHUNK_LINE_MAX) throw new H1Error(400, "chunk line too long");
        return { at };
      }
      if (lf - at > CHUNK_LINE_MAX) throw new H1Error(400, "chunk line too long");
      if (lf === at || buf[lf - 1] !== CR) throw new H1Error(400, "bare LF in chunked framing");
      const line = buf.toString("latin1", at, lf - 1);
      if (line.includes("\r")) throw new H1Error(400, "bare CR in chunked framing");
      at = lf + 1;
      if (this.state === 3) {
        this.trailerBytes += line.length + 2;
        if (this.trailerBytes > this.maxTrailer) throw new H1Error(400, "trailer section too large");
        if (line.length === 0) {
          this.done = true;
          return { at };
        }
        const c0 = line.charCodeAt(0);
        const colon = line.indexOf(":");
        if (c0 === 32 || c0 === 9 || colon <= 0 || !isToken(line.slice(0, colon))) {
          throw new H1Error(400, "malformed trailer field");
        }
        if (!validValue(line.slice(colon + 1))) throw new H1Error(400, "invalid character in a trailer field");
        continue;
      }
      // chunk-size [ chunk-ext ]: hex digits, then nothing or ";" extensions.
      let i = 0;
      while (i < line.length && isHex(line.charCodeAt(i))) i++;
      if (i === 0 || i > CHUNK_SIZE_DIGITS) throw new H1Error(400, "invalid chunk size");
      if (i < line.length) {
        if (line.charCodeAt(i) !== 59 /* ; */) throw new H1Error(400, "invalid chunk size");
        if (!validValue(line.slice(i + 1))) throw new H1Error(400, "invalid chunk extension");
      }
      const size = parseInt(line.slice(0, i), 16);
      if (size === 0) {
        this.state = 3;
        continue;
      }
      this.remaining = size;
      this.state = 1;
    }
  }
}

const isHex = (c: number) => (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 102);
