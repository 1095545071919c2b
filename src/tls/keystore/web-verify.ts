/**
 * A certificate's signature checked with Web Crypto (crypto.subtle) against its issuer's public
 * key: RSA PKCS #1 v1.5, ECDSA on P-256/384/521 and Ed25519, the algorithms of the certificates
 * CAs issue. Deno uses it for the chain links a PEM certificate's start checks, where
 * node:crypto's X509Certificate would load Deno's Node layer (~40 ms of CPU at every start,
 * src/util/host/deno.ts); undefined for any other algorithm, which the caller then checks as
 * before.
 */
import * as der from "./der.ts";
import { toArrayBuffer } from "./bytes.ts";

const RSA_HASHES: Record<string, string> = {
  "1.2.840.113549.1.1.5": "SHA-1",
  "1.2.840.113549.1.1.11": "SHA-256",
  "1.2.840.113549.1.1.12": "SHA-384",
  "1.2.840.113549.1.1.13": "SHA-512",
};
const ECDSA_HASHES: Record<string, string> = {
  "1.2.840.10045.4.3.2": "SHA-256",
  "1.2.840.10045.4.3.3": "SHA-384",
  "1.2.840.10045.4.3.4": "SHA-512",
};
const CURVES: Record<string, { name: string; size: number }> = {
  "1.2.840.10045.3.1.7": { name: "P-256", size: 32 },
  "1.3.132.0.34": { name: "P-384", size: 48 },
  "1.3.132.0.35": { name: "P-521", size: 66 },
};
const RSA_KEY = "1.2.840.113549.1.1.1";
const EC_KEY = "1.2.840.10045.2.1";
const ED25519 = "1.3.101.112";

/** ECDSA's DER SEQUENCE { r, s } as Web Crypto's r ‖ s, each `size` bytes; null if either is longer (another curve's). */
function rawEcdsaSignature(sig: Uint8Array, size: number): Uint8Array | null {
  const [r, s] = der.seq(der.parse(sig), "ECDSA signature", 2);
  const out = new Uint8Array(2 * size);
  for (const [i, n] of [r, s].entries()) {
    let v = der.expect(n, der.Tag.INTEGER, "ECDSA signature").value;
    while (v.length > size && v[0] === 0) v = v.subarray(1);
    if (v.length > size) return null;
    out.set(v, (i + 1) * size - v.length);
  }
  return out;
}

/**
 * Whether `certificate` (DER) carries a valid signature by the key of `issuerSpki` (DER); false for
 * a key of another kind than the signature's; undefined when its algorithm (or curve) is not one
 * listed above.
 */
export async function webVerify(certificate: Uint8Array, issuerSpki: Uint8Array): Promise<boolean | undefined> {
  const [tbs, sigAlg, sigValue] = der.seq(der.parse(certificate), "certificate", 3);
  const alg = der.oidOf(der.seq(sigAlg, "signatureAlgorithm", 1)[0], "signatureAlgorithm");
  const signature = der.bitString(sigValue, "signatureValue");
  const [keyAlg] = der.seq(der.parse(issuerSpki), "subjectPublicKeyInfo", 2);
  const [keyOid, keyParams] = der.seq(keyAlg, "algorithm", 1);
  const keyKind = der.oidOf(keyOid, "algorithm");
  let key: { name: string; hash?: string; namedCurve?: string };
  let verify: { name: string; hash?: string };
  let sig = signature;
  const needs = RSA_HASHES[alg] ? RSA_KEY : ECDSA_HASHES[alg] ? EC_KEY : alg === ED25519 ? ED25519 : undefined;
  if (needs === undefined) return undefined;
  // A key of another kind cannot have made this signature.
  if (keyKind !== needs) return false;
  if (RSA_HASHES[alg]) {
    key = verify = { name: "RSASSA-PKCS1-v1_5", hash: RSA_HASHES[alg] };
  } else if (ECDSA_HASHES[alg]) {
    const curve = CURVES[der.oidOf(keyParams, "namedCurve")];
    if (!curve) return undefined;
    key = { name: "ECDSA", namedCurve: curve.name };
    verify = { name: "ECDSA", hash: ECDSA_HASHES[alg] };
    const raw = rawEcdsaSignature(signature, curve.size);
    if (!raw) return false;
    sig = raw;
  } else {
    key = verify = { name: "Ed25519" };
  }
  const publicKey = await crypto.subtle.importKey("spki", toArrayBuffer(issuerSpki), key, false, ["verify"]);
  return await crypto.subtle.verify(verify, publicKey, toArrayBuffer(sig), toArrayBuffer(tbs!.raw));
}
