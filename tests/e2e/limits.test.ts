/**
 * Connection and body limits against a running bobcat, with raw sockets as an attacker would
 * use them: connections that send nothing (plain and TLS), slowloris headers, idle keep-alive,
 * more connections than maxConnections + acceptCount, bodies over maxRequestBodySize (by
 * Content-Length and chunked), and an upload the client aborts. Every back-end: Bun native,
 * Deno native, node-compat on Bun, Deno and Node.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { CA_PEM, cleanup, freePort, PKI, type Running, type Runtime, startBobcat, tempDir } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

interface Backend {
  label: string;
  runtime: Runtime;
  /** Extra CLI args (--runtime node). */
  args?: string[];
  /** Connector lines (12 spaces) that select the back-end, and the start-up line that proves it. */
  connector?: string;
  /** SSLHostConfig lines (14 spaces). */
  hostConfig?: string;
  expect: string;
}

/** The handlers: /slow streams for 2.5 s, /late answers after 2.5 s, /len reads the body and answers its length. */
const HANDLER = `export default {
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/slow") {
      let n = 0;
      const body = new ReadableStream({ async pull(c) { await new Promise((r) => setTimeout(r, 500)); c.enqueue(new TextEncoder().encode("chunk" + n + "\\n")); if (++n >= 5) c.close(); } });
      return new Response(body);
    }
    if (url.pathname === "/wait") { await new Promise((r) => setTimeout(r, 800)); return new Response("waited"); }
    if (url.pathname === "/late") { await new Promise((r) => setTimeout(r, 2500)); return new Response("late answer"); }
    if (url.pathname === "/len") return new Response("len " + (await req.arrayBuffer()).byteLength);
    return new Response("ok");
  },
};
`;

function config(http: number, https: number, b: Backend, connector: string): string {
  const lines = [b.connector ?? "", connector].filter(Boolean).join("\n");
  return `server:
  services:
    - connectors:
        - port: ${http}
          address: 127.0.0.1
${lines}
        - port: ${https}
          address: 127.0.0.1
          SSLEnabled: true
${lines}
          sslHostConfigs:
            - certificates:
                - certificateFile: ${PKI}/localhost-rsa.pem
                  certificateKeyFile: ${PKI}/localhost-rsa-key.pem
                  certificateChainFile: ${PKI}/intermediate.pem
${b.hostConfig ?? ""}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: h.mjs
              - path: /manager
                handler: bobcat:manager
`;
}

async function withServer(
  b: Backend,
  connector: string,
  fn: (http: number, https: number, s: Running) => Promise<void>,
) {
  const base = tempDir();
  dirs.push(base);
  const [http, https] = [await freePort(), await freePort()];
  const s = await startBobcat({
    runtime: b.runtime,
    base,
    connectors: 2,
    args: ["run", ...(b.args ?? [])],
    files: { "h.mjs": HANDLER },
    config: config(http, https, b, connector),
  });
  try {
    expect(s.output()).toContain(b.expect);
    await fn(http, https, s);
  } catch (e) {
    console.log(s.output());
    throw e;
  } finally {
    await s.stop();
  }
}

/** Resolves with the ms after which the server closed the socket, or null if still open at `limitMs`. */
function closedWithin(s: Socket, t0: number, limitMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), limitMs);
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

const plain = (port: number) => netConnect(port, "127.0.0.1");
const secure = (port: number) =>
  tlsConnect({ port, host: "127.0.0.1", ca: CA_PEM, servername: "localhost", ALPNProtocols: ["http/1.1"] });

/** Sends one header byte every 300 ms, never finishing the request. */
function slowloris(s: Socket): void {
  const text = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + "a".repeat(200);
  let i = 0;
  const iv = setInterval(() => (s.destroyed ? clearInterval(iv) : s.write(text[i++ % text.length]!)), 300);
  s.on("close", () => clearInterval(iv));
}

function keepAlive(s: Socket, path = "/"): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    s.on("data", (d) => {
      got += d;
      if (got.includes("\r\n\r\n")) resolve(got);
    });
    const send = () => s.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    if ((s as { encrypted?: boolean }).encrypted) s.once("secureConnect", send);
    else s.once("connect", send);
  });
}

const TIMEOUT = 1500;
const SHORT: Backend[] = [
  {
    label: "bun node-compat",
    runtime: "bun",
    expect: "because the native one cannot do: a connectionTimeout below 10 s",
  },
  { label: "deno native", runtime: "deno", expect: "native Deno HTTP server" },
  {
    label: "deno node-compat (TLS)",
    runtime: "deno",
    hostConfig: '              protocols: "+TLSv1.3"',
    expect: "node-compat back-end",
  },
  { label: "node", runtime: "bun", args: ["--runtime", "node"], expect: "node-compat back-end (the only one on Node)" },
];

describe("connectionTimeout closes silent, slow and idle connections", () => {
  for (const b of SHORT) {
    test(
      `${b.label}: nothing sent, slowloris, idle keep-alive (plain and TLS); requests in progress survive`,
      async () => {
        await withServer(b, `          connectionTimeout: ${TIMEOUT}`, async (http, https) => {
          const t0 = Date.now();
          const limit = TIMEOUT + 4000;
          const nothing = [plain(http), plain(https)];
          const slow = [plain(http), secure(https)];
          slow.forEach(slowloris);
          const idle = [plain(http), secure(https)];
          const idleReplies = idle.map((s) => keepAlive(s));
          // A response that takes longer than connectionTimeout is not cut.
          const long = [plain(http), secure(https)];
          const longReplies = long.map((s) => {
            let body = "";
            s.on("data", (d) => (body += d));
            const send = () => s.write("GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n");
            (s as { encrypted?: boolean }).encrypted ? s.once("secureConnect", send) : s.once("connect", send);
            return new Promise<string>((r) => {
              const t = setTimeout(() => r(body), 3500);
              s.on("close", () => (clearTimeout(t), r(body)));
            });
          });
          // Nor is a handler that takes longer than connectionTimeout to answer at all.
          const late = [plain(http), secure(https)];
          const lateReplies = late.map((s) => {
            let body = "";
            s.on("data", (d) => (body += d));
            const send = () => s.write("GET /late HTTP/1.1\r\nHost: localhost\r\n\r\n");
            (s as { encrypted?: boolean }).encrypted ? s.once("secureConnect", send) : s.once("connect", send);
            return new Promise<string>((r) => {
              const t = setTimeout(() => r(body), 3500);
              s.on("close", () => (clearTimeout(t), r(body)));
            });
          });
          const closed = await Promise.all([...nothing, ...slow, ...idle].map((s) => closedWithin(s, t0, limit)));
          expect((await Promise.all(idleReplies)).every((r) => r.startsWith("HTTP/1.1 200"))).toBe(true);
          // [plain nothing, TLS nothing, plain slowloris, TLS slowloris] closed by the timeout, not at once
          expect(closed.slice(0, 4).map((ms) => ms !== null && ms >= TIMEOUT - 200)).toEqual([true, true, true, true]);
          // Idle keep-alive: closed within the bound (Deno's node:http2 already closes HTTP/1.1 after a response).
          expect(closed.slice(4).map((ms) => ms !== null)).toEqual([true, true]);
          for (const body of await Promise.all(longReplies)) expect(body).toContain("chunk4");
          for (const body of await Promise.all(lateReplies)) expect(body).toContain("late answer");
          long.forEach((s) => s.destroy());
          late.forEach((s) => s.destroy());
        });
      },
      30000,
    );
  }

  test("bun native: idleTimeout for keep-alive, Bun's fixed ~10 s for handshakes and headers", async () => {
    const b: Backend = { label: "bun native", runtime: "bun", expect: "native Bun.serve" };
    await withServer(b, "          connectionTimeout: 10000", async (http, https) => {
      const t0 = Date.now();
      const socks = [plain(http), plain(https), plain(http), secure(https)];
      slowloris(socks[2]!);
      const idle = secure(https);
      const reply = keepAlive(idle);
      const closed = await Promise.all([...socks, idle].map((s) => closedWithin(s, t0, 20000)));
      expect(await reply).toStartWith("HTTP/1.1 200");
      expect(closed.every((ms) => ms !== null)).toBe(true);
    });
  }, 40000);
});

/** Opens `n` connections that send nothing; resolves with how many the server closed within `ms`. */
async function silentConnections(
  open: (i: number) => Socket,
  n: number,
  ms: number,
): Promise<{ closed: number; socks: Socket[] }> {
  const socks = Array.from({ length: n }, (_, i) => open(i));
  const t0 = Date.now();
  const closed = await Promise.all(socks.map((s) => closedWithin(s, t0, ms)));
  return { closed: closed.filter((x) => x !== null).length, socks };
}

const COUNTED: Backend[] = [
  { label: "bun node-compat", runtime: "bun", expect: "because the native one cannot do: maxConnections" },
  { label: "deno native", runtime: "deno", expect: "native Deno HTTP server" },
  {
    label: "deno node-compat (TLS)",
    runtime: "deno",
    hostConfig: '              protocols: "+TLSv1.3"',
    expect: "node-compat back-end",
  },
];

describe("maxConnections counts every TCP connection and holds acceptCount more", () => {
  for (const b of COUNTED) {
    test(
      `${b.label}: N served, acceptCount held then served, the rest closed; silent TLS connections count`,
      async () => {
        await withServer(b, "          maxConnections: 2\n          acceptCount: 2", async (http, https) => {
          for (const port of b.hostConfig ? [https] : [http, https]) {
            const url = `${port === https ? "https" : "http"}://localhost:${port}/wait`;
            const results = await Promise.allSettled(
              Array.from(
                { length: 6 },
                () => fetch(url, { keepalive: false, tls: { ca: CA_PEM } } as RequestInit).then((r) => r.status),
              ),
            );
            expect(
              results.filter((r) => r.status === "fulfilled" && r.value === 200).length,
            ).toBe(4);
            expect(results.filter((r) => r.status === "rejected").length).toBe(2);
          }
          // 50 connections that never send a byte (no ClientHello on the TLS port): 2 open + 2
          // held, the other 46 closed at once.
          for (const port of [http, https]) {
            const { closed, socks } = await silentConnections(() => plain(port), 50, 3000);
            expect(closed).toBeGreaterThanOrEqual(46);
            expect(closed).toBeLessThan(50);
            socks.forEach((s) => s.destroy());
          }
          // Once they are gone the connector serves again.
          await Bun.sleep(300);
          const r = await fetch(
            `https://localhost:${https}/`,
            { keepalive: false, tls: { ca: CA_PEM } } as RequestInit,
          );
          expect(r.status).toBe(200);
        });
      },
      30000,
    );
  }
});

const BODY: Backend[] = [
  { label: "bun native", runtime: "bun", expect: "native Bun.serve" },
  {
    label: "bun node-compat",
    runtime: "bun",
    connector: "          maxConnections: 100",
    expect: "node-compat back-end",
  },
  { label: "deno native", runtime: "deno", expect: "native Deno HTTP server" },
  {
    label: "deno node-compat (TLS)",
    runtime: "deno",
    hostConfig: '              protocols: "+TLSv1.3"',
    expect: "node-compat back-end",
  },
];

/**
 * Sends a request head and `sendBytes` of body (in 64 KiB pieces, chunked or raw), never the
 * end of the body, then waits for the answer. A server that read the whole declared body
 * before answering would never answer.
 */
function upload(s: Socket, head: string, chunked: boolean, sendBytes: number): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(got.split("\r\n")[0] ?? "");
      s.destroy();
    };
    const timer = setTimeout(finish, 10000);
    s.on("data", (d) => {
      got += d;
      if (got.includes("\r\n\r\n")) finish();
    });
    s.on("error", finish);
    s.on("close", finish);
    const piece = Buffer.alloc(64 * 1024, 97);
    const start = () => {
      s.write(head);
      for (let sent = 0; sent < sendBytes; sent += piece.length) {
        s.write(
          chunked
            ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")])
            : piece,
        );
      }
    };
    (s as { encrypted?: boolean }).encrypted ? s.once("secureConnect", start) : s.once("connect", start);
  });
}

describe("maxRequestBodySize and maxPostSize", () => {
  for (const b of BODY) {
    test(`${b.label}: 413 for a Content-Length or chunked body over the limit, before the upload ends`, async () => {
      await withServer(b, "          maxRequestBodySize: 1048576", async (http, https) => {
        const ports = b.hostConfig ? [https] : [http, https];
        for (const port of ports) {
          const open = () => (port === https ? secure(port) : plain(port));
          // Within the limit: read in full.
          expect(
            await upload(
              open(),
              "POST /len HTTP/1.1\r\nHost: localhost\r\nContent-Length: 524288\r\nConnection: close\r\n\r\n",
              false,
              524288,
            ),
          ).toBe("HTTP/1.1 200 OK");
          // 200 MB declared, 256 KiB sent: refused at once, without waiting for the rest. (Bun.serve
          // closes such a connection at once, so a client already sending its body gets a reset
          // before it reads the 413; it reads it when it waits, as with Expect: 100-continue.)
          const early = b.label === "bun native" ? 0 : 256 * 1024;
          expect(
            await upload(
              open(),
              "POST /len HTTP/1.1\r\nHost: localhost\r\nContent-Length: 209715200\r\n\r\n",
              false,
              early,
            ),
          ).toStartWith("HTTP/1.1 413");
          // Chunked, 2 MiB sent and no last chunk: counted while streaming, 413 once past 1 MiB.
          const over = b.label === "bun native" ? 17 * 64 * 1024 : 2 * 1024 * 1024;
          expect(
            await upload(
              open(),
              "POST /len HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
              true,
              over,
            ),
          ).toStartWith("HTTP/1.1 413");
        }
        // maxPostSize (default 2 MiB) bounds the form body the manager parses.
        const form =
          "POST /manager/html/expire HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n";
        expect(await upload(secure(https), form + "Content-Length: 3000000\r\n\r\n", false, 256 * 1024)).toStartWith(
          "HTTP/1.1 413",
        );
        expect(await upload(secure(https), form + "Transfer-Encoding: chunked\r\n\r\n", true, 3 * 1024 * 1024))
          .toStartWith("HTTP/1.1 413");
      });
    }, 60000);
  }
});

describe("an aborted upload", () => {
  for (const b of [BODY[0]!, BODY[1]!, BODY[2]!, BODY[3]!]) {
    test(`${b.label}: no ERROR and no stack in the log`, async () => {
      await withServer(b, "", async (_http, https, s) => {
        for (let i = 0; i < 3; i++) {
          const sock = secure(https);
          await new Promise<void>((resolve) => {
            sock.once("secureConnect", () => {
              sock.write("POST /len HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n");
              sock.write(Buffer.alloc(100000, 97), () => setTimeout(() => (sock.destroy(), resolve()), 200));
            });
          });
        }
        const r = await fetch(`https://localhost:${https}/`, { keepalive: false, tls: { ca: CA_PEM } } as RequestInit);
        expect(r.status).toBe(200);
        await Bun.sleep(300);
        expect(s.output()).not.toContain("ERROR");
        expect(s.output()).not.toMatch(/\n\s+at /);
      });
    }, 30000);
  }
});
