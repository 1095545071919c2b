/**
 * The built-in manager app: JSON, text and HTML faces, session statistics and expiry, TLS reload
 * through the API, and who may use it (loopback without a login config; roles with one).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { cleanup, freePort, httpsConfig, startBobcat, tempDir, tfetch, type Running } from "../helpers/bobcat.ts";

let s: Running;
let http: number;
let https: number;

beforeAll(async () => {
  [http, https] = [await freePort(), await freePort()];
  const base = tempDir();
  chmodSync(base, 0o755);
  s = await startBobcat({
    runtime: "bun",
    base,
    connectors: 2,
    files: { "app.ts": `export default { fetch(req, ctx) { const s = ctx.getSession(); s.setAttribute("cart", [1, 2]); return new Response(s.id); } };` },
    config: httpsConfig(http, https, {
      engineExtra: "        valves:\n          - className: RemoteIpValve",
      contexts: `              - path: /app
                handler: app.ts
              - path: /manager
                handler: bobcat:manager
              - path: /secured-manager
                handler: bobcat:manager
                loginConfig: { authMethod: BASIC, realmName: bobcat manager }
                realm:
                  users:
                    - { username: ops, password: s3cret, roles: [manager-script, manager-gui] }
                    - { username: guest, password: guest, roles: [] }
                securityConstraints:
                  - urlPatterns: ["/*"]
                    authRoles: [manager-script, manager-gui]`,
    }),
  });
});

afterAll(async () => {
  await s?.stop();
  if (s) cleanup(s.base);
});

test("JSON overview: connectors with back-ends, contexts with Tomcat's session statistics", async () => {
  const id = await (await tfetch(`http://127.0.0.1:${http}/app/`)).text();
  const j = await (await tfetch(`http://127.0.0.1:${http}/manager/json`)).json();
  expect(j.runtime).toContain("Bun");
  expect(j.connectors.map((c: { name: string }) => c.name)).toEqual([`http-nio-127.0.0.1-${http}`, `https-jsse-nio-127.0.0.1-${https}`]);
  const app = j.contexts.find((c: { path: string }) => c.path === "/app");
  expect(app.stats).toMatchObject({ activeSessions: 1, maxActive: 1, sessionCounter: 1, expiredSessions: 0, rejectedSessions: 0 });
  const list = await (await tfetch(`http://127.0.0.1:${http}/manager/json/sessions?path=/app`)).json();
  expect(list.sessions[0]).toMatchObject({ id, attributes: ["cart"], maxInactiveInterval: 1800 });
  const expire = await tfetch(`http://127.0.0.1:${http}/manager/json/expire?path=/app&id=${id}`, { method: "POST" });
  expect(await expire.json()).toEqual({ expired: id });
  const after = await (await tfetch(`http://127.0.0.1:${http}/manager/text/sessions?path=/app`)).text();
  expect(after).toContain("OK - Session information for application at context path [/app]");
  expect(after).toContain("activeSessions=0");
  expect(after).toContain("expiredSessions=1");
});

test("text interface: list and sslReload", async () => {
  const list = await (await tfetch(`http://127.0.0.1:${http}/manager/text/list`)).text();
  expect(list).toMatch(/^OK - Listed applications\n/);
  expect(list).toContain("/app:running:");
  const reload = await (await tfetch(`http://127.0.0.1:${http}/manager/text/sslReload`)).text();
  expect(reload).toMatch(/^OK - https-jsse-nio-127\.0\.0\.1-\d+: reloaded _default_/);
});

test("HTML page renders, and its forms need the page's token", async () => {
  const html = await (await tfetch(`http://127.0.0.1:${http}/manager/`)).text();
  expect(html).toContain("<h1>bobcat manager</h1>");
  expect(html).toContain("/app");
  const forged = await tfetch(`http://127.0.0.1:${http}/manager/html/sslReload`, { method: "POST", body: new URLSearchParams({ csrf: "nope" }) });
  expect(forged.status).toBe(400);
});

test("a remote client (as a trusted proxy reports it) is refused without a login config", async () => {
  const res = await tfetch(`http://127.0.0.1:${http}/manager/json`, { headers: { "x-forwarded-for": "203.0.113.5" } });
  expect(res.status).toBe(403);
});

test("with BASIC login: 401 without credentials, 403 without the role, 200 for a manager", async () => {
  const url = `http://127.0.0.1:${http}/secured-manager/text/list`;
  const none = await tfetch(url);
  expect(none.status).toBe(401);
  expect(none.headers.get("www-authenticate")).toBe('Basic realm="bobcat manager", charset="UTF-8"');
  expect((await tfetch(url, { headers: { authorization: `Basic ${btoa("guest:guest")}` } })).status).toBe(403);
  expect((await tfetch(url, { headers: { authorization: `Basic ${btoa("ops:wrong")}` } })).status).toBe(401);
  const ok = await tfetch(url, { headers: { authorization: `Basic ${btoa("ops:s3cret")}`, "x-forwarded-for": "203.0.113.5" } });
  expect(ok.status).toBe(200);
});
