/**
 * End to end: the real CLI under Bun and under Deno, real listeners on loopback, real clients
 * (fetch trusting the test CA, curl, openssl s_client).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  httpsConfig,
  opensslConnect,
  PKI,
  run,
  type Running,
  RUNTIMES,
  startBobcat,
  tempDir,
  tfetch,
} from "../helpers/bobcat.ts";

for (const runtime of RUNTIMES) {
  describe(`bobcat run under ${runtime}`, () => {
    let server: Running;
    let httpPort: number;
    let httpsPort: number;

    beforeAll(async () => {
      httpPort = await freePort();
      httpsPort = await freePort();
      const base = tempDir();
      server = await startBobcat({
        runtime,
        base,
        connectors: 2,
        files: {
          "webapps/site/index.html": "<!doctype html><title>site</title><h1>static site</h1>",
          "webapps/site/big.bin": new Uint8Array(300_000).map((_, i) => i % 251),
          "apps/echo.ts": `export default { async fetch(req, ctx) {
            const body = req.method === "POST" ? await req.text() : null;
            return Response.json({ path: new URL(req.url).pathname, secure: ctx.secure, scheme: ctx.scheme, remoteAddr: ctx.remoteAddr, serverPort: ctx.serverPort, body });
          } };`,
        },
        config: httpsConfig(httpPort, httpsPort, {
          hostExtra: `            valves:
              - className: AccessLogValve
                directory: logs
                pattern: common
                buffered: false`,
          contexts: `              - path: ""
                handler: bobcat:root
              - path: /site
                docBase: site
                hstsEnabled: true
                hstsMaxAgeSeconds: 3600
              - path: /echo
                handler: ${join(base, "apps/echo.ts")}
              - path: /secure
                docBase: site
                securityConstraints:
                  - urlPatterns: ["/*"]
                    transportGuarantee: CONFIDENTIAL`,
        }),
      });
    });

    afterAll(async () => {
      if (!server) return;
      const code = await server.stop();
      expect(code).toBe(0);
      cleanup(server.base);
    });

    test("serves the ROOT page over HTTPS with the full chain (fetch trusting the test CA)", async () => {
      const res = await tfetch(`https://localhost:${httpsPort}/`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain("bobcat is running");
      expect(html).toContain("HTTPS");
    });

    test("curl with --cacert, and the access log records the request", async () => {
      const r = await run([
        "curl",
        "-sS",
        "--cacert",
        join(PKI, "ca.pem"),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{scheme}",
        `https://localhost:${httpsPort}/site/`,
      ]);
      expect(r.stdout).toBe("200 HTTPS");
      const logDir = join(server.base, "logs");
      const deadline = Date.now() + 5000;
      let text = "";
      while (Date.now() < deadline) {
        const files = existsSync(logDir) ? (await Array.fromAsync(new Bun.Glob("*").scan(logDir))) : [];
        text = files.map((f) => readFileSync(join(logDir, f), "utf8")).join("");
        if (text.includes("GET /site/ HTTP/1.1")) break;
        await Bun.sleep(100);
      }
      expect(text).toMatch(/^127\.0\.0\.1 - - \[[^\]]+\] "GET \/site\/ HTTP\/1\.1" 200 \d+$/m);
    });

    test("the access log counts the bytes of bobcat's error page (404), and none for a HEAD", async () => {
      const url = `https://localhost:${httpsPort}/site/nothing-here.html`;
      const get = await run([
        "curl",
        "-sS",
        "--cacert",
        join(PKI, "ca.pem"),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
        url,
      ]);
      const [status, size] = get.stdout.split(" ");
      expect(status).toBe("404");
      expect(Number(size)).toBeGreaterThan(0);
      const head = await run([
        "curl",
        "-sS",
        "-I",
        "--cacert",
        join(PKI, "ca.pem"),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        url,
      ]);
      expect(head.stdout).toBe("404");
      const logDir = join(server.base, "logs");
      const deadline = Date.now() + 5000;
      let text = "";
      while (Date.now() < deadline) {
        const files = await Array.fromAsync(new Bun.Glob("*").scan(logDir));
        text = files.map((f) => readFileSync(join(logDir, f), "utf8")).join("");
        if (text.includes("HEAD /site/nothing-here.html")) break;
        await Bun.sleep(100);
      }
      expect(text).toMatch(new RegExp(`"GET /site/nothing-here\\.html HTTP/1\\.1" 404 ${size}$`, "m"));
      expect(text).toMatch(/"HEAD \/site\/nothing-here\.html HTTP\/1\.1" 404 -$/m);
    });

    test("openssl s_client verifies the chain (leaf + intermediate) with TLS 1.3 and 1.2", async () => {
      for (const v of ["-tls1_3", "-tls1_2"]) {
        const r = await opensslConnect(httpsPort, {
          servername: "localhost",
          caFile: join(PKI, "ca.pem"),
          verify: true,
          args: ["-showcerts", v],
        });
        expect(r.stdout).toContain("Verify return code: 0 (ok)");
        expect(r.stdout).toContain("CN = bobcat Test Intermediate CA");
        expect((r.stdout.match(/BEGIN CERTIFICATE/g) ?? []).length).toBe(2);
      }
    });

    test("TLS 1.1 and static-RSA suites are refused", async () => {
      const old = await opensslConnect(httpsPort, { args: ["-tls1_1"] });
      expect(old.stdout).toContain("Cipher is (NONE)");
      expect(old.stderr).toMatch(/alert (protocol version|handshake failure)/);
      const rsa = await opensslConnect(httpsPort, { args: ["-tls1_2", "-cipher", "AES128-SHA"] });
      expect(rsa.stdout).not.toMatch(/Cipher is AES128-SHA/);
    });

    test("plain HTTP is redirected to redirectPort for CONFIDENTIAL paths (302)", async () => {
      const res = await tfetch(`http://127.0.0.1:${httpPort}/secure/index.html?x=1`);
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe(`https://127.0.0.1:${httpsPort}/secure/index.html?x=1`);
      const ok = await tfetch(`https://localhost:${httpsPort}/secure/index.html`);
      expect(ok.status).toBe(200);
    });

    test("static files: ETag/304, Range/206, HEAD; HSTS on HTTPS", async () => {
      const first = await tfetch(`https://localhost:${httpsPort}/site/big.bin`);
      expect(first.status).toBe(200);
      expect(first.headers.get("strict-transport-security")).toBe("max-age=3600");
      expect((await first.arrayBuffer()).byteLength).toBe(300_000);
      const etag = first.headers.get("etag")!;
      const again = await tfetch(`https://localhost:${httpsPort}/site/big.bin`, { headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
      const range = await tfetch(`https://localhost:${httpsPort}/site/big.bin`, { headers: { range: "bytes=10-19" } });
      expect(range.status).toBe(206);
      expect(range.headers.get("content-range")).toBe("bytes 10-19/300000");
      expect([...new Uint8Array(await range.arrayBuffer())]).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      const head = await tfetch(`https://localhost:${httpsPort}/site/big.bin`, { method: "HEAD" });
      expect(head.headers.get("content-length")).toBe("300000");
    });

    test("handler module sees the request context; POST bodies arrive", async () => {
      const res = await tfetch(`https://localhost:${httpsPort}/echo/x`, { method: "POST", body: "payload" });
      const j = await res.json();
      expect(j).toEqual({
        path: "/x",
        secure: true,
        scheme: "https",
        remoteAddr: "127.0.0.1",
        serverPort: httpsPort,
        body: "payload",
      });
      const plain = await (await tfetch(`http://127.0.0.1:${httpPort}/echo/y`)).json();
      expect(plain).toMatchObject({ secure: false, scheme: "http" });
    });

    test("404 page and unknown host falls back to defaultHost", async () => {
      const res = await tfetch(`https://localhost:${httpsPort}/no/such/thing`);
      expect(res.status).toBe(404);
      const other = await run([
        "curl",
        "-sS",
        "--cacert",
        join(PKI, "ca.pem"),
        "-H",
        "Host: unknown.example",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        `https://localhost:${httpsPort}/`,
      ]);
      expect(other.stdout).toBe("200");
    });

    test("the start-up log names the back-end and why", () => {
      expect(server.output()).toMatch(
        /https-jsse-nio-127\.0\.0\.1-\d+ listening on https:\/\/127\.0\.0\.1:\d+\/ — native/,
      );
    });
  });
}
