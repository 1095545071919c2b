/**
 * Requests for bobcat's HTTP/1.1 layer (h1-server.ts), which must make one per request for the
 * engine. On Deno, `new Request(url)` costs far more than its allocation: its constructor's inner
 * request is an object literal with get/set accessors, which V8 does not free in minor GCs, so
 * every Request leaves ~380 bytes for a full GC (bench/probes/deno-request-gc.ts), ~13 µs a request
 * in a node:tls server (bench/probes/deno-tls-accept.ts, KIND/request). A Request made from
 * another Request copies the inner request into a plain object instead: so on Deno requests are
 * made from one template Request and given their own URL (the inner request's URL list, where
 * Deno's Request keeps it), normalised by `new URL` as the constructor would. The module checks
 * that this gives what `new Request(url)` gives before it uses it, and otherwise (another Deno,
 * another runtime) makes requests with the constructor.
 */
import { RUNTIME } from "../util/runtime.ts";

type InnerRequest = { urlList: Array<() => string>; urlListProcessed: string[] };

/** The template's inner request key (Deno: a symbol described "request"), when the trick works. */
const INNER = RUNTIME === "deno" ? innerKeyIfCopiesWork() : undefined;
const TEMPLATE = INNER ? new Request("http://template.invalid/") : undefined;
/** No AbortSignal that follows the template's: Deno would register each with it (never freed). */
const PLAIN: RequestInit = { signal: null };

/**
 * A Request for `url` (absolute) with `init` (method, body, duplex; never a signal or headers),
 * the same as `new Request(url, init)`: the same URL (or the same TypeError), method and body.
 */
export function makeRequest(url: string, init?: RequestInit): Request {
  if (!INNER) return init ? new Request(url, init) : new Request(url);
  const href = new URL(url).href;
  const r = new Request(TEMPLATE!, init ? { ...init, signal: null } : PLAIN);
  const inner = (r as unknown as Record<symbol, InnerRequest>)[INNER];
  inner.urlList[0] = () => href;
  inner.urlListProcessed[0] = href;
  return r;
}

/** The inner request's key when a Request made from the template and given a URL passes for `new Request(url)`. */
function innerKeyIfCopiesWork(): symbol | undefined {
  try {
    const template = new Request("http://template.invalid/");
    const key = Object.getOwnPropertySymbols(template).find((s) => s.description === "request");
    if (!key) return undefined;
    const url = "https://Example.COM:443/a/./b/../c%7e?x=1 2";
    const want = new Request(url, { method: "POST", body: "x" });
    const made = new Request(template, { method: "POST", body: "x", signal: null });
    const inner = (made as unknown as Record<symbol, Partial<InnerRequest>>)[key];
    if (!Array.isArray(inner?.urlList) || !Array.isArray(inner.urlListProcessed)) return undefined;
    const href = new URL(url).href;
    inner.urlList[0] = () => href;
    inner.urlListProcessed[0] = href;
    const again = new Request(made);
    const same = made.url === want.url && again.url === want.url && made.method === "POST" &&
      [...made.headers].join() === [...want.headers].join() && !made.signal.aborted &&
      new Request(template).url === "http://template.invalid/";
    return same ? key : undefined;
  } catch {
    return undefined;
  }
}

/** For tests: whether requests are made from the template (Deno, when its check passed). */
export const copiesTemplate = INNER !== undefined;
