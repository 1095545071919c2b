/**
 * Request-body limits. `maxRequestBodySize` (connector) bounds every body a back-end hands to
 * the application; `maxPostSize` bounds form bodies bobcat itself reads for an application.
 * Bodies with a Content-Length over the limit are refused before a byte is read; bodies of
 * unknown length (chunked, HTTP/2) are counted as they stream and fail once over the limit.
 */

/** Tomcat's default maxPostSize. */
export const DEFAULT_MAX_POST_SIZE = 2 * 1024 * 1024;

/** A body that went over its limit; the pipeline answers 413 and closes the connection. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number, readonly what = "request body") {
    super(`the ${what} is larger than the limit of ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/** The client went away while its request body was being read (Tomcat's ClientAbortException). */
export class ClientAbortError extends Error {
  constructor(message = "the client closed the connection before the request body was complete") {
    super(message);
    this.name = "ClientAbortError";
  }
}

/** Ours, or Bun.serve's own when a chunked body passes its maxRequestBodySize. */
export function isBodyTooLarge(e: unknown): boolean {
  return e instanceof BodyTooLargeError || /exceeded maxRequestBodySize/.test((e as Error)?.message ?? "");
}

/** True for errors that mean "the client sent too much or went away", not a server fault. */
export function isClientBodyError(e: unknown): boolean {
  if (e instanceof ClientAbortError || isBodyTooLarge(e)) return true;
  // Deno's native server fails a body read from a connection the client broke off with
  // Deno.errors.Http ("connection closed before message completed", "peer closed connection
  // without sending TLS close_notify"); Bun's with a DOMException AbortError "The connection
  // was closed.".
  const err = e as { name?: string; code?: unknown; message?: string } | undefined;
  if (err?.name === "AbortError") return /connection was closed/i.test(err.message ?? "");
  return err?.name === "Http" || err?.code === "ECONNRESET";
}

/** The declared length, or undefined when absent or not a plain decimal number. */
export function declaredLength(req: Request): number | undefined {
  const v = req.headers.get("content-length");
  if (v === null || !/^\d{1,16}$/.test(v)) return undefined;
  return Number(v);
}

/** Wraps a stream so that it fails once more than `limit` bytes went through; `over()` is called then. */
export function countedStream(
  body: ReadableStream<Uint8Array>,
  limit: number,
  over: () => void,
): ReadableStream<Uint8Array> {
  let seen = 0;
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      seen += value.byteLength;
      if (seen > limit) {
        over();
        const e = new BodyTooLargeError(limit);
        controller.error(e);
        void reader.cancel(e).catch(() => {});
        return;
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** Reads a whole body, at most `limit` bytes (a negative limit: no limit). */
export async function readLimited(
  req: Request,
  limit: number,
  what = "request body",
): Promise<Uint8Array<ArrayBuffer>> {
  if (limit < 0 || !req.body) return new Uint8Array(await req.arrayBuffer());
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) throw new BodyTooLargeError(limit, what);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      void reader.cancel().catch(() => {});
      throw new BodyTooLargeError(limit, what);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(new ArrayBuffer(size));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * A form body (urlencoded or multipart) read with Tomcat's `maxPostSize` bound; repeated names
 * keep their last value, as Hono's parseBody does.
 */
export async function readForm(
  req: Request,
  maxPostSize = DEFAULT_MAX_POST_SIZE,
): Promise<Record<string, string | File>> {
  const bytes = await readLimited(req, maxPostSize, "form body (maxPostSize)");
  const copy = new Request("http://localhost/", {
    method: "POST",
    headers: { "content-type": req.headers.get("content-type") ?? "" },
    body: bytes,
  });
  const out: Record<string, string | File> = {};
  const type = req.headers.get("content-type") ?? "";
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return out;
  (await copy.formData()).forEach((v, k) => (out[k] = v));
  return out;
}
