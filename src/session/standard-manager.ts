/**
 * Tomcat's StandardManager: sessions in memory, and with `pathname` set, all of them written to
 * one file on stop and read back on start ("persistence across restart").
 */
import { rename, rm, stat } from "../util/host/fs.ts";
import { isAbsolute, resolve } from "../util/host/path.ts";
import { tempPathFor, writeFileAtomic } from "../util/atomic-file.ts";
import { describeError, ManagerBase, type RestoreInProgress } from "./manager-base.ts";
import {
  managerArguments,
  type ManagerContext,
  type StandardManagerConfig,
  type StandardManagerOptions,
} from "./config.ts";
import { SessionFileBuilder, type SessionFileScan, SessionFileScanner } from "./record.ts";
import { ByteWriter } from "./wire.ts";
import type { StandardSession } from "./session.ts";
import { UnreadSessions } from "./unread-sessions.ts";
import { BobcatError } from "../util/errors.ts";
import { CorruptDataError } from "./errors.ts";
import { fileKind, readRegularFile, UnreadableFileError } from "../util/files.ts";
import { mark } from "../util/timing.ts";
import { backgroundTurn } from "../util/background-timer.ts";

export type { StandardManagerOptions };

/**
 * unload writes the sessions file in pieces of about this many bytes, made in one buffer: fresh
 * memory for a whole file of 100,000 sessions costs more in page faults than making the records.
 */
const UNLOAD_CHUNK = 1 << 20;

/**
 * A restore in the background checks and indexes this many records per turn of the event loop
 * (a few milliseconds), so that requests are served between the parts.
 */
const RESTORE_SLICE = 2048;

export class StandardManager extends ManagerBase<StandardManagerConfig> {
  /** Absolute path of the persistence file, or null when persistence is off. */
  readonly persistenceFile: string | null;
  /** The persistence file's reading begun by prefetch, for load. */
  private prefetched: Promise<Uint8Array> | null = null;
  /** Settles when a restore left to the background (backgroundRestore) has ended, its file deleted or kept aside. */
  private restored: Promise<void> = Promise.resolve();
  /** Begins the checking of a restore left to the background (once: serving() or whenIdle()). */
  private beginRestore: (() => void) | null = null;

  /**
   * `new StandardManager(config, context)` with the validated `<Manager>` (servers), or
   * `new StandardManager({ ...attributes, ...context })` from code (checked and defaulted by the schema).
   * `pathname` unset or "" keeps persistence off, as in Tomcat.
   */
  constructor(config: StandardManagerConfig, context: ManagerContext);
  constructor(options?: StandardManagerOptions);
  constructor(options: StandardManagerOptions | StandardManagerConfig = {}, context?: ManagerContext) {
    const args = managerArguments("StandardManager", options, context);
    super(args.config, args.context);
    const pathname = args.config.pathname;
    if (!pathname) {
      this.persistenceFile = null;
    } else if (isAbsolute(pathname)) {
      this.persistenceFile = pathname;
    } else if (this.settings.workDir) {
      this.persistenceFile = resolve(this.settings.workDir, pathname);
    } else {
      throw new BobcatError(
        "session.badAttribute",
        `StandardManager ${this.name}: attribute [pathname] [${pathname}] is relative but the context has no work directory`,
        { where: { attribute: "pathname" }, fix: "Use an absolute pathname, or give the context a workDir." },
      );
    }
  }

  /** Begins reading the persistence file (what load reads first), to overlap the rest of a server's start. */
  override prefetch(): void {
    if (!this.persistenceFile || this.prefetched) return;
    this.prefetched = readRegularFile(this.persistenceFile, Number.MAX_SAFE_INTEGER);
    // Its failure is load's to report.
    this.prefetched.catch(() => {});
  }

  protected async startInternal(): Promise<void> {
    if (!this.persistenceFile) return;
    try {
      await this.load(this.persistenceFile);
    } catch (err) {
      if (err instanceof BobcatError) throw err;
      // As Tomcat: a failed load never stops the application; sessions read so far stay.
      this.log.error(
        `[${this.name}] Exception loading sessions from persistent storage [${this.persistenceFile}]: ${
          describeError(err)
        }`,
      );
    }
  }

  /** For `bobcat check`: refuses what start would refuse (a FIFO or device at pathname), reading nothing. */
  async checkPersistenceFile(): Promise<void> {
    if (!this.persistenceFile) return;
    const st = await stat(this.persistenceFile).catch(() => null);
    if (st && !st.isFile && !st.isDirectory) {
      throw this.notRegular(this.persistenceFile, `is ${fileKind(st)}, not a regular file`);
    }
  }

  private notRegular(file: string, reason: string): BobcatError {
    return new BobcatError("session.pathname", `[${this.name}] the session persistence file [${file}] ${reason}`, {
      where: { attribute: "pathname" },
      fix: "Move that entry away, or set the manager's pathname to a file of its own (e.g. SESSIONS.ser).",
    });
  }

  override serving(): void {
    const begin = this.beginRestore;
    this.beginRestore = null;
    begin?.();
  }

  /**
   * A restore under way in the background counts as work not done yet: what waits for it has the
   * rest checked now (in parts it would only take longer, and on Deno the wait between parts
   * does not keep the process alive: backgroundTurn).
   */
  override whenIdle(): Promise<void> {
    this.finishRestore();
    return this.restored;
  }

  protected async stopInternal(): Promise<void> {
    if (!this.persistenceFile) return;
    // A restore still under way ends first, and its file is deleted before the new one is written.
    this.finishRestore();
    await this.restored;
    try {
      await this.unload(this.persistenceFile);
    } catch (err) {
      // The previous file, if any, is untouched (atomic write); the sessions are expired with notifications.
      this.log.error(
        `[${this.name}] Exception unloading sessions to persistent storage [${this.persistenceFile}]: ${
          describeError(err)
        }`,
      );
    }
  }

  /**
   * Reads the file, activates its sessions (no sessionCreated), expires those that timed out while
   * the server was down (with notifications), and deletes the file. A file that cannot be decoded
   * is renamed aside with an error, and the manager starts empty.
   */
  private async load(file: string): Promise<void> {
    // A leftover temporary file is an interrupted write; the real file (if any) is the good copy.
    await rm(tempPathFor(file), { force: true }).catch(() => {});
    const prefetched = this.prefetched;
    this.prefetched = null;
    let bytes: Uint8Array;
    try {
      // No size limit: the file holds every session; bobcat wrote it.
      bytes = await (prefetched ?? readRegularFile(file, Number.MAX_SAFE_INTEGER));
    } catch (err) {
      // A FIFO or device is refused: reading it would block or never end, and the save on stop
      // would replace it. A directory is an ordinary load failure (logged; the save fails too).
      if (err instanceof UnreadableFileError && !err.isDirectory) throw this.notRegular(file, err.reason);
      if ((err as { code?: string }).code === "ENOENT") {
        this.log.debug(`[${this.name}] Persisted data file [${file}] was not found`);
      } else {
        this.log.error(
          `[${this.name}] Exception loading sessions from persistent storage [${file}]: ${describeError(err)}`,
        );
      }
      return;
    }
    mark(`[${this.name}] sessions file read`);
    this.log.debug(`[${this.name}] Loading persisted sessions from [${file}]`);
    // The whole file is checked (checksum, every record's structure), but a record becomes a
    // session only when something looks it up (ManagerBase.fromUnread); until then it stays as
    // its bytes, and a stop copies them back as they are. If the file turns out to be damaged,
    // nothing was told of any of it.
    const unread = new UnreadSessions(bytes);
    const atStart = this.settings.sessionLastAccessAtStart;
    const invalid: number[] = [];
    const scanner = new SessionFileScanner(bytes, {
      count: (n) => unread.reserve(n),
      record: (start, end, created, lastAccessed, thisAccessed, maxInactive, valid, idHash) => {
        const slot = unread.add(start, end, created, atStart ? lastAccessed : thisAccessed, maxInactive, idHash);
        if (slot === -1) {
          this.log.warn(
            `[${this.name}] Session [${unread.idAt(start, end)}] appears twice in [${file}]; the first copy is kept`,
          );
        } else if (slot >= 0 && !valid) {
          invalid.push(slot);
        }
      },
    });
    if (this.backgroundRestore) {
      this.restoreInBackground(file, scanner, unread, invalid);
      return;
    }
    try {
      scanner.step(Infinity);
    } catch (err) {
      // Anything else (a bug) ends the load as before.
      if (!(err instanceof CorruptDataError)) throw err;
      await this.keepAside(file, err);
      return;
    }
    await this.concludeRestore(file, unread, invalid);
  }

  /**
   * load's checking and indexing left to run after start() returns: from serving() on,
   * RESTORE_SLICE records at a time, each part in a turn of the event loop of its own, so that
   * the server listens first and serves meanwhile. Whatever needs every record (the count, a
   * new session's id check, the manager app, a stop) finishes the rest at once (ManagerBase's
   * `unread`). A lookup does not: it finds the first record with its id among those not checked
   * yet by their length prefixes alone, and checks that one record (SessionFileScanner.checkAhead).
   * A record broken further on (behind a good checksum: a writer's bug, not damage) keeps the
   * file aside as load does; sessions read before then stay, the records not read are dropped.
   */
  private restoreInBackground(file: string, scanner: SessionFileScanner, unread: UnreadSessions, invalid: number[]) {
    let settle = () => {};
    this.restored = new Promise<void>((resolve) => (settle = resolve));
    const end = (tail: Promise<void>) => {
      this.beginRestore = null;
      void tail.then(settle, settle);
    };
    const fail = (err: unknown) => {
      this.restoring = null;
      this.unread = null;
      if (err instanceof CorruptDataError) {
        end(this.keepAside(file, err));
        return;
      }
      // Anything else (a bug) ends the restore, as it ends the load of start().
      this.log.error(
        `[${this.name}] Exception loading sessions from persistent storage [${file}]: ${describeError(err)}`,
      );
      end(Promise.resolve());
    };
    /** Checks `limit` more records; false once none is left (the restore has then ended). */
    const advance = (limit: number): boolean => {
      let done: boolean;
      try {
        done = scanner.step(limit);
      } catch (err) {
        fail(err);
        return false;
      }
      if (!done) return true;
      this.restoring = null;
      end(this.concludeRestore(file, unread, invalid));
      return false;
    };
    const atStart = this.settings.sessionLastAccessAtStart;
    let found = -1;
    const ahead: SessionFileScan = {
      count: () => {},
      record: (start, end, created, lastAccessed, thisAccessed, maxInactive, _valid, idHash) => {
        // −1: a record with this id was read and has ended since; this later copy is not the first.
        found = unread.add(start, end, created, atStart ? lastAccessed : thisAccessed, maxInactive, idHash);
      },
    };
    const idBytes = new ByteWriter();
    const restoring: RestoreInProgress = {
      finish: () => {
        while (advance(Infinity));
      },
      find: (id) => {
        const slot = unread.find(id);
        // The first step checks the checksum: nothing is handed out before it has.
        if (slot >= 0 || !advance(0)) return slot >= 0 ? slot : this.unread === null ? -1 : this.unread.find(id);
        idBytes.reset();
        idBytes.str(id);
        found = -1;
        try {
          if (!scanner.checkAhead(idBytes.written(), ahead)) return -1;
        } catch (err) {
          fail(err);
          return -1;
        }
        return found;
      },
    };
    this.unread = unread;
    this.restoring = restoring;
    this.endedBeforeRestoreChecked = 0;
    const next = () => {
      if (this.restoring === restoring && advance(RESTORE_SLICE)) backgroundTurn(next);
    };
    this.beginRestore = () => backgroundTurn(next);
  }

  /**
   * The end of load once every record is checked: the records go to `unread` (but those of
   * sessions made before the start), the ones saved invalid or timed out while the server was
   * down are read and expired with notifications, and the file is deleted (the promise).
   */
  private concludeRestore(file: string, unread: UnreadSessions, invalid: number[]): Promise<void> {
    mark(`[${this.name}] sessions file checked`);
    // Records looked up while a restore in the background was under way are sessions already;
    // those among them that had ended while the server was down count as expired.
    const endedEarly = this.endedBeforeRestoreChecked;
    const readEarly = unread.added - unread.size - endedEarly;
    // A session made before the start (nothing does that but code) keeps its id.
    for (const id of this.sessions.keys()) {
      const slot = unread.find(id);
      if (slot < 0) continue;
      this.log.warn(`[${this.name}] Session [${id}] appears twice in [${file}]; the first copy is kept`);
      unread.take(slot);
    }
    const total = unread.size;
    this.unread = total > 0 ? unread : null;
    if (total > 0) this.stats.recordActive(this.sessionCount);

    // Saved already invalid, or timed out while the server was down: read now and expired with
    // notifications, as when every session was read at load.
    let expired = 0;
    const now = this.now();
    for (const slot of invalid) if (unread.isUnread(slot) && !this.readUnread(slot).isValid(now)) expired++;
    if (this.unread) {
      for (const slot of this.unread.due(now)) if (!this.readUnread(slot).isValid(now)) expired++;
    }
    mark(`[${this.name}] sessions restored`);
    this.log.info(
      `[${this.name}] Restored ${readEarly + total - expired} session(s) from [${file}]` +
        (expired + endedEarly ? `; ${expired + endedEarly} had expired while stopped` : ""),
    );
    return rm(file).catch((err) => {
      this.log.warn(
        `[${this.name}] Unable to delete [${file}] after reading the persisted sessions. ` +
          `The continued presence of this file may cause future attempts to persist sessions to fail: ${
            describeError(err)
          }`,
      );
    });
  }

  private async keepAside(file: string, cause: unknown): Promise<void> {
    const stamp = new Date(this.now()).toISOString().replace(/[-:.]/g, "");
    const aside = `${file}.corrupt-${stamp}`;
    const problem = `[${this.name}] Exception loading sessions from persistent storage [${file}]: ${
      describeError(cause)
    }`;
    try {
      await rename(file, aside);
      this.log.error(`${problem}. The file was kept as [${aside}]; starting with no sessions.`);
    } catch (err) {
      this.log.error(
        `${problem}. It could not be moved aside (${
          describeError(err)
        }) and will be replaced at the next stop; starting with no sessions.`,
      );
    }
  }

  /**
   * Passivates and writes every live session, atomically; then expires them without notifications
   * (they live on in the file). A restored session nothing has read is written by copying its
   * record as the file had it (it was never activated, so there is nothing to passivate). With no
   * sessions, nothing is written.
   */
  private async unload(file: string): Promise<void> {
    const now = this.now();
    // Unread records that timed out expire as any session would: read, then expired with notifications.
    if (this.unread) { for (const slot of this.unread.due(now)) this.readUnread(slot).isValid(now); }
    const live = new Array<StandardSession>(this.sessions.size);
    let count = 0;
    for (const s of this.sessions.values()) if (s.isValid(now)) live[count++] = s;
    live.length = count;
    const unread = this.unread;
    const total = count + (unread ? unread.size : 0);
    if (total === 0) {
      this.log.debug(`[${this.name}] No persisted sessions to unload`);
      return;
    }
    this.log.debug(`[${this.name}] Saving persisted sessions to [${file}]`);
    // The unread records are written from the bytes the file was read into; the others are
    // written a chunk at a time, the same buffer used for each.
    const out = new SessionFileBuilder(total, UNLOAD_CHUNK + 0x10000);
    if (unread) unread.forEachRun((from, to, count) => out.copyRecords(unread.bytes, from, to, count));
    const created = new Float64Array(count);
    await writeFileAtomic(file, this.records(out, live, created), { mkdir: true });
    mark(`[${this.name}] sessions file written`);
    this.log.info(`[${this.name}] Saved ${total} session(s) to [${file}]`);
    // Tomcat's expire(false) on each: no listener and no value is told anything, so what is left
    // of it is the session marked invalid, the map emptied and the expiry counted.
    this.stats.recordExpiredMany(now, total, (each) => {
      if (unread) unread.forEachCreated(each);
      for (let i = 0; i < count; i++) each(created[i]!);
    });
    for (let i = 0; i < count; i++) live[i]!.expireSilently();
    this.sessions.clear();
    this.unread = null;
  }

  /**
   * The sessions file's parts for unload, each written before the next is made: each session in
   * turn passivated and written (as Tomcat's doUnload does), its creation time kept in `created`.
   * Without attribute filters, most sessions are written by quickRecord (object values through the
   * serializer, in place), the others the general way.
   */
  private async *records(
    out: SessionFileBuilder,
    live: StandardSession[],
    created: Float64Array,
  ): AsyncGenerator<Uint8Array> {
    const { sessionAttributeNameFilter, sessionAttributeValueClassNameFilter, serializer } = this.settings;
    const quick = !sessionAttributeNameFilter && !sessionAttributeValueClassNameFilter;
    const persistAuth = this.config.persistAuthentication;
    for (let i = 0; i < live.length; i++) {
      const session = live[i]!;
      session.passivate();
      if (!quick || !out.quickRecord(session, persistAuth, serializer)) this.writeRecordTo(out, session);
      created[i] = session.creationTimeInternal;
      if (out.pending >= UNLOAD_CHUNK) yield* out.takeParts();
    }
    const last = out.finishParts();
    mark(`[${this.name}] sessions file built`);
    yield* last;
  }
}
