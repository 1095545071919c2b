/** A session change a store could not make durable (core/sessions.ts answers 503 without loading the stores). */
import { BobcatError } from "../util/errors.ts";
import { describeError } from "./manager-base.ts";

export class SessionNotStoredError extends BobcatError {
  constructor(what: string, cause: unknown) {
    super("session.notStored", `${what} could not be made durable: ${describeError(cause)}`, { cause });
    this.name = "SessionNotStoredError";
  }
}
