/**
 * CRC-32 (IEEE 802.3, as zlib and PNG use) of the session files.
 *
 * Bun has it natively (Bun.hash.crc32). Deno and Node have it in node:zlib, which is not
 * imported for it: loading node:zlib (and the streams under it) costs 100–400 ms of start-up,
 * more than the CRC of a whole sessions file. There a small WebAssembly module does it
 * (slicing-by-8, its tables built by the module itself as it is instantiated, ~1 ms once, at the
 * first CRC): a sessions file of 100,000 sessions (8.8 MB) takes ~9 ms at a cold start where the
 * JavaScript table loop took 15–45 ms, since WebAssembly runs compiled from the first call while
 * JavaScript runs interpreted until V8 has optimized it (bench/crc32.ts measures both).
 */

/** Slicing-by-8 tables: T[k][b] is the CRC of byte b followed by k zero bytes. Built at first use. */
let tables: Uint32Array | undefined;
function crcTables(): Uint32Array {
  if (tables) return tables;
  const t = new Uint32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  }
  return tables = t;
}

/**
 * Slicing-by-8 in JavaScript: eight table lookups per 8 bytes, then a byte at a time. Run in
 * 64 KiB calls: a function called often is optimized sooner than one long loop (V8 took ~0.6 s
 * for 8 MB in one). Where there is no WebAssembly, and as the reference the tests hold the
 * others to.
 */
export function crc32js(bytes: Uint8Array, previous = 0): number {
  const t = crcTables();
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let at = 0; at < bytes.length; at += 65536) c = crcUpdate(t, c, bytes, at, Math.min(bytes.length, at + 65536));
  return (c ^ 0xffffffff) >>> 0;
}

function crcUpdate(t: Uint32Array, crc: number, bytes: Uint8Array, start: number, n: number): number {
  let c = crc;
  let i = start;
  for (const end = n - ((n - start) % 8); i < end; i += 8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c = t[1792 + (lo & 0xff)]! ^ t[1536 + ((lo >>> 8) & 0xff)]! ^ t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^ t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

// --- The WebAssembly module, assembled here (no toolchain): its memory holds the eight tables
// (T[k] at k × 1024) and, from WINDOW_AT, the window the bytes are copied into, 64 KiB at a time.

const WINDOW_AT = 65536;
const WINDOW = 65536;
const I32 = 0x7f;
const [BLOCK, LOOP, BR, BR_IF, END, EMPTY] = [0x02, 0x03, 0x0c, 0x0d, 0x0b, 0x40];
const [GET, SET, LOAD, LOAD8U, STORE] = [0x20, 0x21, 0x28, 0x2d, 0x36];
const [EQZ, LTU, GEU, ADD, SUB, AND, XOR, SHL, SHRU] = [0x45, 0x49, 0x4f, 0x6a, 0x6b, 0x71, 0x73, 0x74, 0x76];

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n !== 0 ? b | 0x80 : b);
  } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return out.push(b), out;
    out.push(b | 0x80);
  }
}
const get = (l: number) => [GET, l];
const set = (l: number) => [SET, l];
const k32 = (v: number) => [0x41, ...sleb(v)];
const load = (offset: number) => [LOAD, 2, ...uleb(offset)];
/** T[k][x], x (0..255) on the stack. */
const lookup = (k: number) => [...k32(2), SHL, ...load(k * 1024)];
/** Byte `shift / 8` of local l, T[k] of it. */
const byteOf = (l: number, shift: number, k: number) => [
  ...get(l),
  ...(shift ? [...k32(shift), SHRU] : []),
  ...(shift < 24 ? [...k32(255), AND] : []),
  ...lookup(k),
];

// deno-fmt-ignore
function crcModule(): Uint8Array {
  // (func $init) — the start function: T[0][n] bit by bit, then T[k][n] = T[k-1][n] >>> 8 ^
  // T[0][T[k-1][n] & 255], address by address (T[k][n] is 1024 bytes after T[k-1][n]).
  // locals: 0 the address (4 n), 1 c, 2 bits left
  const init = [
    1, 3, I32,
    LOOP, EMPTY,
    ...get(0), ...k32(2), SHRU, ...set(1),
    ...k32(8), ...set(2),
    LOOP, EMPTY, // c = c >>> 1 ^ (0xedb88320 & -(c & 1)), eight times
    ...get(1), ...k32(1), SHRU, ...k32(0), ...get(1), ...k32(1), AND, SUB, ...k32(0xedb88320 | 0), AND, XOR, ...set(1),
    ...get(2), ...k32(1), SUB, ...set(2),
    ...get(2), EQZ, EQZ, BR_IF, 0,
    END,
    ...get(0), ...get(1), STORE, 2, 0,
    ...get(0), ...k32(4), ADD, ...set(0),
    ...get(0), ...k32(1024), LTU, BR_IF, 0,
    END,
    LOOP, EMPTY,
    ...get(0), ...k32(1024), SUB, LOAD, 2, 0, ...set(1),
    ...get(0), ...get(1), ...k32(8), SHRU, ...get(1), ...k32(255), AND, ...lookup(0), XOR, STORE, 2, 0,
    ...get(0), ...k32(4), ADD, ...set(0),
    ...get(0), ...k32(8192), LTU, BR_IF, 0,
    END,
    END,
  ];
  // (func $update (param crc p len) (result i32)): like zlib's crc32(crc, buf, len).
  // locals: 0 crc, 1 p, 2 len, 3 end of the 8-byte steps, 4 the step's upper word, 5 end
  const update = [
    1, 3, I32,
    ...get(0), ...k32(-1), XOR, ...set(0),
    ...get(1), ...get(2), ADD, ...set(5),
    ...get(1), ...get(2), ...k32(-8), AND, ADD, ...set(3),
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(1), ...get(3), GEU, BR_IF, 1,
    ...get(0), ...get(1), ...load(0), XOR, ...set(0),
    ...get(1), ...load(4), ...set(4),
    ...byteOf(0, 0, 7), ...byteOf(0, 8, 6), XOR, ...byteOf(0, 16, 5), XOR, ...byteOf(0, 24, 4), XOR,
    ...byteOf(4, 0, 3), XOR, ...byteOf(4, 8, 2), XOR, ...byteOf(4, 16, 1), XOR, ...byteOf(4, 24, 0), XOR,
    ...set(0),
    ...get(1), ...k32(8), ADD, ...set(1),
    BR, 0, END, END,
    BLOCK, EMPTY, LOOP, EMPTY, // the last 0–7 bytes, one at a time
    ...get(1), ...get(5), GEU, BR_IF, 1,
    ...get(0), ...get(1), LOAD8U, 0, 0, XOR, ...k32(255), AND, ...lookup(0),
    ...get(0), ...k32(8), SHRU, XOR, ...set(0),
    ...get(1), ...k32(1), ADD, ...set(1),
    BR, 0, END, END,
    ...get(0), ...k32(-1), XOR,
    END,
  ];
  const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
  const fn = (body: number[]) => [...uleb(body.length), ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [2, 0x60, 0, 0, 0x60, 3, I32, I32, I32, 1, I32]), // types: () → (), (i32 i32 i32) → i32
    ...section(3, [2, 0, 1]), // functions: $init, $update
    ...section(5, [1, 0, ...uleb((WINDOW_AT + WINDOW) / 65536)]), // memory: tables and window
    ...section(7, [2, 1, 0x6d, 2, 0, 1, 0x75, 0, 1]), // exports: "m" the memory, "u" $update
    ...section(8, [0]), // start: $init
    ...section(10, [2, ...fn(init), ...fn(update)]),
  ]);
}

type Update = (crc: number, at: number, length: number) => number;
let wasm: { update: Update; memory: Uint8Array } | null | undefined;

/** The module, instantiated at the first CRC (synchronously: it is small); null where it cannot be. */
function crcWasm(): { update: Update; memory: Uint8Array } | null {
  if (wasm !== undefined) return wasm;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(crcModule() as BufferSource), {});
    const memory = new Uint8Array((instance.exports.m as WebAssembly.Memory).buffer);
    wasm = { update: instance.exports.u as Update, memory };
  } catch {
    wasm = null;
  }
  return wasm;
}

/** CRC-32 with the WebAssembly module, the bytes copied into its window 64 KiB at a time. */
export function crc32wasm(bytes: Uint8Array, previous = 0): number {
  const w = crcWasm();
  if (!w) return crc32js(bytes, previous);
  let c = previous >>> 0;
  for (let at = 0; at < bytes.length; at += WINDOW) {
    const n = Math.min(WINDOW, bytes.length - at);
    w.memory.set(n === bytes.length ? bytes : bytes.subarray(at, at + n), WINDOW_AT);
    c = w.update(c, WINDOW_AT, n) >>> 0;
  }
  return c;
}

const nativeCrc32 = (globalThis as { Bun?: { hash?: { crc32?: (data: Uint8Array, seed?: number) => number } } }).Bun
  ?.hash?.crc32;

/**
 * CRC-32. `previous`: the CRC of the bytes before these, as zlib's crc32(crc, buf, len) takes
 * it: crc32(b, crc32(a)) is the CRC of a then b. On Bun its own (the JavaScript loop below 257
 * bytes, where it is the quicker), elsewhere the WebAssembly module's.
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  if (typeof nativeCrc32 === "function") {
    return bytes.length > 256 ? nativeCrc32(bytes, previous) >>> 0 : crc32js(bytes, previous);
  }
  return crc32wasm(bytes, previous);
}
