/**
 * Errors the session component throws. The names follow the Java exceptions Tomcat throws in the
 * same situations, so a Tomcat user recognises them in a log.
 */
import { BobcatError } from "../util/errors.ts";

/** Tomcat's IllegalStateException: using a session that has been invalidated or expired. */
export class SessionStateError extends BobcatError {
  constructor(
    message: string,
    code = "session.invalidated",
    fix = "Do not keep a session after invalidate(); call ctx.getSession() again to get a new one.",
  ) {
    super(code, message, { fix });
    this.name = "IllegalStateException";
  }
}

/** Tomcat's TooManyActiveSessionsException: the core answers the request with 503. */
export class TooManyActiveSessionsError extends SessionStateError {
  readonly maxActiveSessions: number;
  readonly managerName: string;
  constructor(maxActiveSessions: number, managerName: string) {
    super(
      "createSession: Too many active sessions",
      "session.tooManyActive",
      `Raise maxActiveSessions (now ${maxActiveSessions}) or lower the session timeout so idle sessions expire sooner.`,
    );
    this.name = "TooManyActiveSessionsException";
    this.maxActiveSessions = maxActiveSessions;
    this.managerName = managerName;
    this.where.attribute = "maxActiveSessions";
  }
}

/** Tomcat's IllegalArgumentException for bad setAttribute arguments (null name, non-serializable value). */
export class SessionArgumentError extends BobcatError {
  constructor(code: string, message: string, fix?: string) {
    super(code, message, { fix });
    this.name = "IllegalArgumentException";
  }
}

/** A value that cannot be written: a function, a symbol, an unregistered class instance, ... */
export class NotSerializableError extends BobcatError {
  /** Where inside the value the problem sits, e.g. `.cart.items[2]`; "" for the value itself. */
  path = "";
  readonly typeName: string;
  readonly reason: string;
  constructor(typeName: string, reason: string) {
    super("session.notSerializable", reason, {
      fix: typeName === "Function" || typeName === "Symbol"
        ? "Keep functions and symbols out of session attributes; store plain data."
        : `Store plain data, or register the class with registerSerializable("${typeName}", ${typeName}).`,
    });
    this.name = "NotSerializableException";
    this.typeName = typeName;
    this.reason = reason;
  }

  /** Records one more enclosing step as the error travels out of a container. */
  within(segment: string): this {
    this.path = segment + this.path;
    this.message = `at ${this.path}: ${this.reason}`;
    return this;
  }
}

/** Bytes that are not what this version of bobcat writes: truncated, corrupted, or foreign. */
export class CorruptDataError extends BobcatError {
  constructor(
    message: string,
    fix = "The data was not written by this version of bobcat or was damaged; it cannot be read.",
  ) {
    super("session.corruptData", message, { fix });
    this.name = "CorruptDataError";
  }
}

/** Data naming a registered class that this process has not registered (Java's ClassNotFoundException). */
export class UnknownClassError extends CorruptDataError {
  readonly className: string;
  constructor(className: string) {
    super(
      `class [${className}] is not registered`,
      `Call registerSerializable("${className}", ${className}) before the manager starts.`,
    );
    this.name = "ClassNotFoundException";
    this.className = className;
  }
}
