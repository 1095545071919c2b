import { realpath, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";

/**
 * The segments of a path that the request boundary (core/request-target.ts) already decoded
 * and normalised: "" or "/..." without ".", ".." or empty segments, NUL or "\\". Anything
 * else here is a programming error, not a client's: it throws instead of being served.
 */
export function pathSegments(path: string): { segments: string[]; trailingSlash: boolean } {
  const trailingSlash = path.endsWith("/");
  const body = trailingSlash ? path.slice(1, -1) : path.slice(1);
  const segments = body === "" ? [] : body.split("/");
  if (path !== "" && path.charCodeAt(0) !== 47) {
    throw new Error(`static path ${JSON.stringify(path)} is not normalised`);
  }
  for (const s of segments) {
    if (s === "" || s === "." || s === ".." || s.includes("\0") || s.includes("\\")) {
      throw new Error(`static path ${JSON.stringify(path)} is not normalised`);
    }
  }
  return { segments, trailingSlash };
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
  // On a case-insensitive file system "/SECRET.txt" would find "/secret.txt" and dodge the
  // case-sensitive URL patterns of security constraints: Tomcat answers 404 to a case that
  // differs from the file's (a link inside docBase may rename, but not only by case).
  const asked = join(realBase, ...segments);
  if (realPath !== asked && realPath.toLowerCase() === asked.toLowerCase()) return null;
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
