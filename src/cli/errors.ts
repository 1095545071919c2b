/** How the bobcat command prints what stopped it. */
import { BobcatError, BobcatErrors, UsageError } from "../util/errors.ts";

export function printError(e: unknown): void {
  if (e instanceof BobcatErrors) {
    console.error(`bobcat: ${e.message.split("\n")[0]}`);
    for (const err of e.errors) console.error("  " + err.format().replaceAll("\n", "\n  "));
  } else if (e instanceof BobcatError) {
    console.error(`bobcat: ${e.format()}`);
  } else if (e instanceof UsageError) {
    const cmd = e.command ? `bobcat ${e.command}` : "bobcat";
    console.error(`${cmd}: ${e.message}\nRun '${cmd} --help' for ${e.command ? "its options" : "usage"}.`);
  } else {
    console.error(`bobcat: unexpected error: ${(e as Error)?.stack ?? e}`);
  }
}
