/**
 * Writes a file so that a crash at any moment leaves either the old content or the new one:
 * temporary file, fsync, rename over the target, fsync of the directory. Every writer of
 * durable files (session persistence, FileStore, keystores, the test CA, generated
 * certificates) goes through here.
 */
import { mkdir, openDirectory, openForWrite, rename, rm } from "./host/fs.ts";
import { dirname } from "./host/path.ts";
import { mark } from "./timing.ts";

export interface AtomicWriteOptions {
  /** Permissions of a new file; default 0600 (sessions and keys are private). */
  mode?: number;
  /**
   * A temporary name of its own for this write (`<file>.<16 hex>.tmp`) instead of `<file>.tmp`,
   * where several writes of one file may run at once.
   */
  unique?: boolean;
  /** false: the caller makes the rename durable itself (e.g. one directory fsync for many files). */
  syncDirectory?: boolean;
  /** Create the directory first. */
  mkdir?: boolean;
}

/** `n` random bytes as hex (Web Crypto: node:crypto would load Deno's Node layer). */
function randomHex(n: number): string {
  let hex = "";
  for (const b of crypto.getRandomValues(new Uint8Array(n))) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** The temporary name used while writing `file`; a leftover one is from an interrupted write. */
export function tempPathFor(file: string): string {
  return `${file}.tmp`;
}

export async function writeFileAtomic(
  file: string,
  /**
   * The content, or its parts in order (written one after the other, not joined first), or
   * parts made as they are written: each is written before the next is asked for, so their
   * maker may put the next one in the same memory.
   */
  data: Uint8Array | string | Uint8Array[] | AsyncIterable<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(file);
  if (options.mkdir) await mkdir(dir, { recursive: true });
  const tmp = options.unique ? `${file}.${randomHex(8)}.tmp` : tempPathFor(file);
  try {
    // On Deno through Deno.open: node:fs would load the Node layer in the middle of a stop.
    const handle = await openForWrite(tmp, { exclusive: options.unique === true, mode: options.mode ?? 0o600 });
    try {
      const parts = typeof data === "string"
        ? [new TextEncoder().encode(data)]
        : data instanceof Uint8Array
        ? [data]
        : data;
      for await (const part of parts) {
        for (let at = 0; at < part.length;) {
          const written = await handle.write(part, at, part.length - at);
          if (written <= 0) throw new Error(`${tmp}: nothing written`);
          at += written;
        }
      }
      mark(`${tmp}: write`);
      await handle.sync();
      mark(`${tmp}: fsync`);
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    mark(`${file}: rename`);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  if (options.syncDirectory !== false) {
    await syncDirectory(dir);
    mark(`${dir}: fsync`);
  }
}

/**
 * Makes renames and deletions in `dir` durable. Not every platform can open a directory
 * (Windows); a rename is atomic there all the same.
 */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await openDirectory(dir);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot fsync a directory.
  }
}
