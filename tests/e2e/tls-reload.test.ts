/**
 * Reloading certificates without a restart (SIGHUP, as Tomcat's reloadSslHostConfigs): new
 * handshakes get the new certificate, a request in flight finishes, a broken new file keeps
 * the old certificate. Under Bun (native and node-compat) and Deno.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  COPIED_CERTIFICATE_HOST,
  copyLocalhostCertificate,
  freePort,
  opensslConnect,
  PKI,
  type Runtime,
  startBobcat,
  tempDir,
  tlsAppConfig,
  waitUntil,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const keyBits = async (port: number) => {
  const r = await opensslConnect(port, { caFile: join(PKI, "ca.pem") });
  return /Server public key is (\d+) bit/.exec(r.stdout)?.[1];
};

const waitFor = (pred: () => boolean | Promise<boolean>, ms = 10000) => waitUntil(pred, ms);

const CASES: Array<{ runtime: Runtime; extra: string; label: string }> = [
  { runtime: "bun", extra: "", label: "bun native" },
  { runtime: "bun", extra: "          maxConnections: 100\n", label: "bun node-compat" },
  { runtime: "deno", extra: "", label: "deno native" },
];

describe("certificate reload on SIGHUP", () => {
  for (const c of CASES) {
    test(c.label, async () => {
      const base = tempDir();
      dirs.push(base);
      copyLocalhostCertificate(base, "rsa");
      const port = await freePort();
      const s = await startBobcat({
        runtime: c.runtime,
        base,
        files: {
          "slow.ts":
            `export default { async fetch() { await new Promise((r) => setTimeout(r, 1500)); return new Response("slow done"); } };`,
        },
        config: tlsAppConfig(port, COPIED_CERTIFICATE_HOST, {
          connector: c.extra,
          contexts: `              - { path: "", handler: slow.ts }\n`,
        }),
      });
      try {
        expect(await keyBits(port)).toBe("2048");
        const inFlight = fetch(
          `https://localhost:${port}/`,
          { tls: { ca: await Bun.file(join(PKI, "ca.pem")).text() } } as RequestInit,
        ).then((r) => r.text());
        await Bun.sleep(200);
        copyLocalhostCertificate(base, "ec");
        s.proc.kill("SIGHUP");
        expect(await waitFor(() => s.output().includes(": reloaded "))).toBe(true);
        expect(await inFlight).toBe("slow done");
        expect(await waitFor(async () => (await keyBits(port)) === "256")).toBe(true);
        // A broken file: the old (EC) certificate stays in service.
        writeFileSync(join(base, "key.pem"), "not a key");
        s.proc.kill("SIGHUP");
        expect(await waitFor(() => s.output().includes("kept the old TLS material"))).toBe(true);
        expect(await keyBits(port)).toBe("256");
      } finally {
        expect(await s.stop()).toBe(0);
      }
    });
  }
});
