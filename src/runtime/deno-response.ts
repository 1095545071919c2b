/**
 * Whether Deno's HTTP server has a Response in full the moment the handler returns it.
 *
 * The native Deno back-end must tell a connection that is still sending a response from an idle
 * one (connectionTimeout closes only the idle). Deno says when a response is done through the
 * handler's `info.completed`, a promise it makes on request, which costs every request a promise,
 * its resolvers and a microtask (bench/raw-reads.ts --variants perconn,perconn+completed). But
 * Deno itself settles `completed` before anything is written when the body is null, a string or
 * bytes: it hands such a body to Rust whole, in the same call that received the Response
 * (`finishOrReturnNative` and `fastSyncResponseOrStream` in ext/http/00_serve.ts). Only a stream
 * body keeps the request open after the handler returns. For those Responses the back-end can
 * count the request as finished itself and ask for `completed` only for the rest.
 *
 * Read from Deno's Response internals (its inner response, `[Symbol(response)].body
 * .streamOrStatic`, ext/fetch/23_response.js and 22_body.js) without touching `res.body`, whose
 * getter would turn a static body into a stream. Where those internals are not as expected, the
 * answer is false: the caller then waits for `completed`, as it always may.
 */

/** Deno's inner response: its body, whose `streamOrStatic` is a ReadableStream or `{ body, consumed }`. */
interface DenoInnerResponse {
  body: { streamOrStatic?: { body?: unknown } } | null;
}

let responseKey: symbol | undefined;
let probed = false;

function probe(res: Response): void {
  probed = true;
  responseKey = Object.getOwnPropertySymbols(res).find((s) => s.description === "response");
}

/**
 * True when `res` is a Response Deno.serve sends without waiting for anything (no body, or a
 * string or bytes); false for a stream body and whenever that cannot be told.
 */
export function sentWhole(res: Response): boolean {
  if (!probed) probe(res);
  if (responseKey === undefined) return false;
  const inner = (res as unknown as Record<symbol, DenoInnerResponse | undefined>)[responseKey];
  if (inner === undefined || inner === null || typeof inner !== "object") return false;
  const body = inner.body;
  // No body, or one held lazily as the string or bytes given to the constructor.
  if (body === null) return true;
  const value = body?.streamOrStatic?.body;
  return typeof value === "string" || value instanceof Uint8Array;
}
