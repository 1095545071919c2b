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
 * A session's constructor arguments, in order: id, creation time, last and this access times,
 * maxInactiveInterval (seconds), whether it is new. Passed one by one rather than as an object:
 * the manager's subclass (sessionClass) keeps the constructor from being inlined into
 * createSession, so an object of them would be allocated for every session made.
 */
export type SessionInit = [
  id: string,
  creationTime: number,
  lastAccessedTime: number,
  thisAccessedTime: number,
  maxInactiveInterval: number,
  isNew: boolean,
];

/**
 * The first two attributes live in the session's own fields (k0/v0, k1/v1: no other object);
 * with a third, all of them move to one flat array ([name, value, name, value, ...]), and beyond
 * this many to a Map (a Map of two takes about 250 bytes).
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

/** The principal and how it authenticated, in one object made on login: most sessions never have one. */
interface SessionAuth {
  user: Principal | null;
  type: string | null;
}

/**
 * Kept small, because a server holds many: twelve own fields, 112 bytes in JavaScriptCore (a
 * thirteenth makes it 160), and with up to two attributes no other object (see FLAT_ATTRIBUTES);
 * no closures or timers per session, the three state flags and the in-flight request count in
 * one number, the principal and auth type in one object made only on login. The manager is not
 * a field: each manager has its own subclass with the manager on the prototype (sessionClass()).
 */
export class StandardSession implements HttpSession {
  /** The manager (SessionHost), on the prototype of the manager's subclass. */
  declare protected readonly host: SessionHost;
  /**
   * null while the attributes fit in k0/v0 and k1/v1 (k1 is set only when k0 is); else every
   * attribute, in a flat [name, value, ...] array or a Map beyond FLAT_ATTRIBUTES.
   */
  private attrs: unknown[] | Map<string, unknown> | null = null;
  private k0: string | undefined = undefined;
  private v0: unknown = undefined;
  private k1: string | undefined = undefined;
  private v1: unknown = undefined;
  private sessionId: string;
  private created: number;
  private lastAccessed: number;
  private thisAccessed: number;
  private maxInactive: number;
  /** NEW | VALID | EXPIRING bits, plus ONE_REQUEST per request in flight. */
  private state: number;
  private auth: SessionAuth | null = null;

  constructor(
    id: string,
    creationTime: number,
    lastAccessedTime: number,
    thisAccessedTime: number,
    maxInactiveInterval: number,
    isNew: boolean,
  ) {
    this.sessionId = id;
    this.created = creationTime;
    this.lastAccessed = lastAccessedTime;
    this.thisAccessed = thisAccessedTime;
    this.maxInactive = toInt32(maxInactiveInterval);
    this.state = isNew ? NEW : 0;
  }

  // --- Attribute storage -------------------------------------------------------------------------

  private attrIndex(name: string): number {
    const a = this.attrs as unknown[];
    for (let i = 0; i < a.length; i += 2) if (a[i] === name) return i;
    return -1;
  }

  private attrHas(name: string): boolean {
    const a = this.attrs;
    if (a === null) return this.k0 === name || this.k1 === name;
    return Array.isArray(a) ? this.attrIndex(name) >= 0 : a.has(name);
  }

  private attrGet(name: string): unknown {
    const a = this.attrs;
    if (a === null) return this.k0 === name ? this.v0 : this.k1 === name ? this.v1 : undefined;
    if (!Array.isArray(a)) return a.get(name);
    const i = this.attrIndex(name);
    return i < 0 ? undefined : a[i + 1];
  }

  private attrSet(name: string, value: unknown): void {
    const a = this.attrs;
    if (a === null) {
      if (this.k0 === name) this.v0 = value;
      else if (this.k1 === name) this.v1 = value;
      else if (this.k0 === undefined) {
        this.k0 = name;
        this.v0 = value;
      } else if (this.k1 === undefined) {
        this.k1 = name;
        this.v1 = value;
      } else {
        this.attrs = [this.k0, this.v0, this.k1, this.v1, name, value];
        this.k0 =
          this.v0 =
          this.k1 =
          this.v1 =
            undefined;
      }
      return;
    }
    if (!Array.isArray(a)) {
      a.set(name, value);
      return;
    }
    const i = this.attrIndex(name);
    if (i >= 0) {
      a[i + 1] = value;
    } else if (a.length < 2 * FLAT_ATTRIBUTES) {
      // A new array of the exact size: push would leave spare capacity in every session.
      const next = new Array<unknown>(a.length + 2);
      for (let j = 0; j < a.length; j++) next[j] = a[j];
      next[a.length] = name;
      next[a.length + 1] = value;
      this.attrs = next;
    } else {
      const map = new Map<string, unknown>();
      for (let j = 0; j < a.length; j += 2) map.set(a[j] as string, a[j + 1]);
      map.set(name, value);
      this.attrs = map;
    }
  }

  private attrDelete(name: string): void {
    const a = this.attrs;
    if (a === null) {
      if (this.k0 === name) {
        // k1 moves up, so the names keep their order.
        this.k0 = this.k1;
        this.v0 = this.v1;
        this.k1 = this.v1 = undefined;
      } else if (this.k1 === name) {
        this.k1 = this.v1 = undefined;
      }
      return;
    }
    if (!Array.isArray(a)) {
      a.delete(name);
      return;
    }
    const i = this.attrIndex(name);
    if (i < 0) return;
    if (a.length === 2) this.attrs = null;
    else a.splice(i, 2);
  }

  /** Forgets every attribute, without events. */
  private attrClear(): void {
    this.attrs = null;
    this.k0 =
      this.v0 =
      this.k1 =
      this.v1 =
        undefined;
  }

  private attrNames(): string[] {
    const a = this.attrs;
    if (a === null) return this.k0 === undefined ? [] : this.k1 === undefined ? [this.k0] : [this.k0, this.k1];
    if (!Array.isArray(a)) return [...a.keys()];
    const names = new Array<string>(a.length / 2);
    for (let i = 0; i < a.length; i += 2) names[i / 2] = a[i] as string;
    return names;
  }

  private attrValues(): unknown[] {
    const a = this.attrs;
    if (a === null) return this.k0 === undefined ? [] : this.k1 === undefined ? [this.v0] : [this.v0, this.v1];
    if (!Array.isArray(a)) return [...a.values()];
    const values = new Array<unknown>(a.length / 2);
    for (let i = 0; i < a.length; i += 2) values[i / 2] = a[i + 1];
    return values;
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
    this.maxInactive = toInt32(seconds);
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
    return this.auth === null ? null : this.auth.user;
  }

  /** Kept as plain data (name and roles) so it can survive a restart when persistAuthentication is on. */
  set principal(p: Principal | null) {
    const user = p ? { name: String(p.name), roles: [...(p.roles ?? [])].map(String) } : null;
    this.setAuth(user, this.authType);
  }

  /** How the principal authenticated (BASIC, FORM, CLIENT_CERT, ...). */
  get authType(): string | null {
    return this.auth === null ? null : this.auth.type;
  }

  set authType(type: string | null) {
    this.setAuth(this.principal, type ?? null);
  }

  private setAuth(user: Principal | null, type: string | null): void {
    if (user === null && type === null) this.auth = null;
    else if (this.auth === null) this.auth = { user, type };
    else {
      this.auth.user = user;
      this.auth.type = type;
    }
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
    const a = this.attrs;
    if (a === null) {
      if (this.k0 === undefined) return [];
      return this.k1 === undefined ? [[this.k0, this.v0]] : [[this.k0, this.v0], [this.k1, this.v1]];
    }
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
    const a = this.attrs;
    if (a === null) return this.k0 === undefined ? 0 : this.k1 === undefined ? 1 : 2;
    return Array.isArray(a) ? a.length / 2 : -1;
  }

  /** Attribute `i` (< indexedAttributeCount)'s name. */
  attributeNameAt(i: number): string {
    const a = this.attrs;
    if (a === null) return (i === 0 ? this.k0 : this.k1)!;
    return (a as unknown[])[2 * i] as string;
  }

  /** Attribute `i` (< indexedAttributeCount)'s value. */
  attributeValueAt(i: number): unknown {
    const a = this.attrs;
    if (a === null) return i === 0 ? this.v0 : this.v1;
    return (a as unknown[])[2 * i + 1];
  }

  /** Whether any attribute value has the method `name` (without an array of the values). */
  private anyValueWith(name: "sessionWillPassivate"): boolean {
    const a = this.attrs;
    if (a === null) return hasMethod(this.v0, name) || hasMethod(this.v1, name);
    if (!Array.isArray(a)) {
      for (const v of a.values()) if (hasMethod(v, name)) return true;
      return false;
    }
    for (let i = 1; i < a.length; i += 2) if (hasMethod(a[i], name)) return true;
    return false;
  }

  /** How many attributes the session holds. */
  get attributeCount(): number {
    const a = this.attrs;
    if (a === null) return this.k0 === undefined ? 0 : this.k1 === undefined ? 1 : 2;
    return Array.isArray(a) ? a.length / 2 : a.size;
  }

  /** Puts back a value read from storage, without events (activate() follows). */
  restoreAttribute(name: string, value: unknown): void {
    this.attrSet(name, value);
  }

  /** At request start. */
  access(): void {
    this.thisAccessed = this.host.settings.now();
    if (this.host.settings.sessionActivityCheck) this.state += ONE_REQUEST;
  }

  /** At request end: the session is no longer new, and idle time starts counting. */
  endAccess(): void {
    this.state &= ~NEW;
    const now = this.host.settings.now();
    if (this.host.settings.sessionLastAccessAtStart) {
      this.lastAccessed = this.thisAccessed;
      this.thisAccessed = now;
    } else {
      this.thisAccessed = this.lastAccessed = now;
    }
    if (this.host.settings.sessionActivityCheck && this.state >= ONE_REQUEST) this.state -= ONE_REQUEST;
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
    if (this.maxInactive > 0 && Math.trunc(this.idleTimeMs(now) / 1000) >= this.maxInactive) this.expire(true, now);
    return this.valid;
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

/**
 * The session class of one manager: StandardSession with the manager on its prototype, so no
 * session spends a field on it.
 */
export function sessionClass(host: SessionHost): new (...init: SessionInit) => StandardSession {
  class ManagedSession extends StandardSession {}
  Object.defineProperty(ManagedSession.prototype, "host", { value: host });
  return ManagedSession;
}
