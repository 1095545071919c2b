/**
 * Tomcat's StandardSessionIdGenerator: `sessionIdLength` random bytes as upper-case hex, plus
 * `.jvmRoute` so a load balancer can keep a client on the node that holds its session.
 * The bytes come from the runtime's CSPRNG (crypto.getRandomValues, drawn in 4 KiB batches);
 * Tomcat's secureRandom* attributes have nothing to choose between here.
 */
import { logger } from "../util/log.ts";
import { SessionIdGenerator as SessionIdGeneratorDef } from "../config/schema.ts";

const log = logger("session");
/** Upper-case hex digits as char codes: HEX_CODES[2b], HEX_CODES[2b + 1] spell byte b. */
const HEX_CODES = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  const hex = b.toString(16).toUpperCase().padStart(2, "0");
  HEX_CODES[2 * b] = hex.charCodeAt(0);
  HEX_CODES[2 * b + 1] = hex.charCodeAt(1);
}
// getRandomValues refuses more than 65536 bytes per call.
const MAX_RANDOM_CHUNK = 65536;
/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time (one call per 256 ids of 16 bytes, not
 * one per id); each byte is handed out once and wiped as it is used, so the pool never holds a
 * byte of an id already given out.
 */
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolUsed = POOL_SIZE;
type NativeBuffer = {
  alloc(n: number): Uint8Array;
  prototype: { latin1Slice?: (this: Uint8Array, start: number, end: number) => string };
};
/**
 * Bun's and Node's Buffer (native there; its latin1Slice is the fastest way to a string). On Deno
 * Buffer is its Node layer, 25 modules compiled at the first touch (src/util/host/deno.ts), and a
 * TextDecoder is a call into the runtime on a fresh subarray: there the char codes go into a plain
 * array and one String.fromCharCode makes the string, in V8 alone (about 0.1 µs less per id,
 * bench/probes/deno-session-parts.ts).
 */
const nativeBuffer = (globalThis as { Deno?: unknown }).Deno === undefined
  ? (globalThis as { Buffer?: NativeBuffer }).Buffer
  : undefined;
const latin1Slice = nativeBuffer?.prototype.latin1Slice;
/** The hex of one id as ASCII bytes, where latin1Slice reads them (ids of up to POOL_SIZE / 4 bytes). */
const chars = nativeBuffer ? nativeBuffer.alloc(POOL_SIZE / 2) : new Uint8Array(0);
/** Elsewhere, as char codes in a plain array of exactly the id's length (fromCharCode takes it whole). */
const codes: number[] = [];
const fromCharCodes = String.fromCharCode as (...codes: number[]) => string;

/** The schema's default (`<SessionIdGenerator sessionIdLength>`). */
export const DEFAULT_SESSION_ID_LENGTH: number = SessionIdGeneratorDef.attrs.sessionIdLength.default;

export class SessionIdGenerator {
  private length = DEFAULT_SESSION_ID_LENGTH;
  jvmRoute: string | null = null;

  get sessionIdLength(): number {
    return this.length;
  }

  /** Values below 2 are refused with Tomcat's warning, keeping the current length. */
  set sessionIdLength(value: number) {
    if (!Number.isInteger(value) || value < 2) {
      log.warn(
        `The requested session ID length of [${value}] is too short so the current value of [${this.length}] will be used`,
      );
      return;
    }
    this.length = value;
  }

  generate(): string {
    const n = this.length;
    const id = n <= POOL_SIZE / 4 ? pooledHex(n) : freshHex(n);
    return this.jvmRoute ? `${id}.${this.jvmRoute}` : id;
  }
}

/** `n` bytes from the pool as upper-case hex: a flat string, built in one call. */
function pooledHex(n: number): string {
  if (poolUsed + n > POOL_SIZE) {
    crypto.getRandomValues(pool);
    poolUsed = 0;
  }
  const start = poolUsed;
  poolUsed += n;
  if (latin1Slice) {
    for (let i = 0; i < n; i++) {
      const b = pool[start + i]!;
      pool[start + i] = 0;
      chars[2 * i] = HEX_CODES[2 * b]!;
      chars[2 * i + 1] = HEX_CODES[2 * b + 1]!;
    }
    return latin1Slice.call(chars, 0, 2 * n);
  }
  if (codes.length !== 2 * n) codes.length = 0;
  for (let i = 0; i < n; i++) {
    const b = pool[start + i]!;
    pool[start + i] = 0;
    codes[2 * i] = HEX_CODES[2 * b]!;
    codes[2 * i + 1] = HEX_CODES[2 * b + 1]!;
  }
  return fromCharCodes.apply(null, codes);
}

/** Very long ids (sessionIdLength over 1 KiB): drawn directly. */
function freshHex(n: number): string {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += MAX_RANDOM_CHUNK) crypto.getRandomValues(bytes.subarray(i, i + MAX_RANDOM_CHUNK));
  let id = "";
  for (const b of bytes) id += String.fromCharCode(HEX_CODES[2 * b]!, HEX_CODES[2 * b + 1]!);
  return id;
}
