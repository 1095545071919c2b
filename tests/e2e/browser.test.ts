/**
 * A real browser: headless Chromium keeps the session across requests through the cookie,
 * and the cookie carries HttpOnly, Secure and SameSite as configured. Also renders the ROOT page.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { cleanup, freePort, httpsConfig, startBobcat, tempDir, type Running } from "../helpers/bobcat.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let server: Running;
let browser: Browser;
let https: number;
let http: number;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is needed at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
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
    },
    config: httpsConfig(http, https, {
      contexts: `              - path: ""
                handler: bobcat:root
                securityConstraints: [{ urlPatterns: ["/*"], transportGuarantee: CONFIDENTIAL }]
              - path: /counter
                handler: counter.ts
                securityConstraints: [{ urlPatterns: ["/*"], transportGuarantee: CONFIDENTIAL }]`,
    }),
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
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
