/** Byte helpers shared by the keystore codecs (Uint8Array only, so Bun and Deno behave alike). */
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

/**
 * Hex and base64 through Buffer, whose lenient decoding (skipping what is not base64 or hex)
 * every caller is used to; on Deno through the native Uint8Array.fromBase64/toHex family first,
 * as Deno's Buffer is its Node layer (compiled at the first touch, src/util/host/deno.ts, which
 * reading a PEM certificate at start should not need), and Buffer only for input that the
 * strict native decoder refuses, so the result is the same.
 */
type NativeCodecs = {
  fromBase64(s: string, o?: { alphabet?: "base64" | "base64url" }): Uint8Array;
  fromHex(s: string): Uint8Array;
};
type NativeEncoders = { toBase64(): string; toHex(): string };
const nativeCodecs = (globalThis as { Deno?: unknown }).Deno !== undefined &&
    typeof (Uint8Array as unknown as Partial<NativeCodecs>).fromBase64 === "function"
  ? Uint8Array as unknown as NativeCodecs
  : undefined;
const buffer = () => (globalThis as unknown as { Buffer: typeof import("node:buffer").Buffer }).Buffer;
const bufferOf = (b: Uint8Array) => buffer().from(b.buffer, b.byteOffset, b.byteLength);

function decode(native: (() => Uint8Array) | undefined, lenient: () => Uint8Array): Uint8Array {
  if (native) {
    try {
      return native();
    } catch { /* not strictly valid: Buffer's reading of it below */ }
  }
  return lenient();
}

export const toHex = (b: Uint8Array) =>
  nativeCodecs ? (b as unknown as NativeEncoders).toHex() : bufferOf(b).toString("hex");
export const fromHex = (s: string) =>
  decode(nativeCodecs && (() => nativeCodecs.fromHex(s)), () => new Uint8Array(buffer().from(s, "hex")));
export const toBase64 = (b: Uint8Array) =>
  nativeCodecs ? (b as unknown as NativeEncoders).toBase64() : bufferOf(b).toString("base64");
export const fromBase64 = (s: string) =>
  decode(nativeCodecs && (() => nativeCodecs.fromBase64(s)), () => new Uint8Array(buffer().from(s, "base64")));
export const fromBase64Url = (s: string) =>
  decode(
    nativeCodecs && (() => nativeCodecs.fromBase64(s, { alphabet: "base64url" })),
    () => new Uint8Array(buffer().from(s, "base64url")),
  );
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
