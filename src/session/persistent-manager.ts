/**
 * Tomcat's PersistentManager: sessions that idle are written to a Store (backed up, or swapped
 * out of memory), swapped back in when a request names them, and saved on a graceful stop.
 *
 * Beyond Tomcat:
 * - store failures (database down, disk full) never lose a session: a session is dropped from
 *   memory only after its write succeeded, nothing is deleted because of a failure, and writes
 *   that failed are kept in a bounded backlog and retried on every background tick;
 * - requests in flight are counted whatever `sessionActivityCheck` says, so a session is never
 *   swapped out under a request (Tomcat's ACTIVITY_CHECK switch is not needed);
 * - with `maxIdleBackup: 0` a request that changed a session (attributes, creation, invalidation,
 *   id, timeout, login) gets its response only once the change is durable in the store (commit);
 *   a request that only used it leaves the new access time to the next sweep;
 * - requests wait while too many writes they started run in the background (QUEUED_WRITES), so
 *   neither memory nor the store's lag grows without bound;
 * - concurrent loads of one id share one load, and store operations on one id run in the order
 *   they were issued (a removal never overtakes the save before it).
 */
import { BobcatError } from "../util/errors.ts";
import { CorruptDataError } from "./errors.ts";
import { describeError, ManagerBase } from "./manager-base.ts";
import { SessionNotStoredError } from "./not-stored.ts";
import {
  isStore,
  managerArguments,
  type ManagerContext,
  type PersistentManagerConfig,
  type PersistentManagerOptions,
} from "./config.ts";
import { contentKey, encodeSessionData } from "./record.ts";
import type { StandardSession } from "./session.ts";
import type { SessionSnapshot, Store } from "./store.ts";
import { type StoreFactories, storeFromConfig } from "./stores/create.ts";
import { sessionIdChars } from "./id-generator.ts";
import { type LifecycleStore, StoreUnavailableError } from "./stores/store-base.ts";
import { meterStore } from "./stores/metered.ts";
import type { StoreStatus } from "./stores/versioned.ts";

export type { PersistentManagerOptions };

/**
 * What a PersistentManager gets beyond a manager's context: its store as an object, or the store
 * classes beyond DataSourceStore to build its `<Store>` from (servers pass SERVER_STORES from
 * src/session/stores/index.ts; edge runtimes none).
 */
export interface PersistentContext extends ManagerContext {
  store?: Store;
  stores?: StoreFactories;
}

/** Store writes in flight at once during a sweep: enough to keep a database pool busy. */
const CONCURRENCY = 16;
/** Writes started by requests that no response waits for (removals); past it, responses wait for room. */
export const QUEUED_WRITES = 256;

type PendingWrite = "save" | "remove";

/** A session serialized at one moment, with what the manager needs to know about that copy. */
interface Snapshot extends SessionSnapshot {
  /** contentKey: equal for copies that differ only in access times. */
  readonly key: string;
  /** versionOf at the moment it was taken. */
  readonly version: string;
}

/** The latest write of a session: queued (its snapshot may still be replaced by a newer one), running, or done. */
interface Write {
  snapshot: Snapshot;
  started: boolean;
  settled: boolean;
  /** Resolves with null once written, or with the error. */
  done: Promise<Error | null>;
}

const DONE: Promise<Error | null> = Promise.resolve(null);

/** A change a response waited for could not be stored: the response is not sent as if it had been. */
export { SessionNotStoredError };

interface Usage {
  /** Requests using the session now. */
  active: number;
  /** Requests that have used it, to notice one that came and went during a write. */
  touches: number;
}

/** An outage is anything but a problem with one session (unreadable data, an id the store refuses). */
function isOutage(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  return !(err instanceof CorruptDataError) && !(err instanceof BobcatError);
}

/** Runs `fn` over `items`, `limit` at a time, and stops starting new ones once `fn` returns false. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<boolean>): Promise<void> {
  let next = 0;
  let go = true;
  const worker = async () => {
    while (go && next < items.length) {
      if (!(await fn(items[next++]!))) go = false;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class PersistentManager extends ManagerBase<PersistentManagerConfig> {
  readonly maxIdleBackup: number;
  readonly maxIdleSwap: number;
  readonly minIdleSwap: number;
  readonly saveOnRestart: boolean;
  private readonly storeImpl: LifecycleStore;
  private readonly backlogLimit: number;
  /** Tomcat's persistedLastAccessedTime note: the lastAccessedTime of the copy last written. */
  /** The version of each session last written (see versionOf). */
  private readonly persisted = new WeakMap<StandardSession, string>();
  private readonly usage = new WeakMap<StandardSession, Usage>();
  /** maxIdleBackup 0: store changes go out before the response that acknowledges them. */
  private readonly durable: boolean;
  /** The latest write of each session, to tell a change from a mere access and to share queued writes. */
  private readonly writes = new WeakMap<StandardSession, Write>();
  /** Removals a session's next commit must wait for (its invalidation, its old id). */
  private readonly owed = new WeakMap<StandardSession, Promise<Error | null>[]>();
  /** Background writes in flight, and the responses waiting for room among them. */
  private queuedWrites = 0;
  private readonly roomWaiters: (() => void)[] = [];
  /** Loads in progress, so concurrent requests for one swapped-out id get one session. */
  private readonly loading = new Map<string, Promise<StandardSession | null>>();
  /** The tail of each id's store operations, so they run in the order issued. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Writes that failed while the store was unavailable, latest intent per id, oldest first. */
  private readonly backlog = new Map<string, PendingWrite>();
  private storeDown = false;
  private lastError: { message: string; at: number } | null = null;
  private sweep: Promise<void> | null = null;
  private flushing = false;

  /**
   * `new PersistentManager(config, context)` with the validated `<Manager>` (servers), or
   * `new PersistentManager({ ...attributes, ...context, store })` from code, where `store` is a
   * store object or its attributes (checked and defaulted by the schema). A FileStore or RedisStore
   * given by its attributes needs `stores` (SERVER_STORES) to build it from.
   */
  constructor(config: PersistentManagerConfig, context: PersistentContext);
  constructor(options?: PersistentManagerOptions & { stores?: StoreFactories });
  constructor(
    options: (PersistentManagerOptions & { stores?: StoreFactories }) | PersistentManagerConfig = {},
    context?: PersistentContext,
  ) {
    let stores = context?.stores;
    if (!context && typeof options === "object" && options !== null && "stores" in options) {
      const { stores: given, ...rest } = options;
      stores = given;
      options = rest;
    }
    const args = managerArguments("PersistentManager", options, context);
    super(args.config, args.context);
    const c = args.config;
    this.maxIdleBackup = c.maxIdleBackup;
    this.maxIdleSwap = c.maxIdleSwap;
    this.minIdleSwap = c.minIdleSwap;
    this.saveOnRestart = c.saveOnRestart;
    this.backlogLimit = c.storeBacklogLimit;
    this.durable = this.maxIdleBackup === 0;
    if (this.maxIdleSwap >= 0 && this.maxIdleBackup >= 0 && this.maxIdleSwap < this.maxIdleBackup) {
      this.fail(
        "maxIdleSwap",
        `[${this.maxIdleSwap}] is less than maxIdleBackup [${this.maxIdleBackup}]; it must be equal or greater`,
        "A session is backed up before it is swapped out: raise maxIdleSwap, lower maxIdleBackup, or set maxIdleSwap: -1 to turn swapping off.",
      );
    }
    if (this.minIdleSwap >= 0 && this.maxIdleSwap >= 0 && this.minIdleSwap >= this.maxIdleSwap) {
      this.fail(
        "minIdleSwap",
        `[${this.minIdleSwap}] must be less than maxIdleSwap [${this.maxIdleSwap}]`,
        "Lower minIdleSwap (or set it to -1 to never swap sessions out because of maxActiveSessions).",
      );
    }
    if (this.minIdleSwap >= 0 && c.maxActiveSessions < 0) {
      this.log.warn(`[${this.name}] minIdleSwap [${this.minIdleSwap}] has no effect without maxActiveSessions`);
    }

    // Timed per operation for /metrics (stores/metered.ts).
    this.storeImpl = meterStore(this.buildStore(context?.store ?? args.store ?? c.store, args.context, stores));
    this.storeImpl.setManager(this);
  }

  private fail(attribute: string, problem: string, fix: string): never {
    throw new BobcatError(
      "session.badAttribute",
      `PersistentManager ${this.name}: attribute [${attribute}] ${problem}`,
      {
        where: { attribute },
        fix,
      },
    );
  }

  private buildStore(
    store: Store | PersistentManagerConfig["store"],
    context: ManagerContext,
    stores: StoreFactories | undefined,
  ): LifecycleStore {
    if (store === undefined || store === null) {
      throw new BobcatError("session.noStore", `PersistentManager ${this.name}: a <Store> is required`, {
        where: { attribute: "store" },
        fix: "Add manager.store: { className: FileStore } (files in the work directory) or " +
          "{ className: DataSourceStore, dataSourceName: <resource name> }, or use StandardManager.",
      });
    }
    if (isStore(store)) return store;
    return storeFromConfig(store, {
      workDir: this.settings.workDir,
      dataSources: context.dataSources,
      name: this.name,
      sessionIdChars: sessionIdChars(this.idGenerator.sessionIdLength, this.idGenerator.jvmRoute),
    }, stores);
  }

  get store(): Store {
    return this.storeImpl;
  }

  override get hasStore(): boolean {
    return true;
  }

  /** Writes that failed and wait for the store to come back. */
  get pendingWrites(): number {
    return this.backlog.size;
  }

  /** Starts the store; no session is loaded: each comes back when a request names it. */
  protected async startInternal(): Promise<void> {
    await this.storeImpl.start?.();
    this.storeImpl.checkSessionId?.(this.generateSessionId());
  }

  /**
   * saveOnRestart: every session is written and dropped (no destroy events). Otherwise all are
   * expired (with events), which removes their stored copies. A session whose write failed is
   * dropped without expiry, so its previous stored copy, if any, survives.
   */
  protected async stopInternal(): Promise<void> {
    await this.sweep;
    const live = [...this.sessions.values()].filter((s) => s.isValid());
    if (this.saveOnRestart) {
      // Stops at the first outage: what is left is reported below instead of each waiting for a timeout.
      await eachLimited(live, CONCURRENCY, (s) => this.swapOut(s, true));
    } else {
      for (const s of live) s.expire(true);
    }
    await this.whenStoreIdle();
    await this.flushBacklog();
    const unsaved = [...this.sessions.values()].filter((s) => s.isValidInternal());
    if (unsaved.length) {
      this.log.error(
        `[${this.name}] ${unsaved.length} session(s) could not be written to ${this.storeImpl} and are lost; ` +
          "copies written earlier stay in the store",
      );
      for (const s of unsaved) super.removeSession(s, false);
    }
    if (this.backlog.size) {
      this.log.error(
        `[${this.name}] ${this.backlog.size} pending write(s) to ${this.storeImpl} could not be made before the stop`,
      );
    }
    await this.storeImpl.stop?.();
  }

  /**
   * Settles once the store operations started so far have: the writes the end of a request
   * schedules for the next turn of the event loop included, later ones not (so it settles under
   * steady load too).
   */
  override async whenIdle(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await Promise.all([...this.chains.values()]);
  }

  /** Resolves once no store operation is in flight (removals run in the background). */
  async whenStoreIdle(): Promise<void> {
    while (this.chains.size) await Promise.all([...this.chains.values()]);
  }

  // --- Lookup and swap-in ------------------------------------------------------------------------

  /**
   * The live session: from memory, or swapped in from the store. A stored session that has
   * expired is expired (listeners fire) and removed instead; a store that cannot be read is
   * logged and answers null, as in Tomcat.
   */
  override async findSession(id: string | null | undefined): Promise<StandardSession | null> {
    if (!id) return null;
    const live = this.sessions.get(id);
    if (live) return live.isValid() ? live : null;
    // Its removal has not reached the store yet: the stored copy is dead.
    if (this.backlog.get(id) === "remove") return null;
    // A session swapped in during a stop would be expired by it, and its stored copy deleted.
    if (this.state === "stopping" || this.state === "stopped") return null;
    let load = this.loading.get(id);
    if (!load) {
      load = this.swapIn(id).finally(() => this.loading.delete(id));
      this.loading.set(id, load);
    }
    return load;
  }

  private async swapIn(id: string): Promise<StandardSession | null> {
    let session: StandardSession | null;
    try {
      session = await this.storeOp(id, () => this.storeImpl.load(id));
      this.storeOk();
    } catch (err) {
      this.storeFailed(`loading session [${id}]`, err);
      return null;
    }
    if (!session) return null;
    const current = this.sessions.get(id);
    if (current) return current.isValid() ? current : null;
    if (session.id !== id) {
      this.log.error(`[${this.name}] Swapped session [${id}] is invalid: the store returned session [${session.id}]`);
      this.removeFromStore(id);
      return null;
    }
    if (!session.isValidInternal()) {
      // Written while already invalid: there is nothing left to tell listeners.
      this.log.error(`[${this.name}] Swapped session [${id}] is invalid`);
      this.removeFromStore(id);
      return null;
    }
    if (!session.isValid()) {
      // isValid() expired it, with events; the stored copy goes too.
      this.log.debug(`[${this.name}] Swapped session [${id}] had expired`);
      this.removeFromStore(id);
      return null;
    }
    this.addSession(session);
    // Tomcat's reactivateLoadedSession: sessionCreated again, then activation.
    this.listeners.created(session);
    session.activate();
    session.access();
    session.endAccess();
    // What the store holds: a request that only reads it then writes nothing.
    if (this.durable) {
      this.writes.set(session, { snapshot: this.snapshot(session), started: true, settled: true, done: DONE });
    }
    this.log.trace(`[${this.name}] Swapping session [${id}] in from ${this.storeImpl}`);
    return session;
  }

  // --- Request accounting ------------------------------------------------------------------------

  override access(session: StandardSession, now?: number): void {
    super.access(session, now);
    const u = this.usage.get(session);
    if (u) {
      u.active++;
      u.touches++;
    } else {
      this.usage.set(session, { active: 1, touches: 1 });
    }
  }

  override endAccess(session: StandardSession): void {
    super.endAccess(session);
    const u = this.usage.get(session);
    if (u && u.active > 0) u.active--;
  }

  /**
   * After the requests' end of access, before the response goes out. maxIdleBackup 0: each
   * session the request changed is written (or its queued write updated) and its removals
   * finished; the returned promise settles once all of them are durable, and rejects with a
   * SessionNotStoredError when one failed (then the response must not acknowledge anything).
   * Any setting: waits for room while QUEUED_WRITES background writes are in flight.
   */
  override commit(sessions: readonly StandardSession[]): Promise<void> | undefined {
    let waits: Promise<Error | null | void>[] | undefined;
    if (this.durable) {
      for (const session of sessions) {
        const owed = this.owed.get(session);
        if (owed) {
          this.owed.delete(session);
          (waits ??= []).push(...owed);
        }
        if (!session.isValidInternal() || this.sessions.get(session.id) !== session) continue;
        const write = this.persist(session);
        if (write) (waits ??= []).push(write);
      }
    }
    if (this.queuedWrites >= QUEUED_WRITES) (waits ??= []).push(new Promise<void>((r) => this.roomWaiters.push(r)));
    if (!waits) return undefined;
    return Promise.all(waits).then((results) => {
      const failed = results.find((r) => r instanceof Error);
      if (failed) throw failed;
    });
  }

  /**
   * The session's write if it changed since the latest write (anything but its access times),
   * or if that write has not finished yet; undefined when the store already holds its content.
   */
  private persist(session: StandardSession): Promise<Error | null> | undefined {
    const snapshot = this.snapshot(session);
    const last = this.writes.get(session);
    if (last && !last.settled && !last.started && last.snapshot.id === snapshot.id) {
      // Still queued behind an earlier write of this id: it takes the newest state, for both requests.
      last.snapshot = snapshot;
      return last.done;
    }
    if (last && last.snapshot.key === snapshot.key) return last.settled ? undefined : last.done;
    const write: Write = { snapshot, started: false, settled: false, done: DONE };
    this.writes.set(session, write);
    write.done = this.storeOp(snapshot.id, () => {
      write.started = true;
      return this.storeSave(session, write.snapshot);
    }).then(
      () => {
        write.settled = true;
        this.saved(session, write.snapshot);
        return null;
      },
      (err) => {
        if (this.writes.get(session) === write) this.writes.delete(session);
        this.storeFailed(`writing session [${write.snapshot.id}]`, err);
        if (isOutage(err) && this.sessions.get(write.snapshot.id) === session) {
          this.addBacklog(write.snapshot.id, "save");
        }
        return new SessionNotStoredError(`The change to session [${write.snapshot.id}]`, err);
      },
    );
    return write.done;
  }

  /** The session as the store will hold it. Serializing may drop attributes that cannot be stored, as every write does. */
  private snapshot(session: StandardSession): Snapshot {
    const record = this.toRecord(session);
    return {
      id: session.id,
      data: encodeSessionData(record),
      valid: session.isValidInternal(),
      maxInactiveInterval: session.maxInactiveInterval,
      lastAccessedTime: session.lastAccessedTimeInternal,
      key: contentKey(record),
      version: this.versionOf(session),
    };
  }

  private storeSave(session: StandardSession, snapshot: Snapshot): Promise<void> {
    return this.storeImpl.saveSnapshot ? this.storeImpl.saveSnapshot(snapshot) : this.storeImpl.save(session);
  }

  private inUse(session: StandardSession): boolean {
    return (this.usage.get(session)?.active ?? 0) > 0;
  }

  // --- Removal and id changes ----------------------------------------------------------------------

  /** Expiry and invalidation also delete the stored copy (Tomcat's PersistentManagerBase.remove). */
  override removeSession(session: StandardSession, expired: boolean): void {
    const managed = this.sessions.get(session.id) === session;
    super.removeSession(session, expired);
    if (expired && managed) this.removeFromStore(session.id, session);
  }

  /** The stored copy under the old id goes, so the old id can never swap the session back in. */
  override changeSessionId(session: StandardSession, newId?: string): string {
    const oldId = session.id;
    const id = super.changeSessionId(session, newId);
    this.removeFromStore(oldId, session);
    // Nothing is stored under the new id yet.
    this.persisted.delete(session);
    return id;
  }

  /**
   * Deletes the stored copy in the background, counted among the queued writes. With
   * maxIdleBackup 0 the next commit of `owner` (the request that invalidated or renamed it)
   * waits for it.
   */
  private removeFromStore(id: string, owner?: StandardSession): void {
    const done = this.storeOp(id, () => this.storeImpl.remove(id)).then(
      () => {
        this.backlog.delete(id);
        this.storeOk();
        return null;
      },
      (err) => {
        this.storeFailed(`removing session [${id}]`, err);
        if (isOutage(err)) this.addBacklog(id, "remove");
        return new SessionNotStoredError(`The removal of session [${id}]`, err);
      },
    );
    this.queuedWrites++;
    void done.then(() => {
      this.queuedWrites--;
      while (this.queuedWrites < QUEUED_WRITES && this.roomWaiters.length) this.roomWaiters.shift()!();
    });
    if (owner && this.durable) {
      const owed = this.owed.get(owner);
      if (owed) owed.push(done);
      else this.owed.set(owner, [done]);
    }
  }

  // --- Background work ---------------------------------------------------------------------------

  /** Every tick retries pending writes; the sweep itself runs every processExpiresFrequency-th tick. */
  override async backgroundProcess(): Promise<void> {
    if (this.backlog.size) await this.flushBacklog();
    await super.backgroundProcess();
  }

  /** Expires idle sessions, runs the persistence checks, then sweeps the store. One sweep at a time. */
  override processExpires(): Promise<void> {
    this.sweep ??= this.runSweep().finally(() => {
      this.sweep = null;
    });
    return this.sweep;
  }

  private async runSweep(): Promise<void> {
    const started = performance.now();
    let expired = 0;
    for (const session of [...this.sessions.values()]) {
      if (!session.isValid()) expired++;
    }
    await this.flushBacklog();
    await this.processPersistenceChecks();
    try {
      await this.storeImpl.processExpires();
      this.storeOk();
    } catch (err) {
      this.storeFailed("expiring stored sessions", err);
    }
    this.stats.processingTime += performance.now() - started;
    if (expired) this.log.debug(`[${this.name}] expired ${expired} session(s)`);
  }

  /** Tomcat's processPersistenceChecks: idle swap-outs, swap-outs over maxActiveSessions, backups. */
  async processPersistenceChecks(): Promise<void> {
    if (this.state !== "started") return;
    await this.processMaxIdleSwaps();
    await this.processMaxActiveSwaps();
    await this.processMaxIdleBackups();
  }

  private idleSeconds(session: StandardSession): number {
    return Math.trunc(session.idleTimeMs() / 1000);
  }

  private validSessions(): StandardSession[] {
    return [...this.sessions.values()].filter((s) => s.isValid());
  }

  private async processMaxIdleSwaps(): Promise<void> {
    if (this.maxIdleSwap < 0) return;
    const due = this.validSessions().filter((s) => {
      const idle = this.idleSeconds(s);
      return idle >= this.maxIdleSwap && idle >= this.minIdleSwap && !this.inUse(s);
    });
    if (this.log.enabled("trace")) {
      for (const s of due) {
        this.log.trace(
          `[${this.name}] Swapping session [${s.id}] to the store, idle for ${this.idleSeconds(s)} seconds`,
        );
      }
    }
    await eachLimited(due, CONCURRENCY, (s) => this.swapOut(s, false));
  }

  /** Over 90% of maxActiveSessions, the least recently used sessions idle for minIdleSwap go first. */
  private async processMaxActiveSwaps(): Promise<void> {
    const max = this.config.maxActiveSessions;
    if (this.minIdleSwap < 0 || max < 0) return;
    const sessions = this.validSessions();
    const limit = Math.trunc(max * 0.9);
    if (sessions.length <= limit) return;
    this.log.debug(
      `[${this.name}] Too many active sessions, ${sessions.length}, looking for idle sessions to swap out`,
    );
    const due = sessions
      .sort((a, b) => a.lastAccessedTimeInternal - b.lastAccessedTimeInternal)
      .filter((s) => this.idleSeconds(s) >= this.minIdleSwap && !this.inUse(s))
      .slice(0, sessions.length - limit);
    await eachLimited(due, CONCURRENCY, (s) => this.swapOut(s, false));
  }

  /** Writes each session idle for maxIdleBackup once per access (the copy's lastAccessedTime is remembered). */
  private async processMaxIdleBackups(): Promise<void> {
    if (this.maxIdleBackup < 0) return;
    const due = this.validSessions().filter(
      (s) => this.persisted.get(s) !== this.versionOf(s) && this.idleSeconds(s) >= this.maxIdleBackup,
    );
    await eachLimited(due, CONCURRENCY, (s) => this.backup(s));
  }

  /**
   * Writes the session and keeps it, unless the copy in the store is already of its last access
   * by the time the write's turn comes. Returns false when the store is unavailable (the pass stops).
   */
  private async backup(session: StandardSession): Promise<boolean> {
    const id = session.id;
    let snapshot: Snapshot | null = null;
    try {
      await this.storeOp(id, () => {
        if (this.persisted.get(session) === this.versionOf(session) || !session.isValidInternal()) {
          return Promise.resolve();
        }
        snapshot = this.snapshot(session);
        return this.storeSave(session, snapshot);
      });
    } catch (err) {
      this.storeFailed(`backing up session [${id}]`, err);
      if (!isOutage(err)) return true;
      this.addBacklog(id, "save");
      return false;
    }
    if (snapshot) this.saved(session, snapshot);
    return true;
  }

  /**
   * What a stored copy is a copy of: the last access time alone is not enough, since two
   * requests can end within the same millisecond; the count of requests that used it is added.
   */
  private versionOf(session: StandardSession): string {
    return `${session.lastAccessedTimeInternal}/${this.usage.get(session)?.touches ?? 0}`;
  }

  /**
   * Passivates and writes the session, then drops it from memory without expiry. It stays in
   * memory (re-activated) if the write failed, or if a request used it, renamed it or ended it
   * meanwhile. `force` (a stop) ignores requests. Returns false when the store is unavailable.
   */
  private async swapOut(session: StandardSession, force: boolean): Promise<boolean> {
    if (!session.isValid()) return true;
    const id = session.id;
    const touches = this.usage.get(session)?.touches ?? 0;
    session.passivate();
    let snapshot: Snapshot | null = null;
    try {
      await this.storeOp(id, () => this.storeSave(session, snapshot = this.snapshot(session)));
    } catch (err) {
      session.activate();
      this.storeFailed(`swapping out session [${id}]`, err);
      if (!isOutage(err)) return true;
      this.addBacklog(id, "save");
      return false;
    }
    this.saved(session, snapshot!);
    const used = (this.usage.get(session)?.touches ?? 0) !== touches || this.inUse(session);
    if (this.sessions.get(id) !== session || !session.isValidInternal() || (used && !force)) {
      if (session.isValidInternal()) session.activate();
      return true;
    }
    super.removeSession(session, false);
    return true;
  }

  private saved(session: StandardSession, snapshot: Snapshot): void {
    this.persisted.set(session, snapshot.version);
    // A write a request still waits for is the one later requests compare with.
    const last = this.writes.get(session);
    if (this.durable && (!last || last.settled)) {
      this.writes.set(session, { snapshot, started: true, settled: true, done: DONE });
    }
    if (this.backlog.get(session.id) === "save") this.backlog.delete(session.id);
    this.storeOk();
  }

  /** Runs `op` after every earlier store operation on the same id. */
  private storeOp<T>(id: string, op: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(id);
    const run = previous ? previous.then(op) : op();
    const tail = run.then(() => {}, () => {});
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    return run;
  }

  // --- Outages and the backlog ---------------------------------------------------------------------

  private addBacklog(id: string, write: PendingWrite): void {
    this.backlog.delete(id);
    this.backlog.set(id, write);
    if (this.backlog.size <= this.backlogLimit) return;
    const [oldest, what] = this.backlog.entries().next().value!;
    this.backlog.delete(oldest);
    this.log.error(
      `[${this.name}] the backlog of writes to ${this.storeImpl} is full (storeBacklogLimit ${this.backlogLimit}): ` +
        `the pending ${what} of session [${oldest}] was dropped`,
    );
  }

  /** Retries the pending writes, oldest first, until one fails. */
  private async flushBacklog(): Promise<void> {
    if (this.flushing || this.backlog.size === 0) return;
    this.flushing = true;
    let written = 0;
    try {
      for (const [id, write] of [...this.backlog]) {
        if (this.backlog.get(id) !== write) continue;
        try {
          if (write === "remove") {
            await this.storeOp(id, () => this.storeImpl.remove(id));
          } else {
            const session = this.sessions.get(id);
            // Gone from memory since: expired (a removal replaced this entry) or swapped out by a later write.
            if (session && session.isValidInternal()) {
              let snapshot: Snapshot | null = null;
              await this.storeOp(id, () => this.storeSave(session, snapshot = this.snapshot(session)));
              this.saved(session, snapshot!);
            }
          }
        } catch (err) {
          if (isOutage(err)) {
            this.log.warn(
              `[${this.name}] the store is still unavailable (${
                describeError(err)
              }); ${this.backlog.size} write(s) pending`,
            );
            return;
          }
          this.log.error(
            `[${this.name}] pending ${write} of session [${id}] failed and is dropped: ${describeError(err)}`,
          );
        }
        if (this.backlog.get(id) === write) this.backlog.delete(id);
        written++;
      }
      this.storeOk();
    } finally {
      this.flushing = false;
      if (written) this.log.info(`[${this.name}] wrote ${written} pending write(s) to ${this.storeImpl}`);
    }
  }

  private storeFailed(what: string, err: unknown): void {
    const detail = describeError(err);
    this.lastError = { message: `${what}: ${detail}`, at: Date.now() };
    // The stores' own errors already name the store (and the table).
    const store = String(this.storeImpl);
    const message = `[${this.name}] ${what} failed` +
      (detail.includes(store) ? `: ${detail}` : ` on ${store}: ${detail}`);
    if (!isOutage(err)) {
      this.log.error(message);
    } else if (!this.storeDown) {
      this.storeDown = true;
      this.log.error(`${message}. Sessions in memory keep working; failed writes are retried every background tick`);
    } else {
      this.log.debug(message);
    }
  }

  private storeOk(): void {
    if (!this.storeDown) return;
    this.storeDown = false;
    this.log.info(`[${this.name}] ${this.storeImpl} is available again`);
  }

  // --- Statistics ----------------------------------------------------------------------------------

  override async storeStatus(): Promise<StoreStatus> {
    const stored = await this.storeImpl.getSize().catch(() => null);
    return {
      store: String(this.storeImpl),
      consistency: "sticky",
      sessionsStored: stored,
      pendingWrites: this.backlog.size + this.queuedWrites,
      pendingWritesLimit: this.backlogLimit + QUEUED_WRITES,
      conflictsResolved: 0,
      lastError: this.lastError?.message ?? null,
      lastErrorAt: this.lastError?.at ?? null,
    };
  }

  /** Sessions in memory plus those only in the store (Tomcat's getActiveSessionsFull). */
  async getActiveSessionsFull(): Promise<number> {
    return (await this.getSessionIdsFull()).length;
  }

  /** Ids in memory and in the store (Tomcat's getSessionIdsFull); the store's part is left out, with a warning, if it cannot be read. */
  async getSessionIdsFull(): Promise<string[]> {
    const ids = new Set(this.sessions.keys());
    try {
      for (const id of await this.storeImpl.keys()) ids.add(id);
    } catch (err) {
      this.log.warn(`[${this.name}] cannot list the sessions in ${this.storeImpl}: ${describeError(err)}`);
    }
    return [...ids];
  }
}
