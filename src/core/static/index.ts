/**
 * Static files for a Context, as Tomcat's DefaultServlet serves them: welcome files, optional
 * directory listings, validators and conditional requests, byte ranges. Runtime-neutral: only
 * web-standard Request/Response and node:fs/promises, which Bun and Deno both provide.
 */
import { open, realpath } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { bodyLength, fileBody } from "./body.ts";
import type { BodyPart } from "./body.ts";
import { evaluatePreconditions, ifRangeAllowsPartial, validatorsFor } from "./conditional.ts";
import { sizedBody } from "../error-page.ts";
import { renderListing } from "./listing.ts";
import { contentTypeFor } from "./mime.ts";
import { encodePath, isProtectedPath, locate, pathSegments } from "./path.ts";
import type { Located } from "./path.ts";
import { parseRangeHeader } from "./range.ts";
import type { ByteRange, RangeRequest } from "./range.ts";

export { contentTypeFor };

export interface StaticOptions {
  /** Absolute path of the directory to serve. */
  docBase: string;
  /** Tried in order for a request that names a directory. Default `["index.html", "index.htm"]`. */
  welcomeFiles?: string[];
  /** Render an HTML listing for directories without a welcome file. Default false, as in Tomcat. */
  listings?: boolean;
  /** "" for ROOT, "/app" otherwise; written verbatim into redirects and listing links. */
  contextPath: string;
  /** Content types by lower-case extension (web.xml <mime-mapping>), over the built-in table. */
  mimeTypes?: ReadonlyMap<string, string>;
  /** Accepted for config compatibility with Tomcat; not used yet. */
  readmeFile?: string;
  /** Accepted for config compatibility with Tomcat; listings are always sorted directories first, then by name. */
  sortListings?: boolean;
}

const DEFAULT_WELCOME_FILES = ["index.html", "index.htm"];
const ALLOWED_METHODS = "GET, HEAD, OPTIONS";

/**
 * Answers a request for `path`, the path below the context path as the request boundary
 * decoded and normalised it (core/request-target.ts: "" for the context root, else "/..."; it
 * is not decoded again here). Returns null when nothing servable is there, so the caller
 * answers 404.
 */
export async function serveStatic(req: Request, path: string, opts: StaticOptions): Promise<Response | null> {
  const { segments, trailingSlash } = pathSegments(path);
  if (isProtectedPath(segments)) return null;

  const realBase = await realpath(opts.docBase);
  const found = await locate(realBase, segments);
  if (!found) return null;

  if (req.method === "OPTIONS") return new Response(null, { headers: { allow: ALLOWED_METHODS } });
  if (req.method !== "GET" && req.method !== "HEAD") {
    return statusResponse(req, 405, "Method Not Allowed", { allow: ALLOWED_METHODS });
  }
  if (found.stats.isFile()) {
    // "/file.txt/" names a directory that does not exist (Tomcat answers 404 too).
    return trailingSlash ? null : serveFile(req, found, segments[segments.length - 1], opts.mimeTypes);
  }

  if (!trailingSlash) {
    // Relative links inside the directory's page only resolve against a URL ending in "/".
    const q = req.url.indexOf("?");
    const location = opts.contextPath + encodePath(segments) + "/" + (q >= 0 ? req.url.slice(q) : "");
    return new Response(null, { status: 302, headers: { location } });
  }
  for (const welcomeFile of opts.welcomeFiles ?? DEFAULT_WELCOME_FILES) {
    const welcome = await locate(realBase, [...segments, welcomeFile]);
    if (welcome?.stats.isFile()) return serveFile(req, welcome, welcomeFile, opts.mimeTypes);
  }
  if (!opts.listings) return null;

  const html = new TextEncoder().encode(await renderListing(realBase, segments, found.realPath, opts.contextPath));
  return new Response(req.method === "HEAD" ? null : html, {
    headers: { "content-type": "text/html; charset=utf-8", "content-length": String(html.byteLength) },
  });
}

/** `name` is the name the client asked for; it decides the type even when a link renames the file. */
async function serveFile(
  req: Request,
  file: Located,
  name: string,
  mimeTypes?: ReadonlyMap<string, string>,
): Promise<Response | null> {
  const size = file.stats.size;
  const validators = validatorsFor(file.stats);
  const headers = new Headers({
    "accept-ranges": "bytes",
    etag: validators.etag,
    "last-modified": validators.lastModifiedHttp,
  });

  switch (evaluatePreconditions(req.headers, validators)) {
    case "bad-request":
      return statusResponse(req, 400, "Bad Request: malformed If-Match or If-None-Match");
    case "precondition-failed":
      return statusResponse(req, 412, "Precondition Failed");
    case "not-modified":
      return new Response(null, { status: 304, headers });
  }

  let range: RangeRequest = { kind: "whole" };
  const rangeHeader = req.headers.get("range");
  // RFC 9110 defines ranges for GET only; an empty file has no bytes to select (Tomcat ignores it too).
  if (rangeHeader !== null && req.method === "GET" && size > 0) {
    const ifRange = req.headers.get("if-range");
    const partialAllowed = ifRange === null || ifRangeAllowsPartial(ifRange, validators);
    if (partialAllowed === null) {
      return statusResponse(req, 400, "Bad Request: If-Range is neither one entity tag nor one HTTP date");
    }
    if (partialAllowed) range = parseRangeHeader(rangeHeader, size);
  }
  if (range.kind === "unsatisfiable") {
    return statusResponse(req, 416, "Range Not Satisfiable", {
      "accept-ranges": "bytes",
      "content-range": `bytes */${size}`,
    });
  }

  const contentType = contentTypeFor(name, mimeTypes);
  let status = 200;
  let parts: BodyPart[];
  if (range.kind === "whole") {
    parts = size > 0 ? [{ start: 0, end: size - 1 }] : [];
    headers.set("content-type", contentType);
  } else if (range.ranges.length === 1) {
    const [only] = range.ranges;
    status = 206;
    parts = [only];
    headers.set("content-type", contentType);
    headers.set("content-range", `bytes ${only.start}-${only.end}/${size}`);
  } else {
    const boundary = "BOBCAT_BYTERANGES_" + randomHex(12);
    status = 206;
    parts = multipartParts(range.ranges, size, contentType, boundary);
    headers.set("content-type", `multipart/byteranges; boundary=${boundary}`);
  }
  headers.set("content-length", String(bodyLength(parts)));

  // Opened for HEAD as well, so HEAD and GET agree on 403 for an unreadable file.
  const handle = await openForReading(file.realPath);
  if (handle === "forbidden") return statusResponse(req, 403, "Forbidden");
  if (handle === null) return null;
  if (req.method === "HEAD") {
    await handle.close();
    return new Response(null, { status, headers });
  }
  return new Response(await fileBody(handle, parts), { status, headers });
}

async function openForReading(realPath: string): Promise<FileHandle | "forbidden" | null> {
  try {
    return await open(realPath, "r");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EACCES" || code === "EPERM") return "forbidden";
    // Deleted between stat and open: simply gone.
    if (code === "ENOENT") return null;
    throw error;
  }
}

/** RFC 9110 §14.6 layout: each part names its own range; the closing delimiter ends the body. */
function multipartParts(ranges: ByteRange[], size: number, contentType: string, boundary: string): BodyPart[] {
  const encoder = new TextEncoder();
  const parts: BodyPart[] = [];
  for (const range of ranges) {
    const partHeader =
      `--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${range.start}-${range.end}/${size}\r\n\r\n`;
    parts.push(encoder.encode(partHeader), range, encoder.encode("\r\n"));
  }
  parts.push(encoder.encode(`--${boundary}--\r\n`));
  return parts;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Short plain-text answers for refusals; HEAD gets the same status and headers without the body. */
function statusResponse(
  req: Request,
  status: number,
  message: string,
  extraHeaders: Record<string, string> = {},
): Response {
  const headers = new Headers({ "content-type": "text/plain; charset=utf-8", ...extraHeaders });
  return new Response(req.method === "HEAD" ? null : sizedBody(message + "\n", headers), { status, headers });
}
