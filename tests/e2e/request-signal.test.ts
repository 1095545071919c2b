/**
 * A handler's `request.signal` aborts when the client goes away, never because a response was
 * sent: Deno's legacy behaviour aborts it after every successful response (bobcat's deno.json opts
 * out with `no-legacy-abort`), which would cancel work a handler hands to the background. The
 * same for a handler below the root, which gets a copy of the request at its own URL (on Deno
 * one whose signal follows the original's only once read, src/core/rebase-request.ts).
 */
import { afterAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { cleanup, freePort, RUNTIMES, startBobcat, tempDir } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const APP = `let aborted = 0;
export default {
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/aborted") return new Response(String(aborted));
    req.signal.addEventListener("abort", () => aborted++);
    if (path === "/slow") return new Promise((r) => setTimeout(() => r(new Response("late")), 2000));
    return new Response("ok");
  },
};
`;

async function aborted(port: number, context: string): Promise<number> {
  return Number(await (await fetch(`http://127.0.0.1:${port}${context}/aborted`)).text());
}

for (const runtime of RUNTIMES) {
  test(
    `${runtime}: request.signal is not aborted by a successful response, and is by a client that leaves`,
    async () => {
      const base = tempDir();
      dirs.push(base);
      const port = await freePort();
      const s = await startBobcat({
        runtime,
        base,
        files: { "app.ts": APP, "sub.ts": APP },
        config: `server:
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts: [{ name: localhost, contexts: [{ path: "", handler: app.ts }, { path: /app, handler: sub.ts }] }]
`,
      });
      try {
        for (const context of ["", "/app"]) {
          for (let i = 0; i < 5; i++) {
            expect(await (await fetch(`http://127.0.0.1:${port}${context}/ok`)).text()).toBe("ok");
          }
          await Bun.sleep(300);
          expect({ context, aborted: await aborted(port, context) }).toEqual({ context, aborted: 0 });
          expect(s.output()).not.toContain("legacy behavior");

          // A client that sends a request and leaves before the answer.
          const socket = connect(port, "127.0.0.1");
          await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
          socket.write(`GET ${context}/slow HTTP/1.1\r\nHost: localhost\r\n\r\n`);
          await Bun.sleep(300);
          socket.destroy();
          let n = 0;
          for (let waited = 0; n === 0 && waited < 5000; waited += 100) {
            await Bun.sleep(100);
            n = await aborted(port, context);
          }
          expect({ context, aborted: n }).toEqual({ context, aborted: 1 });
        }
      } finally {
        expect(await s.stop()).toBe(0);
      }
    },
    60000,
  );
}
