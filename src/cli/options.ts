/**
 * One option table per command, read by the parser (the arguments split as node:util's
 * `parseArgs` splits them, src/cli/arg-tokens.ts) and by the command's `--help`, so the two cannot disagree. Every command gets `-h, --help`;
 * commands that read a config also take Tomcat's `-Dname=value` properties. An option the table
 * does not have, a value missing or given to a flag, or a stray word is a UsageError naming the
 * option and the command, which the CLI prints with a pointer to that command's `--help`.
 */
import { argTokens } from "./arg-tokens.ts";
import { UsageError } from "../util/errors.ts";

export interface OptionDef {
  readonly type: "string" | "boolean";
  /** One-letter alias: `-c` for `--config`. */
  readonly short?: string;
  /** The value's placeholder in help and messages: FILE, DIR, N. */
  readonly value?: string;
  /** May be given more than once; the values are collected in order. */
  readonly multiple?: boolean;
  /** The command refuses to run without it. */
  readonly required?: boolean;
  /** One or more sentences for `--help`. */
  readonly description: string;
  /** What applies when the option is not given, as `--help` states it. */
  readonly default?: string;
}

export interface CommandDef {
  /** As typed after `bobcat`: "run", "ca issue". */
  readonly name: string;
  /** The words after the command and its options in the usage line: "SERVER.XML", "init". */
  readonly args?: string;
  /** How many words (positionals) the command takes. */
  readonly positionals?: { readonly min: number; readonly max: number };
  /** One line for `bobcat --help` and a sub-command list. */
  readonly summary: string;
  /** Paragraphs for the command's `--help`, after the usage line. */
  readonly about?: string;
  readonly options: Readonly<Record<string, OptionDef>>;
  /** Takes `-Dname=value` properties for `${name}` expansion in the config. */
  readonly properties?: boolean;
  /** Text after the options in `--help`. */
  readonly footer?: string;
}

type ValueOf<O extends OptionDef> = O["type"] extends "boolean" ? boolean
  : O["multiple"] extends true ? string[]
  : string;

export type OptionValues<D extends CommandDef> = { -readonly [K in keyof D["options"]]?: ValueOf<D["options"][K]> };

export interface ParsedCommand<D extends CommandDef = CommandDef> {
  values: OptionValues<D>;
  positionals: string[];
  /** `-Dname=value` properties, in order (a later one wins). */
  properties: Record<string, string>;
  /** `-h` or `--help` was given: print `commandHelp(def)` and do nothing else. */
  help: boolean;
  /** The arguments with the named options taken out (for handing the rest to another process). */
  without(...names: string[]): string[];
}

/** The options of every command that reads a config: run, check, store, acme. */
export const CONFIG_OPTIONS = {
  config: {
    type: "string",
    short: "c",
    value: "FILE",
    description: "YAML or TOML config, or Tomcat's server.xml as it is",
    default: "the config in --base, else the built-in config/server.yaml",
  },
  base: {
    type: "string",
    short: "b",
    value: "DIR",
    description: "base directory, like $CATALINA_BASE: relative paths in the config resolve against it. " +
      "Without --config, its conf/bobcat.yaml, conf/server.yaml (or .toml) or conf/server.xml is run: " +
      "a Tomcat CATALINA_BASE runs as it is, webapps/ deployed, web.xml read",
    default: "the config file's directory, or the current directory for the built-in config",
  },
  runtime: {
    type: "string",
    value: "node",
    description: "run under Node (>= 20.16) instead: the only TLS stack that staples OCSP responses and " +
      "restricts TLS 1.3 cipher suites",
  },
} as const satisfies Record<string, OptionDef>;

const HELP: OptionDef = { type: "boolean", short: "h", description: "this help" };

/** Parses `argv` (what follows the command's words) against the command's option table. */
export function parseCommand<D extends CommandDef>(def: D, argv: readonly string[]): ParsedCommand<D> {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(def.options)) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), multiple: o.multiple ?? false };
  }
  options.help = { type: "boolean", short: "h" };
  if (def.properties) options.D = { type: "string", short: "D", multiple: true };
  // Not strict: every token is checked below, so the messages are bobcat's on every runtime.
  const tokens = argTokens(argv, options);
  const fail = (message: string): never => {
    throw new UsageError(message, def.name);
  };
  const known = new Set(
    Object.keys(options).flatMap((n) => [`--${n}`, options[n]!.short ? `-${options[n]!.short}` : ""]),
  );
  const values: Record<string, string | boolean | string[]> = {};
  const properties: Record<string, string> = {};
  const positionals: string[] = [];
  const spans: { name: string; from: number; to: number }[] = [];
  let help = false;
  for (const t of tokens) {
    if (t.kind === "option-terminator") continue;
    if (t.kind === "positional") {
      positionals.push(t.value);
      continue;
    }
    const spec = options[t.name];
    if (!spec || t.rawName === "--D") fail(`unknown option ${t.rawName}`);
    spans.push({ name: t.name, from: t.index, to: t.index + (t.value !== undefined && !t.inlineValue ? 2 : 1) });
    if (t.name === "help") {
      if (t.value !== undefined) fail(`${t.rawName} takes no value`);
      help = true;
      continue;
    }
    if (spec!.type === "boolean") {
      if (t.value !== undefined) fail(`${t.rawName} takes no value (write ${t.rawName} alone)`);
      values[t.name] = true;
      continue;
    }
    // A short option written -c=FILE means FILE, as --config=FILE does.
    let value = t.inlineValue && !t.rawName.startsWith("--") && t.name !== "D" ? t.value?.replace(/^=/, "") : t.value;
    const placeholder = def.options[t.name]?.value ?? "VALUE";
    if (value === undefined || value === "" || (!t.inlineValue && (value.startsWith("--") || known.has(value)))) {
      if (t.name === "D") fail(`${t.rawName} needs a property: write -Dname=value`);
      fail(`${t.rawName} needs a value: ${t.rawName} ${placeholder}`);
    }
    value = value!;
    if (t.name === "D") {
      const eq = value.indexOf("=");
      if (eq < 1) fail(`-D${value}: write -Dname=value`);
      // Assigning __proto__ would set the object's prototype and the property would vanish.
      if (value.slice(0, eq) === "__proto__") fail(`-D${value}: __proto__ cannot be a property name; rename it`);
      properties[value.slice(0, eq)] = value.slice(eq + 1);
    } else if (spec!.multiple) {
      ((values[t.name] ??= []) as string[]).push(value);
    } else {
      if (t.name in values && values[t.name] !== value) fail(`${t.rawName} is given twice`);
      values[t.name] = value;
    }
  }
  if (!help) {
    const { min, max } = def.positionals ?? { min: 0, max: 0 };
    if (positionals.length > max) {
      fail(
        max === 0
          ? `unexpected argument "${positionals[0]}" (options start with -)`
          : `unexpected argument "${positionals[max]}" after ${positionals.slice(0, max).join(" ")}`,
      );
    }
    if (positionals.length < min) fail(`missing argument: ${def.args ?? "see --help"}`);
    for (const [name, o] of Object.entries(def.options)) {
      if (o.required && values[name] === undefined) fail(`--${name} is required`);
    }
  }
  return {
    values: values as OptionValues<D>,
    positionals,
    properties,
    help,
    without: (...names) => argv.filter((_, i) => !spans.some((s) => names.includes(s.name) && i >= s.from && i < s.to)),
  };
}

const WIDTH = 100;

/** Words of `text` in lines that end by column WIDTH, each starting at column `indent`. */
export function wrap(text: string, indent: number, first = WIDTH): string[] {
  const lines: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    let room = (lines.length === 0 ? first : WIDTH) - indent;
    for (const word of para.split(" ")) {
      if (line && line.length + 1 + word.length > room) {
        lines.push(line);
        line = word;
        room = WIDTH - indent;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

/** `-c, --config FILE` */
function flagText(name: string, o: OptionDef): string {
  const long = `--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

/**
 * The usage line after "bobcat ": the command, its words, then every option from the table, in
 * lines that end by column WIDTH (an option and its value stay on one line); later lines start at
 * `indent`.
 */
export function synopsis(def: CommandDef, first = 0, indent = 4): string[] {
  const opt = ([n, o]: [string, OptionDef]) => `--${n}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
  const entries = Object.entries(def.options);
  const units = [
    def.name,
    def.args,
    ...entries.filter(([, o]) => o.required).map(opt),
    ...entries.filter(([, o]) => !o.required).map((e) => `[${opt(e)}]`),
    def.properties ? "[-Dname=value ...]" : "",
  ].filter((u): u is string => !!u);
  // A no-break space keeps each unit whole through wrap().
  return wrap(units.map((u) => u.replaceAll(" ", "\u00a0")).join(" "), indent, WIDTH - first + indent)
    .map((l) => l.replaceAll("\u00a0", " "));
}

/** The option rows of `--help`, from the table, indented by `indent`; `help: false` leaves out -h. */
export function optionsHelp(def: CommandDef, { indent = 2, help = true } = {}): string {
  const rows: [string, string][] = Object.entries(def.options).map(([name, o]) => [
    flagText(name, o),
    `${o.description}${o.multiple ? " (may repeat)" : ""}${o.default ? ` (default: ${o.default})` : ""}`,
  ]);
  if (def.properties) {
    rows.push([
      "-Dname=value",
      "defines a property for ${name} in the config, as Tomcat's -D system properties do (wins over the file's; may repeat)",
    ]);
  }
  if (help) rows.push([flagText("help", HELP), HELP.description]);
  const col = Math.min(Math.max(...rows.map(([f]) => f.length)) + indent + 2, 28 + indent);
  const pad = " ".repeat(indent);
  return rows.map(([flag, text]) => {
    const lines = wrap(text, col, WIDTH);
    const head = flag.length + indent >= col ? [`${pad}${flag}`, " ".repeat(col) + lines.shift()] : [
      `${pad}${flag.padEnd(col - indent)}${lines.shift()}`,
    ];
    return [...head, ...lines.map((l) => " ".repeat(col) + l)].join("\n");
  }).join("\n");
}

/** A command's `--help`: usage, what it does, the options from its table. */
export function commandHelp(def: CommandDef): string {
  return [
    `Usage: bobcat ${synopsis(def, 14, 14 + def.name.length).join(`\n${" ".repeat(14 + def.name.length)}`)}`,
    def.about ?? def.summary,
    `Options:\n${optionsHelp(def)}`,
    ...(def.footer ? [def.footer] : []),
  ].join("\n\n");
}
