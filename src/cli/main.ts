#!/usr/bin/env bun
/**
 * The `bobcat` command: run, check, store, acme, convert, keytool, ca, schema, version. Each
 * command's options are one table (src/cli/options.ts) that both the parser and its --help read.
 * Errors from config and TLS are printed as `file:line:col: path: message` with a fix, never as
 * a stack trace.
 */
import "./startup-jit.ts";
import { loadServerConfig } from "../config/catalina.ts";
import { redactSecrets } from "../config/redact.ts";
import type { BobcatConfig } from "../config/model.ts";
import { DEFAULT_CONFIG_NAME, DEFAULT_CONFIG_YAML } from "./default-config.ts";
import { UsageError } from "../util/errors.ts";
import { printError } from "./errors.ts";
import { VERSION } from "../version.ts";
import { RUNTIME, runtimeLabel } from "../util/runtime.ts";
import { checkConfig, startFromConfig, storeInit } from "./commands.ts";
import { Schema } from "../config/schema-json.ts";
import { watchParent } from "../runtime/parent-watch.ts";
import { ACME_COMMAND, acmeMain } from "./acme.ts";
import { type CommandDef, commandHelp, CONFIG_OPTIONS, parseCommand } from "./options.ts";
import { mark } from "../util/timing.ts";
import { args, exit } from "../util/host/proc.ts";

const RUN = {
  name: "run",
  summary: "start the server (default command)",
  about: `Starts the server and runs until SIGINT or SIGTERM (graceful stop: stop accepting,
finish requests in flight, persist sessions; a second signal exits at once).`,
  options: CONFIG_OPTIONS,
  properties: true,
} as const satisfies CommandDef;

const CHECK = {
  name: "check",
  summary: "validate a config, open its keystores, print the effective config",
  about: `Does everything 'run' does short of listening: validates the config, opens keystores,
checks passwords, aliases and chains, loads handler modules, and prints the effective
config (passwords masked). Exit status 0 when the config is usable, 1 otherwise.`,
  options: CONFIG_OPTIONS,
  properties: true,
} as const satisfies CommandDef;

const STORE = {
  name: "store",
  args: "init",
  positionals: { min: 1, max: 1 },
  summary: "store init: create the session table of each DataSourceStore (--print: show the SQL)",
  about: `Creates the session table (and its columns, as named by the DataSourceStore's sessionTable,
sessionIdCol, ... attributes) in the database of every context whose manager is a
PersistentManager with a DataSourceStore.`,
  options: {
    ...CONFIG_OPTIONS,
    print: {
      type: "boolean",
      description: "only print the CREATE TABLE statement for each database (SQLite, PostgreSQL, MySQL) " +
        "without connecting",
    },
  },
  properties: true,
} as const satisfies CommandDef;

const VERSION_CMD = {
  name: "version",
  summary: "print the version and runtime",
  about: "Prints bobcat's version and the runtime it runs on.",
  options: {},
} as const satisfies CommandDef;

const SCHEMA = {
  name: "schema",
  summary: "print the JSON Schema of the config file",
  about: "Prints the JSON Schema of the config file (also in config/server.schema.json).",
  options: {},
} as const satisfies CommandDef;

type ConfigCommand = typeof RUN | typeof CHECK | typeof STORE | typeof ACME_COMMAND;

/** Commands in the order `bobcat --help` lists them; those with their own parser take the raw arguments. */
const COMMANDS: Record<string, { summary: string; main(argv: string[], explicit: boolean): Promise<number> }> = {
  run: { summary: RUN.summary, main: (argv, explicit) => configCommand(RUN, argv, explicit) },
  check: { summary: CHECK.summary, main: (argv, explicit) => configCommand(CHECK, argv, explicit) },
  keytool: {
    summary: "manage keystores with Java keytool's flags (bobcat keytool -help)",
    main: async (argv) => (await import("./keytool/index.ts")).keytoolMain(argv),
  },
  ca: {
    summary: "a small CA for tests and development: issue certificates with OCSP URLs, CRLs",
    main: async (argv) => (await import("./ca.ts")).caMain(argv),
  },
  acme: { summary: ACME_COMMAND.summary, main: (argv, explicit) => configCommand(ACME_COMMAND, argv, explicit) },
  store: { summary: STORE.summary, main: (argv, explicit) => configCommand(STORE, argv, explicit) },
  convert: {
    summary: "translate a Tomcat server.xml into bobcat's YAML",
    main: async (argv) => (await import("./convert.ts")).convertMain(argv),
  },
  schema: { summary: SCHEMA.summary, main: (argv) => simpleCommand(SCHEMA, argv) },
  version: { summary: VERSION_CMD.summary, main: (argv) => simpleCommand(VERSION_CMD, argv) },
};

function mainHelp(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `bobcat ${VERSION} — a Tomcat-style web server for Bun and Deno

Usage: bobcat <command> [options]

Commands:
${rows.join("\n")}

Run 'bobcat <command> --help' for a command's options.
With no --config, bobcat runs its built-in default config (HTTP 8080 → HTTPS 8443,
a self-signed localhost certificate kept in the base directory).`;
}

export function loadFromArgs(
  command: string,
  values: { config?: string; base?: string },
  properties: Record<string, string>,
): Promise<BobcatConfig> {
  return loadServerConfig({
    config: values.config,
    base: values.base,
    properties,
    mode: command === "run" ? "run" : "check",
    builtin: { name: DEFAULT_CONFIG_NAME, yaml: DEFAULT_CONFIG_YAML },
  });
}

async function simpleCommand(def: typeof VERSION_CMD | typeof SCHEMA, argv: string[]): Promise<number> {
  const p = parseCommand(def, argv);
  if (p.help) console.log(commandHelp(def));
  else if (def.name === "schema") console.log(JSON.stringify(Schema(), null, 2));
  else {
    console.log(
      `bobcat ${VERSION} (${runtimeLabel()}, ${RUNTIME === "node" ? "node-compat" : "native + node-compat"} back-ends)`,
    );
  }
  return 0;
}

/** run, check, store, acme: options, --runtime node, then the config. */
async function configCommand(def: ConfigCommand, argv: string[], explicit: boolean): Promise<number> {
  const p = parseCommand(def, argv);
  if (p.help) {
    console.log(commandHelp(def));
    return 0;
  }
  const runtime = p.values.runtime;
  if (runtime && runtime !== RUNTIME) {
    if (runtime !== "node") {
      throw new UsageError(
        `--runtime ${runtime}: start bobcat with ${runtime} itself (bobcat's npm package has both: npx bobcat, or BOBCAT_RUNTIME=deno npx bobcat)`,
        def.name,
      );
    }
    // The Node launcher is loaded only for --runtime node.
    const { runUnderNode } = await import("./node-runtime.ts");
    return await runUnderNode([...(explicit ? [def.name] : []), ...p.without("runtime")]);
  }
  const load = () => loadFromArgs(def.name, p.values, p.properties);
  switch (def.name) {
    case "run": {
      const config = await load();
      mark("config loaded");
      return await startFromConfig(config, load);
    }
    case "check": {
      const config = await load();
      const ok = await checkConfig(config);
      if (ok) console.log((await import("../config/source-yaml.ts")).stringify(redactSecrets(config)));
      return ok ? 0 : 1;
    }
    case "store":
      if (p.positionals[0] !== "init") {
        throw new UsageError(`the only subcommand is init, not "${p.positionals[0]}"`, "store");
      }
      return await storeInit(await load(), (p.values as { print?: boolean }).print === true);
    case "acme":
      if (!["status", "renew", "revoke"].includes(p.positionals[0]!)) {
        throw new UsageError(`unknown subcommand "${p.positionals[0]}" (status, renew or revoke)`, "acme");
      }
      return await acmeMain(await load(), p.positionals[0], p.positionals[1]);
  }
}

export async function main(argv: string[]): Promise<number> {
  mark("modules loaded");
  watchParent();
  const explicit = argv[0] !== undefined && !argv[0].startsWith("-");
  const name = explicit ? argv[0]! : "run";
  const rest = explicit ? argv.slice(1) : argv;
  if (name === "help" || (!explicit && argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h"))) {
    // `bobcat help run` is `bobcat run --help`.
    if (name === "help" && rest[0] && COMMANDS[rest[0]]) return await main([rest[0], "--help"]);
    console.log(mainHelp());
    return 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) {
      throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")})`);
    }
    return await command.main(rest, explicit);
  } catch (e) {
    printError(e);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) {
  main(args()).then((code) => {
    mark("exiting");
    exit(code);
  });
}
