/**
 * Private keys as unencrypted PKCS#8 DER: what they are (RSA / EC and curve), conversion from
 * PKCS#1 and SEC1, the public key they imply, and WebCrypto handles for signing.
 */
import { concat, fromBase64Url, toArrayBuffer, toHex } from "./bytes.ts";
import * as der from "./der.ts";
import { CURVES, OID } from "./oids.ts";

export type KeyAlgorithm = "RSA" | "EC";

export interface KeyInfo {
  type: KeyAlgorithm;
  /** RSA modulus size or curve size in bits. */
  bits: number;
  /** EC only: WebCrypto curve name and OID. */
  curve?: "P-256" | "P-384" | "P-521";
  curveOid?: string;
  /** DER SubjectPublicKeyInfo of the matching public key. */
  spki: Uint8Array;
}

export class UnsupportedKeyError extends Error {
  override name = "UnsupportedKeyError";
}

const KEY_NAMES: Record<string, string> = { [OID.dsa]: "DSA", [OID.ed25519]: "Ed25519", "1.3.101.113": "Ed448" };

/** Human name of a key algorithm OID, for messages. */
const keyAlgorithmName = (oid: string) =>
  KEY_NAMES[oid] ?? (oid === OID.rsaEncryption ? "RSA" : oid === OID.ecPublicKey ? "EC" : oid);

export function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  der.seq(der.parse(pkcs1), "RSA private key", 9);
  return der.encSeq(der.encInt(0), der.encAlg(OID.rsaEncryption, null), der.encOctets(pkcs1));
}

/** SEC1 `ECPrivateKey` → PKCS#8. The curve comes from the key's own parameters, or `curveOid`. */
export function sec1ToPkcs8(sec1: Uint8Array, curveOid?: string): Uint8Array {
  const parts = der.seq(der.parse(sec1), "EC private key", 2);
  const params = der.context(parts, 0);
  const curve = params ? der.oidOf(params.children[0], "EC curve") : curveOid;
  if (!curve) throw new der.Asn1Error("EC private key names no curve");
  // PKCS#8 carries the curve in the AlgorithmIdentifier, so the inner copy is dropped (RFC 5915 §3).
  const inner = der.encSeq(...parts.filter((p) => p !== params).map((p) => p.raw));
  return der.encSeq(der.encInt(0), der.encAlg(OID.ecPublicKey, der.encOid(curve)), der.encOctets(inner));
}

interface Pkcs8Parts {
  algorithm: string;
  params?: der.Node;
  privateKey: Uint8Array;
}

function pkcs8Parts(pkcs8: Uint8Array): Pkcs8Parts {
  const parts = der.seq(der.parse(pkcs8), "PKCS#8 private key", 3);
  const [algOid, params] = der.seq(parts[1], "private key algorithm", 1);
  return {
    algorithm: der.oidOf(algOid, "private key algorithm"),
    params,
    privateKey: der.octets(parts[2], "private key"),
  };
}

function bitLength(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]));
}

function rsaSpki(modulus: Uint8Array, exponent: Uint8Array): Uint8Array {
  return der.encSeq(
    der.encAlg(OID.rsaEncryption, null),
    der.encBitString(der.encSeq(der.encInt(modulus), der.encInt(exponent))),
  );
}

function ecSpki(curveOid: string, point: Uint8Array): Uint8Array {
  return der.encSeq(der.encAlg(OID.ecPublicKey, der.encOid(curveOid)), der.encBitString(point));
}

/** Describes a PKCS#8 key and derives its public key. Throws UnsupportedKeyError for DSA, EdDSA, ... */
export async function keyInfo(pkcs8: Uint8Array): Promise<KeyInfo> {
  const p = pkcs8Parts(pkcs8);
  if (p.algorithm === OID.rsaEncryption) {
    const f = der.seq(der.parse(p.privateKey), "RSA private key", 9);
    const n = der.unsignedIntBytes(f[1], "RSA modulus");
    const e = der.unsignedIntBytes(f[2], "RSA public exponent");
    return { type: "RSA", bits: bitLength(n), spki: rsaSpki(n, e) };
  }
  if (p.algorithm === OID.ecPublicKey) {
    const curveOid = der.oidOf(p.params, "EC curve");
    const curve = CURVES[curveOid];
    if (!curve) throw new UnsupportedKeyError(`EC curve ${curveOid} (supported: P-256, P-384, P-521)`);
    const f = der.seq(der.parse(p.privateKey), "EC private key", 2);
    const pub = der.context(f, 1);
    let point: Uint8Array;
    if (pub) point = der.bitString(pub.children[0], "EC public key");
    else {
      // Java writes EC keys without the public point; let WebCrypto compute it.
      const key = await crypto.subtle.importKey(
        "pkcs8",
        toArrayBuffer(pkcs8),
        { name: "ECDSA", namedCurve: curve.name },
        true,
        ["sign"],
      );
      const jwk = await crypto.subtle.exportKey("jwk", key);
      point = Uint8Array.from([4, ...fromBase64Url(jwk.x!), ...fromBase64Url(jwk.y!)]);
    }
    return { type: "EC", bits: curve.bits, curve: curve.name, curveOid, spki: ecSpki(curveOid, point) };
  }
  throw new UnsupportedKeyError(`${keyAlgorithmName(p.algorithm)} keys are not supported (use RSA or EC)`);
}

/** The comparable content of a SubjectPublicKeyInfo: algorithm, curve and key bits. */
export function spkiFingerprint(spki: Uint8Array): string {
  const [alg, key] = der.seq(der.parse(spki), "public key", 2);
  const [oid, params] = der.seq(alg, "public key algorithm", 1);
  const algOid = der.oidOf(oid, "public key algorithm");
  const curve = algOid === OID.ecPublicKey && params ? der.oidOf(params, "EC curve") : "";
  let bits = der.bitString(key, "public key");
  if (algOid === OID.rsaEncryption) {
    const [n, e] = der.seq(der.parse(bits), "RSA public key", 2);
    bits = concat(der.unsignedIntBytes(n, "modulus"), Uint8Array.of(0xff), der.unsignedIntBytes(e, "exponent"));
  }
  return `${algOid}/${curve}/${toHex(bits)}`;
}

export type SignatureHash = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

/** WebCrypto algorithm parameters for signing with this key type. */
export function signingAlgorithm(
  info: KeyInfo,
  hash: SignatureHash,
): RsaHashedImportParams | EcKeyImportParams & { hash: string } {
  return info.type === "RSA" ? { name: "RSASSA-PKCS1-v1_5", hash } : { name: "ECDSA", namedCurve: info.curve!, hash };
}

export async function importPrivateKey(pkcs8: Uint8Array, info: KeyInfo, hash: SignatureHash): Promise<CryptoKey> {
  return await crypto.subtle.importKey("pkcs8", toArrayBuffer(pkcs8), signingAlgorithm(info, hash), true, ["sign"]);
}

export async function importPublicKey(info: KeyInfo, hash: SignatureHash): Promise<CryptoKey> {
  return await crypto.subtle.importKey("spki", toArrayBuffer(info.spki), signingAlgorithm(info, hash), true, [
    "verify",
  ]);
}

/** keytool 17's pick: SHA-256 up to RSA 3072 / P-256, SHA-384 up to RSA 7680 / P-384, else SHA-512. */
export function defaultHash(info: Pick<KeyInfo, "type" | "bits">): SignatureHash {
  if (info.type === "RSA") return info.bits <= 3072 ? "SHA-256" : info.bits <= 7680 ? "SHA-384" : "SHA-512";
  return info.bits < 384 ? "SHA-256" : info.bits < 512 ? "SHA-384" : "SHA-512";
}

/** Java's name for a signature algorithm, e.g. SHA256withRSA. */
export function javaSigAlgName(type: KeyAlgorithm, hash: SignatureHash): string {
  return `${hash.replace("-", "")}with${type === "RSA" ? "RSA" : "ECDSA"}`;
}

export async function generateKeyPair(
  type: KeyAlgorithm,
  size: number | "P-256" | "P-384" | "P-521",
): Promise<{ pkcs8: Uint8Array; info: KeyInfo }> {
  const alg = type === "RSA"
    ? {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: size as number,
      publicExponent: Uint8Array.of(1, 0, 1),
      hash: "SHA-256",
    }
    : { name: "ECDSA", namedCurve: size as string };
  const pair = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  return { pkcs8, info: await keyInfo(pkcs8) };
}
