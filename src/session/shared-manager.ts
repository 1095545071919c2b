/**
 * The shared (non-sticky) consistency mode of PersistentManager (`consistency: shared`): the
 * store, not any instance's memory, holds each session, so any instance may serve any request.
 *
 * What it guarantees (README "Sessions across instances"):
 * - every request reads the current version from the store; a copy this instance already holds
 *   is validated by its version number alone (one round trip, no session data transferred);
 * - at the end of a request only what it changed is written (attributes set or removed, the
 *   timeout, the login), conditionally on the version it read; when another instance wrote in
 *   between, the change is re-applied onto the newer version and written again, so changes to
 *   different attributes are never lost, and two changes of the same attribute resolve
 *   last-writer-wins per attribute (`conflictsResolved` counts these merges);
 * - invalidation wins over everything: it deletes the stored session whatever its version, and a
 *   later write conditional on an older version finds nothing and writes nothing (no resurrection);
 * - a change of session id moves the stored session in one atomic step, conditional on the version;
 * - a response that acknowledges a change is sent only once the change is in the store; when the
 *   store cannot be reached the request gets 503 and nothing is acknowledged;
 * - stored sessions that time out are expired (sessionDestroyed fires) by exactly one instance.
 * - requests of one session take turns (`sessionLockWait`, default 5 s): on one instance a request
 *   that names a session waits until the earlier ones of that session have finished their writes,
 *   and across instances the same happens in the order they queued: between worker processes
 *   the primary keeps the turns (runtime/turns.ts: one message asks, one answers, one gives the
 *   turn back, and a worker that dies loses its turns); between separate servers sharing an
 *   SQLite file the store's lease, handed instance to instance (one place). So read-modify-write
 *   of one attribute by concurrent requests loses nothing and conflicts with nothing;
 * - a turn lasts at most sessionLockWait, and no request waits longer than that for one: past it
 *   (a long poll holding the session, a lost instance) the request goes ahead on what it read,
 *   and the write rules above apply: the later change of the same attribute is refused (worker
 *   processes, `sameAttributeConflicts: refuse`: 503, nothing acknowledged) or merged
 *   last-writer-wins (`merge`). A store without leases (PostgreSQL, Redis today) gives the turns
 *   on one instance only.
 * Every request that names a session takes its turn, reads too: the session API is synchronous,
 * so a request cannot wait for a lease at its first change, and a lease taken only then could
 * not undo the stale reads the change was computed from.
 */
import { BobcatError } from "../util/errors.ts";
import { describeError, ManagerBase } from "./manager-base.ts";
import type { ManagerContext, PersistentManagerConfig } from "./config.ts";
import { SessionNotStoredError } from "./persistent-manager.ts";
import { type AttributeFrame, decodeSessionData, encodeSessionData, type SessionRecord } from "./record.ts";
import type { StandardSession } from "./session.ts";
import type { StoreCounters, StoreStatus, VersionedStore, VersionedWrite } from "./stores/versioned.ts";
import { meterStore, VERSIONED_STORE_OPS } from "./stores/metered.ts";
import { processTurns, type SessionTurns } from "./turns.ts";

/** What a request's session was when it was read: the base its changes are computed against. */
interface Base {
  /** The id it is stored under (the old one after changeSessionId). */
  id: string;
  version: number;
  frames: Map<string, Uint8Array>;
  maxInactive: number;
  auth: string;
  storedAccess: number;
}

interface Change {
  set: Map<string, Uint8Array>;
  removed: string[];
  maxInactive: boolean;
  auth: boolean;
}

/** One request's turn on a session on this instance (see `enter`). */
interface Turn {
  /** The id it was taken for (the stored one, even after changeSessionId). */
  id: string;
  /** False: it waited sessionLockWait for the turn and went ahead without it. */
  exclusive: boolean;
  /** It holds the store's lease (handed on with the turn while no other instance waits). */
  leased: boolean;
  /** In a worker process: gives the primary's turn back (see runtime/turns.ts). */
  release?: () => void;
  done: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** The requests of one session on this instance: the one whose turn it is, and the queue. */
interface Line {
  holder: Turn;
  waiters: { turn: Turn; wake: () => void }[];
}

/** Polls of a lease another instance holds: from this, doubling up to the next. */
const LEASE_POLL_MIN_MS = 1;
const LEASE_POLL_MAX_MS = 4;

/** A later access is written (without a new version) once the stored one is this much older. */
const TOUCH_INTERVAL_MS = 1000;
/** Re-applications onto newer versions before a write gives up (only under extreme contention). */
const MAX_MERGES = 25;
/** Sessions whose data this instance keeps to validate by version alone. */
const CACHE_SIZE = 10000;
/** Expired sessions taken per claim, and claims per sweep. */
const EXPIRE_BATCH = 200;
const EXPIRE_ROUNDS = 10;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function unref(timer: ReturnType<typeof setTimeout>): void {
  const t = timer as unknown as { unref?: () => void };
  if (typeof t.unref === "function") t.unref();
  else if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer);
  }
}

function authKey(r: SessionRecord): string {
  return JSON.stringify([r.authType, r.principal]);
}

export class SharedManager extends ManagerBase<PersistentManagerConfig> {
  private storeRef: VersionedStore | null = null;
  private readonly loadStore: () => Promise<VersionedStore>;
  private readonly limit: number;
  private readonly bases = new WeakMap<StandardSession, Base>();
  private readonly cache = new Map<string, { version: number; data: Uint8Array }>();
  private readonly commits = new Set<Promise<unknown>>();
  /** Store operations a request does not wait for (lease hand-overs, sweeps), awaited by stop. */
  private readonly background = new Set<Promise<unknown>>();
  private readonly lines = new Map<string, Line>();
  private readonly turns = new WeakMap<StandardSession, Turn>();
  private readonly lockWait: number;
  /** In a worker process, the turns the primary keeps across the workers (instead of the store's lease). */
  private across: SessionTurns | null = null;
  /** This instance, as the store's leases name it. */
  private readonly owner = `${globalThis.process?.pid ?? 0}:${crypto.randomUUID()}`;
  private conflictsResolved = 0;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;

  /**
   * The validated `<Manager>` (consistency: shared; the swap settings mean nothing here) and its
   * store, or how to get it at start (a DataSourceStore's queries load drizzle-orm only then).
   */
  constructor(
    config: PersistentManagerConfig,
    context: ManagerContext,
    store: VersionedStore | (() => Promise<VersionedStore>),
  ) {
    super(config, context);
    this.loadStore = typeof store === "function" ? store : () => Promise.resolve(store);
    this.limit = config.storeBacklogLimit;
    this.lockWait = config.sessionLockWait;
    this.refuseSameAttribute = context.sameAttributeConflicts === "refuse";
  }

  /**
   * Two requests that change the same attribute at the same moment (read from one version):
   * `merge` (default) keeps the later write; `refuse` (worker processes) answers the later one
   * 503 and acknowledges nothing, so a counter never loses an acknowledged increment.
   */
  private readonly refuseSameAttribute: boolean;

  get store(): VersionedStore {
    if (!this.storeRef) throw new BobcatError("session.lifecycle", `[${this.name}] the session manager is not started`);
    return this.storeRef;
  }

  override get hasStore(): boolean {
    return true;
  }

  /** Store operations in flight (reads and writes of requests, sweeps). */
  get pendingWrites(): number {
    return this.storeRef?.counters.inFlight ?? 0;
  }

  protected async startInternal(): Promise<void> {
    this.across = processTurns();
    const store = meterStore(await this.loadStore(), VERSIONED_STORE_OPS);
    store.setManager(this);
    this.storeRef = store;
    await this.store.start?.();
  }

  /** Nothing to save: the store holds every session. Requests still writing are waited for. */
  protected async stopInternal(): Promise<void> {
    // Nothing may reach the store once it closes (SQLite: "bad parameter or other API misuse").
    while (this.commits.size || this.background.size) {
      await Promise.allSettled([...this.commits, ...this.background]);
    }
    // The objects in memory are copies: stopping must not tell listeners they were destroyed.
    this.sessions.clear();
    await this.store.stop?.();
  }

  /** The store's operation counters and the merges made, as they are now (for /metrics); null before start. */
  get storeMetrics(): { counters: StoreCounters; conflictsResolved: number } | null {
    return this.storeRef ? { counters: this.storeRef.counters, conflictsResolved: this.conflictsResolved } : null;
  }

  override async storeStatus(): Promise<StoreStatus> {
    // The counters as they are now: counting the stored sessions may take a while on a slow store.
    const c = { ...this.store.counters };
    const stored = await this.store.count().catch(() => null);
    return {
      store: String(this.store),
      consistency: "shared",
      sessionsStored: stored,
      pendingWrites: c.inFlight,
      pendingWritesLimit: this.limit,
      conflictsResolved: this.conflictsResolved,
      lastError: this.lastError ?? c.lastError,
      lastErrorAt: this.lastErrorAt ?? c.lastErrorAt,
      counters: c,
    };
  }

  private failed(what: string, err: unknown): SessionNotStoredError {
    this.lastError = `${what}: ${describeError(err)}`;
    this.lastErrorAt = Date.now();
    this.log.warn(`[${this.name}] ${what} failed on ${this.store}: ${describeError(err)}`);
    return new SessionNotStoredError(what, err);
  }

  private checkRoom(what: string): void {
    if (this.store.counters.inFlight < this.limit) return;
    throw this.failed(
      what,
      new Error(`${this.store.counters.inFlight} store operations are waiting (storeBacklogLimit ${this.limit})`),
    );
  }

  /**
   * The session as the store holds it now, as a copy for this request alone. A session that
   * timed out is not returned (the sweep expires it, with events, on one instance).
   */
  override async findSession(id: string | null | undefined): Promise<StandardSession | null> {
    if (!id) return null;
    if (this.state !== "started") return null;
    if (this.lockWait <= 0) return this.read(id);
    const turn = await this.enter(id);
    const track = this.tracked(this.lookup(id, turn));
    try {
      const session = await track;
      if (session) this.turns.set(session, turn);
      else this.leave(turn);
      return session;
    } catch (err) {
      this.leave(turn);
      throw err;
    }
  }

  private async lookup(id: string, turn: Turn): Promise<StandardSession | null> {
    // The turn may have come after a stop began.
    if (this.state !== "started") return null;
    if (turn.exclusive && !turn.leased && this.across) {
      // One message to the primary, one answer: no store round trip for the turn.
      const release = await this.across.acquire(`${this.name} ${id}`, this.lockWait);
      if (release && turn.done) release();
      else if (release) turn.release = release;
      if (this.state !== "started") return null;
    } else if (turn.exclusive && !turn.leased && this.store.lock) {
      turn.leased = await this.lease(id, turn);
      if (turn.leased && turn.done) {
        // The turn ran out while the lease came: it is not this request's to keep.
        turn.leased = false;
        void this.tracked(this.store.unlock!(id, this.owner, Date.now())).catch(() => {});
      }
    }
    return this.read(id);
  }

  /** Runs `op` as background work that stop waits for. */
  private tracked<T>(op: Promise<T>): Promise<T> {
    this.background.add(op);
    const done = () => this.background.delete(op);
    op.then(done, done);
    return op;
  }

  /**
   * Waits (at most sessionLockWait) until the earlier requests of session `id` on this instance
   * have finished their writes. The turn ends with the request's commit, or after
   * sessionLockWait whatever the request does (a long poll does not hold the others up longer).
   */
  private enter(id: string): Promise<Turn> {
    const turn: Turn = { id, exclusive: true, leased: false, done: false };
    const line = this.lines.get(id);
    if (!line) {
      this.lines.set(id, { holder: turn, waiters: [] });
      this.hold(turn);
      return Promise.resolve(turn);
    }
    return new Promise<Turn>((resolve) => {
      const timer = setTimeout(() => {
        const i = line.waiters.indexOf(entry);
        // Not queued any more: the turn is being handed to it.
        if (i < 0) return;
        line.waiters.splice(i, 1);
        turn.exclusive = false;
        resolve(turn);
      }, this.lockWait);
      unref(timer);
      const entry = {
        turn,
        wake: () => {
          clearTimeout(timer);
          this.hold(turn);
          resolve(turn);
        },
      };
      line.waiters.push(entry);
    });
  }

  private hold(turn: Turn): void {
    turn.timer = setTimeout(() => this.leave(turn), this.lockWait);
    unref(turn.timer);
  }

  /** The store's lease for this instance, polled with growing pauses until the request's wait is over. */
  private async lease(id: string, turn: Turn): Promise<boolean> {
    const deadline = Date.now() + this.lockWait;
    let pause = LEASE_POLL_MIN_MS;
    for (;;) {
      let taken: boolean;
      try {
        taken = await this.store.lock!(id, this.owner, Date.now(), this.lockWait);
      } catch (err) {
        throw this.failed(`Reading session [${id}]`, err);
      }
      if (taken) return true;
      if (turn.done || Date.now() + pause > deadline || this.state !== "started") return false;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, LEASE_POLL_MAX_MS);
    }
  }

  /**
   * Ends a turn: the next request of the session on this instance gets it, with the store's lease
   * when no other instance is queued for that; otherwise the lease goes to that instance.
   */
  private leave(turn: Turn): void {
    if (turn.done) return;
    turn.done = true;
    if (turn.timer !== undefined) clearTimeout(turn.timer);
    if (turn.release) {
      // Given back to the primary before the next request here asks again: behind other workers' waits.
      turn.release();
      turn.release = undefined;
    }
    if (!turn.exclusive) return;
    const line = this.lines.get(turn.id);
    if (!line || line.holder !== turn) return;
    const next = line.waiters.shift();
    if (!turn.leased || this.state === "stopped") {
      if (next) {
        line.holder = next.turn;
        next.wake();
      } else this.lines.delete(turn.id);
      return;
    }
    // The lease changes hands in the store first: the line stays held until then.
    const now = Date.now();
    const store = this.store;
    const handOver = next
      ? store.relock!(turn.id, this.owner, now, this.lockWait).then(async (kept) => {
        if (kept) next.turn.leased = true;
        else await store.unlock!(turn.id, this.owner, now);
      })
      : store.unlock!(turn.id, this.owner, now);
    const settled = () => {
      const after = next ?? line.waiters.shift();
      if (after) {
        line.holder = after.turn;
        after.wake();
      } else this.lines.delete(turn.id);
    };
    this.tracked(handOver).then(settled, (err) => {
      // The lease expires by itself; the next request takes its turn and asks for it again.
      this.log.debug(`[${this.name}] giving up the lease of session [${turn.id}] failed: ${describeError(err)}`);
      if (next) next.turn.leased = false;
      settled();
    });
  }

  /** The session as the store holds it now (see findSession). */
  private async read(id: string): Promise<StandardSession | null> {
    this.checkRoom(`Reading session [${id}]`);
    const cached = this.cache.get(id);
    let stored;
    try {
      stored = await this.store.fetch(id, cached?.version);
      if (stored && !stored.data && (!cached || cached.version !== stored.version)) stored = await this.store.fetch(id);
    } catch (err) {
      throw this.failed(`Reading session [${id}]`, err);
    }
    if (!stored) {
      this.cache.delete(id);
      return null;
    }
    const data = stored.data ?? cached!.data;
    const now = this.now();
    if (stored.maxInactive > 0 && now - stored.lastAccess >= stored.maxInactive * 1000) return null;
    this.cache.delete(id);
    this.cache.set(id, { version: stored.version, data });
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    let record: SessionRecord;
    try {
      record = decodeSessionData(data);
    } catch (err) {
      this.log.error(`[${this.name}] stored session [${id}] cannot be read: ${describeError(err)}`);
      return null;
    }
    if (!record.isValid || record.id !== id) return null;
    const access = Math.max(record.lastAccessedTime, stored.lastAccess);
    record.lastAccessedTime = record.thisAccessedTime = access;
    record.isNew = false;
    const session = this.fromRecord(record);
    this.bases.set(session, {
      id,
      version: stored.version,
      frames: new Map(record.attributes.map((a) => [a.name, a.frame])),
      maxInactive: record.maxInactiveInterval,
      auth: authKey(record),
      storedAccess: stored.lastAccess,
    });
    this.sessions.set(id, session);
    return session;
  }

  /** Concurrent requests of one session hold their own copies; the one renamed is this request's. */
  override changeSessionId(session: StandardSession, newId?: string): string {
    if (session.isValidInternal() && this.sessions.get(session.id) !== session) this.sessions.set(session.id, session);
    return super.changeSessionId(session, newId);
  }

  override commit(sessions: readonly StandardSession[]): Promise<void> | undefined {
    const writes = sessions.map((s) => {
      const write = this.write(s);
      const turn = this.turns.get(s);
      if (turn) {
        this.turns.delete(s);
        const leave = () => this.leave(turn);
        write.then(leave, leave);
      }
      return write;
    });
    const all = Promise.all(writes).then(() => {});
    this.commits.add(all);
    const done = () => {
      this.commits.delete(all);
      for (const s of sessions) if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    };
    all.then(done, done);
    return all;
  }

  override whenIdle(): Promise<void> {
    return Promise.allSettled([...this.commits]).then(() => {});
  }

  private writeOf(session: StandardSession, record: SessionRecord): VersionedWrite {
    return {
      id: session.id,
      data: encodeSessionData(record),
      lastAccess: session.lastAccessedTimeInternal,
      maxInactive: record.maxInactiveInterval,
    };
  }

  private async write(session: StandardSession): Promise<void> {
    const base = this.bases.get(session);
    const what = `The change to session [${session.id}]`;
    if (!session.isValidInternal()) {
      // Invalidation wins: the stored session goes whatever its version.
      if (!base) return;
      this.cache.delete(base.id);
      this.checkRoom(what);
      try {
        await this.store.remove(base.id);
      } catch (err) {
        throw this.failed(what, err);
      }
      return;
    }
    const record = this.toRecord(session);
    this.checkRoom(what);
    try {
      if (!base) {
        if (!(await this.store.create(this.writeOf(session, record)))) {
          throw new BobcatError("session.idInUse", `session id [${session.id}] is already stored in ${this.store}`);
        }
        return;
      }
      const change = this.diff(base, record);
      const renamed = base.id !== session.id;
      if (!renamed && !change) {
        if (session.lastAccessedTimeInternal - base.storedAccess >= TOUCH_INTERVAL_MS) {
          await this.store.touch(session.id, session.lastAccessedTimeInternal, record.maxInactiveInterval);
        }
        return;
      }
      let expected = base.version;
      let next = record;
      for (let merges = 0;; merges++) {
        const w = this.writeOf(session, next);
        const version = renamed ? await this.store.rename(base.id, w, expected) : await this.store.replace(w, expected);
        if (version !== null) {
          if (renamed) this.cache.delete(base.id);
          this.cache.delete(w.id);
          this.cache.set(w.id, { version, data: w.data });
          return;
        }
        if (merges >= MAX_MERGES) {
          throw new Error(`${MAX_MERGES} newer versions were written while this change was being applied`);
        }
        const current = await this.store.fetch(base.id);
        const currentRecord = current?.data ? decodeSessionData(current.data) : null;
        if (!current || !currentRecord || !currentRecord.isValid) {
          // Invalidated (or renamed) by another request meanwhile: invalidation wins.
          this.cache.delete(base.id);
          this.log.debug(`[${this.name}] session [${base.id}] was invalidated elsewhere; its change is dropped`);
          return;
        }
        const clash = this.refuseSameAttribute ? this.clash(base, change, currentRecord) : null;
        if (clash) {
          // Worker processes promise what one process gives: no acknowledged change is lost.
          const err = new SessionNotStoredError(
            what,
            new Error(`another request changed attribute [${clash}] of this session at the same moment`),
          );
          err.name = "SessionConflictError";
          this.log.debug(`[${this.name}] ${err.message}`);
          throw err;
        }
        this.conflictsResolved++;
        next = this.merge(currentRecord, change, record, session);
        expected = current.version;
      }
    } catch (err) {
      if (err instanceof SessionNotStoredError) throw err;
      throw this.failed(what, err);
    }
  }

  private diff(base: Base, record: SessionRecord): Change | null {
    const set = new Map<string, Uint8Array>();
    const seen = new Set<string>();
    for (const a of record.attributes) {
      seen.add(a.name);
      const old = base.frames.get(a.name);
      if (!old || !sameBytes(old, a.frame)) set.set(a.name, a.frame);
    }
    const removed = [...base.frames.keys()].filter((n) => !seen.has(n));
    const maxInactive = record.maxInactiveInterval !== base.maxInactive;
    const auth = authKey(record) !== base.auth;
    return set.size || removed.length || maxInactive || auth ? { set, removed, maxInactive, auth } : null;
  }

  /** An attribute this request changed that the newer stored version changed too (from the same base). */
  private clash(base: Base, change: Change | null, current: SessionRecord): string | null {
    if (!change) return null;
    const now = new Map(current.attributes.map((a) => [a.name, a.frame]));
    for (const name of [...change.set.keys(), ...change.removed]) {
      const before = base.frames.get(name);
      const after = now.get(name);
      if (before === undefined ? after !== undefined : after === undefined || !sameBytes(before, after)) return name;
    }
    return null;
  }

  /** This request's changes re-applied onto the newer stored version (per attribute: this write wins). */
  private merge(current: SessionRecord, change: Change | null, ours: SessionRecord, session: StandardSession) {
    const attributes = new Map(current.attributes.map((a) => [a.name, a.frame]));
    if (change) {
      for (const [name, frame] of change.set) attributes.set(name, frame);
      for (const name of change.removed) attributes.delete(name);
    }
    const merged: SessionRecord = {
      ...current,
      id: session.id,
      lastAccessedTime: Math.max(current.lastAccessedTime, ours.lastAccessedTime),
      thisAccessedTime: Math.max(current.thisAccessedTime, ours.thisAccessedTime),
      maxInactiveInterval: change?.maxInactive ? ours.maxInactiveInterval : current.maxInactiveInterval,
      authType: change?.auth ? ours.authType : current.authType,
      principal: change?.auth ? ours.principal : current.principal,
      attributes: [...attributes].map(([name, frame]): AttributeFrame => ({ name, frame })),
    };
    return merged;
  }

  /** Sessions that timed out in the store: each is claimed by one instance, which tells the listeners. */
  override processExpires(): Promise<void> {
    if (this.state !== "started") return Promise.resolve();
    return this.tracked(this.expireStored());
  }

  private async expireStored(): Promise<void> {
    let expired = 0;
    try {
      for (let round = 0; round < EXPIRE_ROUNDS && this.state === "started"; round++) {
        const claimed = await this.store.claimExpired(this.now(), EXPIRE_BATCH);
        for (const { id, data } of claimed) {
          expired++;
          this.cache.delete(id);
          if (!data) continue;
          try {
            const session = this.deserializeSession(data);
            session.setValid(true);
            session.expire(true);
          } catch (err) {
            this.log.warn(
              `[${this.name}] expired session [${id}] could not be read for its listeners: ${describeError(err)}`,
            );
          }
        }
        if (claimed.length < EXPIRE_BATCH) break;
      }
    } catch (err) {
      this.lastError = `expiring stored sessions: ${describeError(err)}`;
      this.lastErrorAt = Date.now();
      this.log.warn(`[${this.name}] expiring stored sessions in ${this.store} failed: ${describeError(err)}`);
    }
    if (expired) this.log.debug(`[${this.name}] expired ${expired} stored session(s)`);
  }

  /** The manager app's "expire": removes the stored session (its listeners fire here if it is in use here). */
  override expireSession(id: string): boolean {
    const live = this.sessions.get(id);
    if (live) live.expire(true);
    this.cache.delete(id);
    if (this.state !== "started") return false;
    void this.tracked(this.store.remove(id)).catch((err) => this.failed(`Expiring session [${id}]`, err));
    return true;
  }
}
