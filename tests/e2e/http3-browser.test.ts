/**
 * HTTP/3 as a browser meets it (Bun native, `http3: true`): Debian's Chromium, driven by
 * playwright-core, finds h3 through the Alt-Svc header alone and moves to it from HTTP/2; over
 * h3 it gets whole bodies under concurrency (1 MiB each, 16 streams at once); after a SIGHUP
 * reload the QUIC listener presents the new certificate, as the TCP one does.
 *
 * Chromium uses QUIC only with a certificate from a public root, unless the host is named in
 * --origin-to-force-quic-on: QUIC is forced here on another port of localhost (nothing listens
 * there), which lets localhost use the test PKI and leaves the move to h3 to Alt-Svc.
 * --ignore-certificate-errors-spki-list accepts exactly one server key, so a page that loads
 * tells which certificate the server presented.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import {
  cleanup,
  COPIED_CERTIFICATE_HOST,
  copyLocalhostCertificate,
  freePort,
  HTTP2_CONNECTOR,
  PKI,
  startBobcat,
  tempDir,
  tlsAppConfig,
  waitUntil,
} from "../helpers/bobcat.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const APP = `const big = "x".repeat(1 << 20);
export default { fetch(req) {
  if (new URL(req.url).pathname === "/big") return new Response(big);
  return new Response("<!doctype html><title>h3</title>", { headers: { "content-type": "text/html" } });
} };`;

const spki = (certFile: string) => {
  const der = new X509Certificate(readFileSync(join(PKI, certFile), "utf8")).publicKey.export({
    type: "spki",
    format: "der",
  });
  return createHash("sha256").update(der).digest("base64");
};

/** A Chromium that trusts the key of `certFile` only, with QUIC on and localhost allowed a private root. */
async function browser(certFile: string, extra: string[] = []) {
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // localhost would be tried on ::1 first; the connector listens on 127.0.0.1.
      "--host-resolver-rules=MAP localhost 127.0.0.1",
      `--ignore-certificate-errors-spki-list=${spki(certFile)}`,
      "--enable-quic",
      ...extra,
    ],
  });
}

describe("HTTP/3 in Chromium (Bun native)", () => {
  test.skipIf(!existsSync(CHROMIUM))(
    "Alt-Svc moves Chromium from h2 to h3; whole 1 MiB bodies over h3; a reload changes the QUIC certificate",
    async () => {
      const base = tempDir("bobcat-h3-");
      dirs.push(base);
      copyLocalhostCertificate(base, "rsa");
      const [port, elsewhere] = [await freePort(), await freePort()];
      const s = await startBobcat({
        runtime: "bun",
        base,
        files: { "app.ts": APP },
        config: tlsAppConfig(port, COPIED_CERTIFICATE_HOST, {
          connector: `          http3: true\n${HTTP2_CONNECTOR}`,
          contexts: `              - { path: "", handler: app.ts }\n`,
        }),
      });
      const origin = `https://localhost:${port}`;
      let b = await browser("localhost-rsa.pem", [`--origin-to-force-quic-on=localhost:${elsewhere}`]);
      try {
        const page = await b.newPage();
        const nav = await page.goto(`${origin}/`);
        expect(nav?.status()).toBe(200);
        // Nothing was known of h3 before the page: it came over TCP, with the Alt-Svc header.
        expect(await nav!.headerValue("alt-svc")).toBe(`h3=":${port}"; ma=86400`);
        const first = await page.evaluate(() =>
          (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).nextHopProtocol
        );
        expect(first).toBe("h2");
        // Chromium moves to the advertised alternative for the next requests (bounded wait).
        let proto = "";
        for (let i = 0; i < 20 && proto !== "h3"; i++) {
          proto = await page.evaluate(async () => {
            performance.clearResourceTimings();
            await (await fetch("/", { cache: "no-store" })).text();
            return (performance.getEntriesByType("resource")[0] as PerformanceResourceTiming).nextHopProtocol;
          });
          if (proto !== "h3") await Bun.sleep(100);
        }
        expect(proto).toBe("h3");

        // 32 responses of 1 MiB, 16 at a time, over h3: every one whole, every one over h3.
        const r = await page.evaluate(async () => {
          performance.clearResourceTimings();
          let next = 0;
          const lengths: number[] = [];
          let wrong = 0;
          await Promise.all(Array.from({ length: 16 }, async () => {
            while (next < 32) {
              next++;
              const res = await fetch("/big", { cache: "no-store" });
              const body = new Uint8Array(await res.arrayBuffer());
              lengths.push(body.length);
              if (res.status !== 200 || body.some((c) => c !== 120)) wrong++;
            }
          }));
          const protocols = (performance.getEntriesByType("resource") as PerformanceResourceTiming[]).map((e) =>
            e.nextHopProtocol
          );
          return { lengths, wrong, protocols };
        });
        expect(r.lengths).toEqual(Array(32).fill(1 << 20));
        expect(r.wrong).toBe(0);
        expect(r.protocols).toEqual(Array(32).fill("h3"));
        await b.close();

        // SIGHUP with an EC certificate in place: QUIC presents it (a browser trusting only the EC
        // key gets the page over h3), and no longer the RSA one.
        copyLocalhostCertificate(base, "ec");
        s.proc.kill("SIGHUP");
        await waitUntil(() => s.output().includes(": reloaded "));
        expect(s.output()).toContain(": reloaded ");
        const forced = [`--origin-to-force-quic-on=localhost:${port}`];
        for (const [cert, loads] of [["localhost-ec.pem", true], ["localhost-rsa.pem", false]] as const) {
          b = await browser(cert, forced);
          const p = await b.newPage();
          const res = await p.goto(`${origin}/`).catch((e: Error) => e);
          if (loads) {
            expect(res instanceof Error ? res.message : res?.status()).toBe(200);
            expect(
              await p.evaluate(() =>
                (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).nextHopProtocol
              ),
            ).toBe("h3");
          } else {
            expect(res).toBeInstanceOf(Error);
          }
          await b.close();
        }
      } finally {
        await b.close();
        expect(await s.stop()).toBe(0);
      }
    },
    120_000,
  );
});
