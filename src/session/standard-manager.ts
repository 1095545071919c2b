/**
 * Tomcat's StandardManager: sessions in memory, and with `pathname` set, all of them written to
 * one file on stop and read back on start ("persistence across restart").
 */
import { rename, rm, stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { tempPathFor, writeFileAtomic } from "../util/atomic-file.ts";
import { describeError, ManagerBase } from "./manager-base.ts";
import {
  managerArguments,
  type ManagerContext,
  type StandardManagerConfig,
  type StandardManagerOptions,
} from "./config.ts";
import { readSessionFile, type RecordHead, SessionFileBuilder } from "./record.ts";
import type { StandardSession } from "./session.ts";
import { BobcatError } from "../util/errors.ts";
import { CorruptDataError } from "./errors.ts";
import { fileKind, readRegularFile, UnreadableFileError } from "../util/files.ts";

export type { StandardManagerOptions };

export class StandardManager extends ManagerBase<StandardManagerConfig> {
  /** Absolute path of the persistence file, or null when persistence is off. */
  readonly persistenceFile: string | null;

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
    if (st && !st.isFile() && !st.isDirectory()) {
      throw this.notRegular(this.persistenceFile, `is ${fileKind(st)}, not a regular file`);
    }
  }

  private notRegular(file: string, reason: string): BobcatError {
    return new BobcatError("session.pathname", `[${this.name}] the session persistence file [${file}] ${reason}`, {
      where: { attribute: "pathname" },
      fix: "Move that entry away, or set the manager's pathname to a file of its own (e.g. SESSIONS.ser).",
    });
  }

  protected async stopInternal(): Promise<void> {
    if (!this.persistenceFile) return;
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
    let bytes: Uint8Array;
    try {
      // No size limit: the file holds every session; bobcat wrote it.
      bytes = await readRegularFile(file, Number.MAX_SAFE_INTEGER);
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
    this.log.debug(`[${this.name}] Loading persisted sessions from [${file}]`);
    // Sessions go into the map as they are read (a repeated id is found there); if the file turns
    // out to be damaged further on, they are taken out again, and nothing was told of them.
    const loaded: StandardSession[] = [];
    let session: StandardSession | null = null;
    let head: RecordHead | null = null;
    try {
      readSessionFile(bytes, {
        record: (h) => {
          head = h;
          if (this.sessions.has(h.id)) {
            this.log.warn(`[${this.name}] Session [${h.id}] appears twice in [${file}]; the first copy is kept`);
            session = null;
          } else {
            session = this.restoredSession(h);
          }
        },
        attribute: (name, frame) => {
          if (session) this.restoreAttribute(session, name, frame);
        },
        endRecord: () => {
          if (!session) return;
          this.restoreAuthentication(session, head!);
          this.addSession(session);
          loaded.push(session);
        },
      });
    } catch (err) {
      // Anything else (a bug) ends the load as before: the sessions read so far stay.
      if (!(err instanceof CorruptDataError)) throw err;
      for (const s of loaded) this.sessions.delete(s.id);
      await this.keepAside(file, err);
      return;
    }

    let expired = 0;
    const now = this.now();
    for (const session of loaded) {
      session.activate();
      if (!session.isValidInternal()) {
        // Saved while already invalid: expire it properly so listeners see the end of it.
        session.setValid(true);
        session.expire(true);
      }
      if (!session.isValid(now)) expired++;
    }
    try {
      await rm(file);
    } catch (err) {
      this.log.warn(
        `[${this.name}] Unable to delete [${file}] after reading the persisted sessions. ` +
          `The continued presence of this file may cause future attempts to persist sessions to fail: ${
            describeError(err)
          }`,
      );
    }
    this.log.info(
      `[${this.name}] Restored ${loaded.length - expired} session(s) from [${file}]` +
        (expired ? `; ${expired} had expired while stopped` : ""),
    );
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
   * (they live on in the file). With no sessions, nothing is written.
   */
  private async unload(file: string): Promise<void> {
    const now = this.now();
    const live: StandardSession[] = [];
    for (const s of this.sessions.values()) if (s.isValid(now)) live.push(s);
    if (live.length === 0) {
      this.log.debug(`[${this.name}] No persisted sessions to unload`);
      return;
    }
    this.log.debug(`[${this.name}] Saving persisted sessions to [${file}]`);
    const out = new SessionFileBuilder(live.length);
    for (const session of live) {
      session.passivate();
      this.writeRecordTo(out, session);
    }
    await writeFileAtomic(file, out.finish(), { mkdir: true });
    this.log.info(`[${this.name}] Saved ${live.length} session(s) to [${file}]`);
    for (const session of live) session.expire(false, now);
  }
}
