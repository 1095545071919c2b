/** The strict HTTP/1.1 parser of bobcat's own HTTP/1.1 layer (src/runtime/h1-parse.ts). */
import { describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { BodyDecoder, H1Error, headEnd, parseHead } from "../../src/runtime/h1-parse.ts";

const status = (f: () => unknown): number | "ok" => {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof H1Error) return e.status;
    throw e;
  }
};
const head = (lines: string[]) => parseHead(lines.join("\r\n"));

describe("request head", () => {
  test("a well-formed head: method, target, version, headers as sent, Host lines, keep-alive", () => {
    const h = head(["GET /a?b=1 HTTP/1.1", "Host: example.com", "X-A:  1 ", "x-a: 2", "Set-Cookie: c=d"]);
    expect(h.method).toBe("GET");
    expect(h.target).toBe("/a?b=1");
    expect(h.version).toBe("1.1");
    expect(h.rawHeaders).toEqual(["Host", "example.com", "X-A", "1", "x-a", "2", "Set-Cookie", "c=d"]);
    expect(h.hostHeaders).toEqual(["example.com"]);
    expect(h.keepAlive).toBe(true);
    expect(h.chunked).toBe(false);
    expect(h.contentLength).toBeUndefined();
  });

  test("keep-alive by version and Connection", () => {
    expect(head(["GET / HTTP/1.1", "Connection: close"]).keepAlive).toBe(false);
    expect(head(["GET / HTTP/1.1", "Connection: foo, Close"]).keepAlive).toBe(false);
    expect(head(["GET / HTTP/1.0"]).keepAlive).toBe(false);
    expect(head(["GET / HTTP/1.0", "Connection: keep-alive"]).keepAlive).toBe(true);
  });

  test("request line faults: 400, other major versions 505", () => {
    expect(status(() => head(["GET  / HTTP/1.1"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.1 "]))).toBe(400);
    expect(status(() => head(["G(ET / HTTP/1.1"]))).toBe(400);
    expect(status(() => head(["GET /a\tb HTTP/1.1"]))).toBe(400);
    expect(status(() => head(["GET /a\x7fb HTTP/1.1"]))).toBe(400);
    expect(status(() => head(["GET / http/1.1"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.10"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/2.0"]))).toBe(505);
    expect(status(() => head(["GET / HTTP/0.9"]))).toBe(505);
    expect(status(() => head(["GET /"]))).toBe(400);
  });

  test("header faults: whitespace before the colon, obs-fold, controls in values, empty names", () => {
    expect(status(() => head(["GET / HTTP/1.1", "Host : a"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.1", "Host: a", " folded"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.1", "Host: a", "\tfolded"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.1", "X: a\x00b"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.1", "X: a\x01b"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.1", ": a"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.1", "No colon"]))).toBe(400);
    expect(status(() => head(["GET / HTTP/1.1", "X: a\tb"]))).toBe("ok");
  });

  test("Content-Length: digits only; repeated only with the same value", () => {
    expect(head(["POST / HTTP/1.1", "Content-Length: 5"]).contentLength).toBe(5);
    expect(head(["POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 5"]).contentLength).toBe(5);
    for (const v of ["+5", "-1", "5 5", "0x5", "5,5", "", "1234567890123456"]) {
      expect(status(() => head(["POST / HTTP/1.1", `Content-Length: ${v}`]))).toBe(400);
    }
    expect(status(() => head(["POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 6"]))).toBe(400);
  });

  test("Transfer-Encoding: exactly chunked; never with Content-Length; not on HTTP/1.0", () => {
    expect(head(["POST / HTTP/1.1", "Transfer-Encoding: Chunked"]).chunked).toBe(true);
    expect(status(() => head(["POST / HTTP/1.1", "Transfer-Encoding: chunked", "Content-Length: 3"]))).toBe(400);
    expect(status(() => head(["POST / HTTP/1.1", "Content-Length: 3", "Transfer-Encoding: chunked"]))).toBe(400);
    expect(status(() => head(["POST / HTTP/1.1", "Transfer-Encoding: gzip, chunked"]))).toBe(501);
    expect(status(() => head(["POST / HTTP/1.1", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"]))).toBe(
      501,
    );
    expect(status(() => head(["POST / HTTP/1.1", "Transfer-Encoding: xchunked"]))).toBe(501);
    expect(status(() => head(["POST / HTTP/1.1", "Transfer-Encoding: chunked\x0b"]))).toBe(400);
    expect(status(() => head(["POST / HTTP/1.0", "Transfer-Encoding: chunked"]))).toBe(400);
  });

  test("Expect: 100-continue is taken, anything else is 417; WebSocket upgrades are recognised", () => {
    expect(head(["POST / HTTP/1.1", "Expect: 100-Continue", "Content-Length: 1"]).expectContinue).toBe(true);
    expect(status(() => head(["POST / HTTP/1.1", "Expect: something"]))).toBe(417);
    const ws = head([
      "GET / HTTP/1.1",
      "Upgrade: WebSocket",
      "Connection: keep-alive, Upgrade",
      "Sec-WebSocket-Key: k",
    ]);
    expect(ws.websocket).toBe(true);
    expect(ws.wsKey).toBe("k");
    expect(head(["GET / HTTP/1.1", "Upgrade: websocket"]).websocket).toBe(false);
  });
});

describe("head framing", () => {
  const b = (s: string) => Buffer.from(s, "latin1");
  test("the end of the head, or -1 until it is there", () => {
    expect(headEnd(b("GET / HTTP/1.1\r\nHost: a\r\n\r\nrest"), 0, 1000)).toBe(27);
    expect(headEnd(b("GET / HTTP/1.1\r\nHost: a\r\n"), 0, 1000)).toBe(-1);
    expect(headEnd(b("GET / HTTP/1.1\r"), 0, 1000)).toBe(-1);
    expect(headEnd(b("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0, 1000)).toBe(-1);
  });
  test("the head starting at `from` (after a pipelined request), its end the first CRLFCRLF", () => {
    const two = b("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    expect(headEnd(two, 0, 1000)).toBe(28);
    expect(headEnd(two, 28, 1000)).toBe(56);
    // A LF right at `from` follows nothing of this head.
    expect(status(() => headEnd(two, 27, 1000))).toBe(400);
  });
  test("a bare LF is named before a bare CR, wherever each is", () => {
    expect(() => headEnd(b("GET / HTTP/1.1\rX: a\r\nY: b\n\r\n\r\n"), 0, 1000)).toThrow("bare LF");
    expect(() => headEnd(b("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), 0, 1000)).toThrow("bare CR");
    // Only the head is checked: what follows its end is the next request's (or the body's).
    expect(headEnd(b("GET / HTTP/1.1\r\n\r\nbody\nmore\r"), 0, 1000)).toBe(18);
  });
  test("bare LF and bare CR are refused at once, complete or not", () => {
    expect(status(() => headEnd(b("GET / HTTP/1.1\nHost: a\n\n"), 0, 1000))).toBe(400);
    expect(status(() => headEnd(b("GET / HTTP/1.1\r\nHost: a\n"), 0, 1000))).toBe(400);
    expect(status(() => headEnd(b("GET / HTTP/1.1\rHost: a\r\n\r\n"), 0, 1000))).toBe(400);
  });
  test("a head over the limit is 431, complete or not", () => {
    expect(status(() => headEnd(b("GET / HTTP/1.1\r\nX: " + "a".repeat(100)), 0, 64))).toBe(431);
    expect(status(() => headEnd(b("GET / HTTP/1.1\r\nX: " + "a".repeat(100) + "\r\n\r\n"), 0, 64))).toBe(431);
  });
});

describe("body framing", () => {
  const decode = (d: BodyDecoder, parts: string[]) => {
    let out = "";
    let left = Buffer.alloc(0);
    for (const p of parts) {
      const buf = Buffer.concat([left, Buffer.from(p, "latin1")]);
      let at = 0;
      for (;;) {
        const r = d.next(buf, at);
        if (r.data) out += r.data.toString("latin1");
        if (r.at === at && !r.data) break;
        at = r.at;
        if (d.done) break;
      }
      left = buf.subarray(at);
    }
    return { out, rest: left.toString("latin1") };
  };

  test("Content-Length: exactly that many bytes; what follows is the next request", () => {
    const d = new BodyDecoder(false, 5, 1000);
    expect(decode(d, ["he", "lloGET"])).toEqual({ out: "hello", rest: "GET" });
    expect(d.done).toBe(true);
  });

  test("chunked, byte by byte too, with extensions and trailers (ignored)", () => {
    const wire = "5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
    const d = new BodyDecoder(true, 0, 1000);
    expect(decode(d, [wire])).toEqual({ out: "hello world", rest: "NEXT" });
    const d2 = new BodyDecoder(true, 0, 1000);
    expect(decode(d2, wire.split(""))).toEqual({ out: "hello world", rest: "NEXT" });
    expect(d2.done).toBe(true);
  });

  test("chunked faults: bad sizes, missing CRLF after data, bare LF, long lines and trailers", () => {
    const bad = (wire: string, max = 1000) => status(() => decode(new BodyDecoder(true, 0, max), [wire]));
    expect(bad("zz\r\n")).toBe(400);
    expect(bad("-5\r\nhello\r\n")).toBe(400);
    expect(bad("5 \r\nhello\r\n")).toBe(400);
    expect(bad("0x5\r\nhello\r\n")).toBe(400);
    expect(bad("fffffffffffffffff\r\n")).toBe(400);
    expect(bad("5\r\nhelloXX0\r\n\r\n")).toBe(400);
    expect(bad("5\nhello\r\n")).toBe(400);
    expect(bad("5\r\nhello\r\n0\r\n\n")).toBe(400);
    expect(bad("5;" + "e".repeat(5000) + "\r\n")).toBe(400);
    expect(bad("5;" + "e".repeat(5000))).toBe(400);
    expect(bad("0\r\nX: " + "a".repeat(100) + "\r\n\r\n", 64)).toBe(400);
    expect(bad("0\r\n folded\r\n\r\n")).toBe(400);
  });
});
