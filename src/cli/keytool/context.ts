/** What every keytool command gets: parsed arguments, I/O and prompts. */
import type { ParsedArgs } from "./args.ts";
import type { KeytoolIO, Prompter } from "./io.ts";

export interface Ctx {
  args: ParsedArgs;
  io: KeytoolIO;
  prompter: Prompter;
  /** A line on stdout. */
  out(line: string): void;
  /** A line on stderr: keytool's progress and status messages go there. */
  info(line: string): void;
}
