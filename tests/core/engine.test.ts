import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Engine } from "../../src/core/engine.ts";
import type { ConnectorInfo } from "../../src/core/context.ts";
import { urlPatternMatches } from "../../src/core/constraints.ts";
import { RequestLimiter } from "../../src/core/limiter.ts";
import { cleanup, tempDir, writeFiles } from "../helpers/bobcat.ts";
import { startedEngine } from "../helpers/engine.ts";

let base: string;
let engine: Engine;
const http: ConnectorInfo = { name: "http-nio-8080", port: 8080, scheme: "http", secure: false, redirectPort: 8443 };
const https: ConnectorInfo = {
  name: "https-jsse-nio-8443",
  port: 8443,
  scheme: "https",
  secure: true,
  redirectPort: 443,
};
const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };

beforeAll(async () => {
  base = tempDir();
  writeFiles(base, {
    "webapps/ROOT/index.html": "<h1>root</h1>",
    "webapps/docs/index.html": "<h1>docs</h1>",
    "webapps/docs/a.txt": "A",
    "webapps/other/index.html": "<h1>other host</h1>",
    "apps/echo.ts":
      `export default { fetch(req, ctx) { const u = new URL(req.url); return Response.json({ path: u.pathname, contextPath: ctx.contextPath, requestURI: ctx.requestURI, secure: ctx.secure, scheme: ctx.scheme, serverName: ctx.serverName, serverPort: ctx.serverPort, remoteAddr: ctx.remoteAddr }); } };`,
    "apps/throw.ts": `export default { fetch() { throw new Error("kaboom"); } };`,
    "apps/hono.ts": `import { Hono } from "${
      join(import.meta.dir, "../../node_modules/hono/dist/index.js")
    }";\nconst app = new Hono();\napp.get("/hello", (c) => c.text("hello from hono, secure=" + c.env.secure));\napp.get("/boom", () => { throw new Error("kaboom"); });\nexport default app;`,
  });
  engine = await startedEngine(
    base,
    `
server:
  services:
    - connectors:
        - port: 8080
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            aliases: [www.example.test]
            contexts:
              - path: ""
                docBase: ROOT
              - path: /docs
                docBase: docs
                hstsEnabled: true
                hstsMaxAgeSeconds: 31536000
                hstsIncludeSubDomains: true
              - path: /docs/api
                handler: apps/echo.ts
              - path: /hono
                handler: apps/hono.ts
              - path: /throw
                handler: apps/throw.ts
              - path: /secure
                handler: apps/echo.ts
                securityConstraints:
                  - urlPatterns: ["/admin/*", "*.do"]
                    transportGuarantee: CONFIDENTIAL
          - name: other.test
            contexts:
              - path: ""
                docBase: other
`,
  );
});

afterAll(async () => {
  await engine.stop();
  cleanup(base);
});

const get = (url: string, c = http, init: RequestInit = {}) => engine.handle(new Request(url, init), c, conn);

describe("Engine › Host › Context routing", () => {
  test("ROOT context serves the static welcome file", async () => {
    const res = await get("http://localhost:8080/");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("<h1>root</h1>");
  });

  test("longest prefix wins, on whole path segments", async () => {
    expect(await (await get("http://localhost:8080/docs/a.txt")).text()).toBe("A");
    const api = await (await get("http://localhost:8080/docs/api/v1?x=1")).json();
    expect(api).toMatchObject({ path: "/v1", contextPath: "/docs/api", requestURI: "/docs/api/v1" });
    // "/docsx" is not under "/docs": it falls to ROOT (404 there).
    expect((await get("http://localhost:8080/docsx")).status).toBe(404);
  });

  test("a context root without its slash redirects", async () => {
    const res = await get("http://localhost:8080/docs");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/docs/");
  });

  test("Host header, aliases, and defaultHost for unknown names", async () => {
    expect(await (await get("http://other.test:8080/")).text()).toBe("<h1>other host</h1>");
    expect(await (await get("http://OTHER.TEST/")).text()).toBe("<h1>other host</h1>");
    expect(await (await get("http://www.example.test:8080/")).text()).toBe("<h1>root</h1>");
    expect(await (await get("http://unknown.test:8080/")).text()).toBe("<h1>root</h1>");
  });

  test("404 page for nothing there", async () => {
    const res = await get("http://localhost:8080/nope.html");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("HTTP Status 404");
  });

  test("a Hono app gets the request context as c.env", async () => {
    const res = await get("https://localhost:8443/hono/hello", https);
    expect(await res.text()).toBe("hello from hono, secure=true");
  });

  test("a handler that throws gives a 500 page without the stack", async () => {
    const hono = await get("http://localhost:8080/hono/boom");
    expect(hono.status).toBe(500);
    expect(await hono.text()).not.toContain("kaboom");
    const res = await get("http://localhost:8080/throw/x");
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toContain("HTTP Status 500");
    expect(body).not.toContain("kaboom");
  });

  test("request context: scheme, secure, serverName, serverPort, remoteAddr", async () => {
    const a = await (await get("http://localhost:8080/docs/api/x")).json();
    expect(a).toMatchObject({
      secure: false,
      scheme: "http",
      serverName: "localhost",
      serverPort: 8080,
      remoteAddr: "127.0.0.1",
    });
    const b = await (await get("https://localhost:8443/docs/api/x", https)).json();
    expect(b).toMatchObject({ secure: true, scheme: "https", serverPort: 8443 });
  });
});

describe("security constraints and HSTS", () => {
  test("CONFIDENTIAL redirects plain HTTP to redirectPort with 302, keeping path and query", async () => {
    const res = await get("http://localhost:8080/secure/admin/users?id=7");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://localhost:8443/secure/admin/users?id=7");
    const ext = await get("http://localhost:8080/secure/run.do");
    expect(ext.headers.get("location")).toBe("https://localhost:8443/secure/run.do");
  });

  test("unconstrained paths and HTTPS requests pass", async () => {
    expect((await get("http://localhost:8080/secure/public")).status).toBe(200);
    expect((await get("https://localhost:8443/secure/admin/x", https)).status).toBe(200);
  });

  test("redirectPort <= 0 answers 403; port 443 is left out of the URL", async () => {
    const res = await get("http://localhost:8080/secure/admin/", { ...http, redirectPort: 0 });
    expect(res.status).toBe(403);
    const r443 = await get("http://localhost:8080/secure/admin/", { ...http, redirectPort: 443 });
    expect(r443.headers.get("location")).toBe("https://localhost/secure/admin/");
  });

  test("HSTS on HTTPS responses only, with Tomcat's header format", async () => {
    const s = await get("https://localhost:8443/docs/a.txt", https);
    expect(s.headers.get("strict-transport-security")).toBe("max-age=31536000;includeSubDomains");
    const p = await get("http://localhost:8080/docs/a.txt");
    expect(p.headers.get("strict-transport-security")).toBeNull();
    const off = await get("https://localhost:8443/", https);
    expect(off.headers.get("strict-transport-security")).toBeNull();
  });

  test("servlet URL patterns", () => {
    expect(urlPatternMatches("/*", "/anything")).toBe(true);
    expect(urlPatternMatches("/admin/*", "/admin")).toBe(true);
    expect(urlPatternMatches("/admin/*", "/admin/x/y")).toBe(true);
    expect(urlPatternMatches("/admin/*", "/administrator")).toBe(false);
    expect(urlPatternMatches("*.jsp", "/a/b.jsp")).toBe(true);
    expect(urlPatternMatches("/exact", "/exact")).toBe(true);
    expect(urlPatternMatches("/exact", "/exact/more")).toBe(false);
  });
});

describe("RequestLimiter (maxThreads / acceptCount)", () => {
  test("runs maxThreads at once, queues acceptCount, rejects the rest", async () => {
    const l = new RequestLimiter(2, 1);
    expect(l.acquire()).toBe(true);
    expect(l.acquire()).toBe(true);
    const queued = l.acquire();
    expect(queued).toBeInstanceOf(Promise);
    expect(l.acquire()).toBe(false);
    expect(l.rejected).toBe(1);
    l.release();
    await queued;
    expect(l.active).toBe(2);
    l.release();
    l.release();
    expect(l.active).toBe(0);
  });
});
