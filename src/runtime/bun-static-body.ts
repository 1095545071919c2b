/**
 * Tells, on Bun, a Response whose body Bun holds whole in memory (made from a string, bytes,
 * `Response.json`) from one whose body is a stream, without touching the body: the public way
 * to take a body, `body.getReader()`, makes a stream of an in-memory body and costs several µs
 * per response, and `bytes()`, which hands such a body over at once, would wait for a stream to
 * end (an SSE response, a long download) and buffer it whole.
 *
 * Bun reports, through `bun:jsc`'s `estimateShallowMemoryUsageOf`, a Response's size as fixed at
 * its construction: the object, its URL, its statusText, and the bytes of a body it holds as a
 * string or bytes (a stream counts 0, a network stream its announced length, a Blob 0). A
 * Response built by JS has no URL; so one with an empty URL whose size exceeds a bodiless
 * Response's by more than its statusText can account for was made with a body in memory. Only
 * then is its body taken with `bytes()`; anything else (streams, Blobs and files, fetch
 * responses, an empty body, any doubt) goes through the reader as before. The rule is checked
 * against Bun's own answers when this module loads; if they differ (another Bun) it stays off.
 */
type Peek = {
  <T>(p: Promise<T>): T | Promise<T>;
  status(p: Promise<unknown>): "pending" | "fulfilled" | "rejected";
};

const bun = (globalThis as { Bun?: { peek: Peek } }).Bun;

function loadEstimate(): ((v: object) => number) | undefined {
  if (!bun) return undefined;
  try {
    const jsc = process.getBuiltinModule("bun:jsc" as "node:fs") as unknown as {
      estimateShallowMemoryUsageOf?: (v: object) => number;
    };
    return typeof jsc?.estimateShallowMemoryUsageOf === "function" ? jsc.estimateShallowMemoryUsageOf : undefined;
  } catch {
    return undefined;
  }
}

const estimate = loadEstimate();
/** The size of a Response with no body, no URL and no statusText. */
const BASE = estimate ? estimate(new Response(null)) : 0;

/**
 * Bytes a statusText can add at most: Bun counts a JS string's own storage, 1 byte per code unit
 * (8-bit) or 2 (16-bit, which even ASCII text can be held in), so 2 per code unit.
 */
const statusTextBytes = (s: string) => 2 * s.length;

/** The body bytes Bun's estimate counts for `res`; 0 when it counts none (or the URL could). */
function bodyEstimate(res: Response): number {
  if (res.url !== "") return 0;
  return estimate!(res) - BASE - (res.statusText === "" ? 0 : statusTextBytes(res.statusText));
}

/** Bun answers as this module expects: bodies in memory counted, streams and headers not. */
function ruleHolds(): boolean {
  if (!estimate) return false;
  try {
    const stream = () => new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array(64)) });
    const streamed = new Response(stream(), { status: 201, headers: { "x-probe": "y".repeat(64) } });
    const streamedText = new Response(stream(), { statusText: "z".repeat(16) });
    return bodyEstimate(new Response("abc")) === 3 &&
      bodyEstimate(new Response(new Uint8Array(5))) === 5 &&
      bodyEstimate(new Response("", { statusText: "OK" })) <= 0 &&
      bodyEstimate(streamed) === 0 &&
      bodyEstimate(streamedText) <= 0 &&
      bodyEstimate(new Response(new Blob(["abc"]))) === 0;
  } catch {
    return false;
  }
}

/** Whether this runtime's Responses are classified here (Bun with the rule holding). */
export const bunStaticBodies = ruleHolds();

/**
 * The body of `res` when Bun holds it whole: the bytes (or, should Bun not hand them over at
 * once, a promise of them: still a body in memory, never a stream); undefined for anything
 * else, whose body is left untouched for the reader.
 */
export function bunStaticBody(res: Response): Uint8Array | Promise<Uint8Array> | undefined {
  // Bun's own Responses only: the estimate of any other object says nothing of a body.
  if (!bunStaticBodies || !(res instanceof Response) || res.bodyUsed || bodyEstimate(res) <= 0) return undefined;
  const p = res.bytes();
  const v = bun!.peek(p);
  if (v === p) return p;
  if (bun!.peek.status(p) === "rejected") {
    p.catch(() => {});
    throw v;
  }
  return v as Uint8Array;
}
