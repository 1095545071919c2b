/**
 * The session API handlers see, and the listener shapes a context registers. They mirror the
 * Servlet interfaces (HttpSession, HttpSessionListener, HttpSessionAttributeListener,
 * HttpSessionIdListener, HttpSessionBindingListener, HttpSessionActivationListener).
 */

export interface HttpSession {
  readonly id: string;
  readonly creationTime: number;
  readonly lastAccessedTime: number;
  readonly isNew: boolean;
  /** Seconds; <= 0 never expires. */
  maxInactiveInterval: number;
  getAttribute<T = unknown>(name: string): T | undefined;
  /** `undefined` or `null` removes the attribute, as Tomcat treats null. */
  setAttribute(name: string, value: unknown): void;
  removeAttribute(name: string): void;
  getAttributeNames(): string[];
  readonly attributeNames: string[];
  invalidate(): void;
}

/** The authenticated user of a session (a realm's GenericPrincipal, reduced to what survives a restart). */
export interface Principal {
  readonly name: string;
  readonly roles: readonly string[];
}

export interface HttpSessionEvent {
  readonly session: HttpSession;
}

export interface HttpSessionBindingEvent extends HttpSessionEvent {
  readonly name: string;
  /** The value added or removed; for attributeReplaced, the value that was replaced. */
  readonly value: unknown;
}

/**
 * What a context registers with `manager.addListener()`. Any subset of the methods may be present.
 * Created listeners run in registration order, destroyed listeners in reverse, as Tomcat does.
 */
export interface SessionListener {
  sessionCreated?(event: HttpSessionEvent): void;
  sessionDestroyed?(event: HttpSessionEvent): void;
  attributeAdded?(event: HttpSessionBindingEvent): void;
  attributeReplaced?(event: HttpSessionBindingEvent): void;
  attributeRemoved?(event: HttpSessionBindingEvent): void;
  sessionIdChanged?(event: HttpSessionEvent, oldSessionId: string): void;
}

/** Implemented by an attribute value that wants to know when it is put into or taken out of a session. */
export interface HttpSessionBindingListener {
  valueBound?(event: HttpSessionBindingEvent): void;
  valueUnbound?(event: HttpSessionBindingEvent): void;
}

/** Implemented by an attribute value that wants to know when its session is written out and read back. */
export interface HttpSessionActivationListener {
  sessionWillPassivate?(event: HttpSessionEvent): void;
  sessionDidActivate?(event: HttpSessionEvent): void;
}
