/**
 * The connection loop of bobcat's HTTP/1.1 layer (src/runtime/h1-server.ts) on plain TCP sockets
 * with a handler of the test's own: the Request and ConnectionInfo it builds, keep-alive and
 * pipelining, request-body backpressure, response framing, the busy count, upgrades.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { ConnectionInfo } from "../../src/core/context.ts";
import { Buffer } from "node:buffer";
import { type H1Transport, serveH1, serveH1On, type UpgradeRequest } from "../../src/runtime/h1-server.ts";

let server: Server;
let port = 0;
let busy = 0;
const seen: Array<{ url: string; method: string; conn: ConnectionInfo; headers: [string, string][] }> = [];
const upgrades: Array<{ req: UpgradeRequest; head: string }> = [];
let release: (() => void) | undefined;

const handle = async (req: Request, conn: ConnectionInfo): Promise<Response> => {
  seen.push({ url: req.url, method: req.method, conn, headers: [...req.headers] });
  const path = new URL(req.url).pathname;
  if (path === "/slow-read") {
    // Reads the body only once the test says so: the socket must pause meanwhile.
    await new Promise<void>((r) => (release = r));
    return new Response(`read ${(await req.arrayBuffer()).byteLength}`);
  }
  if (path === "/echo") return new Response(await req.text());
  if (path === "/stream") {
    let i = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 2));
          if (i === 3) return c.close();
          c.enqueue(new TextEncoder().encode(`s${i++}`));
        },
      }),
    );
  }
  if (path === "/throw") throw new Error("handler failed");
  if (path === "/latin1") return new Response("ok", { headers: { "x-name": "caf\u00e9" } });
  return new Response(`hello ${req.method} ${path}`, { headers: { "x-a": "1" } });
};

beforeAll(async () => {
  server = createServer((s) =>
    serveH1(s, {
      scheme: "https",
      handle: (r, c) => path(r) === "/sync" ? new Response("sync") : handle(r, c),
      readTimeoutMs: 1000,
      maxHeadSize: 1024,
      started: () => void busy++,
      ended: () => void busy--,
      upgrade: (req, socket, head) => {
        upgrades.push({ req, head: head.toString("latin1") });
        socket.end("HTTP/1.1 101 Switching Protocols\r\n\r\n");
      },
    })
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => server.close());

const path = (r: Request) => new URL(r.url).pathname;

/** Sends `wire` (parts with a pause between) and reads until the server closes or `ms` pass. */
function talk(parts: string[], ms = 1500, gap = 30): Promise<{ text: string; closed: boolean; socket: Socket }> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let text = "";
    let done = false;
    const end = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      resolve({ text, closed, socket: s });
      s.destroy();
    };
    const t = setTimeout(() => end(false), ms);
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("close", () => end(true));
    s.on("error", () => {});
    s.on("connect", async () => {
      for (const p of parts) {
        s.write(p);
        await new Promise((r) => setTimeout(r, gap));
      }
    });
  });
}

test("the Request and ConnectionInfo: URL from Host and target, headers as sent, version, peer", async () => {
  seen.length = 0;
  const r = await talk([
    "GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8443\r\nX-One: 1\r\nx-one: 2\r\nConnection: close\r\n\r\n",
  ]);
  expect(r.text).toStartWith("HTTP/1.1 200 OK\r\n");
  expect(r.text).toContain("content-length: 14\r\n");
  expect(r.text).toContain("connection: close\r\n");
  expect(r.text).toEndWith("\r\n\r\nhello GET /a/b");
  expect(r.closed).toBe(true);
  const s = seen[0]!;
  expect(s.url).toBe("https://example.com:8443/a/b?c=d");
  expect(s.conn.target).toBe("/a/b?c=d");
  expect(s.conn.hostHeaders).toEqual(["example.com:8443"]);
  expect(s.conn.httpVersion).toBe("HTTP/1.1");
  expect(s.conn.remoteAddr).toBe("127.0.0.1");
  expect(s.conn.remotePort).toBeGreaterThan(0);
  expect(s.headers).toContainEqual(["x-one", "1, 2"]);
  expect(busy).toBe(0);
});

test("a Host the URL cannot carry, or two, leave the URL on localhost; the engine sees them all", async () => {
  seen.length = 0;
  await talk(["GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"]);
  expect(seen[0]!.url).toBe("https://localhost/x");
  expect(seen[0]!.conn.hostHeaders).toEqual(["a", "b"]);
});

test("pipelined requests (sync and async answers) in order; HTTP/1.0 closes unless keep-alive", async () => {
  const r = await talk([
    "GET /sync HTTP/1.1\r\nHost: h\r\n\r\nGET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /stream HTTP/1.1\r\nHost: h\r\n\r\n" +
    "GET /two HTTP/1.0\r\nHost: h\r\n\r\nGET /never HTTP/1.1\r\nHost: h\r\n\r\n",
  ]);
  const bodies = ["sync", "hello GET /one", "s0", "hello GET /two"].map((b) => r.text.indexOf(b));
  expect(bodies.every((b, i) => b > 0 && (i === 0 || b > bodies[i - 1]!))).toBe(true);
  expect(r.text).toContain("transfer-encoding: chunked\r\n\r\n2\r\ns0\r\n2\r\ns1\r\n2\r\ns2\r\n0\r\n\r\n");
  expect(r.text).not.toContain("never");
  expect(r.closed).toBe(true);
  expect(busy).toBe(0);
});

test("response heads go out one byte per character: latin1 header values as latin1, ASCII as is", async () => {
  const r = await talk([
    "GET /latin1 HTTP/1.1\r\nHost: h\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  ]);
  // talk() decodes latin1: the byte 0xE9, not UTF-8's 0xC3 0xA9.
  expect(r.text).toContain("x-name: caf\u00e9\r\n");
  expect(r.text).toContain("content-length: 2\r\n");
  expect(r.text).toContain("\r\n\r\nok");
  expect(r.text).toContain("x-a: 1\r\n");
  expect(r.text).toEndWith("\r\n\r\nhello GET /x");
});

test("a handler that throws: 500, and the connection goes on", async () => {
  const r = await talk([
    "GET /throw HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  ]);
  expect(r.text).toStartWith("HTTP/1.1 500 ");
  expect(r.text).toContain("hello GET /after");
});

test("request body backpressure: the socket is not read while the application does not read", async () => {
  // More than the kernel can hold for the connection: loopback receive buffers autotune up to
  // net.ipv4.tcp_rmem's maximum (32 MiB here) and the send buffer adds 4 MiB more.
  const big = "x".repeat(64 * 1024 * 1024);
  const s = connect(port, "127.0.0.1");
  let text = "";
  s.on("data", (d) => (text += d));
  await new Promise((r) => s.on("connect", r));
  let flushed = true;
  s.write(`POST /slow-read HTTP/1.1\r\nHost: h\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n`);
  flushed = s.write(big);
  await new Promise((r) => setTimeout(r, 500));
  // The write is still waiting while the server pauses.
  expect(flushed).toBe(false);
  expect(s.writableLength).toBeGreaterThan(0);
  release!();
  await new Promise((r) => s.on("close", r));
  expect(text).toContain(`read ${big.length}`);
});

test("chunked upload echoed; a framing fault after it closes with 400 and nothing more is answered", async () => {
  const r = await talk([
    "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
  ]);
  expect(r.text).toContain("\r\n\r\nabc");
  expect(r.text).toContain("HTTP/1.1 400 Bad Request\r\nconnection: close");
  expect(r.text).not.toContain("hello GET /x");
  expect(r.closed).toBe(true);
});

test("a head over maxHeadSize: 431 before it ends", async () => {
  const r = await talk([`GET / HTTP/1.1\r\nHost: h\r\nX: ${"a".repeat(2000)}`]);
  expect(r.text).toStartWith("HTTP/1.1 431 ");
  expect(r.closed).toBe(true);
});

test("Upgrade: websocket hands over the socket with the bytes after the head", async () => {
  upgrades.length = 0;
  const r = await talk([
    "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\n\r\nFRAME",
  ]);
  expect(r.text).toBe("HTTP/1.1 101 Switching Protocols\r\n\r\n");
  expect(upgrades[0]!.req.url).toBe("/ws");
  expect(upgrades[0]!.req.headers["sec-websocket-key"]).toBe("abc");
  expect(upgrades[0]!.req.rawHeaders).toContain("Upgrade");
  expect(upgrades[0]!.head).toBe("FRAME");
});

test("a whole answer the transport has to queue holds the next pipelined request until it drains", async () => {
  const writes: string[] = [];
  let full = true;
  let ended = 0;
  const transport: H1Transport = {
    remoteAddress: "127.0.0.1",
    remotePort: 1,
    destroyed: false,
    // The first write fills the transport's buffer: queued, drained() follows.
    write: (b) => {
      writes.push(Buffer.from(b).toString("latin1"));
      const ok = !full;
      full = false;
      return ok;
    },
    cork: () => {},
    uncork: () => {},
    end: () => {},
    destroy: () => {},
    pause: () => {},
    resume: () => {},
  };
  const conn = serveH1On(transport, {
    scheme: "https",
    handle: (r) => new Response(`answer ${new URL(r.url).pathname}`),
    readTimeoutMs: 1000,
    maxHeadSize: 1024,
    started: () => {},
    ended: () => void ended++,
  });
  conn.data(Buffer.from("GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n", "latin1"));
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1));
  expect(writes.length).toBe(1);
  expect(writes[0]).toEndWith("answer /one");
  expect(ended).toBe(0);
  conn.drained();
  for (let i = 0; i < 5 && writes.length < 2; i++) await new Promise((r) => setTimeout(r, 1));
  expect(writes.length).toBe(2);
  expect(writes[1]).toEndWith("answer /two");
  expect(ended).toBe(2);
});

test("body bytes that arrive before the client-certificate verdict reach the request once it is served", async () => {
  const writes: string[] = [];
  let verdict!: (ok: boolean) => void;
  const transport: H1Transport = {
    remoteAddress: "127.0.0.1",
    remotePort: 1,
    destroyed: false,
    write: (b) => (writes.push(Buffer.from(b).toString("latin1")), true),
    cork: () => {},
    uncork: () => {},
    end: () => {},
    destroy: () => {},
    pause: () => {},
    resume: () => {},
  };
  const conn = serveH1On(transport, {
    scheme: "https",
    handle: async (r) => new Response(`read ${(await r.arrayBuffer()).byteLength}`),
    readTimeoutMs: 1000,
    maxHeadSize: 1024,
    started: () => {},
    ended: () => {},
    verdict: new Promise<boolean>((r) => (verdict = r)),
  });
  // The head and the body's first half in one read, the rest in a later one: both before the verdict.
  conn.data(Buffer.from("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345", "latin1"));
  conn.data(Buffer.from("67890", "latin1"));
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 1));
  expect(writes).toEqual([]);
  verdict(true);
  for (let i = 0; i < 50 && writes.length === 0; i++) await new Promise((r) => setTimeout(r, 2));
  expect(writes.join("")).toEndWith("read 10");
});

test("a head sent again is served from its last parse; one that differs in a byte, or a bad one after it, is parsed anew", async () => {
  seen.length = 0;
  const a = "GET /same?q=1 HTTP/1.1\r\nHost: example.com\r\nX-N: 1\r\n\r\n";
  const r = await talk([
    a + a + a.replace("X-N: 1", "X-N: 2") + a + a.replace("/same", "/samf") +
    "GET /last HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
  ]);
  expect(seen.map((s) => [s.url, s.headers.find(([n]) => n === "x-n")?.[1] ?? null])).toEqual([
    ["https://example.com/same?q=1", "1"],
    ["https://example.com/same?q=1", "1"],
    ["https://example.com/same?q=1", "2"],
    ["https://example.com/same?q=1", "1"],
    ["https://example.com/samf?q=1", "1"],
    ["https://example.org/last", null],
  ]);
  expect(r.text.split("HTTP/1.1 200 OK").length).toBe(7);
  // The same head, then one with a bare LF: the second is refused, nothing after it answered.
  seen.length = 0;
  const bad = await talk([a + a + "GET /bad HTTP/1.1\r\nHost: example.com\nX: y\r\n\r\n" + a]);
  expect(seen.length).toBe(2);
  expect(bad.text).toContain("HTTP/1.1 400 ");
  expect(bad.text.split("HTTP/1.1 200 OK").length).toBe(3);
  expect(bad.closed).toBe(true);
});
