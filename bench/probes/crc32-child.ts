/**
 * One CRC-32 candidate in a fresh process (bench/crc32.ts runs it): its first call on an
 * `--mb` MB buffer at an unaligned offset (as at a server's start: nothing warmed up, the
 * WebAssembly module instantiated by that call), its CPU time (all threads: the
 * runtime's compilers too), the median of `--rounds` more, and the mean
 * over 20,000 calls on 300 bytes (a single session's file). Prints one JSON line.
 */
import { crc32, crc32js, crc32wasm } from "../../src/session/crc32.ts";

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
const opt = (name: string, d: string) => args.includes(name) ? args[args.indexOf(name) + 1]! : d;
const which = opt("--impl", "crc32");
const mb = Number(opt("--mb", "8.8"));
const rounds = Number(opt("--rounds", "5"));

let T16: Uint32Array | undefined;
/** Slicing-by-16 reading 32-bit words (a Uint32Array view from the first aligned byte): the JavaScript alternative. */
function slicing16(bytes: Uint8Array, previous = 0): number {
  if (!T16) {
    T16 = new Uint32Array(256 * 16);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      T16[n] = c >>> 0;
    }
    for (let i = 256; i < 4096; i++) T16[i] = (T16[i - 256]! >>> 8) ^ T16[T16[i - 256]! & 0xff]!;
  }
  const t = T16;
  let c = (previous ^ 0xffffffff) >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i < n && ((bytes.byteOffset + i) & 3) !== 0; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  const words = ((n - i) >>> 4) << 2;
  if (words > 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let at = 0; at < words; at += 16384) c = words16(t, c, w, at, Math.min(words, at + 16384));
    i += words * 4;
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function words16(t: Uint32Array, crc: number, w: Uint32Array, start: number, end: number): number {
  let c = crc;
  for (let j = start; j < end; j += 4) {
    const a = c ^ w[j]!, b = w[j + 1]!, d = w[j + 2]!, e = w[j + 3]!;
    c = t[3840 + (a & 0xff)]! ^ t[3584 + ((a >>> 8) & 0xff)]! ^ t[3328 + ((a >>> 16) & 0xff)]! ^ t[3072 + (a >>> 24)]! ^
      t[2816 + (b & 0xff)]! ^ t[2560 + ((b >>> 8) & 0xff)]! ^ t[2304 + ((b >>> 16) & 0xff)]! ^ t[2048 + (b >>> 24)]! ^
      t[1792 + (d & 0xff)]! ^ t[1536 + ((d >>> 8) & 0xff)]! ^ t[1280 + ((d >>> 16) & 0xff)]! ^ t[1024 + (d >>> 24)]! ^
      t[768 + (e & 0xff)]! ^ t[512 + ((e >>> 8) & 0xff)]! ^ t[256 + ((e >>> 16) & 0xff)]! ^ t[e >>> 24]!;
  }
  return c;
}

const impls: Record<string, (b: Uint8Array, p?: number) => number> = { crc32, js: crc32js, wasm: crc32wasm, slicing16 };
const f = impls[which]!;
const big = new Uint8Array(Math.round(mb * 1e6) + 7);
for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
const body = big.subarray(7);

const cpu = () => {
  const u = (globalThis as unknown as { process: { cpuUsage(): { user: number; system: number } } }).process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const cpu0 = cpu();
let s = performance.now();
const got = f(body);
const cold = performance.now() - s;
const coldCpu = cpu() - cpu0;
const times: number[] = [];
for (let r = 0; r < rounds; r++) {
  s = performance.now();
  f(body);
  times.push(performance.now() - s);
}
times.sort((a, b) => a - b);
const small = big.subarray(1, 301);
let x = 0;
s = performance.now();
for (let i = 0; i < 20000; i++) x ^= f(small);
const smallUs = (performance.now() - s) / 20;
const ok = got === crc32js(body) && x === 0;
console.log(JSON.stringify({ cold, coldCpu, warm: times[rounds >> 1], smallUs, ok }));
