/**
 * Cipher and session settings of <SSLHostConfig> on real listeners, and Node as the third
 * runtime for what only its TLS stack can do (TLS 1.3 suite restriction).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  opensslConnect,
  PKI,
  ROOT_PAGE_CONTEXT,
  runCli,
  type Runtime,
  sslHostAttributes,
  sslHostConfig,
  startBobcat,
  tempDir,
  tlsAppConfig,
  writeFiles,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

function config(port: number, hostAttrs: string): string {
  return tlsAppConfig(port, sslHostConfig(undefined, sslHostAttributes(hostAttrs)), { contexts: ROOT_PAGE_CONTEXT });
}

async function serve(
  runtime: Runtime,
  hostAttrs: string,
  fn: (port: number, log: string) => Promise<void>,
  args: string[] = ["run"],
) {
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  const s = await startBobcat({ runtime, base, args, config: config(port, hostAttrs) });
  try {
    await fn(port, s.output());
  } finally {
    expect(await s.stop()).toBe(0);
  }
}

const sClient = async (port: number, extra: string[]) =>
  (await opensslConnect(port, { caFile: join(PKI, "ca.pem"), args: extra })).stdout;

async function refused(runtime: Runtime, hostAttrs: string) {
  const base = tempDir();
  dirs.push(base);
  writeFiles(base, { "s.yaml": config(await freePort(), hostAttrs) });
  return runCli(runtime, ["check", "--config", join(base, "s.yaml")]);
}

describe("ciphers", () => {
  test("IANA (JSSE) names are mapped to OpenSSL names", async () => {
    await serve(
      "bun",
      "ciphers: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
      async (port) => {
        expect(await sClient(port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"])).toContain(
          "Cipher is ECDHE-RSA-AES256-GCM-SHA384",
        );
        expect(await sClient(port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])).toContain(
          "Cipher is (NONE)",
        );
      },
    );
  });

  test("unknown names and strings that select nothing are start-up errors (not a silent TLS 1.3-only server)", async () => {
    const unknown = await refused("bun", "ciphers: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256X,TLS_FOO");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(
      "None of these [ciphers] are known: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256X, TLS_FOO",
    );
    const none = await refused("bun", "ciphers: NOSUCHCIPHER:ALSONOT");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("None of the [ciphers] specified are supported by the SSL engine");
  });

  test("honorCipherOrder: the server's order wins", async () => {
    const order = "ciphers: ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256";
    const client = ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"];
    await serve("bun", `${order}\nhonorCipherOrder: true`, async (port) => {
      expect(await sClient(port, client)).toContain("Cipher is ECDHE-RSA-AES256-GCM-SHA384");
    });
    await serve("bun", order, async (port) => {
      expect(await sClient(port, client)).toContain("Cipher is ECDHE-RSA-AES128-GCM-SHA256");
    });
  });

  test("disableSessionTickets: no ticket is issued", async () => {
    await serve("bun", "disableSessionTickets: true", async (port) => {
      expect(await sClient(port, ["-tls1_2"])).not.toContain("TLS session ticket:");
    });
    await serve("bun", "protocols: TLSv1.2+TLSv1.3", async (port) => {
      expect(await sClient(port, ["-tls1_2"])).toContain("TLS session ticket:");
    });
  });
});

describe("TLS 1.3 cipherSuites: Node only", () => {
  test("bun and deno refuse it at start-up, naming Node", async () => {
    for (const runtime of ["bun", "deno"] as Runtime[]) {
      const r = await refused(runtime, "cipherSuites: TLS_AES_256_GCM_SHA384");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('TLS feature "a TLS 1.3 cipherSuites restriction"');
      expect(r.stderr).toContain("Node (--runtime node)");
    }
  });

  test("--runtime node serves it: only the configured TLS 1.3 suite is accepted", async () => {
    await serve(
      "bun",
      "cipherSuites: TLS_AES_256_GCM_SHA384",
      async (port, log) => {
        expect(log).toContain("on Node ");
        expect(await sClient(port, ["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"])).toContain(
          "Cipher is TLS_AES_256_GCM_SHA384",
        );
        expect(await sClient(port, ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"])).toContain(
          "Cipher is (NONE)",
        );
      },
      ["run", "--runtime", "node"],
    );
  });
});

describe("handshake debug logging (logging.components.handshake: debug)", () => {
  for (const runtime of ["bun", "deno"] as Runtime[]) {
    test(`${runtime}: each failed handshake is logged with address, port, SNI, protocols and reason`, async () => {
      const base = tempDir();
      dirs.push(base);
      const port = await freePort();
      const s = await startBobcat({
        runtime,
        base,
        config: `logging: { components: { handshake: debug } }\n` + config(port, "protocols: TLSv1.2+TLSv1.3"),
      });
      try {
        expect(s.output()).toContain("handshake debug logging");
        await sClient(port, ["-servername", "www.example.test", "-tls1_1"]);
        await sClient(port, ["-tls1_2", "-cipher", "AES128-SHA"]);
        const deadline = Date.now() + 5000;
        while (!/NO_SHARED_CIPHER|HANDSHAKE_FAILURE/i.test(s.output()) && Date.now() < deadline) await Bun.sleep(50);
        const out = s.output();
        // Deno's TLS stack (rustls) fails before it reads the SNI name; OpenSSL and BoringSSL after.
        const sni = runtime === "deno" ? "none" : "www\\.example\\.test";
        expect(out).toMatch(
          new RegExp(
            `Handshake failed for client connection from IP address \\[127\\.0\\.0\\.1\\] and port \\[\\d+\\], SNI \\[${sni}\\].*offered no protocol this host enables`,
          ),
        );
        expect(out).toMatch(
          /port \[\d+\], SNI \[none\].*(no cipher suite or signature algorithm in common|offered no protocol)/,
        );
      } finally {
        await s.stop();
      }
    });
  }
});

test("deno refuses what neither of its back-ends can do, instead of ignoring it", async () => {
  for (
    const [attr, feature] of [
      ["honorCipherOrder: true", "honorCipherOrder"],
      ["disableSessionTickets: true", "disableSessionTickets"],
      ["sessionTimeout: 300", "a sessionTimeout other than 86400"],
      ["ciphers: ECDHE-RSA-AES128-GCM-SHA256", "a ciphers list"],
    ]
  ) {
    const r = await refused("deno", attr!);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`TLS feature "${feature}"`);
    expect(r.stderr).toContain("is not supported on Deno");
  }
});
