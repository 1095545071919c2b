/**
 * WebSocket through the real CLI: Bun native, Bun node-compat and Deno (node-compat: the plan
 * says why native cannot), with Bun's WebSocket client and raw sockets for the handshake edge
 * cases. The session of the upgrade is visible in the socket and invalidating it closes the
 * socket with 1008; a cross-site Origin, an unauthenticated upgrade of a constrained path and a
 * CONFIDENTIAL path over HTTP get no upgrade; an oversize message closes 1009; a flood to a
 * client that does not read is cut off at the backpressure limit; a stop closes with 1001; a Hono
 * app upgrades with its runtime's own helper (hono/bun, hono/deno); the access log (JSON) has
 * the 101.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { cleanup, freePort, ROOT, type Running, type Runtime, startBobcat, tempDir } from "../helpers/bobcat.ts";

const HANDLER = `
export default {
  fetch(req, ctx) {
    const url = new URL(req.url);
    if (url.pathname === "/login") {
      const s = ctx.getSession();
      s.setAttribute("user", url.searchParams.get("u") ?? "alice");
      return new Response(s.id);
    }
    if (url.pathname === "/logout") {
      ctx.getSession(false)?.invalidate();
      return new Response("bye");
    }
    if (url.pathname === "/last") return new Response(String(ctx.getSession(false)?.lastAccessedTime ?? -1));
    if (url.pathname.endsWith("/ws")) {
      return ctx.upgradeWebSocket(req, {
        onOpen(_e, ws) {
          ws.send("open " + (ws.ctx.getSession(false)?.getAttribute("user") ?? "-") + " " + (ws.ctx.principal?.name ?? "-"));
        },
        onMessage(e, ws) {
          if (e.data === "flood") { for (let i = 0; i < 400; i++) ws.send("x".repeat(65536)); return; }
          if (e.data === "burst") { for (let i = 0; i < 40; i++) ws.send(i + ":" + "z".repeat(32768)); return; }
          ws.send(typeof e.data === "string" ? "echo:" + e.data : e.data);
        },
      });
    }
    return new Response("hi " + url.pathname);
  },
};
`;

const HONO = (helper: string) => `
import { Hono } from "hono";
import { upgradeWebSocket } from "${helper}";
const app = new Hono();
app.get("/ws", upgradeWebSocket((c) => ({
  onOpen(_e, ws) { ws.send("hono open " + c.env.contextPath); },
  onMessage(e, ws) { ws.send("hono echo:" + e.data); },
})));
export default app;
`;

function config(port: number, httpsPort: number, helper: string): string {
  return `
logging:
  format: json
server:
  gracefulStopTimeout: 5
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          redirectPort: ${httpsPort}
          webSocketEnabled: true
          webSocketMaxMessageSize: 4096
          webSocketBackpressureLimit: 1048576
      engine:
        defaultHost: localhost
        valves:
          - { className: AccessLogValve, directory: logs, pattern: json, buffered: false }
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: handler.js
                webSocketAllowedOrigins: ["https://app.example"]
              - path: /admin
                handler: handler.js
                loginConfig: { authMethod: BASIC, realmName: test }
                realm:
                  users: [{ username: alice, password: right, roles: [user] }]
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [user] }]
              - path: /secure
                handler: handler.js
                securityConstraints: [{ urlPatterns: ["/*"], transportGuarantee: CONFIDENTIAL }]
              - path: /hono
                handler: hono.ts
`;
}

/** A handshake on a raw socket: the status line and headers of the answer (nothing after). */
function rawHandshake(port: number, path: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer: ${got}`));
    }, 5000);
    s.on("connect", () => {
      const h = {
        host: `127.0.0.1:${port}`,
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        ...headers,
      };
      s.write(`GET ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`);
    });
    s.on("data", (d) => {
      got += d.toString("latin1");
      const end = got.indexOf("\r\n\r\n");
      if (end >= 0) {
        clearTimeout(t);
        s.destroy();
        resolve(got.slice(0, end));
      }
    });
    s.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

interface Client {
  ws: WebSocket;
  messages: string[];
  closed: Promise<CloseEvent>;
  next(): Promise<string>;
}

async function open(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  const messages: string[] = [];
  const waiters: Array<(m: string) => void> = [];
  ws.onmessage = (e) => {
    const m = String(e.data);
    const w = waiters.shift();
    if (w) w(m);
    else messages.push(m);
  };
  const closed = new Promise<CloseEvent>((r) => ws.addEventListener("close", (e) => r(e as CloseEvent)));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`WebSocket ${url} failed`));
  });
  const next = () =>
    messages.length > 0 ? Promise.resolve(messages.shift()!) : new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no message within 5 s")), 5000);
      waiters.push((m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
  return { ws, messages, closed, next };
}

const within = <T>(p: Promise<T>, ms = 8000) =>
  Promise.race([p, new Promise<never>((_, r) => setTimeout(() => r(new Error(`timed out after ${ms} ms`)), ms))]);

const COMBOS: Array<{ runtime: Runtime; backend: "native" | "node-compat" }> = [
  { runtime: "bun", backend: "native" },
  { runtime: "bun", backend: "node-compat" },
  { runtime: "deno", backend: "node-compat" },
];

for (const { runtime, backend } of COMBOS) {
  describe(`WebSocket (${runtime}, ${backend})`, () => {
    let srv: Running;
    let port: number;
    let base: string;
    let http: string;

    beforeAll(async () => {
      port = await freePort();
      const httpsPort = await freePort();
      base = tempDir();
      symlinkSync(join(ROOT, "node_modules"), join(base, "node_modules"));
      srv = await startBobcat({
        runtime,
        base,
        config: config(port, httpsPort, runtime === "bun" ? "hono/bun" : "hono/deno"),
        files: { "handler.js": HANDLER, "hono.ts": HONO(runtime === "bun" ? "hono/bun" : "hono/deno") },
        env: backend === "node-compat" && runtime === "bun" ? { BOBCAT_BACKEND: "node-compat" } : {},
      });
      http = `http://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await srv?.stop();
      cleanup(base);
    });

    test("the start-up line names the back-end (Deno: why not native)", () => {
      const line = srv.output().split("\n").find((l) => l.includes("listening on"))!;
      expect(line).toContain(backend === "native" ? "native Bun.serve" : "node-compat back-end");
      if (runtime === "deno") expect(line).toContain("closes upgraded connections");
    });

    test("echo, and the HTTP session of the upgrade is visible in the socket; invalidating it closes 1008", async () => {
      const login = await fetch(`${http}/login?u=bob`);
      const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
      const c = await open(`ws://127.0.0.1:${port}/ws`, { cookie });
      expect(await c.next()).toBe("open bob -");
      c.ws.send("hello");
      expect(await c.next()).toBe("echo:hello");
      const bin = new Uint8Array([1, 2, 3, 250]);
      c.ws.binaryType = "arraybuffer";
      c.ws.send(bin);
      const echoed = await c.next();
      expect(echoed.length).toBeGreaterThan(0);
      // Socket activity refreshes the session's last access.
      const before = Number(await (await fetch(`${http}/last`, { headers: { cookie } })).text());
      await Bun.sleep(30);
      c.ws.send("tick");
      expect(await c.next()).toBe("echo:tick");
      const after = Number(await (await fetch(`${http}/last`, { headers: { cookie } })).text());
      expect(after).toBeGreaterThan(before);
      await fetch(`${http}/logout`, { headers: { cookie } });
      const closed = await within(c.closed);
      expect(closed.code).toBe(1008);
    });

    test("Origin: cross-site refused before the upgrade; own origin and the allow-list upgrade", async () => {
      const evil = await rawHandshake(port, "/ws", { origin: "https://evil.example" });
      expect(evil).toMatch(/^HTTP\/1\.1 403/);
      const own = await rawHandshake(port, "/ws", { origin: `http://127.0.0.1:${port}` });
      expect(own).toMatch(/^HTTP\/1\.1 101/);
      expect(own.toLowerCase()).toContain("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=");
      const listed = await rawHandshake(port, "/ws", { origin: "https://app.example" });
      expect(listed).toMatch(/^HTTP\/1\.1 101/);
      // The allow-list is per context: /hono has none.
      expect(await rawHandshake(port, "/hono/ws", { origin: "https://app.example" })).toMatch(/^HTTP\/1\.1 403/);
    });

    test("handshake edge cases: no upgrade header 426, wrong version 426, bad key 400", async () => {
      const plain = await fetch(`${http}/ws`);
      expect(plain.status).toBe(426);
      expect(await rawHandshake(port, "/ws", { "sec-websocket-version": "8" })).toMatch(/^HTTP\/1\.1 426/);
      expect(await rawHandshake(port, "/ws", { "sec-websocket-key": "short" })).toMatch(/^HTTP\/1\.1 400/);
    });

    test("a constrained path refuses an unauthenticated upgrade (401, no upgrade); with credentials it upgrades", async () => {
      expect(await rawHandshake(port, "/admin/ws")).toMatch(/^HTTP\/1\.1 401/);
      const auth = `Basic ${btoa("alice:right")}`;
      const c = await open(`ws://127.0.0.1:${port}/admin/ws`, { authorization: auth });
      expect(await c.next()).toBe("open - alice");
      c.ws.close(1000);
      expect((await within(c.closed)).code).toBe(1000);
    });

    test("CONFIDENTIAL over HTTP: a redirect, no upgrade", async () => {
      const res = await rawHandshake(port, "/secure/ws");
      expect(res).toMatch(/^HTTP\/1\.1 302/);
      expect(res.toLowerCase()).toMatch(/location: https:\/\/127\.0\.0\.1:\d+\/secure\/ws/);
    });

    test("an oversize message closes 1009", async () => {
      const c = await open(`ws://127.0.0.1:${port}/ws`);
      await c.next();
      c.ws.send("y".repeat(5000));
      expect((await within(c.closed)).code).toBe(1009);
    });

    test("a client that does not read is cut off at the backpressure limit", async () => {
      // A raw client that upgrades, asks for 25 MB and never reads.
      const s = connect(port, "127.0.0.1");
      await new Promise((r) => s.on("connect", r));
      s.write(
        `GET /ws HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`,
      );
      // A masked text frame "flood".
      const mask = [1, 2, 3, 4];
      const payload = Buffer.from("flood").map((b, i) => b ^ mask[i & 3]!);
      s.write(Buffer.concat([Buffer.from([0x81, 0x80 | 5, ...mask]), payload]));
      s.pause();
      const ended = new Promise<void>((r) => s.on("close", () => r()));
      await Bun.sleep(1500);
      s.resume();
      let received = 0;
      s.on("data", (d) => (received += d.length));
      await within(ended, 10000);
      // Far less than the 25 MB the handler tried to send.
      expect(received).toBeLessThan(12 * 1024 * 1024);
    });

    test("the Hono app upgrades with its runtime's own helper", async () => {
      const c = await open(`ws://127.0.0.1:${port}/hono/ws`);
      expect(await c.next()).toBe("hono open /hono");
      c.ws.send("hey");
      expect(await c.next()).toBe("hono echo:hey");
      c.ws.close(1000);
      await within(c.closed);
    });

    test("a stop closes open sockets with 1001 after the messages queued for them; the access log has the 101 as JSON", async () => {
      const c = await open(`ws://127.0.0.1:${port}/ws`);
      await c.next();
      c.ws.send("burst");
      await c.next();
      const stopped = srv.stop();
      const closed = await within(c.closed);
      expect(closed.code).toBe(1001);
      // Every message queued before the stop reached the client before the close.
      expect(c.messages.length).toBe(39);
      expect(c.messages.at(-1)!.startsWith("39:")).toBe(true);
      expect(await stopped).toBe(0);
      const dir = join(base, "logs");
      const lines = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean));
      const entries = lines.map((l) => JSON.parse(l));
      for (const e of entries) {
        expect(Object.keys(e)).toEqual(["time", "level", "component", "message", "fields"]);
        expect(e.component).toBe("access");
      }
      expect(entries.some((e) => e.fields.path === "/ws" && e.fields.status === 101)).toBe(true);
      expect(entries.some((e) => e.fields.path === "/ws" && e.fields.status === 403)).toBe(true);
      // The server log is JSON too: every line parses.
      const serverLines = srv.output().split("\n").filter((l) => l.startsWith("{"));
      expect(serverLines.length).toBeGreaterThan(2);
      for (const l of serverLines) {
        const o = JSON.parse(l);
        expect(typeof o.time).toBe("string");
        expect(typeof o.component).toBe("string");
      }
    });
  });
}
