/**
 * Byte-level primitives shared by the value serializer and the session file codec.
 * Every multi-byte number is written in one fixed way (big-endian floats, minimal LEB128
 * varints, one canonical NaN) so the same value gives the same bytes on Bun and on Deno.
 */
import type { Buffer } from "node:buffer";

import { CorruptDataError } from "./errors.ts";

type Latin1Slice = (this: Buffer, start: number, end: number) => string;
/**
 * Short ASCII strings (ids, attribute names, short values) are made by Buffer's latin1Slice
 * where Buffer is native (Bun, Node): toString's argument handling costs more than the copy. On
 * Deno, Buffer is its Node layer, ~25 modules compiled at the first touch (~30 ms of CPU at the
 * first restored session: src/util/host/deno.ts), and where there is no Buffer at all (an edge
 * runtime) it cannot be used: there the char codes go into a plain array and one
 * String.fromCharCode makes the string, as in id-generator.ts (on Deno ~115 ns for 32 bytes
 * against ~90 for latin1Slice, ~50 against ~95 for 4 bytes).
 */
const nativeBuffer = (globalThis as { Deno?: unknown }).Deno === undefined
  ? (globalThis as unknown as { Buffer?: typeof import("node:buffer").Buffer }).Buffer
  : undefined;
const latin1Slice: Latin1Slice | undefined = (nativeBuffer?.prototype as { latin1Slice?: Latin1Slice } | undefined)
  ?.latin1Slice;
/** The char codes of asciiString's string, exactly its length long (fromCharCode takes the array whole). */
const codes: number[] = [];
const fromCharCodes = String.fromCharCode as (...codes: number[]) => string;

/** Bytes [start, start + n) of `b`, all below 0x80, as a string (n ≤ 256: one call's arguments). */
function asciiString(b: Uint8Array, start: number, n: number): string {
  if (codes.length !== n) codes.length = 0;
  for (let i = 0; i < n; i++) codes[i] = b[start + i]!;
  return fromCharCodes.apply(null, codes);
}

const encoder = new TextEncoder();
// ignoreBOM: a string that starts with U+FEFF must come back with it.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * UTF-8 length of `s`, or -1 when it holds a lone surrogate (which UTF-8 cannot carry, so such
 * strings are written as UTF-16).
 */
function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c < 0xd800 || c > 0xdfff) bytes += 3;
    else if (c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else return -1;
  }
  return bytes;
}

/** f64's scratch: a number's bytes in the machine's order. */
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** ByteWriter.f64's bytes of `v` into `buf` at `p`; returns the position after them. */
export function putF64(buf: Uint8Array, p: number, v: number): number {
  if (v !== v) {
    buf[p] = 0x7f;
    buf[p + 1] = 0xf8;
    for (let i = 2; i < 8; i++) buf[p + i] = 0;
    return p + 8;
  }
  F64[0] = v;
  if (LITTLE_ENDIAN) {
    buf[p] = F64_BYTES[7]!;
    buf[p + 1] = F64_BYTES[6]!;
    buf[p + 2] = F64_BYTES[5]!;
    buf[p + 3] = F64_BYTES[4]!;
    buf[p + 4] = F64_BYTES[3]!;
    buf[p + 5] = F64_BYTES[2]!;
    buf[p + 6] = F64_BYTES[1]!;
    buf[p + 7] = F64_BYTES[0]!;
  } else {
    for (let i = 0; i < 8; i++) buf[p + i] = F64_BYTES[i]!;
  }
  return p + 8;
}

export class ByteWriter {
  private buf: Uint8Array;
  // Created on first use: most frames never need one, and allocating it costs more than the write.
  private dataView: DataView | null = null;
  private pos = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
  }

  private get view(): DataView {
    return (this.dataView ??= new DataView(this.buf.buffer));
  }

  /** Bytes of buffer held, for a pool deciding whether to keep this writer. */
  get capacity(): number {
    return this.buf.length;
  }

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
    this.dataView = null;
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
    if (v < 0x80) {
      this.reserve(1);
      this.buf[this.pos++] = v;
      return;
    }
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
    // NaN payloads differ between engines: putF64 writes one canonical quiet NaN; big-endian
    // through a scratch Float64Array, cheaper than DataView.setFloat64 on Bun.
    this.pos = putF64(this.buf, this.pos, v);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Length-prefixed bytes. */
  block(b: Uint8Array): void {
    this.varint(b.length);
    if (b.length > 64) return this.bytes(b);
    // Short frames: a loop costs less than the native call.
    this.reserve(b.length);
    const buf = this.buf;
    for (let i = 0; i < b.length; i++) buf[this.pos + i] = b[i]!;
    this.pos += b.length;
  }

  /** What `other` has written, as it is. */
  append(other: ByteWriter): void {
    const n = other.pos;
    this.reserve(n);
    if (n > 64) {
      this.buf.set(other.buf.subarray(0, n), this.pos);
    } else {
      const buf = this.buf;
      const src = other.buf;
      for (let i = 0; i < n; i++) buf[this.pos + i] = src[i]!;
    }
    this.pos += n;
  }

  /** What `other` has written, length-prefixed (as block(other.written()), without the view). */
  blockOf(other: ByteWriter): void {
    this.varint(other.pos);
    this.append(other);
  }

  /** Header varint = 2 × byte length (UTF-8) or 2 × code units + 1 (UTF-16LE, for lone surrogates). */
  str(s: string): void {
    const n = s.length;
    if (n < 64) {
      // Short ASCII (ids, names, most values): copied while checked, the header one byte.
      this.reserve(n + 1);
      const buf = this.buf;
      const at = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        buf[at - 1] = n * 2;
        this.pos = at + n;
        return;
      }
    }
    const bytes = utf8Length(s);
    if (bytes < 0) {
      this.varint(s.length * 2 + 1);
      this.reserve(s.length * 2);
      for (let i = 0; i < s.length; i++) this.view.setUint16(this.pos + i * 2, s.charCodeAt(i), true);
      this.pos += s.length * 2;
      return;
    }
    this.varint(bytes * 2);
    this.reserve(bytes);
    if (bytes === s.length) {
      // ASCII: a plain loop beats a TextEncoder call for the short ids and names sessions are full of.
      for (let i = 0; i < bytes; i++) this.buf[this.pos + i] = s.charCodeAt(i);
    } else {
      encoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + bytes));
    }
    this.pos += bytes;
  }

  /**
   * The buffer, with room for bytes up to `end` (exclusive): for a writer that puts bytes past
   * `length` itself (then calls setLength). A new buffer keeps every byte of the old one.
   */
  room(end: number): Uint8Array {
    if (end <= this.buf.length) return this.buf;
    let size = this.buf.length * 2;
    while (size < end) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf);
    this.buf = next;
    this.dataView = null;
    return next;
  }

  /** Ends what was written at `length` on, through room(), at `end`. */
  setLength(end: number): void {
    this.pos = end;
  }

  /** Drops what was written after the first `length` bytes. */
  truncate(length: number): void {
    if (length < this.pos) this.pos = length;
  }

  /**
   * Replaces the one-byte placeholder at `at` (written as u8(0)) with varint(`value`), moving
   * what follows when the varint needs more bytes: a length or count written before what it
   * counts, without a second buffer and copy.
   */
  patchVarint(at: number, value: number): void {
    if (value < 0x80) {
      this.buf[at] = value;
      return;
    }
    let size = 1;
    for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) size++;
    this.reserve(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    for (let v = value, i = at;; i++) {
      if (v < 0x80) {
        this.buf[i] = v;
        break;
      }
      this.buf[i] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
  }

  /** The bytes written so far, without copying; valid until the next write or reset. */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class ByteReader {
  /** Absolute position in `bytes`. */
  pos: number;
  /** Where this reader's bytes end (exclusive); a window() reads a part of its parent's bytes. */
  private end_: number;
  /** Where this reader started: error messages count from it. */
  private base: number;
  /** With `what`, error messages name "what #number" (see reset). */
  private number = -1;

  /** `what`, when given, prefixes error messages (e.g. "session #3"). */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what = "",
    start = 0,
    end = bytes.length,
    private dataView: DataView | null = null,
    /** The same bytes as a Buffer, for latin1Slice (where Buffer is native). */
    private buffer: Buffer | null = null,
  ) {
    this.pos = this.base = start;
    this.end_ = end;
  }

  private get view(): DataView {
    return (this.dataView ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength));
  }

  /** Only where latin1Slice is set (nativeBuffer). */
  private get latin1(): Buffer {
    return (this.buffer ??= nativeBuffer!.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength));
  }

  get remaining(): number {
    return this.end_ - this.pos;
  }

  /** The next `n` bytes as a reader of their own (no copy, no view); this reader moves past them. */
  window(n: number, what: string): ByteReader {
    this.need(n);
    const r = new ByteReader(this.bytes, what, this.pos, this.pos + n, this.view, latin1Slice ? this.latin1 : null);
    this.pos += n;
    return r;
  }

  /**
   * Reads bytes [start, end) of the same buffer from now on, as a window() of them would (one
   * reader reused for many records or frames); `number` ≥ 0 names them "what #number" in errors.
   */
  reset(start: number, end: number, number = -1): void {
    this.pos = this.base = start;
    this.end_ = end;
    this.number = number;
  }

  /** A reader of the same bytes (for reset), sharing this one's views. */
  sibling(what = ""): ByteReader {
    return new ByteReader(this.bytes, what, this.pos, this.pos, this.view, latin1Slice ? this.latin1 : null);
  }

  /** Moves past `n` bytes. */
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  fail(message: string): never {
    const what = this.number >= 0 ? `${this.what} #${this.number}` : this.what;
    throw new CorruptDataError(`${what ? `${what}: ` : ""}${message} (at byte ${this.pos - this.base})`);
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
      if (n <= 256) {
        // Short ASCII (ids, names): latin1 decoding is exact for it, and far cheaper than TextDecoder.
        this.need(n);
        const bytes = this.bytes;
        let i = 0;
        while (i < n && bytes[this.pos + i]! < 0x80) i++;
        if (i === n) {
          const s = latin1Slice
            ? latin1Slice.call(this.latin1, this.pos, this.pos + n)
            : asciiString(bytes, this.pos, n);
          this.pos += n;
          return s;
        }
      }
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

  /**
   * Moves past a str() with the same checks, without making the string when it is ASCII (then
   * the bytes are the string). Returns the str's header (0 for the empty string).
   */
  skipStr(): number {
    const start = this.pos;
    const header = this.varint();
    if (header % 2 === 0) {
      const n = header / 2;
      this.need(n);
      const bytes = this.bytes;
      const end = this.pos + n;
      let i = this.pos;
      while (i < end && bytes[i]! < 0x80) i++;
      if (i === end) {
        this.pos = end;
        return header;
      }
    }
    this.pos = start;
    this.str();
    return header;
  }

  /**
   * As str(), returning the string of `cache` with the same bytes when there is one: the same few
   * attribute names repeat in every session, and one string each saves both the decoding and the
   * memory of a copy per session. ASCII strings up to 64 bytes are cached, at most 64 of them.
   */
  cachedStr(cache: string[]): string {
    const start = this.pos;
    const header = this.varint();
    const n = header / 2;
    if (n <= 64 && header % 2 === 0 && n <= this.remaining) {
      const bytes = this.bytes;
      const at = this.pos;
      for (let c = 0; c < cache.length; c++) {
        const s = cache[c]!;
        if (s.length !== n) continue;
        let i = 0;
        while (i < n && bytes[at + i] === s.charCodeAt(i)) i++;
        if (i === n) {
          this.pos = at + n;
          return s;
        }
      }
    }
    this.pos = start;
    const s = this.str();
    if (s.length <= 64 && cache.length < 64 && this.pos - start === varintSize(s.length * 2) + s.length) cache.push(s);
    return s;
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing byte(s)`);
  }
}

/**
 * FNV-1a over bytes [from, to) of `b`, mixed with a str's header `h` (the hash of a str by its
 * encoded characters: the sessions file's index of ids).
 */
export function strHash(b: Uint8Array, from: number, to: number, h: number): number {
  let x = 0x811c9dc5 ^ h;
  for (let i = from; i < to; i++) x = Math.imul(x ^ b[i]!, 0x01000193);
  return x >>> 0;
}

export function varintSize(v: number): number {
  let size = 1;
  for (; v >= 0x80; v = Math.floor(v / 0x80)) size++;
  return size;
}

export { crc32, crc32js } from "./crc32.ts";
