/**
 * The request boundary: the Host header and the request-target, checked and normalised once,
 * before host and context mapping, the way Tomcat's Http11Processor and CoyoteAdapter do it.
 * Mapping, security constraints, static files and handlers all use the one path made here.
 *
 * Back-ends hand over different things: Bun.serve resolves dot segments and "\" itself and
 * gives a path-only URL when the Host is missing or one it cannot use; Deno.serve passes the
 * target through as sent and builds the URL from the Host header or an absolute-form target;
 * node:http gives the raw target, every Host line and the HTTP version (ConnectionInfo).
 */
import type { ConnectionInfo, HostPort } from "./context.ts";
import { parseIp } from "../util/ip.ts";

export type { HostPort };

/** Which ASCII characters may stand for themselves in a canonical path segment: RFC 3986 pchar without ";". */
const SAFE = new Uint8Array(128);
/** What a raw path may contain (pchar, "/", "%"); Tomcat answers 400 to anything else. */
const PATH_CHAR = new Uint8Array(128);
/** Letters, digits, "-" and "_": the characters of a host name label. */
const LABEL = new Uint8Array(128);
{
  const set = (t: Uint8Array, chars: string) => {
    for (const c of chars) t[c.charCodeAt(0)] = 1;
  };
  const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  set(SAFE, alnum + "-._~" + "!$&'()*+,=" + ":@");
  set(PATH_CHAR, alnum + "-._~" + "!$&'()*+,=;" + ":@" + "/%");
  set(LABEL, alnum + "-_");
}

/**
 * A Host header value (or an authority) as RFC 3986 `host [":" port]`: a name of dot-separated
 * labels (letters, digits, "-", "_"; a final "." allowed), an IPv4 address, or a bracketed IPv6
 * literal; the port 0–65535. Anything else — spaces, "@", "/", a second value joined with ", "
 * — is null.
 */
export function parseHost(value: string): HostPort | null {
  // Usually the same Host as the request before: compared in place, which spares hashing a
  // string the runtime has just made for the Map below.
  if (value === lastHost) return lastParsed;
  // A server sees the same few Host values over and over: remember them (bounded).
  let parsed = hostCache.get(value);
  if (parsed === undefined) {
    const fresh = parseHostUncached(value);
    parsed = fresh === null ? null : Object.freeze(fresh);
    if (hostCache.size >= 64) hostCache.clear();
    hostCache.set(value, parsed);
  }
  lastHost = value;
  lastParsed = parsed;
  return parsed;
}

const hostCache = new Map<string, HostPort | null>();
let lastHost: string | undefined;
let lastParsed: HostPort | null = null;

function parseHostUncached(value: string): HostPort | null {
  let end = value.length;
  let hostname: string;
  if (value.charCodeAt(0) === 91 /* [ */) {
    const close = value.indexOf("]");
    if (close < 0) return null;
    const literal = value.slice(1, close);
    // One spelling per address (the shared parser), so "[0:0:0:0:0:0:0:1]" and "[::1]" agree.
    const ip = literal.includes(":") ? parseIp(literal) : null;
    if (!ip) return null;
    hostname = ip.text;
    end = close + 1;
    if (end < value.length && value.charCodeAt(end) !== 58 /* : */) return null;
  } else {
    const colon = value.indexOf(":");
    if (colon >= 0) end = colon;
    if (end === 0) return null;
    let labelStart = 0;
    for (let i = 0; i < end; i++) {
      const c = value.charCodeAt(i);
      if (c === 46 /* . */) {
        if (i === labelStart) return null;
        labelStart = i + 1;
      } else if (c >= 128 || !LABEL[c]) {
        return null;
      }
    }
    hostname = value.slice(0, end).toLowerCase();
  }
  let port = "";
  if (end < value.length) {
    port = value.slice(end + 1);
    if (port.length > 5) return null;
    for (let i = 0; i < port.length; i++) {
      const c = port.charCodeAt(i);
      if (c < 48 || c > 57) return null;
    }
    if (port !== "" && Number(port) > 65535) return null;
  }
  return { hostname, port };
}

export type NormalizedPath =
  | {
    ok: true;
    /** Decoded, without path parameters, dot segments resolved, "//" collapsed; starts with "/". */
    path: string;
    /** `path` percent-encoded canonically (what handlers see in their URL). */
    encoded: string;
    /** Path parameters (lower-cased names, raw values), when the path had any. */
    params: Map<string, string> | null;
  }
  | { ok: false; reason: string };

/**
 * Decodes and normalises the path of a request-target once, as Tomcat's CoyoteAdapter does:
 * path parameters come off each segment before decoding (`/x/..;/a` is `/x/../a`), then
 * `%XX` is decoded as UTF-8, then "." and ".." are resolved and empty segments dropped.
 * Refused (400): a path not starting with "/", characters RFC 3986 does not allow in a path,
 * malformed escapes or UTF-8, an encoded "/" (%2F), "\" or NUL in any form, and ".." above the root.
 */
export function normalizePath(raw: string): NormalizedPath {
  if (raw.charCodeAt(0) !== 47) return { ok: false, reason: "the request target does not start with /" };
  if (isCanonicalPath(raw)) return { ok: true, path: raw, encoded: raw, params: null };
  return normalizeSlow(raw);
}

/**
 * The common case: a path starting with "/" with nothing to decode, strip or resolve, which
 * normalizePath would give back as it is (path and encoded both `raw`, no parameters). The
 * engine asks this first, so that such a path makes no result object.
 */
export function isCanonicalPath(raw: string): boolean {
  if (raw.charCodeAt(0) !== 47) return false;
  let segStart = 1;
  for (let i = 1; i <= raw.length; i++) {
    const c = i < raw.length ? raw.charCodeAt(i) : 47;
    if (c === 47) {
      const len = i - segStart;
      // An empty segment (not the last) or a "." / ".." segment needs the full pass.
      if (
        (len === 0 && i < raw.length) || (len === 1 && raw.charCodeAt(segStart) === 46) ||
        (len === 2 && raw.charCodeAt(segStart) === 46 && raw.charCodeAt(segStart + 1) === 46)
      ) {
        return false;
      }
      segStart = i + 1;
    } else if (c >= 128 || !SAFE[c]) {
      return false;
    }
  }
  return true;
}

function normalizeSlow(raw: string): NormalizedPath {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 128 || !PATH_CHAR[c]) {
      return {
        ok: false,
        reason: c === 92 ? "backslash in the path" : `character ${JSON.stringify(raw[i])} is not allowed in a path`,
      };
    }
  }
  const raws = raw.slice(1).split("/");
  const out: string[] = [];
  let params: Map<string, string> | null = null;
  let trailingSlash = false;
  for (let i = 0; i < raws.length; i++) {
    let seg = raws[i]!;
    const semi = seg.indexOf(";");
    if (semi >= 0) {
      params ??= new Map();
      for (const p of seg.slice(semi + 1).split(";")) {
        const eq = p.indexOf("=");
        if (eq > 0) params.set(p.slice(0, eq).toLowerCase(), p.slice(eq + 1));
      }
      seg = seg.slice(0, semi);
    }
    if (seg.includes("%")) {
      try {
        seg = decodeURIComponent(seg);
      } catch {
        return { ok: false, reason: "malformed percent-encoding or UTF-8 in the path" };
      }
      if (seg.includes("/")) return { ok: false, reason: "encoded / in the path" };
      if (seg.includes("\\")) return { ok: false, reason: "encoded backslash in the path" };
      if (seg.includes("\0")) return { ok: false, reason: "encoded NUL in the path" };
    }
    const last = i === raws.length - 1;
    if (seg === "" || seg === ".") {
      // "/a/" names a directory; "/a/." is "/a", as Tomcat normalises it.
      if (last) trailingSlash = seg === "";
      continue;
    }
    if (seg === "..") {
      if (out.length === 0) return { ok: false, reason: "the path climbs above the root" };
      out.pop();
      continue;
    }
    out.push(seg);
  }
  const tail = trailingSlash && out.length > 0 ? "/" : "";
  const path = "/" + out.join("/") + tail;
  const encoded = "/" + out.map(encodeSegment).join("/") + tail;
  return { ok: true, path, encoded, params };
}

/** Percent-encodes a decoded segment: pchar stays as it is, everything else (";", "%", "?", non-ASCII…) as UTF-8 escapes. */
export function encodeSegment(seg: string): string {
  let i = 0;
  while (i < seg.length) {
    const c = seg.charCodeAt(i);
    if (c >= 128 || !SAFE[c]) break;
    i++;
  }
  if (i === seg.length) return seg;
  let out = seg.slice(0, i);
  for (const ch of seg.slice(i)) {
    const c = ch.charCodeAt(0);
    out += c < 128 && SAFE[c] ? ch : encodeURIComponent(ch);
  }
  return out;
}

/** What the boundary made of a request: where it goes, or why it is refused. */
export type RequestTarget = TargetFields | { ok: false; reason: string };

/** An accepted request-target (readTarget fills one, or a fresh object). */
export interface TargetFields {
  ok: true;
  /** From the Host header (or the URL's authority where the back-end built it from one); undefined: none sent. */
  host: HostPort | undefined;
  /** The path as the client sent it (as far as the back-end tells), with path parameters: Tomcat's getRequestURI. */
  rawPath: string;
  /** "?..." or "". */
  search: string;
  /** The path part of `req.url`, to tell whether the handler can get the request unchanged. */
  urlPath: string;
  /** "http://host:port" of `req.url`, or "" when the back-end gave a path-only URL. */
  origin: string;
}

/**
 * The last Host header value that a URL's authority was found to be, character for character,
 * that URL's origin ("scheme://authority") and the parsed Host: a request with the same Host
 * value and a URL starting with the same origin and then "/" is read from them without parsing
 * or comparing again (requests on a connection repeat both). Both strings are compared whole.
 */
let matchedHost: string | null = null;
let matchedOrigin = "";
let matchedHostPort: HostPort | undefined;

/** The last origin cut out of a URL: requests on a connection name the same one over and over. */
let lastOrigin = "";

/** `href.slice(0, end)`, the previous request's string when it is the same (compared in place, nothing made). */
function originOf(href: string, end: number): string {
  if (end === lastOrigin.length && href.startsWith(lastOrigin)) return lastOrigin;
  return lastOrigin = href.slice(0, end);
}

/**
 * Reads the Host and the request-target from what the back-end handed over. Two Host headers,
 * a Host that is not a host, an absolute-form target naming another host, HTTP/1.1 or HTTP/2
 * without a host, or a "#" in the target: refused. HTTP/1.0 without Host is fine (the default
 * host serves it); where the back-end does not say the version (Bun.serve refuses HTTP/1.1
 * without Host itself; Deno.serve does not tell), a request without Host is treated as HTTP/1.0.
 * `hostField`: the request's Host header as the runtime gives it (`req.headers.get("host")`);
 * not used where the back-end lists every Host line (`conn.hostHeaders`). `into`: an accepted
 * target is written there (and returned) instead of into a new object — the engine reuses one
 * for every request (read before anything else runs; see Engine.locate).
 */
export function readTarget(
  href: string,
  hostField: string | null,
  conn: ConnectionInfo,
  into?: TargetFields,
): RequestTarget {
  const hostValues: readonly string[] | undefined = conn.hostHeaders;
  let hostHeader: string | null;
  if (hostValues) {
    if (hostValues.length > 1) return { ok: false, reason: `${hostValues.length} Host headers` };
    hostHeader = hostValues[0] ?? null;
  } else {
    // Bun joins repeated headers with ", " (which no host contains); Deno refuses them itself.
    hostHeader = hostField;
  }
  let host: HostPort | undefined;
  // The URL the back-end built: "scheme://authority/path?query", or "/path?query" (Bun, no usable Host).
  let origin = "";
  let pathStart = 0;
  if (
    hostHeader !== null && hostHeader === matchedHost && href.startsWith(matchedOrigin) &&
    href.charCodeAt(matchedOrigin.length) === 47
  ) {
    // The Host and the URL's origin of a request before, which agreed: nothing to parse again.
    host = matchedHostPort;
    origin = matchedOrigin;
    pathStart = matchedOrigin.length;
  } else if (hostHeader !== null && hostHeader !== "") {
    const parsed = parseHost(hostHeader);
    if (!parsed) return { ok: false, reason: `invalid Host header ${JSON.stringify(hostHeader.slice(0, 100))}` };
    host = parsed;
  } else if (hostHeader === null && (conn.httpVersion === "HTTP/1.1" || conn.httpVersion === "HTTP/2.0")) {
    return { ok: false, reason: `${conn.httpVersion} request without a Host header` };
  }
  if (origin === "" && href.charCodeAt(0) !== 47) {
    const authStart = href.indexOf("//") + 2;
    if (authStart < 2) return { ok: false, reason: "unusable request URL" };
    pathStart = href.indexOf("/", authStart);
    if (pathStart < 0) pathStart = href.length;
    origin = originOf(href, pathStart);
    if (hostHeader === null || hostHeader === "") {
      // Deno builds the URL from an absolute-form target, HTTP/2's :authority, or its listener address.
      if (!conn.hostHeaders) host = parseHost(href.slice(authStart, pathStart)) ?? undefined;
    } else if (pathStart - authStart !== hostHeader.length || !href.startsWith(hostHeader, authStart)) {
      // (Usually the URL's authority is the Host header as sent: compared in place, no slice.)
      const authority = href.slice(authStart, pathStart);
      if (authority.length !== hostHeader.length || authority.toLowerCase() !== hostHeader.toLowerCase()) {
        // Deno: an absolute-form target's authority wins over Host; Tomcat refuses the pair when they differ.
        const fromUrl = parseHost(authority);
        if (!fromUrl || fromUrl.hostname !== host!.hostname) {
          return { ok: false, reason: "the request target names another host than the Host header" };
        }
      }
    } else {
      matchedHost = hostHeader;
      matchedOrigin = origin;
      matchedHostPort = host;
    }
  }
  const q = href.indexOf("?", pathStart);
  const urlEnd = q >= 0 ? q : href.length;
  const urlPath = pathStart < urlEnd ? href.slice(pathStart, urlEnd) : "/";

  let rawPath = urlPath;
  let search = q >= 0 ? href.slice(q) : "";
  const target = conn.target;
  if (target !== undefined) {
    let t = target;
    if (t.charCodeAt(0) !== 47 && t !== "*") {
      // absolute-form (RFC 9112 §3.2.2): its authority must agree with Host.
      const scheme = t.slice(0, 8).toLowerCase();
      const authStart = scheme.startsWith("http://") ? 7 : scheme === "https://" ? 8 : -1;
      if (authStart < 0) return { ok: false, reason: "invalid request target" };
      let end = t.length;
      for (const c of ["/", "?"]) {
        const at = t.indexOf(c, authStart);
        if (at >= 0 && at < end) end = at;
      }
      const fromTarget = parseHost(t.slice(authStart, end));
      if (!fromTarget || (host && fromTarget.hostname !== host.hostname)) {
        return { ok: false, reason: "the request target names another host than the Host header" };
      }
      host ??= fromTarget;
      t = t.slice(end);
      if (t === "" || t.charCodeAt(0) === 63) t = "/" + t;
    }
    const tq = t.indexOf("?");
    rawPath = tq >= 0 ? t.slice(0, tq) : t;
    search = tq >= 0 ? t.slice(tq) : "";
  }
  if (search.includes("#") || rawPath.includes("#")) return { ok: false, reason: '"#" in the request target' };
  if (!into) return { ok: true, host, rawPath, search, urlPath, origin };
  into.host = host;
  into.rawPath = rawPath;
  into.search = search;
  into.urlPath = urlPath;
  into.origin = origin;
  return into;
}
