/**
 * HTTP/3 (Bun.serve's QUIC listener) beside client certificates, attacked with a real QUIC
 * client: Chromium forced onto QUIC without a client certificate gets no page (the server ends
 * the handshake with certificate_required), while the same client gets the page from a
 * connector without client certificates (so it was QUIC). A connector whose protocols leave out
 * TLS 1.3 cannot turn http3 on: QUIC would agree TLS 1.3 whatever the protocols say.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  clientCertificates,
  freePort,
  NATIVE_VERIFICATION,
  PKI,
  run,
  runCli,
  SERVER_NAME_APP,
  sslHostConfig,
  startBobcat,
  tempDirs,
  tlsAppConfig,
} from "../helpers/bobcat.ts";

const dirs = tempDirs("bobcat-attack-");
afterAll(dirs.removeAll);
const base = dirs.make;

describe("HTTP/3 beside client certificates (Bun native)", () => {
  const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  const spki = () => {
    const pem = readFileSync(join(PKI, "localhost-rsa.pem"), "utf8");
    const der = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
    return createHash("sha256").update(der).digest("base64");
  };
  /** Chromium forced onto QUIC for localhost:port, with no client certificate; the page text and the net log. */
  async function chromium(port: number, dir: string): Promise<{ page: string; log: string }> {
    const netlog = join(dir, `netlog-${port}.json`);
    const r = await run([
      CHROMIUM,
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      `--user-data-dir=${join(dir, `profile-${port}`)}`,
      "--enable-quic",
      `--origin-to-force-quic-on=localhost:${port}`,
      "--host-resolver-rules=MAP localhost 127.0.0.1",
      `--ignore-certificate-errors-spki-list=${spki()}`,
      `--log-net-log=${netlog}`,
      "--dump-dom",
      `https://localhost:${port}/`,
    ], { timeoutMs: 30000 });
    return { page: r.stdout, log: existsSync(netlog) ? readFileSync(netlog, "utf8") : "" };
  }

  /**
   * The names of the events a net log recorded. Its constants list every event type Chromium
   * knows, so a name found anywhere in the file proves nothing; the events carry numbers.
   */
  function eventsLogged(log: string): string[] {
    let parsed: { constants: { logEventTypes: Record<string, number> }; events: Array<{ type: number }> };
    try {
      parsed = JSON.parse(log);
    } catch {
      parsed = JSON.parse(log.trimEnd().replace(/,$/, "") + "]}"); // a log whose writer was cut short
    }
    const names = new Map(Object.entries(parsed.constants.logEventTypes).map(([k, v]) => [v, k]));
    return [...new Set(parsed.events.map((e) => names.get(e.type) ?? String(e.type)))];
  }

  test.skipIf(!existsSync(CHROMIUM))(
    "without a certificate QUIC is refused; without client certificates it serves",
    async () => {
      const [mtls, plain] = [await freePort(), await freePort()];
      const dir = base();
      const h3 = "          http3: true\n";
      const a = await startBobcat({
        runtime: "bun",
        base: dir,
        files: { "app.ts": SERVER_NAME_APP },
        config: tlsAppConfig(mtls, sslHostConfig("_default_", clientCertificates()), {
          ...NATIVE_VERIFICATION,
          connector: h3,
        }),
      });
      const b = await startBobcat({
        runtime: "bun",
        base: base(),
        files: { "app.ts": SERVER_NAME_APP },
        config: tlsAppConfig(plain, sslHostConfig("_default_"), { ...NATIVE_VERIFICATION, connector: h3 }),
      });
      try {
        expect(a.output()).toContain("HTTP/3 (http3");
        const [refused, served] = await Promise.all([chromium(mtls, dir), chromium(plain, dir)]);
        expect(refused.page).not.toContain("APP ");
        // The server ended the QUIC handshake with certificate_required.
        expect(refused.log).toContain("TLS alert 116");
        expect(eventsLogged(refused.log)).not.toContain("HTTP3_HEADERS_RECEIVED");
        // The same client, the same way, gets the page where no certificate is asked for: it was QUIC.
        expect(served.page).toContain("APP localhost");
        expect(eventsLogged(served.log)).toContain("HTTP3_HEADERS_RECEIVED");
      } finally {
        await a.stop();
        await b.stop();
      }
    },
    90_000,
  );

  test("a connector limited to TLS 1.2 cannot turn http3 on (QUIC would agree TLS 1.3)", async () => {
    const dir = base();
    const cfg = tlsAppConfig(await freePort(), sslHostConfig("_default_", "              protocols: TLSv1.2\n"), {
      ...NATIVE_VERIFICATION,
      connector: "          http3: true\n",
    });
    await Bun.write(join(dir, "server.yaml"), cfg);
    await Bun.write(join(dir, "app.ts"), SERVER_NAME_APP);
    const checked = await runCli("bun", ["check", "--config", join(dir, "server.yaml"), "--base", dir]);
    expect(checked.code).not.toBe(0);
    expect(checked.output).toContain("does not enable TLSv1.3");
    expect(checked.output).toContain("server.yaml:7:");
  }, 30_000);
});
