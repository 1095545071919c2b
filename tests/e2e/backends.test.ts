/**
 * Back-end planning against real listeners: the feature set of a connector picks native or
 * node-compat per runtime, and a feature no back-end of the runtime can do stops start-up
 * with a message naming the feature, the connector, the runtime and one that can.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  localhostCertificate,
  opensslConnect,
  PKI,
  ROOT_PAGE_CONTEXT,
  runCli,
  type Runtime,
  RUNTIMES,
  startBobcat,
  tempDir,
  tlsAppConfig,
  writeFiles,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const rsa = localhostCertificate("rsa");
const ec = localhostCertificate("ec");

function config(port: number, hostConfigs: string): string {
  return tlsAppConfig(port, hostConfigs, { contexts: ROOT_PAGE_CONTEXT });
}

async function sClient(port: number, extra: string[]) {
  const r = await opensslConnect(port, { caFile: join(PKI, "ca.pem"), args: extra });
  return r.stdout + r.stderr;
}

const keyBits = (out: string) => /Server public key is (\d+) bit/.exec(out)?.[1];

async function withServer(runtime: Runtime, hostConfigs: string, fn: (port: number, log: string) => Promise<void>) {
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  const s = await startBobcat({ runtime, base, config: config(port, hostConfigs) });
  try {
    await fn(port, s.output());
  } finally {
    expect(await s.stop()).toBe(0);
  }
}

const sniConfigs = `            - hostName: _default_
              certificates:
                - ${rsa}
            - hostName: "*.localhost"
              certificates:
                - ${ec}`;

describe("SNI with several SSLHostConfigs", () => {
  for (const runtime of RUNTIMES) {
    test(`${runtime}: the certificate follows the SNI name (wildcard and default)`, async () => {
      await withServer(runtime, sniConfigs, async (port, log) => {
        expect(log).toContain(
          runtime === "bun"
            ? "native Bun.serve"
            : "node-compat back-end, because the native one cannot do: several SSLHostConfigs chosen by SNI",
        );
        const www = await sClient(port, ["-servername", "www.localhost"]);
        expect(keyBits(www)).toBe("256");
        expect(www).toContain("Verify return code: 0 (ok)");
        const def = await sClient(port, ["-servername", "localhost"]);
        expect(keyBits(def)).toBe("2048");
        const none = await sClient(port, ["-noservername"]);
        expect(keyBits(none)).toBe("2048");
      });
    });
  }
});

describe("protocol limits", () => {
  for (const runtime of RUNTIMES) {
    test(`${runtime}: protocols "+TLSv1.3" refuses TLS 1.2`, async () => {
      await withServer(
        runtime,
        `            - protocols: "+TLSv1.3"\n              certificates:\n                - ${rsa}`,
        async (port, log) => {
          if (runtime === "deno") expect(log).toContain("node-compat back-end");
          expect(await sClient(port, ["-tls1_3"])).toContain("Verify return code: 0 (ok)");
          expect(await sClient(port, ["-tls1_2"])).toContain("Cipher is (NONE)");
        },
      );
    });
  }
});

describe("RSA and EC certificates for one host", () => {
  test("bun: the client gets the certificate its signature algorithms support", async () => {
    await withServer(
      "bun",
      `            - certificates:\n                - type: RSA\n                  ${rsa}\n                - type: EC\n                  ${ec}`,
      async (port) => {
        expect(keyBits(await sClient(port, ["-tls1_2", "-sigalgs", "ECDSA+SHA256"]))).toBe("256");
        expect(keyBits(await sClient(port, ["-tls1_2", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"]))).toBe("2048");
      },
    );
  });

  test("deno: refused at start-up, naming the feature, the connector, the runtime and who can", async () => {
    const base = tempDir();
    dirs.push(base);
    const port = await freePort();
    writeFiles(base, {
      "s.yaml": config(
        port,
        `            - certificates:\n                - type: RSA\n                  ${rsa}\n                - type: EC\n                  ${ec}`,
      ),
    });
    const r = await runCli("deno", ["run", "--config", join(base, "s.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TLS feature "several certificates (RSA and EC) for one host"');
    expect(r.stderr).toContain(`connector https-jsse-nio-127.0.0.1-${port}`);
    expect(r.stderr).toContain("Deno 2.");
    expect(r.stderr).toMatch(/run bobcat on Bun/);
  });
});

describe("ciphers", () => {
  test("bun: a TLS 1.2 cipher list is applied", async () => {
    await withServer(
      "bun",
      `            - ciphers: ECDHE-RSA-AES256-GCM-SHA384\n              certificates:\n                - ${rsa}`,
      async (port) => {
        expect(await sClient(port, ["-tls1_2"])).toContain("Cipher is ECDHE-RSA-AES256-GCM-SHA384");
        expect(await sClient(port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])).toContain(
          "Cipher is (NONE)",
        );
      },
    );
  });

  test("deno: a cipher list is refused at start-up instead of being silently ignored", async () => {
    const base = tempDir();
    dirs.push(base);
    writeFiles(base, {
      "s.yaml": config(
        await freePort(),
        `            - ciphers: ECDHE-RSA-AES256-GCM-SHA384\n              certificates:\n                - ${rsa}`,
      ),
    });
    const r = await runCli("deno", ["check", "--config", join(base, "s.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TLS feature "a ciphers list"');
    expect(r.stderr).toContain("run bobcat on Bun or Node");
  });
});
