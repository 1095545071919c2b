/**
 * Reading files that a user names (config files, keystores, PEM files, password files, session
 * files) without trusting what sits at the path: a FIFO would block the read forever (and with it
 * `check`, start-up and SIGTERM), a device such as /dev/zero never ends, and a file of gigabytes
 * would be read whole into memory. The file is opened non-blocking (so opening a FIFO returns at
 * once), its type is checked on the open handle (no race between a check and the open), and at
 * most `maxBytes` are read. Deno's own open has no non-blocking flag: there the path is stat'ed
 * first and only a regular file opened (src/util/host/fs.ts), so a FIFO put in its place between
 * the two calls would still hold the open.
 */
import { type FileInfo, openForRead } from "./host/fs.ts";

/** Config files, keystores, PEM bundles, CRLs and password files: far larger than any real one. */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

/** Thrown for a path that is not a regular file, or one larger than allowed; `code` as Node's errors carry one. */
export class UnreadableFileError extends Error {
  constructor(
    readonly path: string,
    readonly code: "ENOTREGULAR" | "ETOOLARGE",
    /** "is a FIFO (named pipe), not a regular file" / "is larger than 16 MiB" */
    readonly reason: string,
    readonly isDirectory = false,
  ) {
    super(`${path} ${reason}`);
    this.name = "UnreadableFileError";
  }
}

/** What a non-regular file is, for messages: "a FIFO (named pipe)", "a character device", ... */
export function fileKind(st: FileInfo): string {
  if (st.isFile) return "a regular file";
  if (st.isDirectory) return "a directory";
  if (st.isFIFO) return "a FIFO (named pipe)";
  if (st.isCharacterDevice) return "a character device";
  if (st.isBlockDevice) return "a block device";
  if (st.isSocket) return "a socket";
  if (st.isSymbolicLink) return "a symbolic link";
  return "not a regular file";
}

export function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

/**
 * The bytes of the regular file at `path`. Errors: the open's own (ENOENT, EACCES, ...), or an
 * UnreadableFileError for a FIFO, device, socket or directory, or for more than `maxBytes`.
 */
export async function readRegularFile(path: string, maxBytes: number = MAX_CONFIG_FILE_BYTES): Promise<Uint8Array> {
  const notRegular = (st: FileInfo) =>
    new UnreadableFileError(path, "ENOTREGULAR", `is ${fileKind(st)}, not a regular file`, st.isDirectory);
  // Opened so that a FIFO without a writer cannot hold the open (src/util/host/fs.ts); read
  // with synchronous calls when the bound is a config file's, not a session file's.
  const handle = await openForRead(path, notRegular, maxBytes <= MAX_CONFIG_FILE_BYTES);
  try {
    const st = await handle.stat();
    if (!st.isFile) throw notRegular(st);
    const tooLarge = () => new UnreadableFileError(path, "ETOOLARGE", `is larger than ${formatBytes(maxBytes)}`);
    if (st.size > maxBytes) throw tooLarge();
    // The file may grow between stat and read: read at most maxBytes + 1 and refuse the excess.
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(Math.max(st.size - total, 64 * 1024), maxBytes + 1 - total);
      if (want <= 0) throw tooLarge();
      const buf = new Uint8Array(want);
      const bytesRead = await handle.read(buf);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw tooLarge();
    }
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** As readRegularFile, decoded as UTF-8. */
export async function readRegularTextFile(path: string, maxBytes: number = MAX_CONFIG_FILE_BYTES): Promise<string> {
  return new TextDecoder().decode(await readRegularFile(path, maxBytes));
}
