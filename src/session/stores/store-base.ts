/**
 * Tomcat's StoreBase: what FileStore and DataSourceStore share — the manager they serve, the
 * expiry sweep of stored sessions, a start/stop lifecycle, and one error type for "the storage
 * cannot be reached", which the manager treats as an outage (keep sessions in memory, retry)
 * rather than as a problem with one session.
 */
import { BobcatError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import { CorruptDataError } from "../errors.ts";
import type { StoreContext } from "../config.ts";
import type { StandardSession } from "../session.ts";
import type { SessionSnapshot, Store, StoreManager } from "../store.ts";

export type { StoreContext };

/** The storage failed (database down, disk full, permission denied): nothing about the session itself. */
export class StoreUnavailableError extends BobcatError {
  constructor(message: string, cause: unknown, fix?: string) {
    super("store.unavailable", message, { cause, fix });
    this.name = "StoreUnavailableError";
  }
}

/** A Store with a lifecycle; PersistentManager starts it with itself and stops it after the last write. */
export interface LifecycleStore extends Store {
  /** Checks the storage (directory, data source, table); throws a BobcatError when it is misconfigured. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** Throws when sessions with ids like `id` could not be stored (FileStore: ids must be safe file names). */
  checkSessionId?(id: string): void;
}

export function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // drizzle wraps driver errors in "Failed query: <sql>"; the driver's own message says what went wrong.
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error && err.message.startsWith("Failed query") ? cause : err;
  const code = (inner as { code?: unknown }).code;
  return typeof code === "string" && !inner.message.includes(code) ? `${inner.message} (${code})` : inner.message;
}

/** The session as it is now, serialized by its manager. */
export function snapshotOf(session: StandardSession, manager: StoreManager): SessionSnapshot {
  return {
    id: session.id,
    data: manager.serializeSession(session),
    valid: session.isValidInternal(),
    maxInactiveInterval: session.maxInactiveInterval,
    lastAccessedTime: session.lastAccessedTimeInternal,
  };
}

export abstract class StoreBase implements LifecycleStore {
  protected readonly log = logger("session");
  private storeManager: StoreManager | null = null;

  setManager(manager: StoreManager): void {
    this.storeManager = manager;
  }

  protected get manager(): StoreManager {
    if (!this.storeManager) {
      throw new BobcatError("store.noManager", `${this}: the store is used before a manager was set`, {
        fix: "Give the store to a PersistentManager (options.store) before using it.",
      });
    }
    return this.storeManager;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  abstract load(id: string): Promise<StandardSession | null>;
  abstract saveSnapshot(snapshot: SessionSnapshot): Promise<void>;
  abstract remove(id: string): Promise<void>;

  /** Serialized before the first await, so the copy holds one consistent state of the session. */
  async save(session: StandardSession): Promise<void> {
    await this.saveSnapshot(snapshotOf(session, this.manager));
  }
  abstract keys(): Promise<string[]>;
  abstract getSize(): Promise<number>;
  abstract clear(): Promise<void>;
  abstract toString(): string;

  /** The keys worth loading in the expiry sweep; every key unless the store can filter. */
  protected expiredKeys(): Promise<string[]> {
    return this.keys();
  }

  /** A stored session the sweep found unreadable. The default keeps it: the data may be rescued. */
  protected async discardCorrupt(_id: string, _err: CorruptDataError): Promise<void> {}

  /**
   * StoreBase.processExpires: each stored session that has timed out is expired (listeners
   * fire) and removed. Two differences from Tomcat: a session that never expires
   * (maxInactiveInterval <= 0) is kept, and a copy whose session is loaded in memory is left to
   * the live session, whose next backup replaces it. A storage failure ends the sweep with a
   * StoreUnavailableError; nothing is removed because of one.
   */
  async processExpires(): Promise<void> {
    const manager = this.manager;
    const keys = await this.expiredKeys();
    let expired = 0;
    for (const key of keys) {
      let session: StandardSession | null;
      try {
        session = await this.load(key);
      } catch (err) {
        if (!(err instanceof CorruptDataError)) throw err;
        this.log.error(`[${manager.name}] ${this}: stored session [${key}] cannot be read: ${err.message}`);
        await this.discardCorrupt(key, err);
        continue;
      }
      if (!session || session.maxInactiveInterval <= 0) continue;
      if (Math.trunc(session.idleTimeMs() / 1000) < session.maxInactiveInterval) continue;
      if (manager.isLoaded(key)) continue;
      session.expire(true);
      await this.remove(key);
      expired++;
    }
    if (expired) this.log.debug(`[${manager.name}] ${this}: expired ${expired} stored session(s)`);
  }
}
