/**
 * Keystores made by the real keytool and openssl serve HTTPS that `openssl s_client
 * -verify_return_error` accepts with the test CA, under Bun and Deno; and the classic start-up
 * errors reach the user through the CLI with Tomcat's meaning and a fix.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  opensslConnect,
  ROOT,
  ROOT_PAGE_CONTEXT,
  run,
  runCli,
  RUNTIMES,
  startBobcat,
  tempDir,
  tlsAppConfig,
  writeFiles,
} from "../helpers/bobcat.ts";

const KS = join(ROOT, "tests/fixtures/keystores");
const CA = join(KS, "pem/root-ca.pem");
const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

function config(port: number, certificate: string): string {
  return tlsAppConfig(
    port,
    `            - certificates:\n                - ${certificate.trim().split("\n").join("\n                  ")}`,
    { contexts: ROOT_PAGE_CONTEXT },
  );
}

/** `selfSigned`: keytool made these entries with -genkeypair alone, so only their identity is checked. */
const CASES: Array<{ name: string; cert: string; bits: string; selfSigned?: string }> = [
  {
    name: "keytool JKS, RSA, alias tomcat",
    cert: `certificateKeystoreFile: ${KS}/keytool-rsa.jks\ncertificateKeystoreType: JKS\ncertificateKeyAlias: tomcat`,
    bits: "2048",
  },
  {
    name: "keytool JKS, EC key with its own key password",
    cert: `certificateKeystoreFile: ${KS}/keytool-rsa.jks\ncertificateKeyAlias: EC\ncertificateKeyPassword: ecpass12`,
    bits: "256",
    selfSigned: "CN = ec.localhost",
  },
  {
    name: "keytool PKCS12, EC (default alias: first key entry)",
    cert: `certificateKeystoreFile: ${KS}/keytool-ec.p12`,
    bits: "256",
  },
  {
    name: "keytool PKCS12, several entries, alias second",
    cert: `certificateKeystoreFile: ${KS}/keytool-rsa.p12\ncertificateKeyAlias: second`,
    bits: "2048",
    selfSigned: "CN = second.localhost",
  },
  {
    name: "openssl pkcs12 -export -chain",
    cert: `certificateKeystoreFile: ${KS}/openssl-rsa.p12\ncertificateKeystorePassword: changeit`,
    bits: "2048",
  },
  {
    name: "openssl pkcs12 -export -legacy (3DES/RC2)",
    cert: `certificateKeystoreFile: ${KS}/openssl-rsa-legacy.p12`,
    bits: "2048",
  },
  {
    name: "openssl pkcs12 -legacy, EC P-384",
    cert: `certificateKeystoreFile: ${KS}/openssl-ec384-legacy.p12`,
    bits: "384",
  },
  {
    name: "PEM, encrypted PKCS#8 key + chain file",
    cert:
      `certificateFile: ${KS}/pem/rsa-cert.pem\ncertificateKeyFile: ${KS}/pem/rsa-key-pkcs8-aes256.pem\ncertificateKeyPassword: changeit\ncertificateChainFile: ${KS}/pem/intermediate-ca.pem`,
    bits: "2048",
  },
  {
    name: "PEM, PKCS#1 key, fullchain in one file",
    cert: `certificateFile: ${KS}/pem/rsa-fullchain.pem\ncertificateKeyFile: ${KS}/pem/rsa-key-pkcs1.pem`,
    bits: "2048",
  },
];

for (const runtime of RUNTIMES) {
  describe(`keystores serve HTTPS under ${runtime}`, () => {
    for (const c of CASES) {
      test(c.name, async () => {
        const base = tempDir();
        dirs.push(base);
        const port = await freePort();
        const s = await startBobcat({ runtime, base, config: config(port, c.cert) });
        try {
          const r = await opensslConnect(port, {
            servername: "localhost",
            caFile: CA,
            verify: !c.selfSigned,
            args: ["-showcerts"],
          });
          if (c.selfSigned) {
            expect(r.stdout).toContain(`0 s:${c.selfSigned}`);
            expect(/Server public key is (\d+) bit/.exec(r.stdout)?.[1]).toBe(c.bits);
            return;
          }
          expect(r.stdout).toContain("Verify return code: 0 (ok)");
          expect(/Server public key is (\d+) bit/.exec(r.stdout)?.[1]).toBe(c.bits);
          // Leaf and intermediate are both sent.
          expect((r.stdout.match(/BEGIN CERTIFICATE/g) ?? []).length).toBeGreaterThanOrEqual(2);
        } finally {
          expect(await s.stop()).toBe(0);
        }
      });
    }
  });
}

describe("the seed's three start-up errors, through the CLI", () => {
  const check = async (cert: string) => {
    const base = tempDir();
    dirs.push(base);
    writeFiles(base, { "conf/server.yaml": config(await freePort(), cert) });
    return runCli("bun", ["check", "--config", join(base, "conf/server.yaml"), "--base", base]);
  };

  test("keystore file not found: resolved absolute path, attribute, base", async () => {
    const r = await check("certificateKeystoreFile: conf/missing.jks");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/conf\/server\.yaml:\d+:\d+/);
    expect(r.stderr).toContain("/conf/missing.jks");
    expect(r.stderr).toContain("certificateKeystoreFile");
  });

  test("wrong store password: Keystore was tampered with, or password was incorrect", async () => {
    const r = await check(
      `certificateKeystoreFile: ${KS}/keytool-rsa.jks\ncertificateKeystorePassword: wrong-password`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Keystore was tampered with, or password was incorrect");
    expect(r.stderr).toContain("fix:");
  });

  test("no key entry for certificateKeyAlias: lists the aliases that exist", async () => {
    const r = await check(`certificateKeystoreFile: ${KS}/keytool-rsa.p12\ncertificateKeyAlias: nosuch`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Alias name [nosuch] does not identify a key entry");
    expect(r.stderr).toContain("tomcat");
    expect(r.stderr).toContain("second");
  });

  test("a truststore used as a keystore", async () => {
    const r = await check(`certificateKeystoreFile: ${KS}/truststore.p12`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not identify a key entry|No aliases for private keys/);
  });
});

test("bobcat keytool: the seed's walk-through, then the server starts with that keystore", async () => {
  const d = tempDir();
  dirs.push(d);
  const ks = join(d, "keystore.p12");
  const kt = (...a: string[]) =>
    runCli("bun", ["keytool", ...a, "-keystore", ks, "-storepass", "changeit", "-noprompt"], { cwd: d });
  expect(
    (await kt(
      "-genkey",
      "-alias",
      "tomcat",
      "-keyalg",
      "RSA",
      "-dname",
      "CN=localhost, O=bobcat test",
      "-ext",
      "SAN=dns:localhost,ip:127.0.0.1",
    )).code,
  ).toBe(0);
  expect((await kt("-certreq", "-alias", "tomcat", "-file", join(d, "tomcat.csr"))).code).toBe(0);
  // A CA signs the request (openssl plays the CA of the seed, with the committed test PKI).
  const pki = join(ROOT, "tests/fixtures/pki");
  const sign = await run([
    "openssl",
    "x509",
    "-req",
    "-in",
    join(d, "tomcat.csr"),
    "-CA",
    join(pki, "intermediate.pem"),
    "-CAkey",
    join(pki, "intermediate-key.pem"),
    "-set_serial",
    "0x7001",
    "-days",
    "30",
    "-out",
    join(d, "tomcat.crt"),
    "-copy_extensions",
    "copy",
  ]);
  expect(sign.code).toBe(0);
  expect((await kt("-import", "-alias", "root", "-trustcacerts", "-file", join(pki, "ca.pem"))).code).toBe(0);
  expect((await kt("-import", "-alias", "intermediate", "-trustcacerts", "-file", join(pki, "intermediate.pem"))).code)
    .toBe(0);
  const reply = await kt("-import", "-alias", "tomcat", "-trustcacerts", "-file", join(d, "tomcat.crt"));
  expect(reply.code).toBe(0);
  expect(reply.output).toContain("Certificate reply was installed in keystore");
  const port = await freePort();
  const s = await startBobcat({
    runtime: "bun",
    base: d,
    config: config(port, `certificateKeystoreFile: ${ks}\ncertificateKeyAlias: tomcat`),
  });
  try {
    const r = await opensslConnect(port, { caFile: join(pki, "ca.pem"), verify: true, args: ["-showcerts"] });
    expect(r.stdout).toContain("Verify return code: 0 (ok)");
    expect(r.stdout).toContain("CN = bobcat Test Intermediate CA");
  } finally {
    await s.stop();
  }
});
