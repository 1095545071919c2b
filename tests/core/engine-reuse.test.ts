/**
 * The engine keeps what it made of the request in hand in one reused object (Engine.located):
 * nothing a request needs after that moment may be read from it. These requests route other
 * requests through the same engine while they are still running — synchronously from inside a
 * direct context's handler, and between the awaits of the general path — and check that each
 * keeps its own path, session, status and metrics labels.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Engine } from "../../src/core/engine.ts";
import { MetricsWriter, RequestMetrics } from "../../src/core/metrics.ts";
import { configureLogging, type Level } from "../../src/util/log.ts";
import type { BobcatContext, ConnectorInfo, RequestContext } from "../../src/core/context.ts";
import { cleanup, tempDir } from "../helpers/bobcat.ts";
import { startedEngine } from "../helpers/engine.ts";

let base: string;
let engine: Engine;
let metrics: RequestMetrics;
const http: ConnectorInfo = { name: "http", port: 8080, scheme: "http", secure: false, redirectPort: 8443 };
const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };
const handle = (path: string, host = "localhost:8080") =>
  engine.handleSync(new Request(`http://${host}${path}`, { headers: { host } }), http, conn);

/** Own fields of the request's session state, as the outer handler saw it. */
let sessionStateFields = 0;
/** What the inner request answered, for the outer handler to report. */
let inner: Response | Promise<Response> | undefined;
/** The general path's handlers waiting to be released by the test. */
const waiting: Array<() => void> = [];

const apps = {
  // Direct context (a handler and nothing else): routes another request before answering.
  "app:outer": (req: Request, ctx: BobcatContext) => {
    const before = `${new URL(req.url).pathname} ${ctx.requestURI}`;
    inner = handle("/other/x;jsessionid=nope", "other.test:8080");
    const s = ctx.getSession(true)!;
    sessionStateFields = Object.keys((ctx as RequestContext).openedSessions!).length;
    return new Response(`${before} | ${new URL(req.url).pathname} ${ctx.requestURI} ${s.id.length}`);
  },
  "app:outerAsync": async (req: Request, ctx: BobcatContext) => {
    inner = handle("/missing/path");
    await Promise.resolve();
    return new Response(`${ctx.contextPath} ${new URL(req.url).pathname}`, { status: 201 });
  },
  "app:outerThrows": () => {
    inner = handle("/other/y", "other.test:8080");
    throw new Error("kaboom");
  },
  "app:other": (req: Request, ctx: BobcatContext) =>
    new Response(`other ${ctx.contextPath} ${new URL(req.url).pathname}`, { status: 202 }),
  // General path (the context has a RewriteValve): waits while other requests are routed.
  "app:slow": async (req: Request, ctx: BobcatContext) => {
    await new Promise<void>((r) => waiting.push(r));
    if (req.url.endsWith("/boom")) throw new Error("kaboom after the wait");
    return new Response(`slow ${ctx.contextPath} ${ctx.requestURI} ${new URL(req.url).pathname}`);
  },
};

beforeAll(async () => {
  base = tempDir();
  metrics = new RequestMetrics();
  engine = await startedEngine(
    base,
    `
server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - { path: /outer, handler: "app:outer", manager: { pathname: "" } }
              - { path: /async, handler: "app:outerAsync", manager: { pathname: "" } }
              - { path: /throws, handler: "app:outerThrows", manager: { pathname: "" } }
              - path: /slow
                handler: "app:slow"
                manager: { pathname: "" }
                valves:
                  - className: RewriteValve
                    configuration: "RewriteRule ^/old$ /new"
          - name: other.test
            contexts:
              - { path: /other, handler: "app:other", manager: { pathname: "" } }
          - name: checks.test
            valves:
              - { className: HealthCheckValve }
              - { className: RewriteValve, configuration: "RewriteRule ^/ping$ /health" }
            contexts:
              - { path: /app, handler: "app:other", manager: { pathname: "" } }
`,
    {
      handlers: apps,
      requestMetrics: metrics,
    },
    { timer: false },
  );
});

afterAll(async () => {
  await engine.stop();
  cleanup(base);
});

/** bobcat_http_requests_total by "host context method code". */
function counts(): Map<string, number> {
  const w = new MetricsWriter();
  metrics.write(w);
  const out = new Map<string, number>();
  for (const line of w.text().split("\n")) {
    const m = /^bobcat_http_requests_total\{host="([^"]*)",context="([^"]*)",method="(\w+)",code="(\w+)"\} (\d+)/
      .exec(line);
    if (m) out.set(`${m[1]} ${m[2]} ${m[3]} ${m[4]}`, Number(m[5]));
  }
  return out;
}
const count = (key: string) => counts().get(key) ?? 0;

describe("the engine's reused mapping", () => {
  test("a direct handler routing another request before it answers keeps its own path, session and labels", async () => {
    const before = counts();
    const res = await handle("/outer/a/b");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("/a/b /outer/a/b | /a/b /outer/a/b 32");
    expect(res.headers.get("set-cookie")).toMatch(/^JSESSIONID=[0-9A-F]{32}; Path=\/outer; HttpOnly; SameSite=Lax$/);
    const r = await inner!;
    expect(r.status).toBe(202);
    expect(await r.text()).toBe("other /other /x");
    expect(r.headers.get("set-cookie")).toBeNull();
    // Eight own fields: 80 bytes in JavaScriptCore, where nine would take 112 (one per request that uses its session).
    expect(sessionStateFields).toBeGreaterThan(0);
    expect(sessionStateFields).toBeLessThanOrEqual(8);
    const after = counts();
    const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(d("localhost /outer GET 200")).toBe(1);
    expect(d("other.test /other GET 202")).toBe(1);
  });

  test("an async direct handler is counted under its own context after another request was routed", async () => {
    const was = count("localhost /async GET 201");
    const was404 = count("localhost  GET 404");
    const res = await handle("/async/p");
    expect(res.status).toBe(201);
    expect(await res.text()).toBe("/async /p");
    expect((await inner!).status).toBe(404);
    expect(count("localhost /async GET 201")).toBe(was + 1);
    expect(count("localhost  GET 404")).toBe(was404 + 1);
  });

  test("a direct handler that throws after routing another request: its own 500", async () => {
    const was = count("localhost /throws GET 500");
    const res = await handle("/throws/z");
    expect(res.status).toBe(500);
    expect((await inner!).status).toBe(202);
    expect(count("localhost /throws GET 500")).toBe(was + 1);
  });

  test("a path a host's RewriteValve sends to the health check counts under that host", async () => {
    const was = count("checks.test  GET 200");
    const res = await handle("/ping", "checks.test");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "UP" });
    expect(count("checks.test  GET 200")).toBe(was + 1);
    expect(count("  GET 200")).toBe(0);
  });

  test("the general path keeps its mapping across its awaits while other requests are routed", async () => {
    const was = count("localhost /slow GET 200");
    const logged: string[] = [];
    configureLogging({ sink: { write: (line: string, _level: Level) => logged.push(line) } });
    const slow = handle("/slow/old");
    const slow2 = handle("/slow/q%20r");
    const boom = handle("/slow/boom");
    // Other requests, routed while both wait: another host, a 404, a 400.
    expect((await handle("/other/t", "other.test:8080")).status).toBe(202);
    expect((await handle("/nothing")).status).toBe(404);
    expect((await handle("/a%2Fb")).status).toBe(400);
    for (let i = 0; i < 100 && waiting.length < 3; i++) await new Promise((r) => setTimeout(r, 1));
    expect(waiting.length).toBe(3);
    for (const r of waiting.splice(0)) r();
    const [a, b, c] = await Promise.all([slow, slow2, boom]);
    configureLogging({ sink: { write: (line: string) => console.error(line) } });
    // The 500's log line names the failed request's own path, read after its awaits.
    expect(c.status).toBe(500);
    expect(logged.filter((l) => l.includes("kaboom after the wait")).map((l) => /GET (\S+):/.exec(l)?.[1]))
      .toEqual(["/slow/boom"]);
    expect([await a.text(), await b.text()].sort()).toEqual([
      "slow /slow /slow/new /new",
      "slow /slow /slow/q%20r /q%20r",
    ]);
    expect(count("localhost /slow GET 200")).toBe(was + 2);
  });
});
