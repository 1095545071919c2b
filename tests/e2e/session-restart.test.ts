/**
 * A few thousand sessions through a graceful stop and a start, under Bun and Deno: every session
 * is created over HTTP with attributes of several kinds (ASCII and non-ASCII strings, numbers,
 * objects, a Map, and sessions with more attributes than the compact in-session form holds),
 * the manager app's /json/list counts them, SIGTERM writes them (StandardManager pathname), and
 * after the start the count is the same and each session sent back answers with its attributes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cleanup, freePort, plainConfig, RUNTIMES, startBobcat, tempDir, waitUntil } from "../helpers/bobcat.ts";

const SESSIONS = 2000;

/** One session in this many gets 12 attributes (past the compact form's 8). */
const WIDE_EVERY = 7;

const APP = `export default { fetch(req, ctx) {
  const url = new URL(req.url);
  if (url.pathname.endsWith("/create")) {
    const i = Number(url.searchParams.get("i"));
    const s = ctx.getSession();
    s.setAttribute("user", i % 3 === 0 ? "Jürgen-" + i : "user" + i);
    s.setAttribute("n", i);
    s.setAttribute("cart", { items: [i, i + 1], total: i * 1.5 });
    if (i % 5 === 0) s.setAttribute("seen", new Map([["first", new Date(i * 1000)]]));
    if (i % ${WIDE_EVERY} === 0) for (let k = 0; k < 12; k++) s.setAttribute("extra" + k, k * i);
    s.setAttribute("n", i + 0.5); // replaced in place
    s.removeAttribute("cart"); s.setAttribute("cart", { items: [i, i + 1], total: i * 1.5 });
    return new Response(s.id);
  }
  const s = ctx.getSession(false);
  if (!s) return Response.json(null);
  const out = { isNew: s.isNew, names: s.getAttributeNames() };
  for (const name of out.names) {
    const v = s.getAttribute(name);
    out[name] = v instanceof Map ? { map: [...v].map(([k, d]) => [k, d.getTime()]) } : v;
  }
  return Response.json(out);
} };
`;

function expected(i: number): Record<string, unknown> {
  const names = ["user", "n"];
  const out: Record<string, unknown> = { user: i % 3 === 0 ? `Jürgen-${i}` : `user${i}`, n: i + 0.5 };
  if (i % 5 === 0) {
    names.push("seen");
    out.seen = { map: [["first", i * 1000]] };
  }
  if (i % WIDE_EVERY === 0) {
    for (let k = 0; k < 12; k++) {
      names.push(`extra${k}`);
      out[`extra${k}`] = k * i;
    }
  }
  names.push("cart");
  out.cart = { items: [i, i + 1], total: i * 1.5 };
  return { isNew: false, names, ...out };
}

/** Runs `fn(i)` for i in [0, n) with `width` requests in flight. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

for (const runtime of RUNTIMES) {
  describe(`${SESSIONS} sessions through SIGTERM and restart on ${runtime}`, () => {
    test("every session is written, read back with its attributes, and counted by the manager app", async () => {
      const base = tempDir();
      dirs.push(base);
      const port = await freePort();
      const config = plainConfig(
        port,
        `              - path: /app
                handler: app.ts
                manager: { pathname: SESSIONS.ser }
              - path: /manager
                handler: bobcat:manager
`,
      );
      const start = () => startBobcat({ runtime, base, files: { "app.ts": APP }, config });
      const url = (p: string) => `http://127.0.0.1:${port}${p}`;
      const count = async () => {
        const list = await (await fetch(url("/manager/json/list"))).json() as {
          applications: Array<{ path: string; state: string; sessions: number; host: string }>;
        };
        const manager = list.applications.find((a) => a.path === "/manager")!;
        expect(manager).toMatchObject({ state: "running", host: "localhost" });
        return list.applications.find((a) => a.path === "/app")!.sessions;
      };

      let s = await start();
      const ids: string[] = new Array(SESSIONS);
      try {
        expect(await count()).toBe(0);
        await pool(SESSIONS, 16, async (i) => {
          const r = await fetch(url(`/app/create?i=${i}`));
          expect(r.status).toBe(200);
          ids[i] = await r.text();
        });
        expect(new Set(ids).size).toBe(SESSIONS);
        for (const id of ids) expect(id).toMatch(/^[0-9A-F]{32}$/);
        expect(await count()).toBe(SESSIONS);
      } finally {
        expect(await s.stop()).toBe(0);
      }
      const file = join(base, "work/Catalina/localhost/app/SESSIONS.ser");
      expect(existsSync(file)).toBe(true);
      expect(s.output()).toContain(`Saved ${SESSIONS} session(s)`);

      s = await start();
      try {
        // The file is checked once the connector listens; the count is right at once all the same.
        expect(await count()).toBe(SESSIONS);
        const restored = s;
        await waitUntil(() => restored.output().includes(`Restored ${SESSIONS} session(s)`) && !existsSync(file));
        expect(s.output()).toContain(`Restored ${SESSIONS} session(s)`);
        expect(existsSync(file)).toBe(false);
        // Every session answers with exactly what was set, attribute order included.
        await pool(SESSIONS, 16, async (i) => {
          const r = await fetch(url("/app/read"), { headers: { cookie: `JSESSIONID=${ids[i]}` } });
          expect(await r.json()).toEqual(expected(i));
        });
        // An unknown id is not a session.
        const r = await fetch(url("/app/read"), { headers: { cookie: `JSESSIONID=${"0".repeat(32)}` } });
        expect(await r.json()).toBeNull();
        expect(await count()).toBe(SESSIONS);
      } finally {
        expect(await s.stop()).toBe(0);
      }
    }, 180000);
  });
}
