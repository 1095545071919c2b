/**
 * File-system paths, as node:path's functions of the same names. On POSIX systems they are
 * computed here (the same results as node:path's posix functions; tests/util/host-path.test.ts
 * compares them case by case), so no runtime loads a `node:` module for them (on Deno, node:path
 * alone costs a start ~14 ms of CPU: src/util/host/deno.ts); on Windows node:path's own are used.
 */
import type * as NodePath from "node:path";
import { DENO } from "./deno.ts";
import { cwd } from "./proc.ts";

/** `.` and `..` segments resolved, empty segments dropped; `..` past the start kept when allowed. */
function normalizeSegments(path: string, allowAboveRoot: boolean): string {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (allowAboveRoot) out.push("..");
      continue;
    }
    out.push(seg);
  }
  return out.join("/");
}

const posix = {
  sep: "/" as const,
  isAbsolute: (path: string): boolean => path.startsWith("/"),
  normalize(path: string): string {
    if (path === "") return ".";
    const absolute = path.startsWith("/");
    const trailing = path.endsWith("/");
    let out = normalizeSegments(path, !absolute);
    if (out === "" && !absolute) out = ".";
    if (out !== "" && trailing) out += "/";
    return absolute ? `/${out}` : out;
  },
  join(...paths: string[]): string {
    const joined = paths.filter((p) => p !== "").join("/");
    return joined === "" ? "." : posix.normalize(joined);
  },
  resolve(...paths: string[]): string {
    let resolved = "";
    for (let i = paths.length - 1; i >= -1 && !resolved.startsWith("/"); i--) {
      const p = i >= 0 ? paths[i]! : cwd();
      if (p === "") continue;
      resolved = resolved === "" ? p : `${p}/${resolved}`;
    }
    const out = normalizeSegments(resolved, !resolved.startsWith("/"));
    return resolved.startsWith("/") ? `/${out}` : out === "" ? "." : out;
  },
  dirname(path: string): string {
    if (path === "") return ".";
    let end = path.length;
    while (end > 1 && path[end - 1] === "/") end--;
    const slash = path.lastIndexOf("/", end - 1);
    if (slash === -1) return ".";
    return slash === 0 ? "/" : path.slice(0, slash);
  },
  basename(path: string, suffix?: string): string {
    let end = path.length;
    while (end > 0 && path[end - 1] === "/") end--;
    const base = path.slice(path.lastIndexOf("/", end - 1) + 1, end);
    return suffix !== undefined && suffix !== base && base.endsWith(suffix)
      ? base.slice(0, base.length - suffix.length)
      : base;
  },
  extname(path: string): string {
    const base = posix.basename(path);
    const dot = base.lastIndexOf(".");
    return dot <= 0 || base === ".." ? "" : base.slice(dot);
  },
  relative(from: string, to: string): string {
    const a = posix.resolve(from).split("/").filter(Boolean);
    const b = posix.resolve(to).split("/").filter(Boolean);
    let common = 0;
    while (common < a.length && common < b.length && a[common] === b[common]) common++;
    return [...a.slice(common).map(() => ".."), ...b.slice(common)].join("/");
  },
};

type PathFunctions = Pick<
  typeof NodePath,
  "sep" | "isAbsolute" | "normalize" | "join" | "resolve" | "dirname" | "basename" | "extname" | "relative"
>;

const windows = DENO ? DENO.build.os === "windows" : (globalThis as { process?: { platform?: string } }).process
  ?.platform === "win32";

/** Exported for tests/util/host-path.test.ts, which checks it against node:path.posix on any system. */
export const POSIX_PATH: PathFunctions = posix;

const impl: PathFunctions = windows ? process.getBuiltinModule("node:path") as typeof NodePath : posix;

export const { sep, isAbsolute, normalize, join, resolve, dirname, basename, extname, relative } = impl;
