/**
 * Tomcat's StandardSession: one HTTP session, its attributes, its timing, and the event order
 * of StandardSession.setAttribute / removeAttribute / expire.
 */
import { SessionArgumentError, SessionStateError } from "./errors.ts";
import { callValue, isBindingListener, type SessionListeners } from "./listeners.ts";
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
  /** Takes the session out of the manager; `expired` updates the expiry statistics. */
  removeSession(session: StandardSession, expired: boolean): void;
  /** Throws when `<distributable/>` is set and the value could not be persisted. */
  checkDistributable(name: string, value: unknown): void;
}

export interface SessionInit {
  id: string;
  creationTime: number;
  lastAccessedTime: number;
  thisAccessedTime: number;
  maxInactiveInterval: number;
  isNew: boolean;
}

/** Java's int, so the persisted form has a fixed range. */
function toInt32(seconds: number): number {
  return Math.max(-0x80000000, Math.min(0x7fffffff, Math.trunc(seconds)));
}

export class StandardSession implements HttpSession {
  private readonly host: SessionHost;
  private readonly attributes = new Map<string, unknown>();
  private sessionId: string;
  private created: number;
  private lastAccessed: number;
  private thisAccessed: number;
  private maxInactive: number;
  private fresh: boolean;
  private valid = false;
  private expiring = false;
  private accessCount = 0;
  private user: Principal | null = null;
  /** How the principal authenticated (BASIC, FORM, CLIENT_CERT, ...). */
  authType: string | null = null;

  constructor(host: SessionHost, init: SessionInit) {
    this.host = host;
    this.sessionId = init.id;
    this.created = init.creationTime;
    this.lastAccessed = init.lastAccessedTime;
    this.thisAccessed = init.thisAccessedTime;
    this.maxInactive = toInt32(init.maxInactiveInterval);
    this.fresh = init.isNew;
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
    return this.fresh;
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
    return this.attributes.get(name) as T | undefined;
  }

  getAttributeNames(): string[] {
    this.ensureValid("getAttributeNames");
    return [...this.attributes.keys()];
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
      (!Object.is(value, this.attributes.get(name)) || settings.config.notifyBindingListenerOnUnchangedValue)
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

    const had = this.attributes.has(name);
    const old = this.attributes.get(name);
    this.attributes.set(name, value);
    const unchanged = Object.is(old, value);
    if (had && isBindingListener(old) && (!unchanged || settings.config.notifyBindingListenerOnUnchangedValue)) {
      callValue(settings.name, old, "valueUnbound", { session: this, name, value: old });
    }
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
    return this.user;
  }

  /** Kept as plain data (name and roles) so it can survive a restart when persistAuthentication is on. */
  set principal(p: Principal | null) {
    this.user = p ? { name: String(p.name), roles: [...(p.roles ?? [])].map(String) } : null;
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
    return this.fresh;
  }

  /** Requests in flight, counted only when sessionActivityCheck is on. */
  get activeRequests(): number {
    return this.accessCount;
  }

  isValidInternal(): boolean {
    return this.valid;
  }

  setValid(valid: boolean): void {
    this.valid = valid;
  }

  /** Only the manager renames a session; it also re-keys its map. */
  setIdInternal(id: string): void {
    this.sessionId = id;
  }

  attributeEntries(): [string, unknown][] {
    return [...this.attributes];
  }

  /** Puts back a value read from storage, without events (activate() follows). */
  restoreAttribute(name: string, value: unknown): void {
    this.attributes.set(name, value);
  }

  /** At request start. */
  access(): void {
    this.thisAccessed = this.host.settings.now();
    if (this.host.settings.sessionActivityCheck) this.accessCount++;
  }

  /** At request end: the session is no longer new, and idle time starts counting. */
  endAccess(): void {
    this.fresh = false;
    const now = this.host.settings.now();
    if (this.host.settings.sessionLastAccessAtStart) {
      this.lastAccessed = this.thisAccessed;
      this.thisAccessed = now;
    } else {
      this.thisAccessed = this.lastAccessed = now;
    }
    if (this.host.settings.sessionActivityCheck) this.accessCount--;
  }

  idleTimeMs(): number {
    const since = this.host.settings.sessionLastAccessAtStart ? this.lastAccessed : this.thisAccessed;
    return this.host.settings.now() - since;
  }

  /** Tomcat's isValid(): expires the session (with notifications) when it has been idle too long. */
  isValid(): boolean {
    if (!this.valid) return false;
    if (this.expiring) return true;
    if (this.host.settings.sessionActivityCheck && this.accessCount > 0) return true;
    if (this.maxInactive > 0 && Math.trunc(this.idleTimeMs() / 1000) >= this.maxInactive) this.expire(true);
    return this.valid;
  }

  /**
   * sessionDestroyed (reverse order) while the session is still usable, then removal from the
   * manager, then every attribute removed (valueUnbound, attributeRemoved). Without `notify`
   * (a persisting stop) nothing is told.
   */
  expire(notify = true): void {
    if (!this.valid || this.expiring) return;
    this.expiring = true;
    if (notify) this.host.listeners.destroyed(this);
    this.accessCount = 0;
    this.host.removeSession(this, true);
    this.valid = false;
    this.expiring = false;
    for (const name of [...this.attributes.keys()]) this.removeAttributeInternal(name, notify);
  }

  /** Before the session is written out: sessionWillPassivate on every value that has it. */
  passivate(): void {
    for (const value of [...this.attributes.values()]) {
      callValue(this.host.settings.name, value, "sessionWillPassivate", { session: this });
    }
  }

  /** After the session is read back: sessionDidActivate on every value that has it. */
  activate(): void {
    this.accessCount = 0;
    for (const value of [...this.attributes.values()]) {
      callValue(this.host.settings.name, value, "sessionDidActivate", { session: this });
    }
  }

  removeAttributeInternal(name: string, notify: boolean): void {
    if (!this.attributes.has(name)) return;
    const value = this.attributes.get(name);
    this.attributes.delete(name);
    if (!notify) return;
    const event: HttpSessionBindingEvent = { session: this, name, value };
    callValue(this.host.settings.name, value, "valueUnbound", event);
    this.host.listeners.attributeRemoved(event);
  }

  toString(): string {
    return `StandardSession[${this.sessionId}]`;
  }

  private ensureValid(method: string): void {
    if (!this.valid) throw new SessionStateError(`${method}: Session already invalidated`);
  }
}
