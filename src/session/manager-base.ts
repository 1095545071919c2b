/**
 * Tomcat's ManagerBase: what every manager shares — the session map, creation with
 * maxActiveSessions, lookup with lazy expiry, id changes, the background expiry sweep, the
 * attribute filters, statistics, and turning a session into a record and back. Subclasses decide
 * where sessions live across a stop (StandardManager: one file; PersistentManager: a Store).
 */
import { BobcatError } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import { NotSerializableError, SessionArgumentError, SessionStateError, TooManyActiveSessionsError } from "./errors.ts";
import { SessionIdGenerator } from "./id-generator.ts";
import { SessionListeners } from "./listeners.ts";
import { type ManagerConfig, type ManagerContext, type ManagerSettings, managerSettings } from "./config.ts";
import {
  type AttributeFrame,
  type AttributeSink,
  decodeSessionData,
  encodeSessionData,
  type RecordHead,
  type SessionFileBuilder,
  type SessionRecord,
} from "./record.ts";
import { ByteReader, ByteWriter } from "./wire.ts";
import { writePrimitiveFrame } from "./serializer.ts";
import { type SessionHost, SessionShapes, StandardSession } from "./session.ts";
import { type ManagerStats, SessionStatistics } from "./stats.ts";
import type { SessionListener } from "./types.ts";
import type { StoreStatus } from "./stores/versioned.ts";
import type { UnreadSessions } from "./unread-sessions.ts";

export type ManagerState = "new" | "starting" | "started" | "stopping" | "stopped";

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export abstract class ManagerBase<C extends ManagerConfig = ManagerConfig> implements SessionHost {
  /** The `<Manager>` attributes and the context's values, resolved (filters compiled, defaults applied). */
  readonly settings: ManagerSettings<C>;
  readonly listeners: SessionListeners;
  protected readonly sessions = new Map<string, StandardSession>();
  /**
   * Sessions restored from StandardManager's file that nothing has looked up yet (kept as their
   * bytes; see fromUnread). They count, and their ids are taken, as if they were in `sessions`.
   * While `restoring` is set, only the records checked so far are in it: `unread` finishes the
   * restore first, so everything that reads it sees every record.
   */
  private unreadRecords: UnreadSessions | null = null;
  /**
   * A restore still checking and indexing its records after start() returned (StandardManager
   * with backgroundRestore); null when none is under way.
   */
  protected restoring: RestoreInProgress | null = null;
  /**
   * Sessions that requests looked up while a restore was under way and that had ended while the
   * server was down (saved invalid, or timed out): counted as expired, not restored, in its log.
   */
  protected endedBeforeRestoreChecked = 0;
  /**
   * Whether start() may leave restored records to be checked and indexed after it returns, a
   * part at a time from serving() (or whenIdle()) on, so that a server's connectors listen sooner
   * (the server sets it; see StandardManager's load). Whatever needs every record before then
   * finishes the restore first.
   */
  backgroundRestore = false;
  protected readonly stats = new SessionStatistics();
  protected readonly idGenerator = new SessionIdGenerator();
  protected readonly log = logger("session");
  private lifecycle: ManagerState = "new";
  private backgroundCount = 0;
  /** What this manager's sessions share: the manager, their attribute names (see SessionShape). */
  private readonly shapes = new SessionShapes(this);

  protected constructor(config: C, context: ManagerContext) {
    this.settings = managerSettings(config, context);
    this.listeners = new SessionListeners(this.settings.name);
    this.idGenerator.sessionIdLength = config.sessionIdGenerator.sessionIdLength;
    this.idGenerator.jvmRoute = this.settings.jvmRoute;
  }

  /** The `<Manager>` config, as the schema defines it. */
  get config(): C {
    return this.settings.config;
  }

  /** The restored records, every one of them: a restore under way is finished first. */
  protected get unread(): UnreadSessions | null {
    this.finishRestore();
    return this.unreadRecords;
  }

  protected set unread(records: UnreadSessions | null) {
    this.unreadRecords = records;
  }

  /** Finishes a restore under way (checks and indexes the rest of its records). */
  protected finishRestore(): void {
    if (this.restoring !== null) this.restoring.finish();
  }

  /** Where the subclass loads what a previous run left behind. */
  protected abstract startInternal(): Promise<void>;

  /** Where the subclass saves sessions it keeps across the stop; whatever stays in memory is expired after it. */
  protected abstract stopInternal(): Promise<void>;

  get name(): string {
    return this.settings.name;
  }

  get state(): ManagerState {
    return this.lifecycle;
  }

  now(): number {
    return this.settings.now();
  }

  addListener(listener: SessionListener): void {
    this.listeners.add(listener);
  }

  removeListener(listener: SessionListener): void {
    this.listeners.remove(listener);
  }

  /**
   * Called once the server serves the context (its connectors listen): a restore start() left
   * to the background (backgroundRestore) begins its checking then, not while the server starts.
   */
  serving(): void {}

  /**
   * Starts reading what start() will read, for a start that follows right away (the server calls
   * it before loading TLS material and handlers, so the reading overlaps them). Nothing by default.
   */
  prefetch(): void {}

  async start(): Promise<void> {
    if (this.lifecycle === "starting" || this.lifecycle === "started") {
      throw new BobcatError("session.lifecycle", `[${this.name}] the session manager is already started`);
    }
    this.lifecycle = "starting";
    const secureRandom = Object.entries(this.settings.secureRandom);
    if (secureRandom.length) {
      this.log.info(
        `[${this.name}] ${secureRandom.map(([k, v]) => `${k}="${v}"`).join(", ")} accepted for compatibility: ` +
          "session ids always come from the runtime's CSPRNG (crypto.getRandomValues)",
      );
    }
    try {
      await this.startInternal();
    } catch (err) {
      this.lifecycle = "stopped";
      throw err;
    }
    this.lifecycle = "started";
  }

  /** Tomcat's stopInternal: let the subclass persist, then expire (with notifications) whatever is left. */
  async stop(): Promise<void> {
    if (this.lifecycle !== "started") return;
    this.lifecycle = "stopping";
    try {
      await this.stopInternal();
    } finally {
      const now = this.now();
      // Restored sessions not saved (the save failed) are read, so that they expire as the others.
      if (this.unread) { for (const slot of this.unread.slots()) this.readUnread(slot); }
      for (const session of [...this.sessions.values()]) {
        if (session.isValid(now)) session.expire(true, now);
      }
      this.lifecycle = "stopped";
    }
  }

  /**
   * A new session, told to sessionCreated listeners. `id` reuses an id the client presented
   * (the core does that only where Tomcat does); otherwise one is generated.
   * Over maxActiveSessions: counts a rejection and throws TooManyActiveSessionsError (503).
   */
  createSession(id?: string): StandardSession {
    const max = this.config.maxActiveSessions;
    if (max >= 0 && this.sessionCount >= max) {
      this.stats.rejectedSessions++;
      throw new TooManyActiveSessionsError(max, this.name);
    }
    if (id !== undefined) this.checkNewId(id, "createSession");
    const now = this.now();
    const session = new StandardSession(
      this.shapes,
      id ?? this.idGenerator.generate(),
      now,
      now,
      now,
      this.settings.sessionTimeoutMinutes * 60,
      true,
    );
    session.setValid(true);
    this.addNewSession(session);
    this.listeners.created(session);
    this.stats.recordCreated(now);
    return session;
  }

  /** The live session with this id, or null; a session found timed out is expired here (lazily, as Tomcat does). */
  async findSession(id: string | null | undefined): Promise<StandardSession | null> {
    if (!id) return null;
    const session = this.sessions.get(id) ?? this.fromUnread(id);
    return session && session.isValid() ? session : null;
  }

  /**
   * The live in-memory session with this id, synchronously; null when it is not in memory.
   * Enough on its own for managers without a store (`hasStore` false). `now`: this manager's
   * clock (now()) as the caller read it, to share one reading with access().
   */
  findLoadedSession(id: string, now?: number): StandardSession | null {
    const session = this.sessions.get(id) ?? this.fromUnread(id);
    return session && session.isValid(now) ? session : null;
  }

  /** Whether sessions can live outside memory (PersistentManager): lookups must then be async. */
  get hasStore(): boolean {
    return false;
  }

  /** Every session in memory, valid or not yet swept (restored ones not read yet are read now). */
  findSessions(): StandardSession[] {
    if (this.unread) { for (const slot of this.unread.slots()) this.readUnread(slot); }
    return [...this.sessions.values()];
  }

  isLoaded(id: string): boolean {
    return this.sessions.has(id) || (this.unread !== null && this.unread.has(id));
  }

  listSessionIds(): string[] {
    const ids = [...this.sessions.keys()];
    const unread = this.unread;
    if (unread) { for (const slot of unread.slots()) ids.push(unread.idOf(slot)); }
    return ids;
  }

  /** Sessions in memory, counting the restored ones not read yet. */
  get sessionCount(): number {
    return this.sessions.size + (this.unread === null ? 0 : this.unread.size);
  }

  /**
   * The restored session `id` as a StandardSession, taken out of `unread` into `sessions` and
   * activated, as the load did before it kept records unread: a record saved already invalid is
   * expired here, with notifications. Not checked for idleness (the caller's isValid does that).
   * Undefined when there is no such unread record. A restore under way need not have checked
   * every record for it (see RestoreInProgress.find).
   */
  protected fromUnread(id: string): StandardSession | undefined {
    const slot = this.restoring !== null
      ? this.restoring.find(id)
      : this.unreadRecords === null
      ? -1
      : this.unreadRecords.find(id);
    return slot < 0 ? undefined : this.readUnread(slot);
  }

  /** fromUnread, by the record's slot in `unread` (the records checked so far, during a restore). */
  protected readUnread(slot: number): StandardSession {
    const unread = this.unreadRecords!;
    const [start, end] = unread.take(slot);
    if (unread.size === 0 && this.restoring === null) this.unreadRecords = null;
    let session: StandardSession | undefined;
    let head: RecordHead | undefined;
    unread.reader.read(start, end, {
      record: (h) => {
        head = h;
        session = this.restoredSession(h);
      },
      attribute: (name, frame) => this.restoreAttribute(session!, name, frame),
      endRecord: () => this.restoreAuthentication(session!, head!),
    });
    const s = session!;
    this.sessions.set(s.id, s);
    s.activate();
    if (this.restoring !== null && (!s.isValidInternal() || s.hasTimedOut())) this.endedBeforeRestoreChecked++;
    if (!s.isValidInternal()) {
      // Saved while already invalid: expire it properly so listeners see the end of it.
      s.setValid(true);
      s.expire(true);
    }
    return s;
  }

  /** Gives the session a new id (generated unless given) and tells sessionIdChanged listeners. Returns the new id. */
  changeSessionId(session: StandardSession, newId?: string): string {
    if (!session.isValidInternal()) throw new SessionStateError("changeSessionId: Session already invalidated");
    const oldId = session.id;
    if (this.sessions.get(oldId) !== session) {
      throw new BobcatError(
        "session.notManaged",
        `changeSessionId: session [${oldId}] does not belong to [${this.name}]`,
      );
    }
    if (newId !== undefined) this.checkNewId(newId, "changeSessionId");
    const id = newId ?? this.generateSessionId();
    this.sessions.delete(oldId);
    session.setIdInternal(id);
    this.addSession(session);
    this.listeners.idChanged(session, oldId);
    return id;
  }

  /** At the start of every request that uses the session; `now`: now() as the caller read it. */
  access(session: StandardSession, now?: number): void {
    session.access(now);
  }

  /** At the end of every request that used the session (also after the handler threw). */
  endAccess(session: StandardSession): void {
    session.endAccess();
  }

  /**
   * After a request's end of access, with the sessions it used: what its response must wait for
   * (PersistentManager's store writes); undefined when nothing. Only managers with a store are asked.
   */
  commit(_sessions: readonly StandardSession[]): Promise<void> | undefined {
    return undefined;
  }

  /**
   * Settles once the background work the manager has started so far (store writes a request's
   * end set off) is done. An edge runtime hands it to the platform's waitUntil, so the work is not
   * cut off when the response has gone out. Managers without a store have none.
   */
  whenIdle(): Promise<void> {
    return Promise.resolve();
  }

  /** Called on every engine background tick; the expiry sweep runs every processExpiresFrequency-th call. */
  async backgroundProcess(): Promise<void> {
    this.backgroundCount = (this.backgroundCount + 1) % this.config.processExpiresFrequency;
    if (this.backgroundCount === 0) await this.processExpires();
  }

  /** Checks every session, which expires the timed-out ones with notifications. */
  async processExpires(): Promise<void> {
    const started = performance.now();
    let expired = 0;
    const now = this.now();
    // The Map itself, not an array of every session first (that copy was most of a sweep's time:
    // bench/session-sweep.ts). A session expired here leaves the Map as the loop goes, which Map
    // iteration allows; one a listener adds meanwhile is visited too, and is valid.
    for (const session of this.sessions.values()) {
      if (!session.isValid(now)) expired++;
    }
    // A restored record not read yet is read only when it is due (its times are in `unread`).
    if (this.unread) {
      for (const slot of this.unread.due(now)) if (!this.readUnread(slot).isValid(now)) expired++;
    }
    this.stats.processingTime += performance.now() - started;
    if (expired) this.log.debug(`[${this.name}] expired ${expired} session(s)`);
  }

  /** The manager app's "expire": returns false (and logs, as Tomcat does) for an unknown id. */
  expireSession(id: string): boolean {
    const session = this.sessions.get(id) ?? this.fromUnread(id);
    if (!session) {
      this.log.info(`[${this.name}] The session [${id}] was not found`);
      return false;
    }
    session.expire(true);
    return true;
  }

  /** What the manager app shows about the store: null for managers without one. */
  storeStatus(): Promise<StoreStatus | null> {
    return Promise.resolve(null);
  }

  getStats(): ManagerStats {
    return this.stats.snapshot(this.now(), this.sessionCount, this.config.maxActiveSessions);
  }

  // --- SessionHost ---------------------------------------------------------------------------

  removeSession(session: StandardSession, expired: boolean, now?: number): void {
    if (expired) this.stats.recordExpired(now ?? this.now(), session.creationTimeInternal);
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
  }

  checkDistributable(name: string, value: unknown): void {
    // An attribute the filters keep out is never persisted, so it may hold anything (Tomcat's exclude()).
    if (!this.willAttributeDistribute(name, value, false)) return;
    try {
      this.settings.serializer.serialize(value);
    } catch (err) {
      if (!(err instanceof NotSerializableError)) throw err;
      throw new SessionArgumentError(
        "session.notSerializable",
        `setAttribute: Non-serializable attribute [${name}]: ${err.message}`,
        `The context is distributable, so every attribute must survive serialization. ${err.fix ?? ""}`.trim(),
      );
    }
  }

  // --- Filters ---------------------------------------------------------------------------------

  /** sessionAttributeNameFilter and sessionAttributeValueClassNameFilter (on the value's own type name). */
  willAttributeDistribute(name: string, value: unknown, report = true): boolean {
    const { sessionAttributeNameFilter: names, sessionAttributeValueClassNameFilter: types } = this.settings;
    if (names && !names.matches(name)) {
      if (report) {
        this.reportFiltered(
          `Skipped session attribute named [${name}] because it did not match the name filter [${names.pattern}]`,
        );
      }
      return false;
    }
    if (types) {
      const type = this.settings.serializer.typeName(value);
      if (!types.matches(type)) {
        if (report) {
          this.reportFiltered(
            `Skipped session attribute named [${name}] because the value type [${type}] did not match the filter [${types.pattern}]`,
          );
        }
        return false;
      }
    }
    return true;
  }

  private reportFiltered(message: string): void {
    if (this.config.warnOnSessionAttributeFilterFailure) this.log.warn(`[${this.name}] ${message}`);
    else this.log.debug(`[${this.name}] ${message}`);
  }

  // --- Records (persistence file, and the bytes a Store keeps) ---------------------------------

  /** One session as the bytes a Store saves. May remove unserializable attributes from the live session, as Tomcat does. */
  serializeSession(session: StandardSession): Uint8Array {
    return encodeSessionData(this.toRecord(session));
  }

  /** A session rebuilt from a Store's bytes, not yet added to this manager nor activated. */
  deserializeSession(bytes: Uint8Array): StandardSession {
    return this.fromRecord(decodeSessionData(bytes));
  }

  /**
   * Tomcat's writeObjectData, minus its defects: an attribute that is filtered out or is not
   * serializable itself is removed from the live session (listeners fire, as in Tomcat) and
   * logged; one with an unserializable value nested inside is skipped and logged. Either way the
   * other attributes and sessions are written intact.
   */
  protected toRecord(session: StandardSession): SessionRecord {
    const attributes: AttributeFrame[] = [];
    const frame = new ByteWriter();
    let name = "";
    this.writeAttributes(session, {
      beginAttribute(n) {
        name = n;
        frame.reset();
        return frame;
      },
      endAttribute(written) {
        if (written) attributes.push({ name, frame: frame.finish() });
      },
    });
    return { ...this.recordHead(session), attributes };
  }

  /**
   * toRecord straight into the manager file being built: no record, no head object, no array of
   * attributes. The bytes are those toRecord's record would give (tests/session/record.test.ts
   * compares them).
   */
  protected writeRecordTo(out: SessionFileBuilder, session: StandardSession): void {
    const persistAuth = this.config.persistAuthentication;
    out.beginRecordOf(
      session.id,
      session.creationTimeInternal,
      session.lastAccessedTimeInternal,
      session.thisAccessedTimeInternal,
      session.maxInactiveInterval,
      session.isNewInternal,
      session.isValidInternal(),
      persistAuth ? session.authType : null,
      persistAuth ? session.principal : null,
    );
    const n = session.indexedAttributeCount;
    const { sessionAttributeNameFilter, sessionAttributeValueClassNameFilter, serializer } = this.settings;
    if (n !== 0 && (n < 0 || sessionAttributeNameFilter || sessionAttributeValueClassNameFilter)) {
      this.writeAttributes(session, out);
    } else {
      // No filter, so every attribute is written as it is: a string or a number straight away,
      // anything else through the serializer. One that cannot be (or a serializer that changed
      // the session's attributes) sends the whole session the general way, which reports it.
      for (let i = 0; i < n; i++) {
        const value = session.attributeValueAt(i);
        const frame = out.beginAttribute(session.attributeNameAt(i));
        if (writePrimitiveFrame(frame, value)) {
          out.endAttribute(true);
          continue;
        }
        let written = false;
        try {
          serializer.serializeInto(frame, value);
          written = session.indexedAttributeCount === n;
        } catch {
          // Reported by writeAttributes.
        }
        if (!written) {
          out.restartAttributes();
          this.writeAttributes(session, out);
          break;
        }
        out.endAttribute(true);
      }
    }
    out.endRecord();
  }

  /** Each attribute that may be written is serialized into `out` (a failed one is dropped from it). */
  private writeAttributes(session: StandardSession, out: AttributeSink): void {
    if (session.attributeCount === 0) return;
    for (const [name, value] of session.attributeEntries()) {
      if (!this.willAttributeDistribute(name, value)) {
        session.removeAttributeInternal(name, true);
        continue;
      }
      const frame = out.beginAttribute(name);
      let written = false;
      try {
        this.settings.serializer.serializeInto(frame, value);
        written = true;
      } catch (err) {
        const reason = describeError(err);
        const topLevel = !(err instanceof NotSerializableError) || err.path === "";
        this.log.warn(
          `[${this.name}] Cannot serialize session attribute [${name}] for session [${session.id}]: ${reason}` +
            (topLevel ? "; it was removed from the session" : "; it was skipped"),
        );
        if (topLevel) session.removeAttributeInternal(name, true);
      }
      out.endAttribute(written);
    }
  }

  private recordHead(session: StandardSession): RecordHead {
    const persistAuth = this.config.persistAuthentication;
    return {
      id: session.id,
      creationTime: session.creationTimeInternal,
      lastAccessedTime: session.lastAccessedTimeInternal,
      thisAccessedTime: session.thisAccessedTimeInternal,
      maxInactiveInterval: session.maxInactiveInterval,
      isNew: session.isNewInternal,
      isValid: session.isValidInternal(),
      authType: persistAuth ? session.authType : null,
      principal: persistAuth ? session.principal : null,
    };
  }

  /**
   * Tomcat's readObjectData: an attribute that cannot be read back (unknown class, failing
   * fromJSON) or that today's filters reject is skipped with a log line; the session still loads.
   */
  protected fromRecord(
    record: RecordHead & { attributes: ReadonlyArray<{ name: string; frame: Uint8Array | ByteReader }> },
  ): StandardSession {
    const session = this.restoredSession(record);
    for (const { name, frame } of record.attributes) {
      this.restoreAttribute(session, name, frame instanceof ByteReader ? frame : new ByteReader(frame));
    }
    this.restoreAuthentication(session, record);
    return session;
  }

  /** fromRecord in steps, for a reader that hands over a record's parts in turn: the session, */
  protected restoredSession(head: RecordHead): StandardSession {
    const session = new StandardSession(
      this.shapes,
      head.id,
      head.creationTime,
      head.lastAccessedTime,
      head.thisAccessedTime,
      head.maxInactiveInterval,
      head.isNew,
    );
    session.setValid(head.isValid);
    return session;
  }

  /** each of its attributes (a frame that cannot be read or is filtered out is skipped, logged), */
  protected restoreAttribute(session: StandardSession, name: string, frame: ByteReader): void {
    let value: unknown;
    try {
      value = this.settings.serializer.deserializeFrom(frame);
    } catch (err) {
      this.log.warn(
        `[${this.name}] Cannot deserialize session attribute [${name}] for session [${session.id}]: ${
          describeError(err)
        }`,
      );
      return;
    }
    if (value === undefined || value === null || !this.willAttributeDistribute(name, value)) return;
    session.restoreAttribute(name, value);
  }

  /** then its authentication. */
  protected restoreAuthentication(session: StandardSession, head: RecordHead): void {
    session.authType = head.authType;
    const types = this.settings.sessionAttributeValueClassNameFilter;
    if (head.principal && types && !types.matches("Principal")) {
      // The seed: a principal is subject to the value filter like any attribute value.
      this.reportFiltered(
        `Skipped the principal of session [${head.id}] because the type [Principal] did not match the filter [${types.pattern}]`,
      );
    } else {
      session.principal = head.principal;
    }
  }

  // --- For subclasses --------------------------------------------------------------------------

  protected addSession(session: StandardSession): void {
    this.sessions.set(session.id, session);
    this.stats.recordActive(this.sessionCount);
  }

  /**
   * Adds a session made with a fresh id in one map operation (getOrInsert: the id is hashed and
   * looked up once, not once by has() and again by set()). A generated id that a live session
   * already has is counted in `duplicates` and drawn again, as generateSessionId does.
   */
  private addNewSession(session: StandardSession): void {
    const sessions = this.sessions as unknown as MapWithGetOrInsert<string, StandardSession>;
    if (typeof sessions.getOrInsert !== "function" || this.restoring !== null || this.unreadRecords !== null) {
      while (this.isLoaded(session.id)) {
        this.stats.duplicates++;
        session.setIdInternal(this.idGenerator.generate());
      }
      this.addSession(session);
      return;
    }
    while (sessions.getOrInsert(session.id, session) !== session) {
      this.stats.duplicates++;
      session.setIdInternal(this.idGenerator.generate());
    }
    this.stats.recordActive(this.sessions.size);
  }

  /** A fresh id no live session has; a collision is counted in `duplicates` and drawn again. */
  protected generateSessionId(): string {
    let id = this.idGenerator.generate();
    while (this.isLoaded(id)) {
      this.stats.duplicates++;
      id = this.idGenerator.generate();
    }
    return id;
  }

  private checkNewId(id: string, method: string): void {
    if (typeof id !== "string" || id === "") {
      throw new SessionArgumentError("session.badId", `${method}: a session id must be a non-empty string`);
    }
    if (this.isLoaded(id)) {
      throw new SessionArgumentError(
        "session.idInUse",
        `${method}: session id [${id}] is already in use in [${this.name}]`,
      );
    }
  }
}

/** A restore that start() left under way (see ManagerBase.restoring). */
export interface RestoreInProgress {
  /** Checks and indexes the rest of the records, and ends the restore (restoring is null after). */
  finish(): void;
  /**
   * The slot of the unread record with this id, found among the records checked so far or
   * looked for in the others; negative when there is none. The caller reads it at once.
   */
  find(id: string): number;
}

/** Map.prototype.getOrInsert (the upsert proposal: in Bun and Deno, in Deno's lib, not in TypeScript's ES2022 one). */
interface MapWithGetOrInsert<K, V> {
  getOrInsert?(key: K, value: V): V;
}
