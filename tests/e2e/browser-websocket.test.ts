/**
 * WebSocket as a browser sees it: headless Chromium (playwright-core) opens a page served by
 * bobcat that logs in (a session attribute) and connects a WebSocket to the same origin — the
 * echo works and the socket's handler sees the session — while an upgrade of a path under a
 * security constraint, without credentials, gets no socket. A page served from another origin
 * (the second connector's port) connects to the first: the Origin check refuses the upgrade
 * (403, logged), so the page's socket never opens. On Bun (native) and Deno (node-compat); each
 * page is screenshotted into the test's base directory (and into $BOBCAT_KEEP_SCREENSHOTS when set,
 * to look at).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { cleanup, freePort, type Running, RUNTIMES, startBobcat, tempDir } from "../helpers/bobcat.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const PAGE = `<!doctype html><title>bobcat websocket</title>
<style>body { font: 16px sans-serif } pre { background: #eef; padding: 1em }</style>
<h1>WebSocket from <span id=origin></span></h1><pre id=out></pre><p id=done></p>
<script>
const out = document.getElementById("out");
document.getElementById("origin").textContent = location.origin;
const log = (s) => (out.textContent += s + "\\n");
const target = new URLSearchParams(location.search).get("target") ?? location.host;
function socket(path, label) {
  return new Promise((resolve) => {
    const ws = new WebSocket("ws://" + target + path);
    let opened = false;
    ws.onopen = () => { opened = true; ws.send("ping"); };
    ws.onmessage = (e) => { log(label + " got: " + e.data); if (e.data.startsWith("echo:")) ws.close(1000); };
    ws.onclose = (e) => { log(label + (opened ? " closed " : " refused, close ") + e.code); resolve(); };
  });
}
(async () => {
  if (target === location.host) {
    await fetch("/login");
    await socket("/ws", "same-origin");
    await socket("/admin/ws", "constrained");
  } else {
    await socket("/ws", "cross-origin");
  }
  document.getElementById("done").textContent = "done";
})();
</script>`;

const HANDLER = `
export default {
  fetch(req, ctx) {
    const path = new URL(req.url).pathname;
    if (path === "/page.html") return new Response(${
  JSON.stringify(PAGE)
}, { headers: { "content-type": "text/html" } });
    if (path === "/login") {
      ctx.getSession().setAttribute("user", "dave");
      return new Response("ok");
    }
    if (path.endsWith("/ws")) {
      return ctx.upgradeWebSocket(req, {
        onOpen(_e, ws) { ws.send("hello " + (ws.ctx.getSession(false)?.getAttribute("user") ?? "nobody")); },
        onMessage(e, ws) { ws.send("echo:" + e.data); },
      });
    }
    return new Response("not found", { status: 404 });
  },
};
`;

let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is needed at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
  });
}, 30000);
afterAll(async () => {
  await browser?.close();
});

for (const runtime of RUNTIMES) {
  describe(`WebSocket in Chromium (${runtime})`, () => {
    let srv: Running;
    let base: string;
    let port: number;
    let other: number;

    beforeAll(async () => {
      [port, other] = [await freePort(), await freePort()];
      base = tempDir();
      srv = await startBobcat({
        runtime,
        base,
        connectors: 2,
        files: { "handler.js": HANDLER },
        config: `
server:
  services:
    - connectors:
        - { port: ${port}, address: 127.0.0.1, webSocketEnabled: true }
        - { port: ${other}, address: 127.0.0.1 }
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: handler.js
              - path: /admin
                handler: handler.js
                loginConfig: { authMethod: BASIC, realmName: admin }
                realm:
                  users: [{ username: root, password: secret, roles: [admin] }]
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [admin] }]
`,
      });
    }, 30000);
    afterAll(async () => {
      await srv?.stop();
      cleanup(base);
    });

    const visit = async (url: string, shot: string) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById("done")?.textContent === "done", undefined, {
        timeout: 15000,
      });
      const text = (await page.textContent("#out"))!.trim().split("\n");
      await page.screenshot({ path: join(base, shot) });
      if (process.env.BOBCAT_KEEP_SCREENSHOTS) {
        await page.screenshot({ path: join(process.env.BOBCAT_KEEP_SCREENSHOTS, `${runtime}-${shot}`) });
      }
      await context.close();
      return text;
    };

    test(
      "same origin: echo, the session in the socket; a constrained path refuses the unauthenticated upgrade",
      async () => {
        const lines = await visit(`http://127.0.0.1:${port}/page.html`, "same-origin.png");
        expect(lines).toEqual([
          "same-origin got: hello dave",
          "same-origin got: echo:ping",
          "same-origin closed 1000",
          "constrained refused, close 1006",
        ]);
        expect(existsSync(join(base, "same-origin.png"))).toBe(true);
      },
      30000,
    );

    test("another origin: the Origin check refuses the upgrade before it happens", async () => {
      const lines = await visit(`http://127.0.0.1:${other}/page.html?target=127.0.0.1:${port}`, "cross-origin.png");
      expect(lines).toEqual(["cross-origin refused, close 1006"]);
      expect(srv.output()).toContain(`cross-site WebSocket upgrade refused (Origin: http://127.0.0.1:${other})`);
    }, 30000);
  });
}
