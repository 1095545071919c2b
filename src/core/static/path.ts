import { realpath, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join, relative, isAbsolute, sep } from "node:path";

export type RequestPath =
  | { ok: true; segments: string[]; trailingSlash: boolean }
  | { ok: false; reason: string };

/**
 * Decodes a raw request path once and normalises its dot segments, refusing what Tomcat's
 * connector refuses with a 400: encoded "/", "\" or NUL (they would change how the path splits
 * or ends), malformed escapes, and ".." that climbs above the context root.
 */
export function parseRequestPath(rawPath: string): RequestPath {
  if (/[\\\0]/.test(rawPath)) return { ok: false, reason: "backslash or NUL in path" };
  if (/%(2f|5c|00)/i.test(rawPath)) return { ok: false, reason: "encoded slash, backslash or NUL in path" };
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { ok: false, reason: "malformed percent-encoding in path" };
  }
  const segments: string[] = [];
  for (const segment of decoded.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (segments.length === 0) return { ok: false, reason: "path leaves the context root" };
      segments.pop();
    } else {
      segments.push(segment);
    }
  }
  // "/a/." and "/a/.." name directories, just as "/a/" does.
  return { ok: true, segments, trailingSlash: /\/(\.\.?)?$/.test(decoded) };
}

/** Tomcat hides these from clients (StandardContextValve); only at the context root. */
export function isProtectedPath(segments: string[]): boolean {
  const first = segments[0]?.toLowerCase();
  return first === "web-inf" || first === "meta-inf";
}

function isInside(base: string, target: string): boolean {
  const rel = relative(base, target);
  return rel === "" || (rel !== ".." && !rel.startsWith(".." + sep) && !isAbsolute(rel));
}

export interface Located {
  realPath: string;
  stats: Stats;
}

/**
 * Finds the file or directory below `realBase`, following symbolic links only while their
 * target stays inside it (Tomcat's allowLinking=false spirit). Anything else — missing, a link
 * out, a socket or FIFO that would block a read — is reported as absent.
 */
export async function locate(realBase: string, segments: string[]): Promise<Located | null> {
  let realPath: string;
  try {
    realPath = await realpath(join(realBase, ...segments));
  } catch {
    return null;
  }
  if (!isInside(realBase, realPath)) return null;
  let stats: Stats;
  try {
    stats = await stat(realPath);
  } catch {
    return null;
  }
  return stats.isFile() || stats.isDirectory() ? { realPath, stats } : null;
}

/** Percent-encodes each segment so names with spaces, "#", "?" or non-ASCII make valid links. */
export function encodePath(segments: string[]): string {
  return segments.map((segment) => "/" + encodeURIComponent(segment)).join("");
}
