/**
 * bunStaticBody (src/runtime/bun-static-body.ts): on Bun, a Response whose body Bun holds whole
 * (string, bytes, JSON) is taken at once with its bytes; every other kind of body (streams, Blobs,
 * files, fetch responses, an empty body) is left untouched for the reader, so that a stream is
 * never read to its end before anything is sent. Through the HTTP/1.1 layer, a stream whose
 * second chunk waits for the client to have the first must still arrive in two steps.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, createServer, type Server } from "node:net";
import { bunStaticBodies, bunStaticBody } from "../../src/runtime/bun-static-body.ts";
import { staticBody } from "../../src/runtime/node-bridge.ts";
import { serveH1 } from "../../src/runtime/h1-server.ts";

const te = new TextEncoder();
const bytesOf = (s: string) => te.encode(s);

let upstream: ReturnType<typeof Bun.serve>;
let releaseUpstream: (() => void) | undefined;
beforeAll(() => {
  // A streaming origin for the fetch cases: its body's second half waits for the test.
  upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () =>
      new Response(
        new ReadableStream({
          async start(c) {
            c.enqueue(bytesOf("up-1;"));
            await new Promise<void>((r) => (releaseUpstream = r));
            c.enqueue(bytesOf("up-2"));
            c.close();
          },
        }),
      ),
  });
});
afterAll(() => upstream.stop(true));

test("the rule holds on this Bun (else bobcat stays on the reader for every body)", () => {
  expect(bunStaticBodies).toBe(true);
});

test("bodies Bun holds whole are taken at once, as the bytes the reader would give", () => {
  const cases: Array<[string, () => Response, string]> = [
    ["string", () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }), "Hello, world"],
    ["non-ASCII string (UTF-8)", () => new Response("é€ ok"), "é€ ok"],
    ["bytes", () => new Response(bytesOf("abc")), "abc"],
    ["ArrayBuffer", () => new Response(bytesOf("buf").buffer), "buf"],
    ["Response.json", () => Response.json({ a: 1 }), '{"a":1}'],
    [
      "status and statusText",
      () => new Response("made with its own status", { status: 201, statusText: "Created" }),
      "made with its own status",
    ],
    ["clone of a string body", () => new Response("cloned").clone(), "cloned"],
    ["body stream looked at, not read", () => {
      const r = new Response("peeked");
      void r.body;
      return r;
    }, "peeked"],
  ];
  for (const [name, make, text] of cases) {
    const res = make();
    const got = bunStaticBody(res);
    expect({ name, whole: got instanceof Uint8Array }).toEqual({ name, whole: true });
    expect({ name, text: new TextDecoder().decode(got as Uint8Array) }).toEqual({ name, text });
    expect(res.bodyUsed).toBe(true);
  }
});

test("streams, Blobs, files, empty and fetched bodies are left untouched for the reader", async () => {
  const stream = (chunks: string[], close = true) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const x of chunks) c.enqueue(bytesOf(x));
        if (close) c.close();
      },
    });
  const cases: Array<[string, () => Response | Promise<Response>, string | null]> = [
    ["null", () => new Response(null), null],
    ["empty string", () => new Response(""), ""],
    // The estimate cannot tell these 4 bytes from what the statusText may count: the reader.
    ["a body shorter than twice its statusText", () => new Response("made", { statusText: "Created" }), "made"],
    ["closed stream", () => new Response(stream(["a", "b"])), "ab"],
    ["stream with headers and a long statusText", () =>
      new Response(stream(["s"]), {
        status: 203,
        statusText: "A long status text \u4e00\u4e00 that a size estimate could mistake for a body",
        headers: { "x-pad": "p".repeat(500) },
      }), "s"],
    ["async generator", () =>
      new Response(
        (async function* () {
          yield "g1";
          yield "g2";
        })() as unknown as BodyInit,
      ), "g1g2"],
    ["Blob", () => new Response(new Blob(["blob"])), "blob"],
    ["Blob stream", () => new Response(new Blob(["bs"]).stream()), "bs"],
    ["file", () => new Response(Bun.file(import.meta.path)), null],
    ["URLSearchParams", () => new Response(new URLSearchParams("a=1")), "a=1"],
    ["redirect", () => Response.redirect("http://a.example/", 302), null],
    ["Response.error", () => Response.error(), null],
  ];
  // Not a Response of Bun's, though its size is that of a body (4 KiB of bytes under it): its
  // body is not taken.
  const lookalike = Object.assign(new Uint8Array(4096), {
    url: "",
    statusText: "",
    bodyUsed: false,
    bytes: () => Promise.resolve(new Uint8Array(0)),
  });
  expect(bunStaticBody(lookalike as unknown as Response)).toBeUndefined();
  for (const [name, make, text] of cases) {
    const res = await make();
    expect({ name, got: bunStaticBody(res) }).toEqual({ name, got: undefined });
    expect({ name, used: res.bodyUsed }).toEqual({ name, used: false });
    if (text !== null) expect({ name, text: await res.text() }).toEqual({ name, text });
  }
});

test("a fetched streaming body, returned as is or wrapped, is not waited for", async () => {
  for (const wrap of [false, true]) {
    const up = await fetch(`http://127.0.0.1:${upstream.port}/`);
    const res = wrap ? new Response(up.body, { headers: { "x-proxied": "1" } }) : up;
    expect(bunStaticBody(res)).toBeUndefined();
    expect(staticBody(res)).toBeUndefined();
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("up-1;");
    releaseUpstream!();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toBe("up-2");
  }
});

// Through the HTTP/1.1 layer: the second chunk is produced only once the client has the first.
let server: Server;
let port = 0;
let gotFirst: (() => void) | undefined;
beforeAll(async () => {
  server = createServer((s) =>
    serveH1(s, {
      scheme: "https",
      handle: (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/static") return new Response("all at once", { statusText: "Fine" });
        const waitForClient = new Promise<void>((r) => (gotFirst = r));
        return new Response(
          new ReadableStream({
            async start(c) {
              c.enqueue(bytesOf("first;"));
              await waitForClient;
              c.enqueue(bytesOf("second"));
              c.close();
            },
          }),
          path === "/stream-status" ? { statusText: "x".repeat(200) } : {},
        );
      },
      readTimeoutMs: 1000,
      maxHeadSize: 4096,
      started: () => {},
      ended: () => {},
    })
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => server.close());

function get(path: string, onText: (all: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let text = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer for ${path}; got ${JSON.stringify(text)}`));
    }, 3000);
    s.on("data", (d) => {
      text += d.toString("latin1");
      onText(text);
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.on("error", () => {});
    s.write(`GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
  });
}

test("a stream whose rest waits for the client is sent as it comes (plain, and with a statusText)", async () => {
  for (const path of ["/stream", "/stream-status"]) {
    const text = await get(path, (all) => {
      if (all.includes("first;")) gotFirst?.();
    });
    expect(text).toContain("transfer-encoding: chunked\r\n");
    expect(text).toContain("first;");
    expect(text).toContain("second");
  }
});

test("a string body goes out whole with its Content-Length", async () => {
  const text = await get("/static", () => {});
  expect(text).toStartWith("HTTP/1.1 200 ");
  expect(text).toContain("content-length: 11\r\n");
  expect(text).toEndWith("\r\n\r\nall at once");
});
