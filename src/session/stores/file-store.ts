/**
 * Tomcat's FileStore: one `<id>.session` file per swapped-out session in a directory (relative
 * to the context's work directory; the work directory itself by default). Writes are atomic
 * (unique temporary file, fsync, rename, directory fsync), so a crash leaves the old copy or the
 * new one, and concurrent saves of one id never trip over each other's temporary file. Saves
 * and removals that run at the same time share one directory fsync.
 */
import { nodeFsPromises } from "../../util/host/fs.ts";
import { isAbsolute, join, resolve } from "../../util/host/path.ts";
import { BobcatError } from "../../util/errors.ts";
import { readRegularFile, UnreadableFileError } from "../../util/files.ts";
import { CorruptDataError } from "../errors.ts";
import type { StandardSession } from "../session.ts";
import type { SessionSnapshot } from "../store.ts";
import { describeCause, StoreBase, type StoreContext, StoreUnavailableError } from "./store-base.ts";
import { syncDirectory, writeFileAtomic } from "../../util/atomic-file.ts";
import type { FileStoreConfig } from "../config.ts";

/** `directory`: absolute, or relative to the context's work directory. Default: the work directory. */
export type FileStoreOptions = FileStoreConfig;

const SUFFIX = ".session";
/** Session ids (hex, `.route`) and Tomcat's test ids; nothing that could leave the directory or trouble a file system. */
/** Longest id kept as a file name: with ".session" and a temporary suffix it stays under NAME_MAX (255). */
const MAX_ID_LENGTH = 200;
const SAFE_ID = /^[A-Za-z0-9_-][A-Za-z0-9._~-]{0,199}$/;
const TEMP = /\.session\.[0-9a-f]{16}\.tmp$/;

function errorCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

export class FileStore extends StoreBase {
  /** Absolute path of the session directory. */
  readonly directory: string;
  /** `*.session` entries that are not regular files (a FIFO, a device, a directory): skipped, reported once each. */
  private readonly reportedEntries = new Set<string>();
  /** The directory fsync in progress, and the one queued after it. */
  private runningSync: Promise<void> | null = null;
  private nextSync: Promise<void> | null = null;

  /** `config` is the `<Store>` (see createStore for attributes from code); `context.workDir` is the context's work directory. */
  constructor(config: FileStoreConfig, context: StoreContext = {}) {
    super();
    const directory = config.directory || ".";
    if (isAbsolute(directory)) this.directory = directory;
    else if (context.workDir) this.directory = resolve(context.workDir, directory);
    else {
      throw new BobcatError(
        "session.badAttribute",
        `FileStore of ${
          context.name ?? "the context"
        }: attribute [directory] [${directory}] is relative but the context has no work directory`,
        { where: { attribute: "directory" }, fix: "Use an absolute directory, or give the context a workDir." },
      );
    }
  }

  /** Creates the directory (owner-only: sessions hold personal data) and clears leftovers of interrupted writes. */
  override async start(): Promise<void> {
    const existing = await nodeFsPromises().stat(this.directory).catch((
      err,
    ) => (errorCode(err) === "ENOENT" ? null : Promise.reject(err)));
    if (existing && !existing.isDirectory()) {
      // Tomcat deletes the file; it may be someone's data, so bobcat refuses instead.
      throw new BobcatError("store.directory", `FileStore: [${this.directory}] exists and is not a directory`, {
        where: { attribute: "directory" },
        fix: "Move that file away, or set the store's directory to another path.",
      });
    }
    try {
      await nodeFsPromises().mkdir(this.directory, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new BobcatError(
        "store.directory",
        `FileStore: cannot create the session directory [${this.directory}]: ${describeCause(err)}`,
        {
          where: { attribute: "directory" },
          fix: "Create it, or make its parent writable by the user bobcat runs as.",
          cause: err,
        },
      );
    }
    for (const name of await nodeFsPromises().readdir(this.directory)) {
      if (TEMP.test(name)) await nodeFsPromises().rm(join(this.directory, name), { force: true });
    }
  }

  checkSessionId(id: string): void {
    if (id.length > MAX_ID_LENGTH && SAFE_ID.test(id.slice(0, MAX_ID_LENGTH))) {
      // Safe characters, too many of them: the length comes from sessionIdLength (and jvmRoute).
      throw new BobcatError(
        "store.unsafeId",
        `FileStore cannot store sessions with ids of ${id.length} characters (like [${
          id.slice(0, 40)
        }...]): a session file name takes at most ${MAX_ID_LENGTH}`,
        {
          where: { attribute: "sessionIdLength" },
          fix:
            "Lower the <SessionIdGenerator>'s sessionIdLength (each byte is two characters; 16 is Tomcat's default), or shorten the Engine's jvmRoute.",
        },
      );
    }
    if (!SAFE_ID.test(id)) {
      throw new BobcatError(
        "store.unsafeId",
        `FileStore cannot store sessions with ids like [${id}]: the id is not a safe file name`,
        {
          where: { attribute: "jvmRoute" },
          fix: "Use only letters, digits, '.', '_', '-' and '~' in the Engine's jvmRoute.",
        },
      );
    }
  }

  /** The file for a session id, or null (with a warning, as Tomcat's fileStore.invalid) for an id that is not a safe file name. */
  private file(id: string): string | null {
    if (SAFE_ID.test(id)) return join(this.directory, id + SUFFIX);
    this.log.warn(`${this}: refusing session id [${id.slice(0, 80)}]: it is not a safe file name`);
    return null;
  }

  async load(id: string): Promise<StandardSession | null> {
    const file = this.file(id);
    if (!file) return null;
    let bytes: Uint8Array;
    try {
      // No size limit (bobcat wrote the file); a FIFO or device would block or never end, so it is skipped.
      bytes = await readRegularFile(file, Number.MAX_SAFE_INTEGER);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return null;
      if (err instanceof UnreadableFileError) {
        this.reportEntry(id + SUFFIX, err.reason);
        return null;
      }
      throw new StoreUnavailableError(`${this}: cannot read [${file}]: ${describeCause(err)}`, err);
    }
    try {
      return this.manager.deserializeSession(bytes);
    } catch (err) {
      if (!(err instanceof CorruptDataError)) throw err;
      throw await this.keepAside(file, err);
    }
  }

  /** Moves an unreadable file out of the way (it no longer ends in .session) so it is reported once, not lost. */
  private async keepAside(file: string, err: CorruptDataError): Promise<CorruptDataError> {
    const aside = `${file}.corrupt-${new Date(this.manager.now()).toISOString().replace(/[-:.]/g, "")}`;
    try {
      await nodeFsPromises().rename(file, aside);
      return new CorruptDataError(
        `session file [${file}] is damaged (${err.message}); it was kept as [${aside}]`,
        err.fix,
      );
    } catch {
      return new CorruptDataError(`session file [${file}] is damaged (${err.message})`, err.fix);
    }
  }

  /**
   * Unique temporary file, fsync, rename over the session's file, then a directory fsync that
   * every save and removal made meanwhile shares. Resolves once the copy survives a power cut.
   */
  async saveSnapshot(snapshot: SessionSnapshot): Promise<void> {
    const id = snapshot.id;
    const file = this.file(id);
    if (!file) {
      throw new BobcatError(
        "store.unsafeId",
        `${this}: session id [${id.slice(0, 80)}] is not a safe file name; the session was not saved`,
      );
    }
    try {
      // 0600: sessions hold whatever the application stored, often personal data.
      await writeFileAtomic(file, snapshot.data, { mode: 0o600, unique: true, syncDirectory: false });
    } catch (err) {
      throw new StoreUnavailableError(`${this}: cannot write [${file}]: ${describeCause(err)}`, err);
    }
    await this.syncDirectory();
  }

  /**
   * Makes renames and deletions durable. A directory fsync that started before a rename does
   * not cover it, so callers arriving while one runs share the next one: under load, one fsync
   * serves every write that finished during the previous one.
   */
  private syncDirectory(): Promise<void> {
    if (this.nextSync) return this.nextSync;
    if (!this.runningSync) return this.startSync();
    const next = this.runningSync.then(() => {
      this.nextSync = null;
      return this.startSync();
    });
    this.nextSync = next;
    return next;
  }

  private startSync(): Promise<void> {
    const run = syncDirectory(this.directory).finally(() => {
      if (this.runningSync === run) this.runningSync = null;
    });
    this.runningSync = run;
    return run;
  }

  /** Deletes the file and makes the deletion durable (a removal is acknowledged like a save). */
  async remove(id: string): Promise<void> {
    const file = this.file(id);
    if (!file) return;
    try {
      await nodeFsPromises().rm(file);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return;
      throw new StoreUnavailableError(`${this}: cannot delete [${file}]: ${describeCause(err)}`, err);
    }
    await this.syncDirectory();
  }

  async keys(): Promise<string[]> {
    let entries: Array<{ name: string; isFile(): boolean; isSymbolicLink(): boolean }>;
    try {
      entries = await nodeFsPromises().readdir(this.directory, { withFileTypes: true });
    } catch (err) {
      if (errorCode(err) === "ENOENT") return [];
      throw new StoreUnavailableError(`${this}: cannot list the directory: ${describeCause(err)}`, err);
    }
    const ids: string[] = [];
    for (const e of entries) {
      if (!e.name.endsWith(SUFFIX)) continue;
      // A symbolic link is checked when read (the opened file's type counts).
      if (e.isFile() || e.isSymbolicLink()) ids.push(e.name.slice(0, -SUFFIX.length));
      else this.reportEntry(e.name, "is not a regular file");
    }
    return ids;
  }

  private reportEntry(name: string, reason: string): void {
    if (this.reportedEntries.has(name)) return;
    this.reportedEntries.add(name);
    this.log.warn(`${this}: skipping [${name}]: it ${reason}; move it out of the session directory`);
  }

  async getSize(): Promise<number> {
    return (await this.keys()).length;
  }

  async clear(): Promise<void> {
    for (const id of await this.keys()) await this.remove(id);
  }

  toString(): string {
    return `FileStore[${this.directory}]`;
  }
}
