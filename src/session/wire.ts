/**
 * Byte-level primitives shared by the value serializer and the session file codec.
 * Every multi-byte number is written in one fixed way (big-endian floats, minimal LEB128
 * varints, one canonical NaN) so the same value gives the same bytes on Bun and on Deno.
 */
import { CorruptDataError } from "./errors.ts";

const encoder = new TextEncoder();
// ignoreBOM: a string that starts with U+FEFF must come back with it.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// A lone surrogate cannot be UTF-8 encoded without loss; such strings are written as UTF-16.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  get length(): number {
    return this.pos;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  /** Unsigned LEB128, minimal form, up to Number.MAX_SAFE_INTEGER. */
  varint(v: number): void {
    this.reserve(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** A signed 32-bit integer, zigzag-mapped so small negatives stay short. */
  zigzag32(v: number): void {
    this.varint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  f64(v: number): void {
    this.reserve(8);
    if (Number.isNaN(v)) {
      // NaN payloads differ between engines; one canonical quiet NaN keeps the bytes identical.
      this.view.setUint32(this.pos, 0x7ff80000);
      this.view.setUint32(this.pos + 4, 0);
    } else {
      this.view.setFloat64(this.pos, v);
    }
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Length-prefixed bytes. */
  block(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }

  /** Header varint = 2 × byte length (UTF-8) or 2 × code units + 1 (UTF-16LE, for lone surrogates). */
  str(s: string): void {
    if (!LONE_SURROGATE.test(s)) {
      const b = encoder.encode(s);
      this.varint(b.length * 2);
      this.bytes(b);
      return;
    }
    this.varint(s.length * 2 + 1);
    this.reserve(s.length * 2);
    for (let i = 0; i < s.length; i++) this.view.setUint16(this.pos + i * 2, s.charCodeAt(i), true);
    this.pos += s.length * 2;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class ByteReader {
  private readonly view: DataView;
  pos = 0;

  /** `what` names the thing being read, for error messages ("session file", "attribute value"). */
  constructor(private readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  fail(message: string): never {
    throw new CorruptDataError(`${this.what}: ${message} (at byte ${this.pos})`);
  }

  private need(n: number): void {
    if (n > this.remaining) this.fail(`needs ${n} more byte(s) but only ${this.remaining} remain`);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) this.fail("non-minimal varint");
        if (result > Number.MAX_SAFE_INTEGER) this.fail("varint out of range");
        return result;
      }
      scale *= 0x80;
    }
    return this.fail("varint longer than 8 bytes");
  }

  /** A count of items that each take at least `minItemBytes`, so garbage cannot demand huge allocations. */
  count(minItemBytes: number): number {
    const n = this.varint();
    if (n * minItemBytes > this.remaining) this.fail(`count ${n} exceeds the remaining ${this.remaining} byte(s)`);
    return n;
  }

  zigzag32(): number {
    const v = this.varint();
    if (v > 0xffffffff) this.fail("int32 out of range");
    return (v >>> 1) ^ -(v & 1);
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  bytesOf(n: number): Uint8Array {
    this.need(n);
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  block(): Uint8Array {
    return this.bytesOf(this.count(1));
  }

  str(): string {
    const header = this.varint();
    const n = Math.floor(header / 2);
    if (header % 2 === 0) {
      const b = this.bytesOf(n);
      try {
        return decoder.decode(b);
      } catch {
        this.pos -= n;
        return this.fail("invalid UTF-8 in string");
      }
    }
    this.need(n * 2);
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.view.getUint16(this.pos + i * 2, true));
    this.pos += n * 2;
    return s;
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing byte(s)`);
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib and PNG use). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
