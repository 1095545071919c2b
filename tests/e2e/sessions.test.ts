/**
 * Sessions end to end, under Bun and Deno: a client builds up state over several requests,
 * the server is stopped with SIGTERM and started again, and the same cookie sees the same
 * state. Also cookie attributes, URL tracking, maxActiveSessions, login and id changes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  httpsConfig,
  type Runtime,
  RUNTIMES,
  startBobcat,
  tempDir,
  tfetch,
} from "../helpers/bobcat.ts";

const HONO = join(import.meta.dir, "../../node_modules/hono/dist/index.js");
const APP = `import { Hono } from "${HONO}";
const app = new Hono();
export const sessionListeners = [{ sessionCreated(e) { globalThis.created = (globalThis.created ?? 0) + 1; } }];
app.get("/count", (c) => {
  const s = c.env.getSession();
  const n = (s.getAttribute("n") ?? 0) + 1;
  s.setAttribute("n", n);
  const seen = s.getAttribute("seen") ?? new Map();
  seen.set("visit" + n, new Date(0));
  s.setAttribute("seen", seen);
  return c.json({ n, id: s.id, isNew: s.isNew, visits: [...seen.keys()], created: globalThis.created });
});
app.get("/peek", (c) => {
  const s = c.env.getSession(false);
  return c.json({ session: s ? { id: s.id, n: s.getAttribute("n") } : null });
});
app.get("/login", (c) => {
  c.env.getSession();
  const before = c.env.getSession().id;
  c.env.login("alice", ["user"]);
  return c.json({ before, after: c.env.getSession().id, user: c.env.principal.name });
});
app.get("/whoami", (c) => c.json({ user: c.env.principal?.name ?? null, admin: c.env.isUserInRole("admin"), user_role: c.env.isUserInRole("user") }));
app.get("/link", (c) => { c.env.getSession(); return c.text(c.env.encodeURL("/app/count?x=1")); });
app.get("/invalidate", (c) => { c.env.getSession().invalidate(); return c.text("gone"); });
export default app;
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

function config(http: number, https: number, manager = "", contextExtra = ""): string {
  return httpsConfig(http, https, {
    engineExtra: "        jvmRoute: node7",
    contexts: `              - path: /app\n                handler: app.ts\n${contextExtra}${manager}`,
  });
}

const cookieOf = (res: Response) => res.headers.getSetCookie().find((c) => c.startsWith("JSESSIONID="));
const idOf = (cookie: string | undefined) => /JSESSIONID=([^;]+)/.exec(cookie ?? "")?.[1];

async function start(runtime: Runtime, base: string, http: number, https: number, manager = "", extra = "") {
  return startBobcat({
    runtime,
    base,
    connectors: 2,
    files: { "app.ts": APP },
    config: config(http, https, manager, extra),
  });
}

for (const runtime of RUNTIMES) {
  describe(`sessions under ${runtime}`, () => {
    test("state survives SIGTERM and restart with the same cookie", async () => {
      const base = tempDir();
      dirs.push(base);
      const [http, https] = [await freePort(), await freePort()];
      const persistent = "                manager: { pathname: SESSIONS.ser }\n";
      let s = await start(runtime, base, http, https, persistent);
      let cookie: string;
      try {
        const first = await tfetch(`https://localhost:${https}/app/count`);
        const set = cookieOf(first)!;
        expect(set).toMatch(/^JSESSIONID=[0-9A-F]{32}\.node7; Path=\/app; HttpOnly; SameSite=Lax; Secure$/);
        const body = await first.json();
        expect(body).toMatchObject({ n: 1, isNew: true, created: 1 });
        cookie = `JSESSIONID=${idOf(set)}`;
        for (let i = 2; i <= 3; i++) {
          const r = await tfetch(`https://localhost:${https}/app/count`, { headers: { cookie } });
          expect(cookieOf(r)).toBeUndefined(); // the id is known: no new cookie
          expect(await r.json()).toMatchObject({ n: i, isNew: false });
        }
      } finally {
        expect(await s.stop()).toBe(0);
      }
      expect(existsSync(join(base, "work/Catalina/localhost/app/SESSIONS.ser"))).toBe(true);
      s = await start(runtime, base, http, https, persistent);
      try {
        const r = await tfetch(`https://localhost:${https}/app/count`, { headers: { cookie } });
        const body = await r.json();
        expect(body).toMatchObject({ n: 4, isNew: false, visits: ["visit1", "visit2", "visit3", "visit4"] });
        // The file is read once and removed, as Tomcat's StandardManager does: once the restore's
        // check of every record has ended, which runs in the background after the first request
        // may already have been served (its own record is read first).
        const file = join(base, "work/Catalina/localhost/app/SESSIONS.ser");
        for (let i = 0; i < 100 && existsSync(file); i++) await Bun.sleep(50);
        expect(existsSync(file)).toBe(false);
      } finally {
        await s.stop();
      }
    });

    test("cookie on plain HTTP has no Secure; URL tracking with ;jsessionid=", async () => {
      const base = tempDir();
      dirs.push(base);
      const [http, https] = [await freePort(), await freePort()];
      const s = await start(runtime, base, http, https);
      try {
        const r = await tfetch(`http://127.0.0.1:${http}/app/count`);
        const set = cookieOf(r)!;
        expect(set).not.toContain("Secure");
        const id = idOf(set)!;
        // Without a cookie, the id in the path parameter finds the session.
        const viaUrl = await tfetch(`http://127.0.0.1:${http}/app/count;jsessionid=${id}`);
        expect(await viaUrl.json()).toMatchObject({ n: 2, id });
        // encodeURL adds the id when the client did not send a cookie.
        const link = await (await tfetch(`http://127.0.0.1:${http}/app/link;jsessionid=${id}`)).text();
        expect(link).toBe(`/app/count;jsessionid=${id}?x=1`);
        const withCookie =
          await (await tfetch(`http://127.0.0.1:${http}/app/link`, { headers: { cookie: `JSESSIONID=${id}` } })).text();
        expect(withCookie).toBe("/app/count?x=1");
      } finally {
        await s.stop();
      }
    });

    test("login changes the session id and keeps the principal; unknown and invalidated ids get a new session", async () => {
      const base = tempDir();
      dirs.push(base);
      const [http, https] = [await freePort(), await freePort()];
      const s = await start(runtime, base, http, https);
      try {
        const a = await tfetch(`https://localhost:${https}/app/login`);
        const j = await a.json();
        expect(j.after).not.toBe(j.before);
        expect(j.user).toBe("alice");
        const cookie = `JSESSIONID=${idOf(cookieOf(a))}`;
        expect(idOf(cookieOf(a))).toBe(j.after);
        expect(await (await tfetch(`https://localhost:${https}/app/whoami`, { headers: { cookie } })).json()).toEqual({
          user: "alice",
          admin: false,
          user_role: true,
        });
        const unknown = await tfetch(`https://localhost:${https}/app/peek`, {
          headers: { cookie: "JSESSIONID=0123456789ABCDEF0123456789ABCDEF.node7" },
        });
        expect(await unknown.json()).toEqual({ session: null });
        await tfetch(`https://localhost:${https}/app/invalidate`, { headers: { cookie } });
        expect(await (await tfetch(`https://localhost:${https}/app/peek`, { headers: { cookie } })).json()).toEqual({
          session: null,
        });
      } finally {
        await s.stop();
      }
    });
  });
}

test("maxActiveSessions: one session too many answers 503 (bun)", async () => {
  const base = tempDir();
  dirs.push(base);
  const [http, https] = [await freePort(), await freePort()];
  const s = await start(
    "bun",
    base,
    http,
    https,
    '                manager:\n                  maxActiveSessions: 2\n                  pathname: ""\n',
  );
  try {
    expect((await tfetch(`http://127.0.0.1:${http}/app/count`)).status).toBe(200);
    expect((await tfetch(`http://127.0.0.1:${http}/app/count`)).status).toBe(200);
    const third = await tfetch(`http://127.0.0.1:${http}/app/count`);
    expect(third.status).toBe(503);
    expect(await third.text()).toContain("maxActiveSessions 2");
    // Requests that need no new session still work.
    expect((await tfetch(`http://127.0.0.1:${http}/app/peek`)).status).toBe(200);
  } finally {
    await s.stop();
  }
  // pathname: "" turns persistence off.
  expect(existsSync(join(base, "work/Catalina/localhost/app/SESSIONS.ser"))).toBe(false);
});

test("cookie settings: name, path, domain, SameSite, HttpOnly off, Secure forced (bun)", async () => {
  const base = tempDir();
  dirs.push(base);
  const [http, https] = [await freePort(), await freePort()];
  const extra = `                sessionCookieName: SID
                sessionCookiePath: /
                sessionCookieDomain: localhost
                useHttpOnly: false
                sessionCookieSecure: true
                cookieProcessor:
                  sameSiteCookies: strict
`;
  const s = await start("bun", base, http, https, "", extra);
  try {
    const r = await tfetch(`http://127.0.0.1:${http}/app/count`);
    const set = r.headers.getSetCookie()[0]!;
    expect(set).toMatch(/^SID=[0-9A-F]{32}\.node7; Path=\/; Domain=localhost; SameSite=Strict; Secure$/);
  } finally {
    await s.stop();
  }
});
