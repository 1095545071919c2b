/**
 * The file: URL of a path, for `import()`, without node:url: on Bun, loading node:url for
 * pathToFileURL at start keeps about 1 MiB more of the runtime's machine code and 110 KiB of heap
 * resident (bench/startup.ts --smaps). The same URL as pathToFileURL gives on POSIX, up to which
 * characters are escaped: every character a URL path cannot hold as it is (space, %, ?, #,
 * non-ASCII, ...) is percent-encoded, so the URL names the same file.
 */
import { resolve } from "./host/path.ts";

export function fileUrl(path: string): string {
  return `file://${encodeURI(resolve(path)).replace(/[?#]/g, (c) => (c === "?" ? "%3F" : "%23"))}`;
}
