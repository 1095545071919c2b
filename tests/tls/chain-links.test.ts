/**
 * The first broken link of a certificate chain, as start-up (CertificateInfo, node:crypto or Web
 * Crypto signatures) and keytool importcert (@peculiar/x509) find it: the same index and words
 * whichever parsed the chain.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { brokenLink as infoBrokenLink, parseCertificateInfo } from "../../src/tls/keystore/cert-info.ts";
import { brokenLink as x509BrokenLink, parseCertificate } from "../../src/tls/keystore/certs.ts";
import { parsePem } from "../../src/tls/keystore/pem.ts";
import { x509 } from "../../src/tls/keystore/x509.ts";
import { pem } from "./helpers.ts";

const der = (name: string) => parsePem(readFileSync(pem(name), "utf8")).map((b) => b.der);
const [leaf, intermediate] = der("rsa-fullchain.pem");
const [root] = der("root-ca.pem");

const INTERMEDIATE = "O=Bobcat Tests, CN=Bobcat Test Intermediate CA";

/** A CA with the intermediate's name and a key of its own: the names link, the signature does not. */
async function impostor(): Promise<Uint8Array> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: INTERMEDIATE,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
  });
  return new Uint8Array(cert.rawData);
}

const readers = {
  "CertificateInfo (start-up)": (chain: Uint8Array[]) =>
    infoBrokenLink(chain.map((d, i) => parseCertificateInfo(d, `certificate #${i + 1}`))),
  "@peculiar/x509 (keytool)": (chain: Uint8Array[]) =>
    x509BrokenLink(chain.map((d, i) => parseCertificate(d, `certificate #${i + 1}`))),
};

for (const [reader, brokenLink] of Object.entries(readers)) {
  describe(`brokenLink, ${reader}`, () => {
    test("a chain in order whose signatures verify has none", async () => {
      expect(await brokenLink([leaf!, intermediate!, root!])).toBeUndefined();
      expect(await brokenLink([leaf!])).toBeUndefined();
    });

    test("a certificate followed by one that is not its issuer: the link and both names", async () => {
      expect(await brokenLink([leaf!, root!])).toEqual({
        index: 0,
        reason:
          `certificate #1 [CN=localhost] is issued by [${INTERMEDIATE}], but the next certificate is [O=Bobcat Tests, CN=Bobcat Test Root CA]`,
      });
      expect((await brokenLink([leaf!, intermediate!, leaf!]))?.index).toBe(1);
    });

    test("an issuer with the right name and another key: the signature does not verify", async () => {
      expect(await brokenLink([leaf!, await impostor()])).toEqual({
        index: 0,
        reason:
          `certificate #1 [CN=localhost] names [${INTERMEDIATE}] as issuer but its signature does not verify with that certificate's key`,
      });
    });
  });
}
