/** Keystores made by the real keytool and openssl (tests/fixtures/keystores, see scripts/gen-keystore-fixtures.sh). */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { certPem } from "../../src/tls/keystore/certs.ts";
import {
  detectStoreType,
  findEntry,
  type Keystore,
  type PrivateKeyEntry,
  readKeystore,
  unlockKey,
} from "../../src/tls/keystore/index.ts";
import { keyInfo, spkiFingerprint } from "../../src/tls/keystore/keys.ts";
import { fixtureBytes, pem, PW } from "./helpers.ts";

const CN = (c: { subjectName: { getField(n: string): string[] } }) => c.subjectName.getField("CN")[0];
const chainCNs = (e: PrivateKeyEntry) => e.chain.map(CN);
const key = (s: Keystore, alias: string) => {
  const e = findEntry(s, alias);
  if (e?.kind !== "privateKey") throw new Error(`no key entry ${alias}`);
  return e;
};
const LEAF_CHAIN = ["localhost", "Bobcat Test Intermediate CA"];
const FULL_CHAIN = [...LEAF_CHAIN, "Bobcat Test Root CA"];

async function matches(e: PrivateKeyEntry, password = PW): Promise<boolean> {
  const info = await keyInfo(unlockKey(e, password));
  return spkiFingerprint(info.spki) === spkiFingerprint(new Uint8Array(e.chain[0].publicKey.rawData));
}

describe("keytool-made JKS", () => {
  test("RSA store: key entry with CA reply chain, trusted root, EC key with its own key password", async () => {
    const s = await readKeystore(fixtureBytes("keytool-rsa.jks"), PW);
    expect(s.type).toBe("JKS");
    expect(s.entries.map((e) => `${e.alias}:${e.kind}`).sort()).toEqual([
      "ec:privateKey",
      "root:trustedCert",
      "tomcat:privateKey",
    ]);
    expect(chainCNs(key(s, "tomcat"))).toEqual(LEAF_CHAIN);
    expect(await matches(key(s, "tomcat"))).toBe(true);
    expect(() => unlockKey(key(s, "ec"), PW)).toThrow("Cannot recover key");
    expect(await matches(key(s, "ec"), "ecpass12")).toBe(true);
    expect((await keyInfo(unlockKey(key(s, "ec"), "ecpass12"))).curve).toBe("P-256");
  });
  test("aliases are case-insensitive", async () => {
    const s = await readKeystore(fixtureBytes("keytool-rsa.jks"), PW);
    expect(findEntry(s, "TomCat")?.alias).toBe("tomcat");
  });
  test("EC P-384 key (Java writes PKCS#8 without the public point)", async () => {
    const s = await readKeystore(fixtureBytes("keytool-ec.jks"), PW);
    const info = await keyInfo(unlockKey(key(s, "tomcat"), PW));
    expect(info.curve).toBe("P-384");
    expect(await matches(key(s, "tomcat"))).toBe(true);
  });
  test("without a password the integrity check is skipped, as keytool -list does", async () => {
    const s = await readKeystore(fixtureBytes("keytool-rsa.jks"), null);
    expect(s.verified).toBe(false);
    expect(s.entries.length).toBe(3);
  });
});

describe("keytool-made PKCS12", () => {
  test("several key entries and trusted entries (Oracle trusted-key-usage attribute)", async () => {
    const s = await readKeystore(fixtureBytes("keytool-rsa.p12"), PW);
    expect(s.type).toBe("PKCS12");
    expect(s.entries.map((e) => `${e.alias}:${e.kind}`).sort()).toEqual([
      "intermediate:trustedCert",
      "root:trustedCert",
      "second:privateKey",
      "tomcat:privateKey",
    ]);
    expect(chainCNs(key(s, "tomcat"))).toEqual(FULL_CHAIN);
    expect(chainCNs(key(s, "second"))).toEqual(["second.localhost"]);
    expect(await matches(key(s, "tomcat"))).toBe(true);
    expect(await matches(key(s, "second"))).toBe(true);
  });
  test("entry dates come from Java's 'Time <millis>' localKeyId", async () => {
    const s = await readKeystore(fixtureBytes("keytool-rsa.p12"), PW);
    const d = key(s, "tomcat").date.getTime();
    expect(d).toBeGreaterThan(Date.UTC(2020, 0, 1));
    expect(d).toBeLessThan(Date.now() + 1000);
  });
  test("EC store", async () => {
    const s = await readKeystore(fixtureBytes("keytool-ec.p12"), PW);
    expect(chainCNs(key(s, "tomcat"))).toEqual(FULL_CHAIN);
    expect(await matches(key(s, "tomcat"))).toBe(true);
  });
  test("truststores: only trusted entries", async () => {
    for (const f of ["truststore.p12", "truststore.jks"]) {
      const s = await readKeystore(fixtureBytes(f), PW);
      expect(s.entries.every((e) => e.kind === "trustedCert")).toBe(true);
      expect(findEntry(s, "root")).toBeDefined();
    }
  });
});

describe("openssl pkcs12 -export", () => {
  const expected = readFileSync(pem("rsa-cert.pem"), "utf8");
  for (const f of ["openssl-rsa.p12", "openssl-rsa-legacy.p12", "openssl-ec.p12"]) {
    test(`${f}: alias from -name, chain from -chain -CAfile in order`, async () => {
      const s = await readKeystore(fixtureBytes(f), PW);
      const e = key(s, "tomcat");
      expect(chainCNs(e)).toEqual(FULL_CHAIN);
      expect(await matches(e)).toBe(true);
      if (f.startsWith("openssl-rsa")) expect(certPem(e.chain[0])).toBe(expected);
      // OpenSSL writes the CA certificates without Oracle's mark: they are chain, not trusted entries.
      expect(s.entries.filter((x) => x.kind === "trustedCert")).toEqual([]);
    });
  }
  test("legacy (RC2-40 certificates, 3DES key, SHA-1 MAC) EC P-384 store without -name", async () => {
    const s = await readKeystore(fixtureBytes("openssl-ec384-legacy.p12"), PW);
    const e = s.entries[0] as PrivateKeyEntry;
    expect(e.kind).toBe("privateKey");
    expect(chainCNs(e)).toEqual(LEAF_CHAIN);
    expect((await keyInfo(unlockKey(e, PW))).curve).toBe("P-384");
  });
});

describe("wrong passwords use the JDK's words", () => {
  test("JKS", async () => {
    await expect(readKeystore(fixtureBytes("keytool-rsa.jks"), "wrong!")).rejects.toMatchObject({
      code: "keystore.badPassword",
      message: "Keystore was tampered with, or password was incorrect",
    });
  });
  for (const f of ["keytool-rsa.p12", "openssl-rsa.p12", "openssl-rsa-legacy.p12"]) {
    test(f, async () => {
      await expect(readKeystore(fixtureBytes(f), "wrong!")).rejects.toMatchObject({
        code: "keystore.badPassword",
        message: "keystore password was incorrect",
      });
    });
  }
  test("a modified PKCS12 with the right password is reported as tampered, not as a wrong password", async () => {
    const b = fixtureBytes("keytool-rsa.p12");
    b[b.length - 40] ^= 1; // inside the MAC salt
    await expect(readKeystore(b, PW)).rejects.toMatchObject({ code: "keystore.tampered" });
  });
  test("a modified JKS is 'tampered with'", async () => {
    const b = fixtureBytes("keytool-rsa.jks");
    b[200] ^= 1;
    await expect(readKeystore(b, PW)).rejects.toMatchObject({
      message: expect.stringMatching(/tampered|not a readable/),
    });
  });
});

test("type detection from content", () => {
  expect(detectStoreType(fixtureBytes("keytool-rsa.jks"))).toBe("JKS");
  expect(detectStoreType(fixtureBytes("keytool-rsa.p12"))).toBe("PKCS12");
  expect(detectStoreType(fixtureBytes("openssl-rsa-legacy.p12"))).toBe("PKCS12");
  expect(detectStoreType(new Uint8Array(readFileSync(pem("rsa-with-text.pem"))))).toBe("PEM");
  expect(detectStoreType(new TextEncoder().encode("hello"))).toBe("unknown");
});

test("a PEM file read as a keystore: key + chain, aliases from OpenSSL's friendlyName lines", async () => {
  const text = "Bag Attributes\n    friendlyName: web\n" + readFileSync(pem("rsa-key-pkcs8.pem"), "utf8") +
    readFileSync(pem("rsa-cert.pem"), "utf8") + readFileSync(pem("intermediate-ca.pem"), "utf8") +
    readFileSync(pem("root-ca.pem"), "utf8");
  const s = await readKeystore(new TextEncoder().encode(text), null);
  expect(s.type).toBe("PEM");
  expect(chainCNs(key(s, "web"))).toEqual(FULL_CHAIN);
});
