/**
 * Deno's own APIs, as far as src/util/host uses them, and only where Deno runs us (undefined
 * elsewhere). The host modules call these on Deno instead of `node:` modules and `process`:
 * the first touch of either makes Deno compile its Node compatibility layer from its embedded
 * sources, 25–45 ms of CPU and up to 4.5 MiB at every start (bench/probes/deno-node-layer.ts),
 * which a server on Deno's native back-end does not otherwise need.
 */
export interface DenoFileInfo {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  isFifo: boolean | null;
  isCharDevice: boolean | null;
  isBlockDevice: boolean | null;
  isSocket: boolean | null;
  size: number;
  mtime: Date | null;
}

export interface DenoFile {
  stat(): Promise<DenoFileInfo>;
  read(p: Uint8Array): Promise<number | null>;
  close(): void;
}

/** A file opened by Deno.open for writing (or a directory, to fsync it). */
export interface DenoWriteFile {
  write(p: Uint8Array): Promise<number>;
  sync(): Promise<void>;
  close(): void;
}

/** A file opened with Deno.openSync, read with its synchronous calls. */
export interface DenoSyncFile {
  statSync(): DenoFileInfo;
  readSync(p: Uint8Array): number | null;
  close(): void;
}

export interface DenoApi {
  build: { os: string };
  pid: number;
  /** getppid(), asked anew at each read. */
  ppid: number;
  args: string[];
  env: { get(name: string): string | undefined; delete(name: string): void };
  cwd(): string;
  exit(code?: number): never;
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
  memoryUsage(): { rss: number; heapUsed: number };
  stdout: { writeSync(p: Uint8Array): number };
  statSync(path: string): DenoFileInfo;
  readDirSync(path: string): Iterable<{ name: string; isFile: boolean; isDirectory: boolean; isSymlink: boolean }>;
  lstatSync(path: string): DenoFileInfo;
  stat(path: string): Promise<DenoFileInfo>;
  realPathSync(path: string): string;
  readTextFileSync(path: string): string;
  readFile(path: string): Promise<Uint8Array>;
  open(path: string, options: { read: boolean }): Promise<DenoFile>;
  open(
    path: string,
    options: { write: true; create?: boolean; createNew?: boolean; truncate?: boolean; mode?: number },
  ): Promise<DenoWriteFile>;
  mkdir(path: string, options: { recursive: boolean }): Promise<void>;
  mkdirSync(path: string, options: { recursive: boolean }): void;
  openSync(path: string, options: { append: true; create: true }): {
    write(p: Uint8Array): Promise<number>;
    close(): void;
  };
  openSync(path: string, options: { read: true }): DenoSyncFile;
  rename(from: string, to: string): Promise<void>;
  remove(path: string, options: { recursive: boolean }): Promise<void>;
}

export const DENO: DenoApi | undefined = (globalThis as { Deno?: DenoApi }).Deno;
