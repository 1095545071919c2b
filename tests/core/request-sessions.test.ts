/**
 * A request's session state (RequestSessions, made when a handler first asks for its session):
 * its size, which decides which of JavaScriptCore's size classes it shares with the sessions
 * made beside it, and the bookkeeping its `current` session and flags keep — the session the
 * handler sees, and the sessions whose access the end of the request ends.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ConnectorInfo } from "../../src/core/context.ts";
import type { Engine } from "../../src/core/engine.ts";
import { cleanup, tempDir, writeFiles } from "../helpers/bobcat.ts";
import { startedEngine } from "../helpers/engine.ts";

let base: string;
let engine: Engine;
const https: ConnectorInfo = { name: "https", port: 8443, scheme: "https", secure: true, redirectPort: 8443 };
const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };
/** What the handler hands the test: the request's session state, the session it made. */
const seen = globalThis as { requestSessions?: object; requestContext?: object; session?: object };

beforeAll(async () => {
  base = tempDir();
  writeFiles(base, {
    // /create: bench/side-by-side.ts's new session. /swap: invalidates the cookie's session and
    // makes another in the same request. /again: invalidates it, then asks without creating.
    "app.js": `export default {
  fetch(req, ctx) {
    const path = new URL(req.url).pathname;
    if (path === "/create") {
      const s = ctx.getSession(true);
      s.setAttribute("user", "u" + s.id.slice(0, 4));
      s.setAttribute("n", 1);
      globalThis.requestSessions = ctx.openedSessions;
      globalThis.requestContext = ctx;
      globalThis.session = s;
      return new Response(s.id);
    }
    const old = ctx.getSession(false);
    if (!old) return new Response("none");
    old.invalidate();
    if (path === "/again") return new Response(String(ctx.getSession(false)));
    const s = ctx.getSession(true);
    s.setAttribute("n", 2);
    return new Response(s.id);
  },
};
`,
  });
  engine = await startedEngine(
    base,
    `
server:
  services:
    - connectors:
        - port: 8443
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.js
                manager: { pathname: "" }
`,
  );
});

afterAll(async () => {
  await engine.stop();
  cleanup(base);
});

const get = (path: string, cookie?: string) =>
  engine.handle(new Request(`https://localhost:8443${path}`, cookie ? { headers: { cookie } } : {}), https, conn);
const cookieOf = (res: Response) => /JSESSIONID=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")?.[1];

describe("a request's session state", () => {
  test.skipIf(typeof Bun === "undefined")(
    "is 64 bytes: not the size class of the session made beside it (80), whose blocks it would leave half empty",
    async () => {
      const { estimateShallowMemoryUsageOf } = await import("bun:jsc");
      for (let i = 0; i < 2000; i++) await get("/create");
      // Six own fields: 64 bytes in JavaScriptCore; seven or eight take 80, as the session does.
      expect(estimateShallowMemoryUsageOf(seen.requestSessions!)).toBeLessThanOrEqual(64);
      expect(estimateShallowMemoryUsageOf(seen.session!)).toBeGreaterThan(64);
    },
  );

  test.skipIf(typeof Bun === "undefined")(
    "the request context made beside a new session is 64 bytes too: garbage of another size class than the session's",
    async () => {
      const { estimateShallowMemoryUsageOf } = await import("bun:jsc");
      for (let i = 0; i < 2000; i++) await get("/create");
      // Six own fields (the context's path and session opener in one, its scope): 64 bytes; eight took 80.
      expect(estimateShallowMemoryUsageOf(seen.requestContext!)).toBeLessThanOrEqual(64);
      expect(estimateShallowMemoryUsageOf(seen.session!)).toBeGreaterThan(64);
    },
  );

  test("a new session: its cookie goes out and its access ends with the request", async () => {
    const res = await get("/create");
    const id = await res.text();
    expect(cookieOf(res)).toBe(id);
    const session = seen.session as { id: string; isNew: boolean; creationTime: number; lastAccessedTime: number };
    expect(session.id).toBe(id);
    // endAccess ran: the session is no longer new.
    expect(session.isNew).toBe(false);
  });

  test("invalidated and replaced in one request: both accesses end, the new id goes out", async () => {
    const first = cookieOf(await get("/create"))!;
    const res = await get("/swap", `JSESSIONID=${first}`);
    const second = await res.text();
    expect(second).not.toBe(first);
    expect(cookieOf(res)).toBe(second);
    // The old one is gone; the new one is found, and no longer new (its access ended).
    expect(await (await get("/again", `JSESSIONID=${first}`)).text()).toBe("none");
    expect(await (await get("/again", `JSESSIONID=${second}`)).text()).toBe("null");
    expect(await (await get("/again", `JSESSIONID=${second}`)).text()).toBe("none");
  });

  test("invalidated, then asked for without creating: null, and no cookie", async () => {
    const id = cookieOf(await get("/create"))!;
    const res = await get("/again", `JSESSIONID=${id}`);
    expect(await res.text()).toBe("null");
    expect(res.headers.get("set-cookie")).toBeNull();
  });
});
