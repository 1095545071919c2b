/**
 * bobcat's own HTTP/1.1 layer (node-compat, HTTP/1.1-only TLS connectors) against malformed and
 * smuggling requests, on a running CLI under Bun and Deno with client certificates (required and
 * optional), through raw TLS sockets carrying alice's certificate: every framing fault gets its
 * status and the connection closed, and the request smuggled behind it is never answered. Also
 * pipelining, chunked uploads, streamed responses, HEAD, 100-continue, a slow-loris head closed
 * by connectionTimeout, and the certificate chain a handler sees — the same as on node's servers
 * (BOBCAT_NODE_HTTP=1).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import {
  cleanup,
  clientCertificates,
  freePort,
  PKI,
  type Running,
  type Runtime,
  RUNTIMES,
  sslHostConfig,
  startBobcat,
  tempDir,
  tlsAppConfig,
} from "../helpers/bobcat.ts";

const APP = `export default { async fetch(req, ctx) {
  const path = new URL(req.url).pathname;
  if (path === "/echo") {
    const body = await req.text();
    return new Response("echo:" + body, { headers: { "x-method": req.method } });
  }
  if (path === "/stream") {
    let i = 0;
    return new Response(new ReadableStream({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 5));
        if (i === 20) return c.close();
        c.enqueue(new TextEncoder().encode("part" + i++ + ";"));
      },
    }), { headers: { "content-type": "text/plain" } });
  }
  if (path === "/cookies") {
    const h = new Headers();
    h.append("set-cookie", "a=1");
    h.append("set-cookie", "b=2");
    return new Response("c", { headers: h });
  }
  if (path === "/cert") {
    return Response.json({ peers: ctx.peerCertificates.map((c) => c.subject) });
  }
  if (path === "/empty") return new Response(null, { status: 204 });
  return new Response("hello " + req.method + " " + path);
} };`;

function config(port: number, verification: "required" | "optional"): string {
  return tlsAppConfig(
    port,
    sslHostConfig(undefined, clientCertificates(verification)),
    { connector: "          connectionTimeout: 2000\n" },
  );
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

/** The TLS sockets the HTTP/1.1 layer runs on: Bun.listen's on Bun (node:tls with BOBCAT_BUN_LISTEN=0), node:tls on Deno. */
type Layer = "Bun.listen" | "node:tls";
const LAYERS = RUNTIMES.flatMap((runtime): Array<{ runtime: Runtime; layer: Layer }> =>
  runtime === "bun"
    ? [{ runtime, layer: "Bun.listen" }, { runtime, layer: "node:tls" }]
    : [{ runtime, layer: "node:tls" }]
);

async function start(
  runtime: Runtime,
  verification: "required" | "optional",
  nodeHttp = false,
  layer: Layer = runtime === "bun" ? "Bun.listen" : "node:tls",
) {
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  const s = await startBobcat({
    runtime,
    base,
    files: { "app.ts": APP },
    config: config(port, verification),
    env: {
      BOBCAT_NODE_HTTP: nodeHttp ? "1" : "",
      BOBCAT_BUN_LISTEN: runtime === "bun" && layer === "node:tls" ? "0" : "",
    },
  });
  return { s, port };
}

const CLIENT = {
  cert: readFileSync(join(PKI, "alice.pem")),
  key: readFileSync(join(PKI, "alice-key.pem")),
  ca: readFileSync(join(PKI, "ca.pem")),
};

interface Exchange {
  text: string;
  /** The server closed the connection (within the wait). */
  closed: boolean;
  ms: number;
}

/**
 * One TLS connection: writes each part (waiting `gapMs` between them, or until `waitFor` shows up
 * in what was read), then reads until the server closes or `waitMs` passes.
 */
function exchange(
  port: number,
  parts: Array<string | Buffer>,
  o: { waitMs?: number; waitFor?: string; cert?: boolean; gapMs?: number; end?: boolean } = {},
): Promise<Exchange> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const s = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ALPNProtocols: ["http/1.1"],
      ...(o.cert === false ? { ca: CLIENT.ca } : CLIENT),
    });
    let text = "";
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), o.waitMs ?? 3000);
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("close", () => finish(true));
    s.on("error", (e) => (text ? finish(true) : reject(e)));
    s.once("secureConnect", async () => {
      for (let i = 0; i < parts.length; i++) {
        s.write(parts[i]!);
        if (i < parts.length - 1) {
          if (o.waitFor) {
            const until = Date.now() + 3000;
            while (!text.includes(o.waitFor) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
          } else await new Promise((r) => setTimeout(r, o.gapMs ?? 50));
        }
      }
      if (o.end) s.end();
    });
  });
}

const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

/** Framing faults: the request (with a second request smuggled behind it) and the status. */
const FAULTS: Array<[string, string, number]> = [
  [
    "Content-Length with Transfer-Encoding",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  [
    "Transfer-Encoding with Content-Length",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    400,
  ],
  [
    "Transfer-Encoding other than chunked",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n",
    501,
  ],
  [
    "Transfer-Encoding: chunked, identity",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    501,
  ],
  [
    "Transfer-Encoding with a vertical tab",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  [
    "two different Content-Lengths",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    400,
  ],
  ["a signed Content-Length", "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: +3\r\n\r\nabc", 400],
  ["a Content-Length list", "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3, 3\r\n\r\nabc", 400],
  ["whitespace before the colon", "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length : 3\r\n\r\nabc", 400],
  ["obs-fold", "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n 2\r\n\r\n", 400],
  ["bare LF line endings", "GET / HTTP/1.1\nHost: localhost\n\n", 400],
  ["a bare CR", "GET / HTTP/1.1\rHost: localhost\r\n\r\n", 400],
  ["NUL in a header value", "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n", 400],
  ["a control character in the target", "GET /a\x01b HTTP/1.1\r\nHost: localhost\r\n\r\n", 400],
  ["a method that is not a token", "G(T / HTTP/1.1\r\nHost: localhost\r\n\r\n", 400],
  ["HTTP/2.0 in a request line", "GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", 505],
  [
    "a bad chunk size",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    400,
  ],
  [
    "a chunk size with a sign",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    400,
  ],
  [
    "an oversized chunk size",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nhello\r\n0\r\n\r\n",
    400,
  ],
  [
    "chunk data longer than its size",
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    400,
  ],
  [
    "a chunk extension without end",
    `POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5;${"x".repeat(6000)}`,
    400,
  ],
  ["a header section over the limit", `GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(20000)}\r\n\r\n`, 431],
];

for (const { runtime, layer } of LAYERS) {
  describe(`bobcat's HTTP/1.1 on ${layer} under ${runtime} (certificateVerification: required)`, () => {
    let srv: { s: Running; port: number };
    afterAll(() => srv?.s.stop());

    test("starts on bobcat's HTTP/1.1 layer", async () => {
      srv = await start(runtime, "required", false, layer);
      expect(srv.s.output()).toContain(`on bobcat HTTP/1.1 on ${layer}`);
      const r = await exchange(srv.port, ["GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"]);
      expect(statuses(r.text)).toEqual([200]);
      expect(r.text).toContain("hello GET /x");
      expect(r.closed).toBe(true);
    });

    for (const [name, wire, want] of FAULTS) {
      test(`${name}: ${want}, connection closed, the smuggled request unanswered`, async () => {
        const r = await exchange(srv.port, [wire + SMUGGLED]);
        expect(statuses(r.text)).toEqual([want]);
        expect(r.text).not.toContain("smuggled");
        expect(r.closed).toBe(true);
      });
    }

    test("two Host headers and none on HTTP/1.1: 400 (the engine's check)", async () => {
      const two = await exchange(srv.port, [
        "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil\r\nConnection: close\r\n\r\n",
      ]);
      expect(statuses(two.text)).toEqual([400]);
      const none = await exchange(srv.port, ["GET / HTTP/1.1\r\nConnection: close\r\n\r\n"]);
      expect(statuses(none.text)).toEqual([400]);
    });

    test("three pipelined requests in one write: answered in order on one connection", async () => {
      const r = await exchange(srv.port, [
        "GET /one HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc" +
        "GET /three HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      ]);
      expect(statuses(r.text)).toEqual([200, 200, 200]);
      const one = r.text.indexOf("hello GET /one");
      const two = r.text.indexOf("echo:abc");
      const three = r.text.indexOf("hello GET /three");
      expect(one).toBeGreaterThan(0);
      expect(two).toBeGreaterThan(one);
      expect(three).toBeGreaterThan(two);
      expect(r.closed).toBe(true);
    });

    test("a fault in a later request of a kept-alive connection: its status, then closed", async () => {
      const r = await exchange(srv.port, [
        "GET /first HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
        SMUGGLED,
      ], { gapMs: 300 });
      expect(statuses(r.text)).toEqual([200, 400]);
      expect(r.text).toContain("hello GET /first");
      expect(r.text).not.toContain("smuggled");
      expect(r.closed).toBe(true);
    });

    test("a client that half-closes after its requests still gets every answer", async () => {
      const r = await exchange(srv.port, [
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: localhost\r\n\r\n",
      ], { end: true });
      expect(statuses(r.text)).toEqual([200, 200]);
      expect(r.text).toContain("echo:abc");
      expect(r.text).toContain("hello GET /b");
      expect(r.closed).toBe(true);
    });

    test("a chunked upload (extensions, trailers, split across writes) is echoed back", async () => {
      const r = await exchange(srv.port, [
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhel",
        "lo\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        "GET /after HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      ]);
      expect(statuses(r.text)).toEqual([200, 200]);
      expect(r.text).toContain("echo:hello world");
      expect(r.text).toContain("hello GET /after");
    });

    test("a streamed response is read whole (chunked), then the connection serves the next request", async () => {
      const r = await exchange(srv.port, [
        "GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\nGET /next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      ]);
      expect(r.text.toLowerCase()).toContain("transfer-encoding: chunked");
      const first = r.text.slice(r.text.indexOf("\r\n\r\n") + 4);
      // De-chunk the first response.
      let body = "";
      let rest = first;
      for (;;) {
        const nl = rest.indexOf("\r\n");
        const size = parseInt(rest.slice(0, nl), 16);
        rest = rest.slice(nl + 2);
        if (size === 0) {
          rest = rest.slice(2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
      expect(body).toBe(Array.from({ length: 20 }, (_, i) => `part${i};`).join(""));
      expect(rest).toStartWith("HTTP/1.1 200");
      expect(rest).toContain("hello GET /next");
    });

    test("HEAD: the head without a body; 204 without a body; repeated Set-Cookie lines", async () => {
      const r = await exchange(srv.port, [
        "HEAD /h HTTP/1.1\r\nHost: localhost\r\n\r\nGET /empty HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "GET /cookies HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      ]);
      expect(statuses(r.text)).toEqual([200, 204, 200]);
      expect(r.text).not.toContain("hello HEAD");
      const lower = r.text.toLowerCase();
      expect(lower).toContain("set-cookie: a=1\r\n");
      expect(lower).toContain("set-cookie: b=2\r\n");
      const empty = r.text.slice(r.text.indexOf("HTTP/1.1 204"), r.text.indexOf("HTTP/1.1 200", 20));
      expect(empty.toLowerCase()).not.toContain("content-length");
      expect(empty.endsWith("\r\n\r\n")).toBe(true);
    });

    test("Expect: 100-continue is answered before the body is sent", async () => {
      const r = await exchange(srv.port, [
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
        "hello",
      ], { waitFor: "100 Continue" });
      expect(r.text).toStartWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200");
      expect(r.text).toContain("echo:hello");
    });

    test("a slow-loris head is closed by connectionTimeout (2 s) without an answer", async () => {
      const r = await exchange(srv.port, ["GET / HTTP/1.1\r\nHost: loc", "al"], { waitMs: 8000, gapMs: 500 });
      expect(r.closed).toBe(true);
      expect(r.text).toBe("");
      expect(r.ms).toBeLessThan(7000);
    });

    test("a handler reading the certificate sees the same chain as on node's server (BOBCAT_NODE_HTTP=1)", async () => {
      const mine = await exchange(srv.port, ["GET /cert HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"]);
      const node = await start(runtime, "required", true);
      try {
        expect(node.s.output()).not.toContain("bobcat HTTP/1.1 on");
        const theirs = await exchange(node.port, [
          "GET /cert HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        ]);
        const peers = (t: string) => JSON.parse(t.slice(t.indexOf("\r\n\r\n") + 4)).peers as string[];
        expect(peers(mine.text).length).toBeGreaterThan(0);
        expect(peers(mine.text)[0]).toContain("alice");
        expect(peers(mine.text)).toEqual(peers(theirs.text));
      } finally {
        await node.s.stop();
      }
    });

    test("without a client certificate there is no answer at all", async () => {
      const r = await exchange(srv.port, ["GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"], { cert: false }).catch(() => ({
        text: "",
        closed: true,
        ms: 0,
      }));
      expect(r.text).toBe("");
      expect(r.closed).toBe(true);
    });
  });

  describe(`bobcat's HTTP/1.1 on ${layer} under ${runtime} (certificateVerification: optional)`, () => {
    test("with and without a certificate; a fault still closes the connection", async () => {
      const { s, port } = await start(runtime, "optional", false, layer);
      try {
        const req = "GET /cert HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        const peers = (t: string) => JSON.parse(t.slice(t.indexOf("\r\n\r\n") + 4)).peers as string[];
        const none = await exchange(port, [req], { cert: false });
        expect(peers(none.text)).toEqual([]);
        const alice = await exchange(port, [req]);
        expect(peers(alice.text)[0]).toContain("alice");
        const bad = await exchange(port, [FAULTS[0]![1] + SMUGGLED], { cert: false });
        expect(statuses(bad.text)).toEqual([400]);
        expect(bad.closed).toBe(true);
      } finally {
        await s.stop();
      }
    });
  });
}
