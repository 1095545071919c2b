/** loadCertificate(): every <Certificate> style, and every error with its file, attribute and fix. */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { type CertificateConfig, loadCertificate } from "../../src/tls/certificate.ts";
import { generateSelfSigned } from "../../src/tls/keystore/selfsigned.ts";
import { toPem } from "../../src/tls/keystore/pem.ts";
import { issueCertificate } from "../../src/tls/certgen/sign.ts";
import { keyInfo } from "../../src/tls/keystore/keys.ts";
import { x509 } from "../../src/tls/keystore/x509.ts";
import type { BobcatError } from "../../src/util/errors.ts";
import { bobcatKeytool, cleanupScratch, fixture, pem, PW, scratch } from "./helpers.ts";

afterAll(cleanupScratch);
const where = {
  file: "/srv/bobcat/conf/server.yaml",
  line: 12,
  path: "server.services[0].connectors[1].sslHostConfigs[0].certificates[0]",
};
// The chain's rawData parsed by @peculiar/x509: the loaded certificates are the real ones.
const CNs = (chain: { rawData: ArrayBuffer }[]) =>
  chain.map((c) => new x509.X509Certificate(c.rawData).subjectName.getField("CN")[0]);
const LEAF_INT = ["localhost", "Bobcat Test Intermediate CA"];

async function failure(cfg: CertificateConfig): Promise<BobcatError> {
  try {
    await loadCertificate(cfg, where);
  } catch (e) {
    return e as BobcatError;
  }
  throw new Error("loadCertificate succeeded");
}

describe("PEM files", () => {
  const keys = [
    "rsa-key-pkcs8.pem",
    "rsa-key-pkcs1.pem",
    "rsa-key-pkcs1-aes256.pem",
    "rsa-key-pkcs1-des3.pem",
    "rsa-key-pkcs1-des.pem",
    "rsa-key-pkcs8-aes256.pem",
    "rsa-key-pkcs8-aes128.pem",
    "rsa-key-pkcs8-des3-sha1.pem",
    "rsa-key-pkcs8-des3-sha256.pem",
  ];
  for (const k of keys) {
    test(`RSA key ${k} (password changeit where encrypted, ignored where not)`, async () => {
      const r = await loadCertificate({
        certificateFile: pem("rsa-cert.pem"),
        certificateKeyFile: pem(k),
        certificateChainFile: pem("intermediate-ca.pem"),
        certificateKeyPassword: PW,
      }, where);
      expect(r.keyType).toBe("RSA");
      expect(CNs(r.chain)).toEqual(LEAF_INT);
      expect(r.keyPem).toStartWith("-----BEGIN PRIVATE KEY-----");
      expect(r.warnings).toEqual([]);
    });
  }
  for (
    const [k, c] of [["ec-key-sec1.pem", "ec-cert.pem"], ["ec-key-sec1-aes256.pem", "ec-cert.pem"], [
      "ec-key-pkcs8.pem",
      "ec-cert.pem",
    ], ["ec384-key.pem", "ec384-cert.pem"]]
  ) {
    test(`EC key ${k}`, async () => {
      const r = await loadCertificate({
        certificateFile: pem(c),
        certificateKeyFile: pem(k),
        certificateKeyPasswordFile: pem("password.txt"),
      }, where);
      expect(r.keyType).toBe("EC");
      expect(r.chain.length).toBe(1);
    });
  }
  test("key and certificate in one file after OpenSSL's readable text; certificateKeyFile defaults to certificateFile", async () => {
    const r = await loadCertificate({
      certificateFile: pem("rsa-with-text.pem"),
      certificateChainFile: pem("intermediate-ca.pem"),
    }, where);
    expect(CNs(r.chain)).toEqual(LEAF_INT);
    expect(r.source).toContain("rsa-with-text.pem");
  });
  test("a chain in the certificate file itself", async () => {
    const r = await loadCertificate({
      certificateFile: pem("rsa-fullchain.pem"),
      certificateKeyFile: pem("rsa-key-pkcs8.pem"),
    }, where);
    expect(CNs(r.chain)).toEqual(LEAF_INT);
    expect(r.certPem.match(/BEGIN CERTIFICATE/g)?.length).toBe(2);
  });
  test("a fullchain.pem given as certificateChainFile: the repeated server certificate is dropped with a warning", async () => {
    const r = await loadCertificate({
      certificateFile: pem("rsa-cert.pem"),
      certificateKeyFile: pem("rsa-key-pkcs8.pem"),
      certificateChainFile: pem("rsa-fullchain.pem"),
    }, where);
    expect(CNs(r.chain)).toEqual(LEAF_INT);
    expect(r.warnings.join()).toContain("fullchain");
  });
  test("keyPem/certPem work with node:tls createSecureContext (RSA and EC, PEM and keystores)", async () => {
    const loaded = [
      await loadCertificate({
        certificateFile: pem("rsa-cert.pem"),
        certificateKeyFile: pem("rsa-key-pkcs1-aes256.pem"),
        certificateKeyPassword: PW,
      }, where),
      await loadCertificate({ certificateFile: pem("ec-cert.pem"), certificateKeyFile: pem("ec-key-sec1.pem") }, where),
      await loadCertificate(
        { certificateKeystoreFile: fixture("keytool-ec.jks"), certificateKeyAlias: "tomcat" },
        where,
      ),
      await loadCertificate({ certificateKeystoreFile: fixture("openssl-rsa-legacy.p12") }, where),
    ];
    for (const r of loaded) expect(() => createSecureContext({ key: r.keyPem, cert: r.certPem })).not.toThrow();
  });

  test("encrypted key without a password: Tomcat's message, attribute certificateKeyPassword", async () => {
    const e = await failure({
      certificateFile: pem("rsa-cert.pem"),
      certificateKeyFile: pem("rsa-key-pkcs8-aes256.pem"),
    });
    expect(e.code).toBe("pem.noPassword");
    expect(e.message).toContain("A password is required to decrypt the private key");
    expect(e.where).toMatchObject({ file: where.file, line: 12, attribute: "certificateKeyPassword" });
  });
  for (const k of ["rsa-key-pkcs8-aes256.pem", "rsa-key-pkcs1-des3.pem", "ec-key-sec1-aes256.pem"]) {
    test(`wrong key password (${k})`, async () => {
      const e = await failure({
        certificateFile: pem(k.startsWith("ec") ? "ec-cert.pem" : "rsa-cert.pem"),
        certificateKeyFile: pem(k),
        certificateKeyPassword: "Changeit",
      });
      expect(e.code).toBe("pem.badPassword");
      expect(e.where.attribute).toBe("certificateKeyPassword");
    });
  }
  test("certificateKeyPasswordFile wins over certificateKeyPassword", async () => {
    const r = await loadCertificate({
      certificateFile: pem("rsa-cert.pem"),
      certificateKeyFile: pem("rsa-key-pkcs8-aes256.pem"),
      certificateKeyPassword: "wrong",
      certificateKeyPasswordFile: pem("password.txt"),
    }, where);
    expect(r.keyType).toBe("RSA");
  });
  test("certificate that does not match the key", async () => {
    const e = await failure({ certificateFile: pem("rsa-cert.pem"), certificateKeyFile: pem("other-key.pem") });
    expect(e.code).toBe("certificate.keyMismatch");
    expect(e.message).toContain("does not match the private key");
    expect(e.fix).toContain("openssl");
  });
  test("a chain that does not link up", async () => {
    const e = await failure({
      certificateFile: pem("rsa-cert.pem"),
      certificateKeyFile: pem("rsa-key-pkcs8.pem"),
      certificateChainFile: pem("root-ca.pem"),
    });
    expect(e.code).toBe("certificate.chainBroken");
    expect(e.message).toContain("Bobcat Test Intermediate CA");
    expect(e.where.attribute).toBe("certificateChainFile");
  });
  test("missing files name the absolute path and the attribute", async () => {
    const e = await failure({ certificateFile: "/srv/bobcat/conf/nope.pem" });
    expect(e.code).toBe("certificate.fileNotFound");
    expect(e.message).toContain("/srv/bobcat/conf/nope.pem");
    expect(e.message).toContain("certificateFile");
    expect(e.where.attribute).toBe("certificateFile");
  });
  test("no key in the file, no certificate in the file", async () => {
    expect((await failure({ certificateFile: pem("rsa-cert.pem") })).code).toBe("pem.noKey");
    expect((await failure({ certificateFile: pem("rsa-key-pkcs8.pem") })).code).toBe("pem.noCertificate");
  });
  test("garbage and truncated PEM files are clean errors", async () => {
    const dir = scratch();
    const cut = readFileSync(pem("rsa-with-text.pem"), "utf8");
    writeFileSync(join(dir, "cut.pem"), cut.slice(0, cut.length - 200));
    writeFileSync(
      join(dir, "junk.pem"),
      "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n" + readFileSync(pem("rsa-cert.pem"), "utf8"),
    );
    expect((await failure({ certificateFile: join(dir, "cut.pem") })).code).toBe("pem.corrupt");
    expect((await failure({ certificateFile: join(dir, "junk.pem") })).code).toMatch(
      /^pem\.corrupt|certificate\.corruptKey$/,
    );
  });
  test("only certificateKeyFile: certificateFile must be defined", async () => {
    const e = await failure({ certificateKeyFile: pem("rsa-key-pkcs8.pem") });
    expect(e.message).toBe("SSLHostConfig attribute certificateFile must be defined when using an SSL connector");
  });
  test("type must match the key", async () => {
    const e = await failure({
      type: "EC",
      certificateFile: pem("rsa-cert.pem"),
      certificateKeyFile: pem("rsa-key-pkcs8.pem"),
    });
    expect(e.code).toBe("certificate.typeMismatch");
    expect(e.where.attribute).toBe("type");
  });
});

describe("keystores", () => {
  test("JKS with certificateKeyAlias; source names type, path and alias", async () => {
    const r = await loadCertificate({
      certificateKeystoreFile: fixture("keytool-rsa.jks"),
      certificateKeystorePassword: PW,
      certificateKeyAlias: "TOMCAT",
      type: "RSA",
    }, where);
    expect(CNs(r.chain)).toEqual(LEAF_INT);
    expect(r.source).toBe(`JKS keystore ${fixture("keytool-rsa.jks")} alias tomcat`);
  });
  test("default alias is the first key entry; default password is changeit", async () => {
    const r = await loadCertificate({ certificateKeystoreFile: fixture("keytool-rsa.p12") }, where);
    expect(r.source).toEndWith("alias tomcat");
    expect(CNs(r.chain)).toEqual([...LEAF_INT, "Bobcat Test Root CA"]);
  });
  test("key password different from the store password", async () => {
    const e = await failure({ certificateKeystoreFile: fixture("keytool-rsa.jks"), certificateKeyAlias: "ec" });
    expect(e.code).toBe("keystore.badKeyPassword");
    expect(e.message).toContain("Cannot recover key");
    expect(e.where.attribute).toBe("certificateKeyPassword");
    const r = await loadCertificate({
      certificateKeystoreFile: fixture("keytool-rsa.jks"),
      certificateKeyAlias: "ec",
      certificateKeyPassword: "ecpass12",
    }, where);
    expect(r.keyType).toBe("EC");
    // A wrong key password: the fix says which password the key wants.
    const other = await failure({
      certificateKeystoreFile: fixture("keytool-rsa.jks"),
      certificateKeyAlias: "ec",
      certificateKeyPassword: "nope",
    });
    expect(other.fix).toContain("set certificateKeyPassword to the password the key was created with");
    // keytool protects every PKCS12 key with the store password (it ignores -keypass there), so a
    // certificateKeyPassword copied from a JKS setup is the thing to remove.
    const p12 = await failure({
      certificateKeystoreFile: fixture("keytool-rsa.p12"),
      certificateKeyPassword: "ecpass12",
    });
    expect(p12.code).toBe("keystore.badKeyPassword");
    expect(p12.fix).toBe(
      "the key is protected with the keystore password (keytool does that for every PKCS12 key, ignoring -keypass): remove certificateKeyPassword",
    );
  });
  test("password files: first line, and they win over the attribute", async () => {
    const r = await loadCertificate({
      certificateKeystoreFile: fixture("keytool-ec.p12"),
      certificateKeystorePassword: "wrong",
      certificateKeystorePasswordFile: pem("password.txt"),
    }, where);
    expect(r.keyType).toBe("EC");
  });
  test("file not found: absolute path and attribute", async () => {
    const e = await failure({
      certificateKeystoreFile: "/srv/bobcat/conf/missing.jks",
      certificateKeystorePassword: PW,
    });
    expect(e.code).toBe("keystore.notFound");
    expect(e.message).toContain("/srv/bobcat/conf/missing.jks");
    expect(e.where).toMatchObject({ attribute: "certificateKeystoreFile", file: where.file, line: 12 });
    expect(e.fix).toContain("keytool -genkeypair");
  });
  test("only a password set: the default ${user.home}/.keystore is used", async () => {
    const e = await failure({ certificateKeystorePassword: "secret" });
    if (e.code === "keystore.notFound") expect(e.message).toContain(join(homedir(), ".keystore"));
  });
  test("wrong store password: the JDK's JKS and PKCS12 wordings, attribute and fix", async () => {
    const jks = await failure({
      certificateKeystoreFile: fixture("keytool-rsa.jks"),
      certificateKeystorePassword: "Changeit",
    });
    expect(jks.code).toBe("keystore.badPassword");
    expect(jks.message).toContain("Keystore was tampered with, or password was incorrect");
    expect(jks.where.attribute).toBe("certificateKeystorePassword");
    expect(jks.fix).toContain("case-sensitive");
    const p12 = await failure({
      certificateKeystoreFile: fixture("keytool-rsa.p12"),
      certificateKeystorePassword: "Changeit",
    });
    expect(p12.message).toContain("keystore password was incorrect");
    const viaFile = await failure({
      certificateKeystoreFile: fixture("keytool-rsa.p12"),
      certificateKeystorePasswordFile: pem("rsa-cert.pem"),
    });
    expect(viaFile.where.attribute).toBe("certificateKeystorePasswordFile");
  });
  test("alias that is not a key entry lists the aliases there are", async () => {
    const e = await failure({ certificateKeystoreFile: fixture("keytool-rsa.p12"), certificateKeyAlias: "root" });
    expect(e.code).toBe("keystore.aliasNotKey");
    expect(e.message).toContain("Alias name [root] does not identify a key entry");
    expect(e.message).toContain("tomcat (PrivateKeyEntry)");
    expect(e.message).toContain("root (trustedCertEntry)");
    expect(e.fix).toContain('"tomcat" or "second"');
    expect(e.where.attribute).toBe("certificateKeyAlias");
    const missing = await failure({
      certificateKeystoreFile: fixture("keytool-rsa.p12"),
      certificateKeyAlias: "nosuch",
    });
    expect(missing.message).toContain("Alias name [nosuch] does not identify a key entry");
  });
  test("a truststore used as the keystore", async () => {
    const e = await failure({ certificateKeystoreFile: fixture("truststore.p12") });
    expect(e.code).toBe("keystore.noKeys");
    expect(e.message).toContain("Alias name [null] does not identify a key entry");
  });
  test("PKCS11 is refused; other unknown types too", async () => {
    const e = await failure({ certificateKeystoreFile: fixture("keytool-rsa.p12"), certificateKeystoreType: "PKCS11" });
    expect(e.code).toBe("keystore.unsupportedType");
    expect(e.message).toContain("PKCS11");
    expect(e.where.attribute).toBe("certificateKeystoreType");
    expect(
      (await failure({ certificateKeystoreFile: fixture("keytool-rsa.p12"), certificateKeystoreType: "BKS" })).code,
    ).toBe("keystore.unsupportedType");
    expect((await failure({ certificateKeystoreFile: "NONE", certificateKeystoreType: "PKCS11" })).code).toBe(
      "keystore.unsupportedType",
    );
    expect((await failure({ certificateKeystoreFile: "" })).message).toContain("PKCS11");
  });
  test("certificateKeystoreProvider is accepted and ignored with a warning", async () => {
    const r = await loadCertificate({
      certificateKeystoreFile: fixture("keytool-rsa.p12"),
      certificateKeystoreProvider: "SunJSSE",
    }, where);
    expect(r.warnings.join()).toContain("certificateKeystoreProvider [SunJSSE] is ignored");
  });
  test("a CA reply imported under another alias than the key's is named, with the keytool steps to fix it", async () => {
    // The how-to imports the chain with -alias root, then the reply with the key's alias (tomcat).
    // Imported as -alias mycert instead, it is a trusted entry and the key keeps its self-signed
    // certificate, which is what clients get.
    const d = scratch();
    const kt = async (...args: string[]) => {
      const r = await bobcatKeytool([...args, "-storepass", PW, "-noprompt"]);
      expect([args[0], r.code, r.err]).toEqual([args[0], 0, expect.anything()]);
    };
    const ca = join(d, "ca.p12");
    const ks = join(d, "server.p12");
    await kt("-genkeypair", "-keyalg", "EC", "-alias", "ca", "-dname", "CN=How-to CA", "-ext", "bc:c", "-keystore", ca);
    await kt("-genkeypair", "-keyalg", "EC", "-alias", "tomcat", "-dname", "CN=localhost", "-keystore", ks);
    await kt("-certreq", "-alias", "tomcat", "-file", join(d, "req.csr"), "-keystore", ks);
    await kt(
      "-gencert",
      "-alias",
      "ca",
      "-infile",
      join(d, "req.csr"),
      "-outfile",
      join(d, "reply.crt"),
      "-keystore",
      ca,
    );
    await kt("-exportcert", "-alias", "ca", "-rfc", "-file", join(d, "ca.crt"), "-keystore", ca);
    await kt("-importcert", "-alias", "root", "-trustcacerts", "-file", join(d, "ca.crt"), "-keystore", ks);
    await kt("-importcert", "-alias", "mycert", "-file", join(d, "reply.crt"), "-keystore", ks);
    const wrong = await loadCertificate({ certificateKeystoreFile: ks, certificateKeystorePassword: PW }, where);
    expect(wrong.warnings).toHaveLength(1);
    expect(wrong.warnings[0]).toContain(
      "key entry [tomcat] of [" + ks + "] holds only its self-signed certificate, while the trusted entry [mycert]" +
        " holds a certificate for the same key issued by [CN=How-to CA]",
    );
    expect(wrong.warnings[0]).toContain("-importcert -alias tomcat -file reply.crt");
    // Done as the how-to says, the reply replaces the key entry's chain: nothing to warn about.
    await kt("-delete", "-alias", "mycert", "-keystore", ks);
    await kt("-importcert", "-alias", "tomcat", "-file", join(d, "reply.crt"), "-keystore", ks);
    const right = await loadCertificate({ certificateKeystoreFile: ks, certificateKeystorePassword: PW }, where);
    expect(CNs(right.chain)).toEqual(["localhost", "How-to CA"]);
    expect(right.warnings).toEqual([]);
  });
  test("declared type differs from the content: loaded by content, with a warning (Java 9+ dual format)", async () => {
    const r = await loadCertificate({
      certificateKeystoreFile: fixture("keytool-rsa.p12"),
      certificateKeystoreType: "JKS",
    }, where);
    expect(r.warnings.join()).toContain("certificateKeystoreType is JKS but");
    const ok = await loadCertificate({
      certificateKeystoreFile: fixture("keytool-rsa.p12"),
      certificateKeystoreType: "pkcs12",
    }, where);
    expect(ok.warnings).toEqual([]);
  });
  test("a PEM file given as certificateKeystoreFile", async () => {
    const e = await failure({ certificateKeystoreFile: pem("rsa-with-text.pem") });
    expect(e.code).toBe("keystore.wrongType");
    expect(e.fix).toContain("certificateFile");
  });
  test("truncated and garbage keystores: clean errors", async () => {
    const dir = scratch();
    for (const f of ["keytool-rsa.jks", "keytool-rsa.p12", "openssl-rsa-legacy.p12"]) {
      const b = readFileSync(fixture(f));
      writeFileSync(join(dir, f), b.subarray(0, Math.floor(b.length / 2)));
      const e = await failure({ certificateKeystoreFile: join(dir, f) });
      expect(e.code).toBe("keystore.corrupt");
      expect(e.message).toContain(join(dir, f));
    }
    writeFileSync(join(dir, "garbage"), "this is not a keystore at all\n");
    expect((await failure({ certificateKeystoreFile: join(dir, "garbage") })).code).toBe("keystore.corrupt");
    writeFileSync(join(dir, "empty"), "");
    expect((await failure({ certificateKeystoreFile: join(dir, "empty") })).message).toContain("empty");
  });
});

test("nothing configured, and both styles at once", async () => {
  expect((await failure({})).message).toBe(
    "SSLHostConfig attribute certificateFile must be defined when using an SSL connector",
  );
  const both = await failure({
    certificateFile: pem("rsa-cert.pem"),
    certificateKeystoreFile: fixture("keytool-rsa.p12"),
  });
  expect(both.code).toBe("certificate.mixedStyles");
});

describe("validity", () => {
  test("expired and not-yet-valid certificates load with a warning", async () => {
    const { pkcs8, info } = await (await import("../../src/tls/keystore/keys.ts")).generateKeyPair("EC", "P-256");
    const dir = scratch();
    const name = new x509.Name("CN=old.example");
    for (
      const [file, notBefore, days, expect_] of [["old", new Date(Date.UTC(2020, 0, 1)), 30, "expired on 2020-01-31"], [
        "new",
        new Date(Date.now() + 10 * 86_400_000),
        30,
        "is not valid until",
      ]] as const
    ) {
      const cert = await issueCertificate({
        subject: name,
        issuer: name,
        spki: info.spki,
        signerPkcs8: pkcs8,
        signerInfo: info,
        hash: "SHA-256",
        notBefore,
        days,
        extensions: [],
      });
      writeFileSync(join(dir, `${file}.pem`), toPem("PRIVATE KEY", pkcs8) + cert.toString("pem"));
      const r = await loadCertificate({ certificateFile: join(dir, `${file}.pem`) }, where);
      expect(r.warnings.join()).toContain(expect_);
    }
  });
});

describe("generateSelfSigned (first-start localhost certificate)", () => {
  for (const keyType of ["RSA", "EC"] as const) {
    test(keyType, async () => {
      const r = await generateSelfSigned({ hostnames: ["localhost", "127.0.0.1", "::1"], keyType, days: 30 });
      expect(() => createSecureContext({ key: r.keyPem, cert: r.certPem })).not.toThrow();
      const cert = new x509.X509Certificate(r.certPem);
      const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!;
      expect(san.names.items.map((n) => `${n.type}:${n.value}`)).toEqual(["dns:localhost", "ip:127.0.0.1", "ip:::1"]);
      expect(cert.subject).toBe("CN=localhost");
      expect((await keyInfo(new Uint8Array(Buffer.from(r.keyPem.replace(/-----[^-]+-----|\s/g, ""), "base64")))).type)
        .toBe(keyType);
      expect(cert.notAfter.getTime() - Date.now()).toBeLessThan(31 * 86_400_000);
      // The certificate loads through the same path the server uses.
      const dir = scratch();
      writeFileSync(join(dir, "c.pem"), r.certPem);
      writeFileSync(join(dir, "k.pem"), r.keyPem);
      expect(
        (await loadCertificate({ certificateFile: join(dir, "c.pem"), certificateKeyFile: join(dir, "k.pem") }, where))
          .keyType,
      ).toBe(keyType);
    });
  }
});
