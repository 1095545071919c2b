/**
 * bobcat's own apps answer with a Content-Length, as its error pages do: the access log counts a
 * response's bytes (%b, %B) by that header, as Tomcat logs the bytes of what it sent. Their
 * bodies are pages, text and JSON made whole in memory, so reading them costs no waiting.
 */
import type { FetchHandler } from "../core/platform.ts";

export function withContentLength(app: { fetch: FetchHandler }): FetchHandler {
  return async (request, ctx) => sized(await app.fetch(request, ctx));
}

async function sized(res: Response): Promise<Response> {
  if (res.body === null || res.headers.has("content-length")) return res;
  const body = new Uint8Array(await res.arrayBuffer());
  const headers = new Headers(res.headers);
  headers.set("content-length", String(body.byteLength));
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}
