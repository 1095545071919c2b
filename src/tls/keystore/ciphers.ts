/**
 * The block ciphers keystores use, in CBC mode with PKCS#7 padding. AES and 3DES come from
 * node:crypto (present on Bun and Deno); single DES is 3DES with one key repeated, since Deno
 * has no `des-cbc`; RC2 is ours (rc2.ts). Bad padding is reported as `PaddingError`, which the
 * callers read as "wrong password".
 */
import { nodeCrypto } from "../../util/node-crypto.ts";
import { concat } from "./bytes.ts";
import { rc2DecryptBlock, rc2EncryptBlock, rc2KeySchedule } from "./rc2.ts";

export class PaddingError extends Error {
  override name = "PaddingError";
}

export type CipherName = "aes-128-cbc" | "aes-192-cbc" | "aes-256-cbc" | "des-ede3-cbc" | "des-cbc" | "rc2-cbc";

export interface CipherSpec {
  name: CipherName;
  key: Uint8Array;
  iv: Uint8Array;
  /** RC2 only: effective key bits (40 or 128). */
  rc2Bits?: number;
}

export const KEY_LENGTH: Record<CipherName, number> = {
  "aes-128-cbc": 16,
  "aes-192-cbc": 24,
  "aes-256-cbc": 32,
  "des-ede3-cbc": 24,
  "des-cbc": 8,
  "rc2-cbc": 16,
};
export const BLOCK_SIZE: Record<CipherName, number> = {
  "aes-128-cbc": 16,
  "aes-192-cbc": 16,
  "aes-256-cbc": 16,
  "des-ede3-cbc": 8,
  "des-cbc": 8,
  "rc2-cbc": 8,
};

function pad(data: Uint8Array, bs: number): Uint8Array {
  const n = bs - (data.length % bs);
  return concat(data, new Uint8Array(n).fill(n));
}

function unpad(data: Uint8Array, bs: number): Uint8Array {
  const n = data[data.length - 1];
  if (data.length === 0 || n === 0 || n > bs) throw new PaddingError("bad padding");
  for (let i = data.length - n; i < data.length; i++) if (data[i] !== n) throw new PaddingError("bad padding");
  return data.subarray(0, data.length - n);
}

function nodeCipher(spec: CipherSpec): [string, Uint8Array] {
  if (spec.name === "des-cbc") return ["des-ede3-cbc", concat(spec.key, spec.key, spec.key)];
  return [spec.name, spec.key];
}

function check(spec: CipherSpec): void {
  const bs = BLOCK_SIZE[spec.name];
  if (spec.iv.length !== bs) throw new PaddingError(`${spec.name}: IV must be ${bs} bytes, found ${spec.iv.length}`);
}

export function cbcDecrypt(spec: CipherSpec, data: Uint8Array): Uint8Array {
  check(spec);
  const bs = BLOCK_SIZE[spec.name];
  if (data.length === 0 || data.length % bs) {
    throw new PaddingError(`ciphertext length ${data.length} is not a multiple of ${bs}`);
  }
  let plain: Uint8Array;
  if (spec.name === "rc2-cbc") {
    const K = rc2KeySchedule(spec.key, spec.rc2Bits ?? spec.key.length * 8);
    plain = new Uint8Array(data.length);
    let prev = spec.iv;
    for (let off = 0; off < data.length; off += 8) {
      const block = data.subarray(off, off + 8);
      const p = rc2DecryptBlock(K, block);
      for (let i = 0; i < 8; i++) plain[off + i] = p[i] ^ prev[i];
      prev = block;
    }
  } else {
    const [name, key] = nodeCipher(spec);
    const d = nodeCrypto().createDecipheriv(name, key, spec.iv);
    d.setAutoPadding(false);
    plain = concat(new Uint8Array(d.update(data)), new Uint8Array(d.final()));
  }
  return unpad(plain, bs);
}

export function cbcEncrypt(spec: CipherSpec, data: Uint8Array): Uint8Array {
  check(spec);
  const bs = BLOCK_SIZE[spec.name];
  const padded = pad(data, bs);
  if (spec.name === "rc2-cbc") {
    const K = rc2KeySchedule(spec.key, spec.rc2Bits ?? spec.key.length * 8);
    const out = new Uint8Array(padded.length);
    let prev = spec.iv;
    for (let off = 0; off < padded.length; off += 8) {
      const x = padded.slice(off, off + 8);
      for (let i = 0; i < 8; i++) x[i] ^= prev[i];
      prev = rc2EncryptBlock(K, x);
      out.set(prev, off);
    }
    return out;
  }
  const [name, key] = nodeCipher(spec);
  const c = nodeCrypto().createCipheriv(name, key, spec.iv);
  c.setAutoPadding(false);
  return concat(new Uint8Array(c.update(padded)), new Uint8Array(c.final()));
}
