/**
 * Password-based encryption as keystores use it: PBES2 (PBKDF2 + AES/3DES/DES, PKCS#5 v2.1) and
 * the PKCS#12 PBE schemes (appendix B key derivation + 3DES/RC2). Both read an AlgorithmIdentifier
 * node and return plaintext, or produce one for writing.
 */
import { nodeCrypto } from "../../util/node-crypto.ts";
import { concat, randomBytes, utf8 } from "./bytes.ts";
import { cbcDecrypt, cbcEncrypt, type CipherName, type CipherSpec, KEY_LENGTH } from "./ciphers.ts";
import * as der from "./der.ts";
import { OID } from "./oids.ts";

export class UnsupportedAlgorithmError extends Error {
  override name = "UnsupportedAlgorithmError";
}

/**
 * Iteration limits: far above what tools write (keytool 10000, OpenSSL 2048), low enough that a
 * corrupt count cannot hang start-up. PBKDF2 is native (Java's own limit, 5M, takes ~3 s); the
 * PKCS#12 KDF runs a hash call per iteration in JS (~5 µs each on Deno), so it gets 1M.
 */
export const MAX_ITERATIONS = 5_000_000;
export const MAX_PKCS12_KDF_ITERATIONS = 1_000_000;

export type HashName = "sha1" | "sha224" | "sha256" | "sha384" | "sha512";
const HASH_BLOCK: Record<HashName, number> = { sha1: 64, sha224: 64, sha256: 64, sha384: 128, sha512: 128 };
const HASH_LEN: Record<HashName, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

export const HASH_BY_OID: Record<string, HashName> = {
  [OID.sha1]: "sha1",
  [OID.sha224]: "sha224",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
};
const PRF_BY_OID: Record<string, HashName> = {
  [OID.hmacWithSHA1]: "sha1",
  [OID.hmacWithSHA224]: "sha224",
  [OID.hmacWithSHA256]: "sha256",
  [OID.hmacWithSHA384]: "sha384",
  [OID.hmacWithSHA512]: "sha512",
};
const PRF_OID: Record<HashName, string> = Object.fromEntries(
  Object.entries(PRF_BY_OID).map(([o, h]) => [h, o]),
) as Record<HashName, string>;
const CIPHER_BY_OID: Record<string, CipherName> = {
  [OID.aes128cbc]: "aes-128-cbc",
  [OID.aes192cbc]: "aes-192-cbc",
  [OID.aes256cbc]: "aes-256-cbc",
  [OID.desEde3cbc]: "des-ede3-cbc",
  [OID.desCbc]: "des-cbc",
};
const CIPHER_OID: Record<string, string> = Object.fromEntries(Object.entries(CIPHER_BY_OID).map(([o, c]) => [c, o]));

/** PKCS#12 PBE schemes: the cipher and its key length; the hash is always SHA-1. */
const PKCS12_PBE: Record<string, { cipher: CipherName; keyLen: number; rc2Bits?: number }> = {
  [OID.pbeSHA1And3DES]: { cipher: "des-ede3-cbc", keyLen: 24 },
  [OID.pbeSHA1And2DES]: { cipher: "des-ede3-cbc", keyLen: 16 },
  [OID.pbeSHA1And128RC2]: { cipher: "rc2-cbc", keyLen: 16, rc2Bits: 128 },
  [OID.pbeSHA1And40RC2]: { cipher: "rc2-cbc", keyLen: 5, rc2Bits: 40 },
};

export const ALGORITHM_NAMES: Record<string, string> = {
  [OID.pbes2]: "PBES2",
  [OID.pbeSHA1And3DES]: "PBEWithSHA1AndDESede",
  [OID.pbeSHA1And2DES]: "PBEWithSHA1And2KeyTripleDES",
  [OID.pbeSHA1And128RC2]: "PBEWithSHA1AndRC2_128",
  [OID.pbeSHA1And40RC2]: "PBEWithSHA1AndRC2_40",
  [OID.sunKeyProtector]: "Sun KeyProtector",
};

function checkIterations(n: number, max = MAX_ITERATIONS): number {
  if (n < 1 || n > max) throw new der.Asn1Error(`iteration count ${n} is outside 1..${max}`);
  return n;
}

/** PKCS#12 passwords are BMPStrings with a two-byte terminator (RFC 7292 B.1). */
export function bmpPassword(password: string): Uint8Array {
  const b = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    b[2 * i] = password.charCodeAt(i) >> 8;
    b[2 * i + 1] = password.charCodeAt(i) & 0xff;
  }
  return b;
}

/** RFC 7292 appendix B.2. `id` 1 = key, 2 = IV, 3 = MAC key. */
export function pkcs12Kdf(
  hash: HashName,
  password: string,
  salt: Uint8Array,
  id: 1 | 2 | 3,
  iterations: number,
  n: number,
): Uint8Array {
  checkIterations(iterations, MAX_PKCS12_KDF_ITERATIONS);
  const v = HASH_BLOCK[hash];
  const u = HASH_LEN[hash];
  const fill = (src: Uint8Array) => {
    const len = src.length === 0 ? 0 : v * Math.ceil(src.length / v);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = src[i % src.length];
    return out;
  };
  const D = new Uint8Array(v).fill(id);
  const I = concat(fill(salt), fill(bmpPassword(password)));
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += u) {
    let A = new Uint8Array(nodeCrypto().createHash(hash).update(D).update(I).digest());
    for (let r = 1; r < iterations; r++) A = new Uint8Array(nodeCrypto().createHash(hash).update(A).digest());
    out.set(A.subarray(0, Math.min(u, n - off)), off);
    if (off + u >= n) break;
    const B = fill(A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const s = I[j + k] + B[k] + carry;
        I[j + k] = s & 0xff;
        carry = s >> 8;
      }
    }
  }
  return out;
}

interface Pbes2Params {
  salt: Uint8Array;
  iterations: number;
  prf: HashName;
  keyLength?: number;
  cipher: CipherName;
  iv: Uint8Array;
}

function readPbes2(params: der.Node | undefined): Pbes2Params {
  const [kdf, enc] = der.seq(params, "PBES2 parameters", 2);
  const [kdfOid, kdfParams] = der.seq(kdf, "PBES2 key derivation function", 1);
  const kdfName = der.oidOf(kdfOid, "key derivation OID");
  if (kdfName !== OID.pbkdf2) {
    throw new UnsupportedAlgorithmError(`PBES2 key derivation ${kdfName} (only PBKDF2 is supported)`);
  }
  const p = der.seq(kdfParams, "PBKDF2 parameters", 2);
  const salt = der.octets(p[0], "PBKDF2 salt");
  const iterations = checkIterations(der.smallInt(p[1], "PBKDF2 iteration count"));
  let keyLength: number | undefined;
  let prf: HashName = "sha1";
  for (const extra of p.slice(2)) {
    if (extra.tag === der.Tag.INTEGER) keyLength = der.smallInt(extra, "PBKDF2 key length");
    else {
      const prfOid = der.oidOf(der.seq(extra, "PBKDF2 PRF", 1)[0], "PBKDF2 PRF OID");
      const h = PRF_BY_OID[prfOid];
      if (!h) throw new UnsupportedAlgorithmError(`PBKDF2 PRF ${prfOid}`);
      prf = h;
    }
  }
  const [encOid, encParams] = der.seq(enc, "PBES2 encryption scheme", 1);
  const cipherOid = der.oidOf(encOid, "PBES2 cipher OID");
  const cipher = CIPHER_BY_OID[cipherOid];
  if (!cipher) throw new UnsupportedAlgorithmError(`PBES2 cipher ${cipherOid}`);
  const iv = der.octets(encParams, "PBES2 IV");
  return { salt, iterations, prf, keyLength, cipher, iv };
}

function pbes2Spec(p: Pbes2Params, password: string): CipherSpec {
  const keyLen = p.keyLength ?? KEY_LENGTH[p.cipher];
  if (keyLen !== KEY_LENGTH[p.cipher]) throw new der.Asn1Error(`PBKDF2 key length ${keyLen} does not fit ${p.cipher}`);
  // PBES2 passwords are bytes; OpenSSL and Java both use the UTF-8 encoding.
  const key = new Uint8Array(nodeCrypto().pbkdf2Sync(utf8(password), p.salt, p.iterations, keyLen, p.prf));
  return { name: p.cipher, key, iv: p.iv };
}

function pkcs12Spec(oid: string, params: der.Node | undefined, password: string): CipherSpec {
  const scheme = PKCS12_PBE[oid];
  const [saltNode, iterNode] = der.seq(params, "PKCS#12 PBE parameters", 2);
  const salt = der.octets(saltNode, "PBE salt");
  const iterations = der.smallInt(iterNode, "PBE iteration count");
  const key = pkcs12Kdf("sha1", password, salt, 1, iterations, scheme.keyLen);
  const iv = pkcs12Kdf("sha1", password, salt, 2, iterations, 8);
  // 2-key 3DES is K1,K2,K1.
  const fullKey = scheme.cipher === "des-ede3-cbc" && scheme.keyLen === 16 ? concat(key, key.subarray(0, 8)) : key;
  return { name: scheme.cipher, key: fullKey, iv, rc2Bits: scheme.rc2Bits };
}

/** Whether `decrypt` understands this algorithm OID. */
export function isPbeAlgorithm(oid: string): boolean {
  return oid === OID.pbes2 || oid in PKCS12_PBE;
}

/** Decrypts `data` with the algorithm in `algId` (an AlgorithmIdentifier node). */
export function decrypt(algId: der.Node, data: Uint8Array, password: string): Uint8Array {
  const [oidNode, params] = der.seq(algId, "encryption algorithm", 1);
  const oid = der.oidOf(oidNode, "encryption algorithm OID");
  if (oid === OID.pbes2) return cbcDecrypt(pbes2Spec(readPbes2(params), password), data);
  if (oid in PKCS12_PBE) return cbcDecrypt(pkcs12Spec(oid, params, password), data);
  throw new UnsupportedAlgorithmError(`encryption algorithm ${ALGORITHM_NAMES[oid] ?? oid}`);
}

export interface EncryptOptions {
  /** "pbes2" (the default: what keytool 17 and OpenSSL 3 write) or a legacy PKCS#12 scheme OID. */
  scheme?: "pbes2" | typeof OID.pbeSHA1And3DES | typeof OID.pbeSHA1And40RC2;
  iterations?: number;
  cipher?: "aes-128-cbc" | "aes-256-cbc" | "des-ede3-cbc";
  prf?: HashName;
}

/** Encrypts `data`, returning the AlgorithmIdentifier DER and the ciphertext. */
export function encrypt(
  data: Uint8Array,
  password: string,
  opts: EncryptOptions = {},
): { algId: Uint8Array; ciphertext: Uint8Array } {
  const iterations = opts.iterations ?? 10000;
  if (opts.scheme && opts.scheme !== "pbes2") {
    const salt = randomBytes(20);
    const algId = der.encAlg(opts.scheme, der.encSeq(der.encOctets(salt), der.encInt(iterations)));
    const spec = pkcs12Spec(opts.scheme, der.parse(algId).children[1], password);
    return { algId, ciphertext: cbcEncrypt(spec, data) };
  }
  const cipher = opts.cipher ?? "aes-256-cbc";
  const prf = opts.prf ?? "sha256";
  const p: Pbes2Params = {
    salt: randomBytes(16),
    iterations,
    prf,
    cipher,
    iv: randomBytes(cipher === "des-ede3-cbc" ? 8 : 16),
  };
  const kdfParams = der.encSeq(
    der.encOctets(p.salt),
    der.encInt(iterations),
    ...(prf === "sha1" ? [] : [der.encAlg(PRF_OID[prf], null)]),
  );
  const algId = der.encAlg(
    OID.pbes2,
    der.encSeq(der.encAlg(OID.pbkdf2, kdfParams), der.encAlg(CIPHER_OID[cipher], der.encOctets(p.iv))),
  );
  return { algId, ciphertext: cbcEncrypt(pbes2Spec(p, password), data) };
}
