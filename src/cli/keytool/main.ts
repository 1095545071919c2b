/**
 * `bobcat keytool`: Java keytool's commands and flags for what the SSL/TLS how-to does with it,
 * on bobcat's own keystore code. Returns the exit code (0 ok, 1 error), as keytool does.
 */
import { BobcatError } from "../../util/errors.ts";
import { COMMANDS, KeytoolError, parseArgs, type ParsedArgs, UsageError } from "./args.ts";
import { certreq } from "./certreq.ts";
import type { Ctx } from "./context.ts";
import { changealias, deleteEntry, keypasswd, storepasswd } from "./entries.ts";
import { gencert } from "./gencert.ts";
import { genkeypair } from "./genkeypair.ts";
import { helpText } from "./help.ts";
import { importcert } from "./importcert.ts";
import { importkeystore } from "./importkeystore.ts";
import { defaultIO, type KeytoolIO, Prompter } from "./io.ts";
import { exportcert, list, printcert } from "./list.ts";

export type { KeytoolIO } from "./io.ts";

const HANDLERS: Record<keyof typeof COMMANDS, (ctx: Ctx) => Promise<number>> = {
  genkeypair,
  certreq,
  importcert,
  list,
  exportcert,
  delete: deleteEntry,
  changealias,
  storepasswd,
  keypasswd,
  importkeystore,
  gencert,
  printcert,
};

export async function keytoolMain(argv: string[], io: KeytoolIO = defaultIO()): Promise<number> {
  const line = (stream: KeytoolIO["stdout"]) => (s: string) => stream.write(s + "\n");
  let args: ParsedArgs | { help: true; command?: string };
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`${e.message}\n\n${helpText(e.command)}`);
    return 1;
  }
  if (args.help) {
    io.stdout.write(helpText(args.command));
    return 0;
  }
  const ctx: Ctx = { args, io, prompter: new Prompter(io), out: line(io.stdout), info: line(io.stderr) };
  try {
    return await HANDLERS[args.command](ctx);
  } catch (e) {
    if (e instanceof KeytoolError || e instanceof BobcatError) {
      io.stderr.write(`keytool error: ${e.message}\n${e.fix ? `  fix: ${e.fix}\n` : ""}`);
      return 1;
    }
    const err = e as Error & { code?: string };
    if (err?.code === "EACCES" || err?.code === "ENOENT" || err?.code === "EISDIR") {
      io.stderr.write(`keytool error: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}
