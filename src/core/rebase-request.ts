/**
 * The Request a handler sees when its URL is not the one that came in (a context below the root
 * sees URLs relative to its path; every handler sees the normalised path): what
 * `new Request(url, req)` makes — the new URL, req's method, headers and body, and a signal that
 * aborts when req's does.
 *
 * On Deno that constructor costs more than the rest of a hello world: its inner request is an
 * object literal with accessors, left for a full GC (src/runtime/deno-request.ts), and the signal
 * that follows req's is a dependent AbortSignal (`AbortSignal.any([req.signal])` alone costs
 * ~12 µs of server CPU a request under Deno.serve): `new Request(url, req)` added 16.4 µs to a
 * 10.5 µs hello world (`deno run -A bench/probes/deno-rebase.ts`). So on Deno a request without a
 * body is made another way, adding 6.0 µs (most of it copying the headers): a copy of a template
 * Request (a plain object inside, as deno-request.ts makes its requests) with req's method and
 * headers and the new URL, whose signal follows req's only once it is read. Deno makes a
 * Request's signal on its first read and then hands the inner request's `onCancel` the function
 * that aborts it; the copy's `onCancel` passes that on to req's signal, as an abort listener.
 * The module checks on first use that such a copy behaves as the constructor's Request does;
 * otherwise (another Deno, other runtimes) and for a request with a body it is the constructor.
 * So it is for a request whose signal exists already (one made with a signal, as a handler or
 * createHandler's caller may pass): the copy's signal aborts with Deno's cancellation error,
 * where the constructor's carries the source's own reason (an AbortSignal.timeout's
 * TimeoutError, say). A signal Deno makes on first read aborts only with that error, if ever
 * (Deno.serve's requests; bobcat's own, deno-request.ts, never abort).
 */
import { RUNTIME } from "../util/runtime.ts";
import { mayHaveBody } from "./request-header.ts";

/** The parts of Deno's inner request (ext/fetch/23_request.js) the copy sets. */
type InnerRequest = {
  urlList: Array<() => string>;
  urlListProcessed: string[];
  onCancel?: (abort: () => void) => void;
};

/** How requests are rebased: undecided until the first, then the inner request's key, or null for the constructor. */
let innerKey: symbol | null | undefined = RUNTIME === "deno" ? undefined : null;
let template: Request | undefined;
/** Deno's Request field holding its signal once made (undefined until then). */
let signalKey: symbol | undefined;

/** `new Request(url, req)`, made on Deno without reading `req.signal` (see above). */
export function rebaseRequest(url: string, req: Request): Request {
  if (innerKey === undefined) innerKey = keyIfCopiesFollow();
  if (innerKey === null || mayHaveBody(req) || signalMade(req)) return new Request(url, req);
  return copyAt(url, req, innerKey, template!);
}

/** Whether req's AbortSignal exists (given at construction, or read): it may abort with any reason. */
function signalMade(req: Request): boolean {
  return (req as unknown as Record<symbol, unknown>)[signalKey!] !== undefined;
}

/** For tests: whether requests are rebased as copies of the template (Deno, once its check passed). */
export function rebasesByCopy(): boolean {
  if (innerKey === undefined) innerKey = keyIfCopiesFollow();
  return innerKey !== null;
}

/** The template's copy with req's method and headers, at `url`, following req's signal once its own is read. */
function copyAt(url: string, req: Request, key: symbol, from: Request): Request {
  // Normalised (or refused with the same TypeError) as the constructor would.
  const href = new URL(url).href;
  const made = new Request(from, { method: req.method, headers: req.headers, signal: null });
  const inner = (made as unknown as Record<symbol, InnerRequest>)[key]!;
  inner.urlList[0] = () => href;
  inner.urlListProcessed[0] = href;
  inner.onCancel = (abort) => {
    const signal = req.signal;
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
  };
  return made;
}

/**
 * The inner request's key, when a copy made by copyAt is what the constructor makes (URL,
 * method, headers, the template left as it was), its signal, read, aborts with the source's,
 * and Deno's signal field says whether a request's signal exists; null otherwise.
 */
function keyIfCopiesFollow(): symbol | null {
  try {
    const from = new Request("http://template.invalid/");
    const key = Object.getOwnPropertySymbols(from).find((s) => s.description === "request");
    const signalCache = Object.getOwnPropertySymbols(from).find((s) => s.description === "signalCache");
    if (!key || !signalCache) return null;
    const url = "https://Example.COM:443/a/./b/../c%7e?x=1 2";
    const controller = new AbortController();
    const source = new Request("http://h.invalid/x", {
      method: "DELETE",
      headers: { "x-a": "1", cookie: "c=1" },
      signal: controller.signal,
    });
    const want = new Request(url, source);
    const made = copyAt(url, source, key, from);
    const inner = (made as unknown as Record<symbol, Partial<InnerRequest>>)[key];
    if (!Array.isArray(inner?.urlList) || !Array.isArray(inner.urlListProcessed)) return null;
    // The field says whether a signal exists: the source's (given) does, the copy's not yet.
    const fields = (r: Request) => r as unknown as Record<symbol, unknown>;
    if (fields(source)[signalCache] === undefined || fields(made)[signalCache] !== undefined) return null;
    const same = made.url === want.url && new Request(made).url === want.url && made.method === want.method &&
      [...made.headers].join() === [...want.headers].join() && made.body === null &&
      from.url === "http://template.invalid/" && new Request(from).url === "http://template.invalid/";
    if (!same || made.signal.aborted) return null;
    controller.abort();
    if (!made.signal.aborted || !want.signal.aborted) return null;
    template = from;
    signalKey = signalCache;
    return key;
  } catch {
    return null;
  }
}
