/**
 * A real browser: headless Chromium keeps the session across requests through the cookie,
 * and the cookie carries HttpOnly, Secure and SameSite as configured. Also renders the ROOT page,
 * uses the manager's HTML form, and attacks the manager from another site and by DNS rebinding
 * (evil.example resolves to 127.0.0.1 in this browser).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { cleanup, freePort, httpsConfig, type Running, startBobcat, tempDir } from "../helpers/bobcat.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let server: Running;
let browser: Browser;
let https: number;
let http: number;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is needed at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
  }
  [http, https] = [await freePort(), await freePort()];
  const base = tempDir();
  server = await startBobcat({
    runtime: "bun",
    base,
    connectors: 2,
    files: {
      "counter.ts": `export default { fetch(req, ctx) {
        const s = ctx.getSession();
        const n = (s.getAttribute("n") ?? 0) + 1;
        s.setAttribute("n", n);
        return new Response("<!doctype html><title>counter</title><p id=n>" + n + "</p>", { headers: { "content-type": "text/html" } });
      } };`,
      // An attacker's pages, served from another origin (http://127.0.0.1, http://evil.example).
      "evil/attack.html": `<!doctype html><title>attack</title>
        <form id=f method=get action="https://localhost:HTTPS/manager/text/expire"><input name=path value=/counter><input name=idle value=0></form>
        <script>
          fetch("https://localhost:HTTPS/manager/text/expire?path=/counter&idle=0", { method: "POST", mode: "no-cors" })
            .finally(() => document.getElementById("f").submit());
        </script>`,
      "evil/rebind.html": `<!doctype html><title>rebind</title><p id=out>pending</p>
        <script>
          Promise.all(["/manager/json/sessions?path=/counter", "/manager/"].map((u) => fetch(u).then(async (r) => r.status + " " + (await r.text()).slice(0, 60))))
            .then((r) => (document.getElementById("out").textContent = r.join(" | ")), (e) => (document.getElementById("out").textContent = "error " + e));
        </script>`,
    },
    config: httpsConfig(http, https, {
      contexts: `              - path: ""
                handler: bobcat:root
                securityConstraints: [{ urlPatterns: ["/*"], transportGuarantee: CONFIDENTIAL }]
              - path: /counter
                handler: counter.ts
                securityConstraints: [{ urlPatterns: ["/*"], transportGuarantee: CONFIDENTIAL }]
              - path: /manager
                handler: bobcat:manager
              - path: /evil
                docBase: ${join(base, "evil")}`,
    }),
  });
  const attack = join(base, "evil", "attack.html");
  writeFileSync(attack, readFileSync(attack, "utf8").replaceAll("HTTPS", String(https)));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--host-resolver-rules=MAP evil.example 127.0.0.1",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  if (server) {
    await server.stop();
    cleanup(server.base);
  }
});

test("Chromium keeps the session through the cookie; HttpOnly, Secure and SameSite=Lax are set", async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  // Plain HTTP is redirected to HTTPS by the CONFIDENTIAL constraint.
  await page.goto(`http://localhost:${http}/counter/`);
  expect(page.url()).toBe(`https://localhost:${https}/counter/`);
  expect(await page.textContent("#n")).toBe("1");
  for (const n of ["2", "3"]) {
    await page.reload();
    expect(await page.textContent("#n")).toBe(n);
  }
  const cookies = await context.cookies(`https://localhost:${https}/counter/`);
  const jsession = cookies.find((c) => c.name === "JSESSIONID")!;
  expect(jsession.value).toMatch(/^[0-9A-F]{32}$/);
  expect(jsession.httpOnly).toBe(true);
  expect(jsession.secure).toBe(true);
  expect(jsession.sameSite).toBe("Lax");
  expect(jsession.path).toBe("/counter");
  // HttpOnly: scripts cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain("JSESSIONID");
  // A fresh browser context is a new visitor.
  const other = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  await other.goto(`https://localhost:${https}/counter/`);
  expect(await other.textContent("#n")).toBe("1");
  await context.close();
});

test("the ROOT page renders and says the server runs over HTTPS", async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  await page.goto(`https://localhost:${https}/`);
  expect(await page.title()).toContain("bobcat");
  expect(await page.textContent("h1")).toBe("bobcat is running");
  expect(await page.textContent(".ok")).toContain("HTTPS");
  if (process.env.BOBCAT_SCREENSHOT) await page.screenshot({ path: process.env.BOBCAT_SCREENSHOT, fullPage: true });
  await context.close();
});

test("the manager's HTML form expires a session same-origin, under its CSP, without showing the id", async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const violations: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") violations.push(m.text());
  });
  await page.goto(`https://localhost:${https}/counter/`);
  expect(await page.textContent("#n")).toBe("1");
  const id = (await context.cookies(`https://localhost:${https}/counter/`)).find((c) => c.name === "JSESSIONID")!.value;
  const res = await page.goto(`https://localhost:${https}/manager/`);
  expect(res!.headers()["x-frame-options"]).toBe("DENY");
  expect(await page.title()).toBe("bobcat manager");
  // The inline style is allowed by its hash: the page is styled.
  expect(await page.evaluate(() => getComputedStyle(document.body).fontFamily)).toContain("system-ui");
  const html = await page.content();
  expect(html).not.toContain(id);
  const item = page.locator("li", { hasText: `${id.slice(0, 8)}…` });
  const posted = page.waitForResponse((r) => r.url().includes("/manager/html/expire"));
  await item.locator("button").click();
  const answer = await posted;
  expect([answer.status(), answer.request().method()]).toEqual([200, "POST"]);
  await page.waitForLoadState();
  expect(await page.textContent(".msg")).toBe(`Expired session ${id.slice(0, 8)}…`);
  expect(violations).toEqual([]);
  await page.goto(`https://localhost:${https}/counter/`);
  expect(await page.textContent("#n")).toBe("1");
  await context.close();
});

test("a page on another site cannot make the browser expire sessions through the manager", async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`https://localhost:${https}/counter/`);
  expect(await page.textContent("#n")).toBe("1");
  const attacker = await context.newPage();
  const answers: Array<[string, number, string]> = [];
  attacker.on("response", async (r) => {
    if (r.url().includes("/manager/text/expire")) {
      answers.push([
        r.request().method(),
        r.status(),
        await r.text().catch(() => ""),
      ]);
    }
  });
  await attacker.goto(`http://127.0.0.1:${http}/evil/attack.html`);
  // A no-cors POST by script, then a GET form navigation: both refused as cross-site.
  for (let i = 0; i < 150 && answers.length < 2; i++) await Bun.sleep(100);
  expect(answers.map(([m, s]) => [m, s])).toEqual([["POST", 403], ["GET", 403]]);
  expect(answers[1]![2]).toContain("cross-site request refused");
  await page.reload();
  expect(await page.textContent("#n")).toBe("2");
  await context.close();
});

test("DNS rebinding: a page on evil.example that resolves to this machine reads nothing from the manager", async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`http://evil.example:${http}/evil/rebind.html`);
  await page.waitForFunction(() => document.getElementById("out")?.textContent !== "pending", undefined, {
    timeout: 15000,
  });
  const out = (await page.textContent("#out"))!;
  expect(out).toMatch(/^421 .*\| 421 /);
  expect(out).not.toContain("sessions");
  await context.close();
});
