import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "../../src/tls/keystore/bytes.ts";
import { cbcDecrypt, cbcEncrypt, PaddingError } from "../../src/tls/keystore/ciphers.ts";
import * as der from "../../src/tls/keystore/der.ts";
import { protect, recover } from "../../src/tls/keystore/keyprotector.ts";
import { pkcs12Kdf } from "../../src/tls/keystore/pbe.ts";
import { parsePem, PemError } from "../../src/tls/keystore/pem.ts";
import { rc2DecryptBlock, rc2EncryptBlock, rc2KeySchedule } from "../../src/tls/keystore/rc2.ts";

describe("RC2 (RFC 2268 §5 test vectors)", () => {
  const vectors: [string, number, string, string][] = [
    ["0000000000000000", 63, "0000000000000000", "ebb773f993278eff"],
    ["ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"],
    ["3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"],
    ["88", 64, "0000000000000000", "61a8a244adacccf0"],
    ["88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"],
    ["88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"],
    ["88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"],
  ];
  for (const [key, bits, pt, ct] of vectors) {
    test(`key ${key} / ${bits} bits`, () => {
      const K = rc2KeySchedule(fromHex(key), bits);
      expect(toHex(rc2EncryptBlock(K, fromHex(pt)))).toBe(ct);
      expect(toHex(rc2DecryptBlock(K, fromHex(ct)))).toBe(pt);
    });
  }
  test("CBC round trip and padding check", () => {
    const spec = { name: "rc2-cbc" as const, key: fromHex("0102030405"), iv: fromHex("0001020304050607"), rc2Bits: 40 };
    const data = new TextEncoder().encode("forty-bit RC2 protects legacy PKCS#12 certificates");
    expect(cbcDecrypt(spec, cbcEncrypt(spec, data))).toEqual(data);
    expect(() => cbcDecrypt({ ...spec, key: fromHex("0102030406") }, cbcEncrypt(spec, data))).toThrow(PaddingError);
  });
});

test("single DES is 3DES with a repeated key (Deno has no des-cbc)", () => {
  // FIPS 81 / NBS test: key 0123456789abcdef, IV 1234567890abcdef, "Now is the time for all " in CBC.
  const spec = { name: "des-cbc" as const, key: fromHex("0123456789abcdef"), iv: fromHex("1234567890abcdef") };
  const ct = cbcEncrypt(spec, new TextEncoder().encode("Now is the time for all "));
  expect(toHex(ct.subarray(0, 24))).toBe("e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6");
});

test("PKCS#12 key derivation (RFC 7292 appendix B), checked against a value OpenSSL derives", () => {
  // openssl: PKCS12_key_gen_uni("smeg", salt 0a58cf64530d823f, id 1, iter 1, 24, SHA1) — the classic test vector.
  expect(toHex(pkcs12Kdf("sha1", "smeg", fromHex("0a58cf64530d823f"), 1, 1, 24))).toBe(
    "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3",
  );
  expect(toHex(pkcs12Kdf("sha1", "smeg", fromHex("0a58cf64530d823f"), 2, 1, 8))).toBe("79993dfe048d3b76");
});

test("Sun KeyProtector: round trip, and a wrong password is 'Cannot recover key'", () => {
  const key = der.encSeq(der.encInt(0), der.encAlg("1.2.840.113549.1.1.1", null), der.encOctets(fromHex("3003020101")));
  const prot = protect(key, "changeit");
  expect(recover(prot, "changeit")).toEqual(key);
  expect(() => recover(prot, "Changeit")).toThrow("Cannot recover key");
});

describe("DER reader", () => {
  test("reads nested structures and OIDs", () => {
    const node = der.parse(der.encSeq(der.encOid("1.2.840.113549.1.12.10.1.2"), der.encInt(10000)));
    expect(der.oidOf(node.children[0], "oid")).toBe("1.2.840.113549.1.12.10.1.2");
    expect(der.smallInt(node.children[1], "int")).toBe(10000);
  });
  test("rejects lengths beyond the buffer, trailing data and deep nesting", () => {
    expect(() => der.parse(fromHex("3010020101"))).toThrow(der.Asn1Error);
    expect(() => der.parse(fromHex("020101ff"))).toThrow(/trailing/);
    const deep = Array.from({ length: 40 }).reduce<Uint8Array>((acc) => der.encSeq(acc), der.encNull());
    expect(() => der.parse(deep)).toThrow(/too deep/);
    expect(() => der.parse(fromHex("3084ffffffff"))).toThrow(der.Asn1Error);
  });
});

describe("PEM armour", () => {
  test("keeps the text before each block and RFC 1421 headers", () => {
    const text =
      "Bag Attributes\n    friendlyName: tomcat\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    const [b] = parsePem(text);
    expect(b.label).toBe("RSA PRIVATE KEY");
    expect(b.headers["Proc-Type"]).toBe("4,ENCRYPTED");
    expect(b.preamble).toContain("friendlyName: tomcat");
    expect(b.line).toBe(3);
  });
  test("a missing END line or bad base64 is a PemError", () => {
    expect(() => parsePem("-----BEGIN CERTIFICATE-----\nAAAA\n")).toThrow(PemError);
    expect(() => parsePem("-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----\n")).toThrow(/base64/);
    expect(() => parsePem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n")).toThrow(/closes/);
  });
});
