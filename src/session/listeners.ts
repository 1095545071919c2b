/**
 * Calls the listeners a context registered, and the binding/activation methods on attribute values.
 * A listener that throws (or returns a rejected promise) is logged and the rest still run, as in
 * Tomcat: one buggy listener must not break expiry or a request.
 */
import { logger } from "../util/log.ts";
import type { HttpSession, HttpSessionBindingEvent, HttpSessionEvent, SessionListener } from "./types.ts";

const log = logger("session");

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** Runs `call`, logging instead of throwing; `what` is Tomcat's wording for the kind of listener. */
function guarded(owner: string, what: string, call: () => unknown): void {
  const report = (err: unknown) => log.error(`${owner}: ${what} threw exception: ${describe(err)}`);
  try {
    const result = call();
    if (result && typeof (result as PromiseLike<unknown>).then === "function") {
      (result as PromiseLike<unknown>).then(undefined, report);
    }
  } catch (err) {
    report(err);
  }
}

type ValueMethod = "valueBound" | "valueUnbound" | "sessionWillPassivate" | "sessionDidActivate";

function method(value: unknown, name: ValueMethod): ((event: never) => unknown) | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  const fn = (value as Record<string, unknown>)[name];
  return typeof fn === "function" ? (fn as (event: never) => unknown) : undefined;
}

/** Whether `value` has the method `name` (callValue would call it). */
export function hasMethod(value: unknown, name: ValueMethod): boolean {
  return method(value, name) !== undefined;
}

/** HttpSessionBindingListener: a value with valueBound and/or valueUnbound. */
export function isBindingListener(value: unknown): boolean {
  return !!(method(value, "valueBound") || method(value, "valueUnbound"));
}

/** Calls `name` on the attribute value itself, if it has such a method. */
export function callValue(
  owner: string,
  value: unknown,
  name: ValueMethod,
  event: HttpSessionEvent | HttpSessionBindingEvent,
): void {
  const fn = method(value, name);
  if (!fn) return;
  const what = name.startsWith("value") ? "Session binding event listener" : "Session attribute event listener";
  guarded(owner, what, () => fn.call(value, event as never));
}

export class SessionListeners {
  private list: SessionListener[] = [];
  /**
   * Which kinds of event some listener takes. Every context registers one for sessionDestroyed
   * (the WebSocket sockets of a session), so "any listener at all" is nearly always true; these
   * let a new session or an attribute change skip building events nobody takes.
   */
  private onCreated = false;
  private onAttribute = false;

  constructor(private readonly owner: string) {}

  add(listener: SessionListener): void {
    this.list = [...this.list, listener];
    this.kinds();
  }

  remove(listener: SessionListener): void {
    this.list = this.list.filter((l) => l !== listener);
    this.kinds();
  }

  private kinds(): void {
    this.onCreated = this.list.some((l) => l.sessionCreated);
    this.onAttribute = this.list.some((l) => l.attributeAdded || l.attributeReplaced || l.attributeRemoved);
  }

  /** Whether any listener is registered. */
  get any(): boolean {
    return this.list.length > 0;
  }

  /** Whether a listener takes attributeAdded, attributeReplaced or attributeRemoved: callers skip building events when none does. */
  get anyAttribute(): boolean {
    return this.onAttribute;
  }

  created(session: HttpSession): void {
    if (!this.onCreated) return;
    const event = { session };
    for (const l of this.list) {
      if (l.sessionCreated) {
        guarded(this.owner, "Session event listener", () => l.sessionCreated!(event));
      }
    }
  }

  /** In reverse registration order, as the Servlet spec asks for destruction. */
  destroyed(session: HttpSession): void {
    if (this.list.length === 0) return;
    const event = { session };
    for (const l of [...this.list].reverse()) {
      if (l.sessionDestroyed) guarded(this.owner, "Session event listener", () => l.sessionDestroyed!(event));
    }
  }

  attributeAdded(event: HttpSessionBindingEvent): void {
    if (!this.onAttribute) return;
    for (const l of this.list) {
      if (l.attributeAdded) {
        guarded(this.owner, "Session attribute event listener", () => l.attributeAdded!(event));
      }
    }
  }

  attributeReplaced(event: HttpSessionBindingEvent): void {
    if (!this.onAttribute) return;
    for (const l of this.list) {
      if (l.attributeReplaced) {
        guarded(this.owner, "Session attribute event listener", () => l.attributeReplaced!(event));
      }
    }
  }

  attributeRemoved(event: HttpSessionBindingEvent): void {
    if (!this.onAttribute) return;
    for (const l of this.list) {
      if (l.attributeRemoved) guarded(this.owner, "Session attribute event listener", () => l.attributeRemoved!(event));
    }
  }

  idChanged(session: HttpSession, oldId: string): void {
    if (this.list.length === 0) return;
    const event = { session };
    for (const l of this.list) {
      if (l.sessionIdChanged) guarded(this.owner, "Session event listener", () => l.sessionIdChanged!(event, oldId));
    }
  }
}
