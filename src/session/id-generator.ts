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
const DOT = 46;

/** The schema's default (`<SessionIdGenerator sessionIdLength>`). */
export const DEFAULT_SESSION_ID_LENGTH: number = SessionIdGeneratorDef.attrs.sessionIdLength.default;

/** How many characters the ids are: two hex digits a byte, then `.jvmRoute` when there is one. */
export function sessionIdChars(sessionIdLength: number, jvmRoute: string | null | undefined): number {
  return 2 * sessionIdLength + (jvmRoute ? 1 + jvmRoute.length : 0);
}

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
    const route = this.jvmRoute;
    if (!route) return n <= POOL_SIZE / 4 ? pooledHex(n, null) : freshHex(n);
    // `.route` goes into the same string: `${id}.${route}` would be a rope (JavaScriptCore) or a
    // cons string (V8), which the session map keeps as two objects, or as one of a larger size
    // once the map's hashing has flattened it.
    if (n > POOL_SIZE / 4) return `${freshHex(n)}.${route}`;
    if (latin1Slice && (2 * n + 1 + route.length > chars.length || !isLatin1(route))) {
      return `${pooledHex(n, null)}.${route}`;
    }
    return pooledHex(n, route);
  }
}

/** Every character a byte that latin1Slice turns back into the same character. */
function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

/**
 * `n` bytes from the pool as upper-case hex, then `.route` unless `route` is null: a flat string,
 * built in one call (with latin1Slice, the route's characters are Latin-1 and all fit in `chars`).
 */
function pooledHex(n: number, route: string | null): string {
  if (poolUsed + n > POOL_SIZE) {
    crypto.getRandomValues(pool);
    poolUsed = 0;
  }
  const start = poolUsed;
  poolUsed += n;
  const length = route === null ? 2 * n : 2 * n + 1 + route.length;
  if (latin1Slice) {
    for (let i = 0; i < n; i++) {
      const b = pool[start + i]!;
      pool[start + i] = 0;
      chars[2 * i] = HEX_CODES[2 * b]!;
      chars[2 * i + 1] = HEX_CODES[2 * b + 1]!;
    }
    if (route !== null) {
      chars[2 * n] = DOT;
      for (let i = 0; i < route.length; i++) chars[2 * n + 1 + i] = route.charCodeAt(i);
    }
    return latin1Slice.call(chars, 0, length);
  }
  if (codes.length !== length) codes.length = 0;
  for (let i = 0; i < n; i++) {
    const b = pool[start + i]!;
    pool[start + i] = 0;
    codes[2 * i] = HEX_CODES[2 * b]!;
    codes[2 * i + 1] = HEX_CODES[2 * b + 1]!;
  }
  if (route !== null) {
    codes[2 * n] = DOT;
    for (let i = 0; i < route.length; i++) codes[2 * n + 1 + i] = route.charCodeAt(i);
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
