/** Byte helpers shared by the keystore codecs (Uint8Array only, so Bun and Deno behave alike). */
import { Buffer } from "node:buffer";
import { nodeCrypto } from "../../util/node-crypto.ts";

export function concat(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export const toHex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
export const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
export const toBase64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
export const fromBase64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
export const fromBase64Url = (s: string) => new Uint8Array(Buffer.from(s, "base64url"));
export const utf8 = (s: string) => new TextEncoder().encode(s);
export const randomBytes = (n: number) => new Uint8Array(nodeCrypto().randomBytes(n));

/** Java's char[] as big-endian UTF-16 bytes: what JKS and the Sun KeyProtector hash. */
export function utf16be(s: string): Uint8Array {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    b[2 * i] = s.charCodeAt(i) >> 8;
    b[2 * i + 1] = s.charCodeAt(i) & 0xff;
  }
  return b;
}

/** A copy that owns its own ArrayBuffer, as WebCrypto and @peculiar/x509 want. */
export function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer as ArrayBuffer;
}
