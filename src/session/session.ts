/**
 * Tomcat's StandardSession: one HTTP session, its attributes, its timing, and the event order
 * of StandardSession.setAttribute / removeAttribute / expire.
 */
import { SessionArgumentError, SessionStateError } from "./errors.ts";
import { callValue, hasMethod, isBindingListener, type SessionListeners } from "./listeners.ts";
import type { HttpSession, HttpSessionBindingEvent, Principal } from "./types.ts";

/**
 * The manager settings a session reads (config.ts's ManagerSettings has them); named here so
 * that the session does not import the config module, which imports the store, which imports it.
 */
export interface SessionSettings {
  readonly name: string;
  readonly distributable: boolean;
  readonly sessionActivityCheck: boolean;
  readonly sessionLastAccessAtStart: boolean;
  /** The maxInactiveInterval of new sessions, in minutes. */
  readonly sessionTimeoutMinutes: number;
  now(): number;
  readonly config: {
    readonly notifyBindingListenerOnUnchangedValue: boolean;
    readonly notifyAttributeListenerOnUnchangedValue: boolean;
  };
}

/** What a session needs from its manager (ManagerBase implements it). */
export interface SessionHost {
  readonly settings: SessionSettings;
  readonly listeners: SessionListeners;
  /** Takes the session out of the manager; `expired` updates the expiry statistics (as of `now`, when given). */
  removeSession(session: StandardSession, expired: boolean, now?: number): void;
  /** Throws when `<distributable/>` is set and the value could not be persisted. */
  checkDistributable(name: string, value: unknown): void;
}

/**
 * Beyond two attributes, all of them move to one flat array ([name, value, name, value, ...]) in
 * the session's v0, and beyond this many to a Map (a Map of two takes about 250 bytes).
 */
const FLAT_ATTRIBUTES = 8;

const NEW = 1;
const VALID = 2;
const EXPIRING = 4;
/** The bits of `state` above the flags count the requests in flight (sessionActivityCheck). */
const ONE_REQUEST = 8;
const FLAG_BITS = ONE_REQUEST - 1;

/** Java's int, so the persisted form has a fixed range. */
function toInt32(seconds: number): number {
  return Math.max(-0x80000000, Math.min(0x7fffffff, Math.trunc(seconds)));
}

/** SessionShape.count of a session whose attributes are all in its v0 (flat array or Map). */
const SPILLED = -1;

/**
 * What the sessions of one manager share, as JavaScriptCore's structures are shared by objects
 * with the same properties: the manager, and the names of the session's attributes when it has
 * up to two (their values are in the session's v0 and v1), or that it has more (SPILLED: all in
 * v0). So a session spends no field on its manager or on attribute names, and one class serves
 * every manager (a subclass per manager made JavaScriptCore allocate larger sessions once several
 * managers made them: 160 bytes where one manager's took 112).
 */
class SessionShape {
  constructor(
    readonly shapes: SessionShapes,
    /** 0, 1 or 2 names here, or SPILLED. */
    readonly count: number,
    readonly first: string | undefined,
    readonly second: string | undefined,
  ) {}
}

/** Shapes with names kept for sharing per manager; beyond it each session gets its own (48 bytes). */
const MAX_SHARED_SHAPES = 1024;

/** One manager's SessionShapes, by the names they hold; the manager keeps one (ManagerBase). */
export class SessionShapes {
  readonly empty: SessionShape;
  readonly spilled: SessionShape;
  private readonly ones = new Map<string, SessionShape>();
  private readonly twos = new Map<string, Map<string, SessionShape>>();
  private shared = 0;
  /** The shapes handed out last: an application's sessions mostly set the same names in the same order. */
  private lastOne: SessionShape;
  private lastTwo: SessionShape;
  private defaultSeconds: number | undefined = undefined;

  constructor(readonly host: SessionHost) {
    this.empty = this.lastOne = this.lastTwo = new SessionShape(this, 0, undefined, undefined);
    this.spilled = new SessionShape(this, SPILLED, undefined, undefined);
  }

  /**
   * The manager's maxInactiveInterval for new sessions, read at the first session (the manager's
   * settings are not there yet when it makes this) and kept: a session made with any other value
   * keeps its own in SessionExtras, so this never changes a session's maxInactiveInterval.
   */
  get defaultMaxInactive(): number {
    return (this.defaultSeconds ??= toInt32(this.host.settings.sessionTimeoutMinutes * 60));
  }

  one(name: string): SessionShape {
    if (this.lastOne.first === name) return this.lastOne;
    let shape = this.ones.get(name);
    if (shape === undefined) {
      shape = new SessionShape(this, 1, name, undefined);
      if (this.shared >= MAX_SHARED_SHAPES) return shape;
      this.ones.set(name, shape);
      this.shared++;
    }
    return (this.lastOne = shape);
  }

  two(first: string, second: string): SessionShape {
    const last = this.lastTwo;
    if (last.first === first && last.second === second) return last;
    let seconds = this.twos.get(first);
    let shape = seconds?.get(second);
    if (shape === undefined) {
      shape = new SessionShape(this, 2, first, second);
      if (this.shared >= MAX_SHARED_SHAPES) return shape;
      if (seconds === undefined) this.twos.set(first, seconds = new Map());
      seconds.set(second, shape);
      this.shared++;
    }
    return (this.lastTwo = shape);
  }
}

/**
 * What few sessions have, in one object made for them: a maxInactiveInterval other than the
 * manager's default, a principal, an auth type. The session's shape is kept here then.
 */
class SessionExtras {
  constructor(
    public shape: SessionShape,
    public maxInactive: number,
    public user: Principal | null,
    public type: string | null,
  ) {}
}

function indexIn(a: unknown[], name: string): number {
  for (let i = 0; i < a.length; i += 2) if (a[i] === name) return i;
  return -1;
}

/**
 * Kept small, because a server holds many: eight own fields, 80 bytes in JavaScriptCore (nine
 * to twelve take 112), and with up to two attributes no other object of its own (see
 * SessionShape); no closures or timers per session, the three state flags and the in-flight
 * request count in one number, and maxInactiveInterval when it is not the manager's default and
 * the authentication in one object (SessionExtras) made only for the sessions that have them.
 */
export class StandardSession implements HttpSession {
  /** The shape (the manager, the attribute names), or the SessionExtras that holds it. */
  private layout: SessionShape | SessionExtras;
  /** The first two attributes' values; with more (SPILLED) v0 holds them all. */
  private v0: unknown = undefined;
  private v1: unknown = undefined;
  private sessionId: string;
  private created: number;
  private lastAccessed: number;
  private thisAccessed: number;
  /** NEW | VALID | EXPIRING bits, plus ONE_REQUEST per request in flight. */
  private state: number;

  constructor(
    shapes: SessionShapes,
    id: string,
    creationTime: number,
    lastAccessedTime: number,
    thisAccessedTime: number,
    maxInactiveInterval: number,
    isNew: boolean,
  ) {
    const seconds = toInt32(maxInactiveInterval);
    this.layout = seconds === shapes.defaultMaxInactive
      ? shapes.empty
      : new SessionExtras(shapes.empty, seconds, null, null);
    this.sessionId = id;
    this.created = creationTime;
    this.lastAccessed = lastAccessedTime;
    this.thisAccessed = thisAccessedTime;
    this.state = isNew ? NEW : 0;
  }

  private get shape(): SessionShape {
    const l = this.layout;
    return l instanceof SessionExtras ? l.shape : l;
  }

  private set shape(shape: SessionShape) {
    const l = this.layout;
    if (l instanceof SessionExtras) l.shape = shape;
    else this.layout = shape;
  }

  /** The manager. */
  protected get host(): SessionHost {
    return this.shape.shapes.host;
  }

  // --- Attribute storage -------------------------------------------------------------------------

  /** The attributes when SPILLED. */
  private get spilled(): unknown[] | Map<string, unknown> {
    return this.v0 as unknown[] | Map<string, unknown>;
  }

  private attrHas(name: string): boolean {
    const s = this.shape;
    if (s.count !== SPILLED) return s.first === name || s.second === name;
    const a = this.spilled;
    return Array.isArray(a) ? indexIn(a, name) >= 0 : a.has(name);
  }

  private attrGet(name: string): unknown {
    const s = this.shape;
    if (s.count !== SPILLED) return s.first === name ? this.v0 : s.second === name ? this.v1 : undefined;
    const a = this.spilled;
    if (!Array.isArray(a)) return a.get(name);
    const i = indexIn(a, name);
    return i < 0 ? undefined : a[i + 1];
  }

  private attrSet(name: string, value: unknown): void {
    const s = this.shape;
    if (s.count !== SPILLED) {
      if (s.first === name) this.v0 = value;
      else if (s.second === name) this.v1 = value;
      else if (s.count === 0) {
        this.shape = s.shapes.one(name);
        this.v0 = value;
      } else if (s.count === 1) {
        this.shape = s.shapes.two(s.first!, name);
        this.v1 = value;
      } else {
        this.v0 = [s.first, this.v0, s.second, this.v1, name, value];
        this.v1 = undefined;
        this.shape = s.shapes.spilled;
      }
      return;
    }
    const a = this.spilled;
    if (!Array.isArray(a)) {
      a.set(name, value);
      return;
    }
    const i = indexIn(a, name);
    if (i >= 0) {
      a[i + 1] = value;
    } else if (a.length < 2 * FLAT_ATTRIBUTES) {
      // A new array of the exact size: push would leave spare capacity in every session.
      const next = new Array<unknown>(a.length + 2);
      for (let j = 0; j < a.length; j++) next[j] = a[j];
      next[a.length] = name;
      next[a.length + 1] = value;
      this.v0 = next;
    } else {
      const map = new Map<string, unknown>();
      for (let j = 0; j < a.length; j += 2) map.set(a[j] as string, a[j + 1]);
      map.set(name, value);
      this.v0 = map;
    }
  }

  private attrDelete(name: string): void {
    const s = this.shape;
    if (s.count !== SPILLED) {
      if (s.first === name) {
        // The second moves up, so the names keep their order.
        this.shape = s.count === 2 ? s.shapes.one(s.second!) : s.shapes.empty;
        this.v0 = this.v1;
        this.v1 = undefined;
      } else if (s.second === name) {
        this.shape = s.shapes.one(s.first!);
        this.v1 = undefined;
      }
      return;
    }
    const a = this.spilled;
    if (!Array.isArray(a)) {
      a.delete(name);
      return;
    }
    const i = indexIn(a, name);
    if (i < 0) return;
    if (a.length === 2) this.attrClear();
    else a.splice(i, 2);
  }

  /** Forgets every attribute, without events. */
  private attrClear(): void {
    this.shape = this.shape.shapes.empty;
    this.v0 = this.v1 = undefined;
  }

  private attrNames(): string[] {
    const s = this.shape;
    if (s.count === 0) return [];
    if (s.count === 1) return [s.first!];
    if (s.count === 2) return [s.first!, s.second!];
    const a = this.spilled;
    if (!Array.isArray(a)) return [...a.keys()];
    const names = new Array<string>(a.length / 2);
    for (let i = 0; i < a.length; i += 2) names[i / 2] = a[i] as string;
    return names;
  }

  private attrValues(): unknown[] {
    const s = this.shape;
    if (s.count === 0) return [];
    if (s.count === 1) return [this.v0];
    if (s.count === 2) return [this.v0, this.v1];
    const a = this.spilled;
    if (!Array.isArray(a)) return [...a.values()];
    const values = new Array<unknown>(a.length / 2);
    for (let i = 0; i < a.length; i += 2) values[i / 2] = a[i + 1];
    return values;
  }

  // --- The rarely set parts (SessionExtras) ------------------------------------------------------

  private get maxInactive(): number {
    const l = this.layout;
    return l instanceof SessionExtras ? l.maxInactive : l.shapes.defaultMaxInactive;
  }

  /** Sets the extras' parts, making the object when one differs from the default and dropping it when none does. */
  private setExtras(maxInactive: number, user: Principal | null, type: string | null): void {
    const l = this.layout;
    const shape = this.shape;
    const plain = maxInactive === shape.shapes.defaultMaxInactive && user === null && type === null;
    if (!(l instanceof SessionExtras)) {
      if (!plain) this.layout = new SessionExtras(shape, maxInactive, user, type);
    } else if (plain) {
      this.layout = shape;
    } else {
      l.maxInactive = maxInactive;
      l.user = user;
      l.type = type;
    }
  }

  private get valid(): boolean {
    return (this.state & VALID) !== 0;
  }

  // --- HttpSession ---------------------------------------------------------------------------

  get id(): string {
    return this.sessionId;
  }

  get creationTime(): number {
    this.ensureValid("getCreationTime");
    return this.created;
  }

  get lastAccessedTime(): number {
    this.ensureValid("getLastAccessedTime");
    return this.lastAccessed;
  }

  get isNew(): boolean {
    this.ensureValid("isNew");
    return (this.state & NEW) !== 0;
  }

  get maxInactiveInterval(): number {
    return this.maxInactive;
  }

  set maxInactiveInterval(seconds: number) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) {
      throw new SessionArgumentError(
        "session.badInterval",
        `setMaxInactiveInterval: [${String(seconds)}] is not a number of seconds`,
        "Pass whole seconds; 0 or less means the session never expires.",
      );
    }
    this.setExtras(toInt32(seconds), this.principal, this.authType);
  }

  getAttribute<T = unknown>(name: string): T | undefined {
    this.ensureValid("getAttribute");
    return this.attrGet(name) as T | undefined;
  }

  getAttributeNames(): string[] {
    this.ensureValid("getAttributeNames");
    return this.attrNames();
  }

  get attributeNames(): string[] {
    return this.getAttributeNames();
  }

  /**
   * Tomcat's order: valueBound on the new value, store it, valueUnbound on the old value, then
   * attributeAdded or attributeReplaced. Setting the same value again skips the binding calls
   * unless notifyBindingListenerOnUnchangedValue, and still reports attributeReplaced unless
   * notifyAttributeListenerOnUnchangedValue is false. attributeReplaced carries the old value.
   */
  setAttribute(name: string, value: unknown): void {
    if (typeof name !== "string") {
      throw new SessionArgumentError("session.nullName", "setAttribute: name parameter cannot be null");
    }
    if (value === undefined || value === null) {
      this.removeAttribute(name);
      return;
    }
    if (!this.valid) {
      throw new SessionStateError(`setAttribute: Session [${this.sessionId}] has already been invalidated`);
    }
    const { settings, listeners } = this.host;
    if (settings.distributable) this.host.checkDistributable(name, value);

    const listener = isBindingListener(value);
    let bound = false;
    if (
      listener &&
      (!Object.is(value, this.attrGet(name)) || settings.config.notifyBindingListenerOnUnchangedValue)
    ) {
      bound = true;
      callValue(settings.name, value, "valueBound", { session: this, name, value });
    }
    // valueBound (or a value's toJSON in the distributable check) may have invalidated the session.
    if (!this.valid) {
      if (!listener) {
        throw new SessionStateError(`setAttribute: Session [${this.sessionId}] has already been invalidated`);
      }
      if (bound) callValue(settings.name, value, "valueUnbound", { session: this, name, value });
      return;
    }

    const had = this.attrHas(name);
    const old = had ? this.attrGet(name) : undefined;
    this.attrSet(name, value);
    const unchanged = Object.is(old, value);
    if (had && isBindingListener(old) && (!unchanged || settings.config.notifyBindingListenerOnUnchangedValue)) {
      callValue(settings.name, old, "valueUnbound", { session: this, name, value: old });
    }
    if (!listeners.anyAttribute) return;
    if (!had) {
      listeners.attributeAdded({ session: this, name, value });
    } else if (!unchanged || settings.config.notifyAttributeListenerOnUnchangedValue) {
      listeners.attributeReplaced({ session: this, name, value: old });
    }
  }

  removeAttribute(name: string): void {
    this.ensureValid("removeAttribute");
    this.removeAttributeInternal(name, true);
  }

  invalidate(): void {
    this.ensureValid("invalidate");
    this.expire(true);
  }

  // --- Authentication (set by the core's authenticators) --------------------------------------

  get principal(): Principal | null {
    const l = this.layout;
    return l instanceof SessionExtras ? l.user : null;
  }

  /** Kept as plain data (name and roles) so it can survive a restart when persistAuthentication is on. */
  set principal(p: Principal | null) {
    const user = p ? { name: String(p.name), roles: [...(p.roles ?? [])].map(String) } : null;
    this.setExtras(this.maxInactive, user, this.authType);
  }

  /** How the principal authenticated (BASIC, FORM, CLIENT_CERT, ...). */
  get authType(): string | null {
    const l = this.layout;
    return l instanceof SessionExtras ? l.type : null;
  }

  set authType(type: string | null) {
    this.setExtras(this.maxInactive, this.principal, type ?? null);
  }

  // --- Manager-facing: Tomcat's *Internal accessors and lifecycle --------------------------------

  get creationTimeInternal(): number {
    return this.created;
  }

  get lastAccessedTimeInternal(): number {
    return this.lastAccessed;
  }

  get thisAccessedTimeInternal(): number {
    return this.thisAccessed;
  }

  get isNewInternal(): boolean {
    return (this.state & NEW) !== 0;
  }

  /** Requests in flight, counted only when sessionActivityCheck is on. */
  get activeRequests(): number {
    return Math.trunc(this.state / ONE_REQUEST);
  }

  isValidInternal(): boolean {
    return this.valid;
  }

  setValid(valid: boolean): void {
    this.state = valid ? this.state | VALID : this.state & ~VALID;
  }

  /** Only the manager renames a session; it also re-keys its map. */
  setIdInternal(id: string): void {
    this.sessionId = id;
  }

  attributeEntries(): [string, unknown][] {
    const s = this.shape;
    if (s.count === 0) return [];
    if (s.count === 1) return [[s.first!, this.v0]];
    if (s.count === 2) return [[s.first!, this.v0], [s.second!, this.v1]];
    const a = this.spilled;
    if (!Array.isArray(a)) return [...a];
    const entries = new Array<[string, unknown]>(a.length / 2);
    for (let i = 0; i < a.length; i += 2) entries[i / 2] = [a[i] as string, a[i + 1]];
    return entries;
  }

  /**
   * The number of attributes nameAt/valueAt reach (by index 0, 1, …), or -1 when they are kept
   * in a Map (beyond FLAT_ATTRIBUTES; attributeEntries then): walking them without an array of
   * entries, for writing many sessions.
   */
  get indexedAttributeCount(): number {
    const s = this.shape;
    if (s.count !== SPILLED) return s.count;
    const a = this.spilled;
    return Array.isArray(a) ? a.length / 2 : -1;
  }

  /** Attribute `i` (< indexedAttributeCount)'s name. */
  attributeNameAt(i: number): string {
    const s = this.shape;
    if (s.count !== SPILLED) return (i === 0 ? s.first : s.second)!;
    return (this.spilled as unknown[])[2 * i] as string;
  }

  /** Attribute `i` (< indexedAttributeCount)'s value. */
  attributeValueAt(i: number): unknown {
    if (this.shape.count !== SPILLED) return i === 0 ? this.v0 : this.v1;
    return (this.spilled as unknown[])[2 * i + 1];
  }

  /** Whether any attribute value has the method `name` (without an array of the values). */
  private anyValueWith(name: "sessionWillPassivate"): boolean {
    if (this.shape.count !== SPILLED) return hasMethod(this.v0, name) || hasMethod(this.v1, name);
    const a = this.spilled;
    if (!Array.isArray(a)) {
      for (const v of a.values()) if (hasMethod(v, name)) return true;
      return false;
    }
    for (let i = 1; i < a.length; i += 2) if (hasMethod(a[i], name)) return true;
    return false;
  }

  /** How many attributes the session holds. */
  get attributeCount(): number {
    const s = this.shape;
    if (s.count !== SPILLED) return s.count;
    const a = this.spilled;
    return Array.isArray(a) ? a.length / 2 : a.size;
  }

  /** Puts back a value read from storage, without events (activate() follows). */
  restoreAttribute(name: string, value: unknown): void {
    this.attrSet(name, value);
  }

  /** At request start; `now`: the manager's clock as the caller just read it. */
  access(now?: number): void {
    const settings = this.host.settings;
    this.thisAccessed = now ?? settings.now();
    if (settings.sessionActivityCheck) this.state += ONE_REQUEST;
  }

  /** At request end: the session is no longer new, and idle time starts counting. */
  endAccess(): void {
    this.state &= ~NEW;
    const settings = this.host.settings;
    const now = settings.now();
    if (settings.sessionLastAccessAtStart) {
      this.lastAccessed = this.thisAccessed;
      this.thisAccessed = now;
    } else {
      this.thisAccessed = this.lastAccessed = now;
    }
    if (settings.sessionActivityCheck && this.state >= ONE_REQUEST) this.state -= ONE_REQUEST;
  }

  idleTimeMs(now: number = this.host.settings.now()): number {
    const since = this.host.settings.sessionLastAccessAtStart ? this.lastAccessed : this.thisAccessed;
    return now - since;
  }

  /**
   * Tomcat's isValid(): expires the session (with notifications) when it has been idle too long.
   * A sweep over many sessions passes one `now` (reading the clock costs more than the check).
   */
  isValid(now?: number): boolean {
    if (!this.valid) return false;
    if (this.state & EXPIRING) return true;
    if (this.host.settings.sessionActivityCheck && this.state >= ONE_REQUEST) return true;
    if (this.hasTimedOut(now)) this.expire(true, now);
    return this.valid;
  }

  /** Whether it has been idle for its maxInactiveInterval or longer (what isValid expires it for). */
  hasTimedOut(now?: number): boolean {
    const max = this.maxInactive; // a getter: read once
    return max > 0 && Math.trunc(this.idleTimeMs(now) / 1000) >= max;
  }

  /**
   * sessionDestroyed (reverse order) while the session is still usable, then removal from the
   * manager, then every attribute removed (valueUnbound, attributeRemoved). Without `notify`
   * (a persisting stop) nothing is told.
   */
  expire(notify = true, now?: number): void {
    if (!this.valid || this.state & EXPIRING) return;
    this.state |= EXPIRING;
    if (notify) this.host.listeners.destroyed(this);
    this.state &= FLAG_BITS;
    this.host.removeSession(this, true, now);
    this.state &= ~(VALID | EXPIRING);
    if (!notify) {
      this.attrClear();
      return;
    }
    for (const name of this.attrNames()) this.removeAttributeInternal(name, notify);
  }

  /**
   * expire(false) without taking the session out of the manager or counting it (the manager
   * empties its map and counts many at once): it is invalid from now on, its attributes dropped.
   */
  expireSilently(): void {
    if (!this.valid || this.state & EXPIRING) return;
    this.state &= FLAG_BITS & ~VALID;
    this.attrClear();
  }

  /** Before the session is written out: sessionWillPassivate on every value that has it. */
  passivate(): void {
    // Most sessions hold no value that takes the event: then no array of values.
    if (!this.anyValueWith("sessionWillPassivate")) return;
    for (const value of this.attrValues()) {
      if ((typeof value !== "object" || value === null) && typeof value !== "function") continue;
      callValue(this.host.settings.name, value, "sessionWillPassivate", { session: this });
    }
  }

  /** After the session is read back: sessionDidActivate on every value that has it. */
  activate(): void {
    this.state &= FLAG_BITS;
    if (this.attributeCount === 0) return;
    for (const value of this.attrValues()) {
      if ((typeof value !== "object" || value === null) && typeof value !== "function") continue;
      callValue(this.host.settings.name, value, "sessionDidActivate", { session: this });
    }
  }

  removeAttributeInternal(name: string, notify: boolean): void {
    if (!this.attrHas(name)) return;
    const value = this.attrGet(name);
    this.attrDelete(name);
    if (!notify) return;
    const event: HttpSessionBindingEvent = { session: this, name, value };
    callValue(this.host.settings.name, value, "valueUnbound", event);
    if (this.host.listeners.anyAttribute) this.host.listeners.attributeRemoved(event);
  }

  toString(): string {
    return `StandardSession[${this.sessionId}]`;
  }

  private ensureValid(method: string): void {
    if (!this.valid) throw new SessionStateError(`${method}: Session already invalidated`);
  }
}
