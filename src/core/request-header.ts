/**
 * Reading one request header without `req.headers`, where the runtime allows it.
 *
 * On Deno, the first read of `req.headers` on a served request builds a Headers object and marks
 * the request's headers as exposed; Deno.serve then copies every request header into JS when
 * the response is sent (so the handler could still read them later) and sends even a Response
 * returned synchronously through a promise and the microtask queue. bobcat's boundary reads
 * Host and the session cookie of every request, so that cost every request. Deno's Headers of a
 * served request answers `get(name)` by asking the runtime's request for that one header; this
 * module asks it the same question directly, and only while no Headers object exists for the
 * request (once one does, `req.headers.get` answers, as before). Everything else — Bun, Node,
 * Requests bobcat or a handler constructed, a Deno without these internals — reads
 * `req.headers.get(name)`.
 */

/** The runtime's request behind a Request served by Deno.serve (InnerRequest in ext/http/00_serve.ts). */
interface DenoServedRequest {
  header(name: string): string | null;
}

/** Deno's Request fields: its inner request and the Headers object once made (ext/fetch/23_request.js). */
let innerKey: symbol | undefined;
let headersKey: symbol | undefined;
/** Whether the Request class has been looked at (once, on the first request). */
let probed = false;

function probe(req: Request): void {
  probed = true;
  const symbols = Object.getOwnPropertySymbols(req);
  const inner = symbols.find((s) => s.description === "request");
  const headers = symbols.find((s) => s.description === "headers cache");
  if (inner !== undefined && headers !== undefined) {
    innerKey = inner;
    headersKey = headers;
  }
}

/** `req.headers.get(name)`, without making the Headers object on a request Deno.serve handed over. */
export function requestHeader(req: Request, name: string): string | null {
  if (!probed) probe(req);
  if (innerKey !== undefined) {
    const fields = req as unknown as Record<symbol, unknown>;
    const inner = fields[innerKey] as DenoServedRequest | undefined;
    if (fields[headersKey!] === undefined && typeof inner?.header === "function") return inner.header(name);
  }
  return req.headers.get(name);
}

/**
 * Whether the request may have a body, without reading `req.body` where that costs: a request
 * Deno.serve handed over has none for GET, HEAD and CONNECT (its body getter says null for them
 * without looking further). Otherwise `req.body !== null`.
 */
export function mayHaveBody(req: Request): boolean {
  if (!probed) probe(req);
  if (innerKey !== undefined) {
    const inner = (req as unknown as Record<symbol, unknown>)[innerKey] as DenoServedRequest | undefined;
    if (typeof inner?.header === "function") {
      const method = req.method;
      if (method === "GET" || method === "HEAD" || method === "CONNECT") return false;
    }
  }
  return req.body !== null;
}
