/** `bobcat convert SERVER.XML [-o OUT.yaml] [--context CONTEXT.XML]`: the command around src/config/convert.ts. */
import { readFile, writeFile } from "node:fs/promises";
import process from "node:process";
import { dirname, join, resolve } from "node:path";
import { catalinaBase, type ConvertResult, convertServerXml } from "../config/convert.ts";
import { loadXmlParser } from "../config/xml-parser.ts";
import { loadConfigText } from "../config/load.ts";
import { BobcatError, BobcatErrors, UsageError } from "../util/errors.ts";
import { type CommandDef, commandHelp, parseCommand } from "./options.ts";

/** `bobcat convert`'s arguments and options: the table its parser and its --help read. */
export const CONVERT_COMMAND = {
  name: "convert",
  args: "SERVER.XML",
  positionals: { min: 1, max: 1 },
  summary: "translate a Tomcat server.xml into bobcat's YAML",
  about: `Translates Tomcat's server.xml into bobcat's YAML config, element by element: Service →
services, Connector → connectors, SSLHostConfig → sslHostConfigs, Host → hosts, Context →
contexts, Manager → manager, ... Attribute names stay Tomcat's; values are typed (numbers,
booleans); \${...} references are kept, as bobcat expands the same syntax.

What bobcat has no counterpart for (Executor, AJP connectors, JNDIRealm, ...) becomes a
"# not converted:" comment in the output and a warning on standard error, except what restricts
access (a Realm, an authenticator or custom valve bobcat cannot honour): that is an
error naming the line, and nothing is written. The result is then loaded as 'bobcat run' would,
and anything still to fix is reported.`,
  options: {
    output: {
      type: "string",
      short: "o",
      value: "FILE",
      description: "write the YAML to FILE",
      default: "standard output",
    },
    context: {
      type: "string",
      value: "FILE",
      description: "Tomcat's conf/context.xml: its settings become defaults of every context",
    },
  },
  footer: "Exit status: 0 converted, 1 unreadable or malformed input, 2 usage error.",
} as const satisfies CommandDef;

/** `bobcat convert ...`; `argv` is what follows the word convert. */
export async function convertMain(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommand(CONVERT_COMMAND, argv);
  } catch (e) {
    if (e instanceof UsageError) return usage(e.message);
    throw e;
  }
  if (parsed.help) {
    console.log(commandHelp(CONVERT_COMMAND));
    return 0;
  }
  const input = parsed.positionals[0]!;
  const { output, context: contextFile } = parsed.values;
  if (output !== undefined && resolve(output) === resolve(input)) {
    return usage("the output would overwrite the server.xml; choose another -o file");
  }
  try {
    const xml = await readInput(input);
    const contextXml = contextFile === undefined ? undefined : await readInput(contextFile);
    let converted: ConvertResult;
    try {
      await loadXmlParser();
      converted = convertServerXml(xml, { file: input, contextXml, contextFile });
    } catch (e) {
      if (!(e instanceof BobcatErrors)) throw e;
      console.error(`bobcat: ${e.message.split("\n")[0]}:`);
      for (const err of e.errors) console.error(`  ${err.format().replaceAll("\n", "\n  ")}`);
      return 1;
    }
    const { yaml, warnings } = converted;
    for (const w of warnings) console.error(`bobcat: warning: ${w}`);
    if (output === undefined) process.stdout.write(yaml);
    else await writeFile(output, yaml);
    reportLoadProblems(yaml, output, input);
    return 0;
  } catch (e) {
    if (e instanceof BobcatError) {
      console.error(`bobcat: ${e.format()}`);
      return 1;
    }
    if (e instanceof BobcatErrors) {
      console.error(`bobcat: ${e.message.split("\n")[0]}; nothing was written`);
      for (const err of e.errors) console.error(`  ${err.format().replaceAll("\n", "\n  ")}`);
      return 1;
    }
    throw e;
  }
}

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BobcatError(
      "convert.notFound",
      `cannot read ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
      {
        where: { file },
        fix: code === "ENOENT"
          ? "check the path (relative paths are resolved against the current directory)"
          : "check the file's permissions",
      },
    );
  }
}

/** Loads the result as `bobcat run` would, so what still needs a hand is said now, not at start-up. */
function reportLoadProblems(yaml: string, output: string | undefined, input: string): void {
  const file = output ?? join(dirname(resolve(input)), "server.yaml");
  try {
    loadConfigText(file, yaml, { baseDir: catalinaBase(input) ?? dirname(resolve(input)) });
  } catch (e) {
    if (!(e instanceof BobcatErrors) && !(e instanceof BobcatError)) throw e;
    const errors = e instanceof BobcatErrors ? e.errors : [e];
    console.error(
      `bobcat: the converted config does not load yet; fix ${
        errors.length === 1 ? "this" : "these"
      } before running it:`,
    );
    for (const err of errors) console.error(`  ${err.format().replaceAll("\n", "\n  ")}`);
  }
}

function usage(message: string): number {
  console.error(`bobcat convert: ${message}\nRun 'bobcat convert --help' for usage.`);
  return 2;
}
