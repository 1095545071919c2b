/**
 * Verifies an X.509-style signature (AlgorithmIdentifier + BIT STRING) with WebCrypto, which
 * Bun, Deno and Node share: RSA PKCS#1 v1.5, RSA-PSS and ECDSA with SHA-1/256/384/512.
 */
import { toArrayBuffer } from "../keystore/bytes.ts";
import * as der from "../keystore/der.ts";
import { CURVES, OID } from "../keystore/oids.ts";
import { OcspError } from "./errors.ts";

type Hash = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

const RSA_PKCS1: Record<string, Hash> = {
  "1.2.840.113549.1.1.5": "SHA-1",
  "1.2.840.113549.1.1.11": "SHA-256",
  "1.2.840.113549.1.1.12": "SHA-384",
  "1.2.840.113549.1.1.13": "SHA-512",
};
const ECDSA: Record<string, Hash> = {
  "1.2.840.10045.4.1": "SHA-1",
  "1.2.840.10045.4.3.2": "SHA-256",
  "1.2.840.10045.4.3.3": "SHA-384",
  "1.2.840.10045.4.3.4": "SHA-512",
};
const RSA_PSS = "1.2.840.113549.1.1.10";
const MGF1 = "1.2.840.113549.1.1.8";
const DIGESTS: Record<string, Hash> = {
  [OID.sha1]: "SHA-1",
  [OID.sha256]: "SHA-256",
  [OID.sha384]: "SHA-384",
  [OID.sha512]: "SHA-512",
};

const unsupported = (what: string) =>
  new OcspError("ocsp.unsupportedAlgorithm", `the OCSP response is signed with ${what}, which bobcat cannot verify`, {
    fix: "have the responder sign with RSA (PKCS#1 v1.5 or PSS) or ECDSA over SHA-1/SHA-256/SHA-384/SHA-512",
  });

/** RSASSA-PSS-params (RFC 4055): hash [0], MGF [1] (must be MGF1 with the same hash for WebCrypto), saltLength [2]. */
function pssParams(params: der.Node | undefined): { hash: Hash; saltLength: number } {
  const fields = params ? der.seq(params, "RSASSA-PSS parameters") : [];
  const hashNode = der.context(fields, 0);
  const hashOid = hashNode ? der.oidOf(der.seq(hashNode.children[0], "PSS hash", 1)[0], "PSS hash") : OID.sha1;
  const hash = DIGESTS[hashOid];
  if (!hash) throw unsupported(`RSA-PSS over digest ${hashOid}`);
  const mgfNode = der.context(fields, 1);
  if (mgfNode) {
    const [mgfOid, mgfParams] = der.seq(mgfNode.children[0], "PSS mask generation", 2);
    const mgfHash = DIGESTS[der.oidOf(der.seq(mgfParams, "MGF1 hash", 1)[0], "MGF1 hash")];
    if (der.oidOf(mgfOid, "PSS mask generation") !== MGF1 || mgfHash !== hash) {
      throw unsupported("RSA-PSS with a mask generation function other than MGF1 over the signature hash");
    }
  } else if (hash !== "SHA-1") {
    throw unsupported("RSA-PSS with a mask generation function other than MGF1 over the signature hash");
  }
  const saltNode = der.context(fields, 2);
  return { hash, saltLength: saltNode ? der.smallInt(saltNode.children[0], "PSS salt length") : 20 };
}

/** ECDSA signatures are DER SEQUENCE { r, s }; WebCrypto wants r || s, each padded to the curve size. */
function ecdsaRaw(sig: Uint8Array, bits: number): Uint8Array {
  const size = Math.ceil(bits / 8);
  const [r, s] = der.seq(der.parse(sig), "ECDSA signature", 2).map((n) =>
    der.unsignedIntBytes(n, "ECDSA signature value")
  );
  if (r.length > size || s.length > size) throw new der.Asn1Error("ECDSA signature value longer than the curve");
  const out = new Uint8Array(size * 2);
  out.set(r, size - r.length);
  out.set(s, size * 2 - s.length);
  return out;
}

/** The key algorithm of a SubjectPublicKeyInfo: RSA, or EC with its curve. */
function keyKind(spki: Uint8Array): { kind: "RSA" } | { kind: "EC"; curve: "P-256" | "P-384" | "P-521"; bits: number } {
  const [alg] = der.seq(der.parse(spki), "public key", 2);
  const [oid, params] = der.seq(alg, "public key algorithm", 1);
  const algOid = der.oidOf(oid, "public key algorithm");
  if (algOid === OID.rsaEncryption) return { kind: "RSA" };
  if (algOid === OID.ecPublicKey) {
    const curve = CURVES[der.oidOf(params, "EC curve")];
    if (curve) return { kind: "EC", curve: curve.name, bits: curve.bits };
  }
  throw unsupported(`a key of algorithm ${algOid}`);
}

/**
 * True when `signature` over `data` verifies with the key in `spki` under `algorithmDer`
 * (a DER AlgorithmIdentifier). Throws ocsp.unsupportedAlgorithm for algorithms it cannot check,
 * and when the key does not fit the algorithm.
 */
export async function verifySignature(
  spki: Uint8Array,
  algorithmDer: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const [oidNode, params] = der.seq(der.parse(algorithmDer), "signature algorithm", 1);
  const oid = der.oidOf(oidNode, "signature algorithm");
  const key = keyKind(spki);
  let importAlg: RsaHashedImportParams | EcKeyImportParams;
  let verifyAlg: AlgorithmIdentifier | RsaPssParams | EcdsaParams;
  let sig = signature;
  if (RSA_PKCS1[oid] && key.kind === "RSA") {
    importAlg = { name: "RSASSA-PKCS1-v1_5", hash: RSA_PKCS1[oid] };
    verifyAlg = { name: "RSASSA-PKCS1-v1_5" };
  } else if (oid === RSA_PSS && key.kind === "RSA") {
    const p = pssParams(params);
    importAlg = { name: "RSA-PSS", hash: p.hash };
    verifyAlg = { name: "RSA-PSS", saltLength: p.saltLength };
  } else if (ECDSA[oid] && key.kind === "EC") {
    importAlg = { name: "ECDSA", namedCurve: key.curve };
    verifyAlg = { name: "ECDSA", hash: ECDSA[oid] };
    try {
      sig = ecdsaRaw(signature, key.bits);
    } catch {
      return false;
    }
  } else if (RSA_PKCS1[oid] || oid === RSA_PSS || ECDSA[oid]) {
    throw unsupported(`signature algorithm ${oid} by a ${key.kind} key (the key does not fit the algorithm)`);
  } else {
    throw unsupported(`signature algorithm ${oid}`);
  }
  const publicKey = await crypto.subtle.importKey("spki", toArrayBuffer(spki), importAlg, false, ["verify"]);
  return await crypto.subtle.verify(verifyAlg, publicKey, toArrayBuffer(sig), toArrayBuffer(data));
}
