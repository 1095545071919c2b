/**
 * Two things of the TLS connectors users see on the wire: the http3 switch (QUIC on the same UDP
 * port and Alt-Svc on Bun.serve; a start-up error wherever it cannot be had), and a request that
 * says `Connection: close` answered with `Connection: close` and a TLS close_notify on every
 * back-end, so that clients going by the response (wrk) see a clean close.
 *
 * No HTTP/3 client runs here: Debian's curl 7.88 has no --http3, and Bun 1.4.5's fetch answers
 * `protocol: "http3"` with HTTP3Unsupported. The test checks what can be observed instead: the
 * Alt-Svc header and the UDP socket bound on the connector's port.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  httpGet,
  httpsConfig,
  opensslConnect,
  PKI,
  run,
  runCli,
  RUNTIMES,
  startBobcat,
  tempDir,
  writeFiles,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const HELLO = `export default { fetch: () => new Response("hello") };`;
const ROOT_CONTEXT = `              - path: ""
                handler: app.ts`;

/** Whether a UDP socket is bound to 127.0.0.1:port (from /proc/net/udp). */
function udpBound(port: number): boolean {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/udp", "utf8").split("\n").some((l) => l.trim().split(/\s+/)[1] === hex);
}

async function headers(port: number): Promise<string> {
  const r = await run(["curl", "-sS", "-i", "--cacert", join(PKI, "ca.pem"), `https://localhost:${port}/`]);
  return r.stdout;
}

describe("http3", () => {
  test("bun: http3 serves QUIC on the connector's UDP port and advertises it; off by default", async () => {
    const base = tempDir();
    dirs.push(base);
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    const cfg = httpsConfig(httpPort, httpsPort, { contexts: ROOT_CONTEXT, connectorExtra: "          http3: true" });
    const s = await startBobcat({ runtime: "bun", base, files: { "app.ts": HELLO }, config: cfg, connectors: 2 });
    try {
      expect(s.output()).toContain("HTTP/3 (http3");
      const h = await headers(httpsPort);
      expect(h).toContain("HTTP/1.1 200");
      expect(h.toLowerCase()).toContain(`alt-svc: h3=":${httpsPort}"`);
      expect(udpBound(httpsPort)).toBe(true);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    const off = await startBobcat({
      runtime: "bun",
      base,
      config: httpsConfig(httpPort, httpsPort, { contexts: ROOT_CONTEXT }),
      connectors: 2,
    });
    try {
      expect((await headers(httpsPort)).toLowerCase()).not.toContain("alt-svc");
      expect(udpBound(httpsPort)).toBe(false);
    } finally {
      await off.stop();
    }
  });

  test("refused clearly: on Deno, without TLS, and with settings that need node-compat", async () => {
    const base = tempDir();
    dirs.push(base);
    const check = async (runtime: "bun" | "deno", cfg: string, env: Record<string, string> = {}) => {
      writeFiles(base, { "app.ts": HELLO, "conf/server.yaml": cfg });
      return runCli(runtime, ["check", "--config", join(base, "conf/server.yaml"), "--base", base], { env });
    };
    const h3 = httpsConfig(18080, 18443, { contexts: ROOT_CONTEXT, connectorExtra: "          http3: true" });
    const deno = await check("deno", h3);
    expect(deno.code).not.toBe(0);
    expect(deno.output).toContain('TLS feature "HTTP/3 (http3');
    expect(deno.output).toContain("run bobcat on Bun");
    const plain = await check("bun", h3.replace("          redirectPort: 18443\n", "          http3: true\n"));
    expect(plain.code).not.toBe(0);
    expect(plain.output).toContain("needs TLS: HTTP/3 runs over QUIC only");
    const compat = await check("bun", h3, { BOBCAT_BACKEND: "node-compat" });
    expect(compat.code).not.toBe(0);
    expect(compat.output).toContain("http3 on connector");
    expect(compat.output).toContain("needs the native Bun.serve back-end");
    const limited = await check(
      "bun",
      h3.replace("          http3: true", "          http3: true\n          maxConnections: 50"),
    );
    expect(limited.code).not.toBe(0);
    expect(limited.output).toContain("only node-compat can do: maxConnections");
  });
});

for (const runtime of RUNTIMES) {
  for (const backend of ["native", "node-compat"] as const) {
    test(`${runtime} ${backend}: Connection: close is answered with Connection: close, then close_notify`, async () => {
      const base = tempDir();
      dirs.push(base);
      const [httpPort, httpsPort] = [await freePort(), await freePort()];
      const s = await startBobcat({
        runtime,
        base,
        files: { "app.ts": HELLO },
        config: httpsConfig(httpPort, httpsPort, { contexts: ROOT_CONTEXT }),
        connectors: 2,
        env: backend === "node-compat" ? { BOBCAT_BACKEND: "node-compat" } : {},
      });
      try {
        const r = await opensslConnect(httpsPort, {
          servername: "localhost",
          args: ["-msg", "-ign_eof"],
          stdin: httpGet(),
        });
        expect(r.stdout).toContain("HTTP/1.1 200");
        expect(r.stdout).toMatch(/^connection: close\r?$/im);
        // The server's own close_notify ("<<<" = received) ends the connection.
        expect(r.stdout + r.stderr).toMatch(/<<< TLS 1\.3, Alert \[length 0002\], warning close_notify/);
      } finally {
        await s.stop();
      }
    });
  }
}
