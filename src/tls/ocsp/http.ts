/** OCSP over HTTP (RFC 6960 Appendix A): POST application/ocsp-request, with one deadline for the whole exchange. */
import { OcspError } from "./errors.ts";

export interface QueryOptions {
  /** Deadline for connect, request and the whole response body (Tomcat's ocspTimeout, default 15000). */
  timeoutMs?: number;
  /** Largest response accepted; real ones are a few KiB (default 1 MiB). */
  maxBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_BYTES = 1 << 20;

function checkResponderUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OcspError("ocsp.badUrl", `"${url}" is not a valid OCSP responder URL`, {
      fix: "use an http:// or https:// URL, e.g. http://127.0.0.1:8088",
    });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new OcspError(
      "ocsp.badUrl",
      `OCSP responder URL "${url}" uses ${u.protocol.slice(0, -1)}; only http and https are supported`,
      { fix: "use an http:// or https:// URL" },
    );
  }
  return u;
}

async function readCapped(res: Response, maxBytes: number, url: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  const tooLarge = () => new OcspError("ocsp.tooLarge", `OCSP responder ${url} sent more than ${maxBytes} bytes`);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** POSTs a DER OCSPRequest and returns the DER OCSPResponse body. Network failures and timeouts are transient OcspErrors. */
export async function queryOcsp(url: string, requestDer: Uint8Array, opts: QueryOptions = {}): Promise<Uint8Array> {
  checkResponderUrl(url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, timeoutMs);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request", accept: "application/ocsp-response" },
      body: requestDer.slice(),
      signal: ctl.signal,
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new OcspError("ocsp.http", `OCSP responder ${url} answered HTTP ${res.status} ${res.statusText}`.trimEnd());
    }
    const body = await readCapped(res, opts.maxBytes ?? DEFAULT_MAX_BYTES, url);
    if (body.length === 0) {
      throw new OcspError("ocsp.http", `OCSP responder ${url} answered HTTP 200 with an empty body`);
    }
    return body;
  } catch (e) {
    if (e instanceof OcspError) throw e;
    if (timedOut) {
      throw new OcspError("ocsp.timeout", `OCSP responder ${url} did not answer within ${timeoutMs} ms`, {
        cause: e,
        fix: "check that the responder is up and reachable, or raise ocspTimeout",
      });
    }
    throw new OcspError("ocsp.unreachable", `cannot reach OCSP responder ${url}: ${(e as Error).message}`, {
      cause: e,
      fix: "check that the responder is running and the URL in the certificate is right",
    });
  } finally {
    clearTimeout(timer);
  }
}
