/**
 * The clock of a request that uses an existing session: the lookup reads the manager's clock
 * once for its expiry check and the access time it records, and the handler's getSession does
 * not check again what the lookup has just found live; the end of access reads it once more.
 * Expiry by time still holds at the lookup: a session idle for its whole timeout is not served.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ConnectorInfo } from "../../src/core/context.ts";
import type { Engine } from "../../src/core/engine.ts";
import { SERVER_PLATFORM } from "../../src/runtime/server-platform.ts";
import { StandardManager } from "../../src/session/standard-manager.ts";
import { cleanup, tempDir, writeFiles } from "../helpers/bobcat.ts";
import { startedEngine } from "../helpers/engine.ts";

let base: string;
let engine: Engine;
const http: ConnectorInfo = { name: "http", port: 8080, scheme: "http", secure: false, redirectPort: 8443 };
const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };
/** The managers' clock: a time the test sets, and how often it was read. */
const clock = { t: 1_000_000, reads: 0 };

beforeAll(async () => {
  base = tempDir();
  writeFiles(base, {
    "app.js": `export default {
  fetch(req, ctx) {
    const path = new URL(req.url).pathname;
    if (path === "/create") return new Response(ctx.getSession(true).id);
    if (path === "/twice") {
      const s = ctx.getSession(false);
      return new Response(s === ctx.getSession(false) ? String(s && s.id) : "different");
    }
    const s = ctx.getSession(false);
    return new Response(s ? s.id : "none");
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
        - port: 8080
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.js
                sessionTimeout: 1
                manager: { pathname: "" }
`,
    {
      platform: {
        ...SERVER_PLATFORM,
        createManager: (c, context) =>
          new StandardManager(c as never, {
            ...context,
            now: () => {
              clock.reads++;
              return clock.t;
            },
          }),
      },
    },
  );
});

afterAll(async () => {
  await engine.stop();
  cleanup(base);
});

const get = async (path: string, id?: string) => {
  const req = new Request(`http://localhost:8080${path}`, id ? { headers: { cookie: `JSESSIONID=${id}` } } : {});
  return await (await engine.handleSync(req, http, conn)).text();
};

describe("the clock of a request with an existing session", () => {
  test("read twice: once for the lookup and its access, once at the end of access", async () => {
    const id = await get("/create");
    clock.reads = 0;
    expect(await get("/read", id)).toBe(id);
    expect(clock.reads).toBe(2);
    // A second getSession in the same request checks the session it holds (no lookup again).
    clock.reads = 0;
    expect(await get("/twice", id)).toBe(id);
    expect(clock.reads).toBe(3);
  });

  test("a session idle for its whole timeout is not served; one a millisecond short is", async () => {
    const id = await get("/create");
    clock.t += 60_000 - 1;
    expect(await get("/read", id)).toBe(id);
    // Idle from the end of that request's access.
    clock.t += 60_000;
    expect(await get("/read", id)).toBe("none");
    // Expired, not only hidden: a later request does not find it either.
    clock.t -= 60_000;
    expect(await get("/read", id)).toBe("none");
  });
});
