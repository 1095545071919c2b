/**
 * The file calls a server makes while it starts (config and certificate files, handler modules,
 * the session file): on Deno through `Deno.*`, elsewhere through node:fs. On Deno, node:fs
 * would load Deno's Node compatibility layer: ~45 ms of CPU and 4.5 MiB at every start
 * (src/util/host/deno.ts). Errors carry Node's `code` ("ENOENT", ...) and message shape on
 * every runtime. What only some features need (streams, directory listings, watching) is
 * node:fs itself, through nodeFs(), loaded when first used.
 */
import type * as NodeFs from "node:fs";
import { DENO, type DenoApi, type DenoFileInfo, type DenoWriteFile } from "./deno.ts";

/** DENO in closures, which TypeScript does not know run only after `DENO` was checked. */
const deno = (): DenoApi => DENO!;

/** node:fs, loaded on first use (process.getBuiltinModule is synchronous on Bun, Deno and Node). */
export function nodeFs(): typeof NodeFs {
  return process.getBuiltinModule("node:fs") as typeof NodeFs;
}

/** node:fs/promises, loaded on first use. */
export function nodeFsPromises(): typeof import("node:fs/promises") {
  return process.getBuiltinModule("node:fs/promises") as typeof import("node:fs/promises");
}

/** What a stat says, the same on every runtime. */
export interface FileInfo {
  isFile: boolean;
  isDirectory: boolean;
  isSymbolicLink: boolean;
  isFIFO: boolean;
  isCharacterDevice: boolean;
  isBlockDevice: boolean;
  isSocket: boolean;
  size: number;
  mtimeMs: number;
}

function fromDeno(st: DenoFileInfo): FileInfo {
  return {
    isFile: st.isFile,
    isDirectory: st.isDirectory,
    isSymbolicLink: st.isSymlink,
    isFIFO: st.isFifo === true,
    isCharacterDevice: st.isCharDevice === true,
    isBlockDevice: st.isBlockDevice === true,
    isSocket: st.isSocket === true,
    size: st.size,
    mtimeMs: st.mtime?.getTime() ?? 0,
  };
}

function fromNode(st: NodeFs.Stats): FileInfo {
  return {
    isFile: st.isFile(),
    isDirectory: st.isDirectory(),
    isSymbolicLink: st.isSymbolicLink(),
    isFIFO: st.isFIFO(),
    isCharacterDevice: st.isCharacterDevice(),
    isBlockDevice: st.isBlockDevice(),
    isSocket: st.isSocket(),
    size: st.size,
    mtimeMs: st.mtimeMs,
  };
}

/**
 * A Deno error in Node's shape: "No such file or directory (os error 2): stat '/x'" becomes
 * "ENOENT: no such file or directory, stat '/x'"; the `code` Deno already sets is kept.
 */
function nodeStyle(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const code = (e as { code?: string }).code;
  const m = /^(.*?) \(os error \d+\)(?:: (.*))?$/.exec(e.message);
  if (code && m) e.message = `${code}: ${m[1]!.charAt(0).toLowerCase()}${m[1]!.slice(1)}${m[2] ? `, ${m[2]}` : ""}`;
  return e;
}

function denoSync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw nodeStyle(e);
  }
}

async function denoAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw nodeStyle(e);
  }
}

/** Whether `path` exists (a link: whether its target does), as node:fs's existsSync. */
export function existsSync(path: string): boolean {
  if (!DENO) return nodeFs().existsSync(path);
  try {
    DENO.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** stat (links followed). */
export function statSync(path: string): FileInfo {
  return DENO ? fromDeno(denoSync(() => deno().statSync(path))) : fromNode(nodeFs().statSync(path));
}

export async function stat(path: string): Promise<FileInfo> {
  return DENO ? fromDeno(await denoAsync(() => deno().stat(path))) : fromNode(await nodeFsPromises().stat(path));
}

/** A directory entry; the kinds are the entry's own (a link is a link, not its target). */
export interface DirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
  isSymbolicLink: boolean;
}

/** The entries of a directory, in no particular order. */
export function readDirSync(path: string): DirEntry[] {
  if (DENO) {
    return denoSync(() =>
      [...deno().readDirSync(path)].map((e) => ({
        name: e.name,
        isFile: e.isFile,
        isDirectory: e.isDirectory,
        isSymbolicLink: e.isSymlink,
      }))
    );
  }
  return nodeFs().readdirSync(path, { withFileTypes: true }).map((e) => ({
    name: e.name,
    isFile: e.isFile(),
    isDirectory: e.isDirectory(),
    isSymbolicLink: e.isSymbolicLink(),
  }));
}

export function realpathSync(path: string): string {
  return DENO ? denoSync(() => deno().realPathSync(path)) : nodeFs().realpathSync(path);
}

export function readTextFileSync(path: string): string {
  return DENO ? denoSync(() => deno().readTextFileSync(path)) : nodeFs().readFileSync(path, "utf8");
}

export async function readFile(path: string): Promise<Uint8Array> {
  return DENO ? await denoAsync(() => deno().readFile(path)) : await nodeFsPromises().readFile(path);
}

export async function readTextFile(path: string): Promise<string> {
  return new TextDecoder().decode(await readFile(path));
}

/** A file opened for writing by openForWrite, or a directory opened by openDirectory (only to fsync it). */
export interface WriteHandle {
  /** Writes bytes [offset, offset + length) of `buf` at the current position; returns how many were written. */
  write(buf: Uint8Array, offset: number, length: number): Promise<number>;
  /** fsync. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens `path` for writing from its start: created with `mode` when missing, and truncated; with
 * `exclusive`, refused (EEXIST) when it exists. On Deno through Deno.open, so that a stop that
 * writes its sessions loads no Node layer either.
 */
export async function openForWrite(path: string, options: { exclusive: boolean; mode: number }): Promise<WriteHandle> {
  if (!DENO) {
    const handle = await nodeFsPromises().open(path, options.exclusive ? "wx" : "w", options.mode);
    return {
      write: async (buf, offset, length) => (await handle.write(buf, offset, length)).bytesWritten,
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  }
  const file = await denoAsync(() =>
    deno().open(
      path,
      options.exclusive
        ? { write: true, createNew: true, mode: options.mode }
        : { write: true, create: true, truncate: true, mode: options.mode },
    )
  );
  return denoWriteHandle(file);
}

/** Opens a directory to fsync it (renames and deletions in it made durable); throws where that cannot be done (Windows). */
export async function openDirectory(path: string): Promise<WriteHandle> {
  if (!DENO) {
    const handle = await nodeFsPromises().open(path, "r");
    return {
      write: () => Promise.reject(new Error(`${path}: a directory is not written`)),
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  }
  const file = await denoAsync(() => deno().open(path, { read: true }));
  return denoWriteHandle(file as unknown as DenoWriteFile);
}

function denoWriteHandle(file: DenoWriteFile): WriteHandle {
  return {
    write: (buf, offset, length) =>
      denoAsync(() => file.write(offset === 0 && length === buf.length ? buf : buf.subarray(offset, offset + length))),
    sync: () => denoAsync(() => file.sync()),
    close: async () => file.close(),
  };
}

export async function mkdir(path: string, options: { recursive: true }): Promise<void> {
  if (DENO) await denoAsync(() => deno().mkdir(path, options));
  else await nodeFsPromises().mkdir(path, options);
}

export async function rename(from: string, to: string): Promise<void> {
  if (DENO) await denoAsync(() => deno().rename(from, to));
  else await nodeFsPromises().rename(from, to);
}

/** Removes a file (a directory with `recursive`); with `force`, a missing one is no error. */
export async function rm(path: string, options: { force?: boolean; recursive?: boolean } = {}): Promise<void> {
  if (!DENO) return await nodeFsPromises().rm(path, options);
  try {
    await DENO.remove(path, { recursive: options.recursive === true });
  } catch (e) {
    if (options.force && (e as { code?: string }).code === "ENOENT") return;
    throw nodeStyle(e);
  }
}

export function mkdirSync(path: string, options: { recursive: true }): void {
  if (DENO) denoSync(() => deno().mkdirSync(path, options));
  else nodeFs().mkdirSync(path, options);
}

/** A file opened for appending (an access log): writes go out in order, `end` waits for them. */
export interface AppendFile {
  write(text: string): void;
  end(): Promise<void>;
}

/**
 * Opens (creating) `path` for appending. Elsewhere than Deno a node:fs write stream; on Deno
 * Deno's own file, so that an access log does not load the Node layer with its first line. A
 * write that fails is reported to `onError` once per file, and later lines are dropped.
 */
export function openAppend(path: string, onError: (e: Error) => void): AppendFile {
  if (!DENO) {
    const stream = nodeFs().createWriteStream(path, { flags: "a" });
    stream.once("error", onError);
    return { write: (text) => void stream.write(text), end: () => new Promise<void>((r) => stream.end(r)) };
  }
  const file = denoSync(() => deno().openSync(path, { append: true, create: true }));
  const encoder = new TextEncoder();
  let failed = false;
  let pending: Promise<void> = Promise.resolve();
  const writeAll = async (bytes: Uint8Array) => {
    if (failed) return;
    try {
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
    } catch (e) {
      failed = true;
      onError(nodeStyle(e) as Error);
    }
  };
  return {
    write: (text) => {
      const bytes = encoder.encode(text);
      pending = pending.then(() => writeAll(bytes));
    },
    end: async () => {
      await pending;
      file.close();
    },
  };
}

/** The largest file openForRead reads with the runtime's synchronous calls (see there). */
export const SYNC_READ_MAX = 1024 * 1024;

/** A file opened for reading. */
export interface ReadHandle {
  stat(): Promise<FileInfo>;
  /** Reads up to `buf.length` bytes at the current position; 0 at the end. */
  read(buf: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/**
 * Opens `path` for reading. Elsewhere than Deno with O_NONBLOCK, so that a FIFO without a writer
 * does not hold the open; Deno's open has no such flag, so there a path that stat does not call a
 * regular file is refused before it is opened (readRegularFile checks the open file again).
 *
 * `small`: a file of a few kilobytes (a config, a PEM file, a keystore), which is read with the
 * runtime's synchronous calls. Deno's asynchronous file calls run on a pool of threads, and the
 * first of them leaves ~0.5 MiB more of Deno resident for the life of the server (its machine code
 * and malloc: bench/startup.ts --runtime deno --smaps); on Bun, node:fs/promises' FileHandle
 * leaves ~1.2 MiB more of Bun's machine code resident than node:fs's synchronous calls (a compiled
 * raw Bun.serve that reads its certificate either way). With this, a plain start makes no
 * asynchronous file call on either. A file stat finds larger than SYNC_READ_MAX (a big CRL, read
 * again on a reload while serving) takes the asynchronous calls, so that a synchronous read
 * never holds the event loop for long.
 */
export async function openForRead(
  path: string,
  notRegular: (st: FileInfo) => Error,
  small = false,
): Promise<ReadHandle> {
  if (DENO) {
    const before = small ? statSync(path) : await stat(path);
    if (!before.isFile) throw notRegular(before);
    if (small && before.size <= SYNC_READ_MAX) {
      const file = denoSync(() => deno().openSync(path, { read: true }));
      return {
        stat: async () => fromDeno(denoSync(() => file.statSync())),
        read: async (buf) => denoSync(() => file.readSync(buf)) ?? 0,
        close: async () => file.close(),
      };
    }
    const file = await denoAsync(() => deno().open(path, { read: true }));
    return {
      stat: async () => fromDeno(await denoAsync(() => file.stat())),
      read: async (buf) => (await denoAsync(() => file.read(buf))) ?? 0,
      close: async () => file.close(),
    };
  }
  const fs = nodeFs();
  // Windows has no FIFOs (and no O_NONBLOCK).
  const flags = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
  if (small) {
    const fd = fs.openSync(path, flags);
    const st = fromNode(fs.fstatSync(fd));
    // Not a regular file: the caller refuses it on this handle's stat, reading nothing.
    if (!st.isFile || st.size <= SYNC_READ_MAX) {
      return {
        // The open file's own stat, taken just now: the caller's one look at it.
        stat: async () => st,
        read: async (buf) => fs.readSync(fd, buf, 0, buf.length, null),
        close: async () => fs.closeSync(fd),
      };
    }
    fs.closeSync(fd);
  }
  const handle = await nodeFsPromises().open(path, flags);
  return {
    stat: async () => fromNode(await handle.stat()),
    read: async (buf) => (await handle.read(buf, 0, buf.length, null)).bytesRead,
    close: () => handle.close(),
  };
}
