/**
 * Reads YAML or TOML into plain data plus a locator that maps a config path
 * (`["server","services",0,"connectors",1,"port"]`) back to a line and column, so every
 * validation error can point at the place in the user's file.
 */

import type { ParsedSource, PathSeg } from "./source-types.ts";
import { plainLocate, type PlainNode, readPlainYaml, readPlainYamlNodes } from "./yaml-plain.ts";
import { BobcatError } from "../util/errors.ts";
export type { ParsedSource, PathSeg, Position } from "./source-types.ts";

/** A config path as the user reads it: `server.services[0].connectors[1].port`. */
export function formatPath(path: PathSeg[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

export function detectFormat(file: string, text: string): "yaml" | "toml" {
  if (/\.toml$/i.test(file)) return "toml";
  if (/\.ya?ml$/i.test(file)) return "yaml";
  // Unknown extension: TOML files start with a [table] or key = value.
  return /^\s*(\[|[A-Za-z0-9_.-]+\s*=)/m.test(text.split("\n").find((l) => l.trim() && !l.trim().startsWith("#")) ?? "")
    ? "toml"
    : "yaml";
}

export function parseSource(file: string, text: string): ParsedSource {
  const source = detectFormat(file, text) === "toml"
    ? tomlReader().parseTomlSource(file, text)
    : parseYamlSource(file, text);
  refuseProtoKey(source);
  return source;
}

/**
 * Every parser keeps a `__proto__` key as an own property, but any later copy of the tree
 * (`out[key] = value`) would set the copy's prototype instead and the entry would vanish without
 * a word (a property named so would be "not defined"): refused here, where its line is known.
 */
function refuseProtoKey(source: ParsedSource): void {
  const path = protoKeyPath(source.data, []);
  if (path === undefined) return;
  const at = source.locate(path, true);
  throw new BobcatError("config.key", `${formatPath(path)}: "__proto__" cannot be a key in a bobcat config`, {
    where: { file: source.file, ...(at ? { line: at.line, column: at.column } : {}) },
    fix: "rename the key (JavaScript gives __proto__ a meaning of its own; no attribute or property may be called so)",
  });
}

function protoKeyPath(v: unknown, path: PathSeg[]): PathSeg[] | undefined {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = protoKeyPath(v[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (v === null || typeof v !== "object") return undefined;
  if (Object.hasOwn(v, "__proto__")) return [...path, "__proto__"];
  for (const [k, x] of Object.entries(v)) {
    const found = protoKeyPath(x, [...path, k]);
    if (found) return found;
  }
  return undefined;
}

type FullYaml = typeof import("./source-yaml.ts");
/** Bun's built-in YAML parser (no positions), where there is one. */
const BUN_YAML = (globalThis as { Bun?: { YAML?: { parse(text: string): unknown } } }).Bun?.YAML;
let fullYaml: FullYaml | undefined;

/**
 * Where there is no Bun.YAML (Deno, Node, edge runtimes) the `yaml` reader is handed in
 * (yaml-reader.ts's loadConfigReaders, edge/handler.ts): it cannot be loaded synchronously. A
 * server loads it only when a config needs it: asked for before, the readers throw
 * ConfigReaderNotLoaded, and the async entry points load them and read the config again
 * (withConfigReaders).
 */
export function useYamlReader(reader: FullYaml): void {
  fullYaml = reader;
}

type TomlReader = typeof import("./source-toml.ts");
let toml: TomlReader | undefined;

/** The TOML reader (smol-toml), handed in where modules cannot be loaded synchronously, like the yaml reader. */
export function useTomlReader(reader: TomlReader): void {
  toml = reader;
}

function tomlReader(): TomlReader {
  if (toml) return toml;
  // Bun loads it synchronously. The CLI's build for Deno defines globalThis.Bun away, and with it
  // this require, which would otherwise put the module in the build's start-up graph.
  if ((globalThis as { Bun?: unknown }).Bun !== undefined) return (toml = require("./source-toml.ts") as TomlReader);
  throw new ConfigReaderNotLoaded("TOML");
}

/** A config needs the `yaml` or TOML reader before yaml-reader.ts's loadConfigReaders() loaded them. */
export class ConfigReaderNotLoaded extends Error {
  override name = "ConfigReaderNotLoaded";
  constructor(what: string) {
    super(`the ${what} reader is needed before loadConfigReaders() (src/config/yaml-reader.ts) loaded it`);
  }
}

export const NEEDS_YAML_READER = BUN_YAML === undefined;

function yamlReader(): FullYaml {
  if (fullYaml) return fullYaml;
  // Bun loads it synchronously; the bundle keeps it unevaluated until this call (and the CLI's
  // build for Deno has no such require: see tomlReader).
  if ((globalThis as { Bun?: unknown }).Bun !== undefined) return (fullYaml = require("./source-yaml.ts") as FullYaml);
  throw new ConfigReaderNotLoaded("YAML");
}

/**
 * YAML: a text of the plain subset bobcat configs are written in is read by yaml-plain.ts, which
 * also answers positions for it (the same the `yaml` package gives, tests/config/yaml-fast.test.ts),
 * and on Bun what that reader leaves (block scalars, continuation lines, ...) by Bun.YAML (nothing
 * to load either way); the `yaml` package (positions, exact error messages) is loaded only when a
 * position is asked for in a text Bun.YAML read, when neither reads the text, or when
 * the text uses anything where they could differ (anchors and aliases, merge keys, tags,
 * directives, several documents, complex or non-identifier keys, duplicate keys, hexadecimal or
 * octal numbers, multi-line flow collections or quoted strings, tabs, CR, a BOM). All give the
 * same data for the subset (tests/config/yaml-fast.test.ts). yaml-plain.ts goes first on Bun too:
 * Bun.YAML's parser is machine code of Bun that, once run, stays resident for the life of the
 * server (~0.5 MiB of idle RSS, bench/startup.ts --smaps), while yaml-plain.ts is a few small
 * functions of bobcat's own. On Deno and Node the `yaml` package takes the rest: its first parse
 * is a tenth of the start's CPU there.
 */
function parseYamlSource(file: string, text: string): ParsedSource {
  const plain = plainYamlNodes(text);
  if (plain) {
    const root = plain.root;
    return { file, format: "yaml", data: plain.data ?? {}, locate: (path, key) => plainLocate(root, path, key) };
  }
  const data = BUN_YAML ? fastYaml(BUN_YAML, text) : undefined;
  if (data === undefined) return yamlReader().parseYamlSource(file, text);
  let full: ParsedSource | undefined;
  return {
    file,
    format: "yaml",
    data,
    locate(path, key) {
      full ??= yamlReader().parseYamlSource(file, text);
      return full.locate(path, key);
    },
  };
}

/** yaml-plain.ts as a parser that throws where it does not answer, like Bun.YAML on a text it rejects. */
export const PLAIN_YAML = {
  parse(text: string): unknown {
    const data = readPlainYaml(text);
    if (data === undefined) throw new Error("not the plain YAML subset");
    return data;
  },
};

/**
 * yaml-plain.ts's reading of `text` and where its nodes are, when the text keeps to the plain
 * subset (fastYaml's checks), else undefined. The data is null for a text with no nodes.
 */
function plainYamlNodes(text: string): { data: unknown; root: PlainNode | undefined } | undefined {
  const keys = plainYamlKeyCount(text);
  if (keys === undefined) return undefined;
  const read = readPlainYamlNodes(text);
  return read && dataKeyCount(read.data) === keys ? read : undefined;
}

/** Bun.YAML's (or yaml-plain.ts's) reading of `text`, or undefined when the `yaml` package must read it. */
export function fastYaml(parser: { parse(text: string): unknown }, text: string): unknown {
  const keys = plainYamlKeyCount(text);
  if (keys === undefined) return undefined;
  let data: unknown;
  try {
    data = parser.parse(text);
  } catch {
    return undefined; // the yaml package reports the error with its position
  }
  // A duplicate key (the yaml package refuses it; Bun.YAML keeps the last) shows as a key fewer.
  return dataKeyCount(data) === keys ? (data ?? {}) : undefined;
}

function dataKeyCount(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + dataKeyCount(x), 0);
  if (v === null || typeof v !== "object") return 0;
  return Object.values(v).reduce((n: number, x) => n + 1 + dataKeyCount(x), 0);
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const NULL_KEY = /^(null|Null|NULL)$/;
const QUOTE_START = new Set([undefined, " ", "[", "{", ",", ":", "-"]);

/**
 * The number of mapping keys written in `text` when it keeps to the plain subset (block mappings
 * and sequences, one-line flow collections, plain and quoted scalars, block scalars, comments),
 * else undefined. The count is checked against Bun.YAML's result, so a line this scanner misreads
 * makes the two differ and the `yaml` package read the text.
 */
export function plainYamlKeyCount(text: string): number | undefined {
  if (/[\t\r\ufeff]/.test(text)) return undefined;
  let count = 0;
  let blockParent = -1; // inside a block scalar: the column its content must be indented past
  for (const raw of text.split("\n")) {
    const indent = raw.length - raw.trimStart().length;
    if (blockParent >= 0) {
      if (raw.trim() === "" || indent > blockParent) continue;
      blockParent = -1;
    }
    // The line with quoted strings emptied and the comment cut.
    let code = "";
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if ((c === '"' || c === "'") && QUOTE_START.has(raw[i - 1])) {
        let j = i + 1;
        for (; j < raw.length; j++) {
          if (c === '"' && raw[j] === "\\") j++;
          else if (raw[j] === c) {
            if (c === "'" && raw[j + 1] === "'") j++;
            else break;
          }
        }
        if (j >= raw.length) return undefined; // a quoted string over several lines
        code += '""';
        i = j;
      } else if (c === "#" && (i === 0 || raw[i - 1] === " ")) break;
      else code += c;
    }
    code = code.trimEnd();
    if (code.trim() === "") continue;
    if (/^(---|\.\.\.)(\s|$)/.test(code) || code.startsWith("%")) return undefined;
    if (/(^|[\s[{,])[&*!?@`%]/.test(code)) return undefined;
    // Hexadecimal and octal: Bun.YAML also reads -0x1F and +0o7 (strings to yaml) and not 0x + 17 digits.
    if (/(^|[\s[{,])[-+]?0[xXoO]/.test(code)) return undefined;
    let rest = code.slice(indent);
    let col = indent;
    let dash = indent; // the column of the last "- ": a block scalar item's content goes past it
    for (let m = /^-( +|$)/.exec(rest); m; m = /^-( +|$)/.exec(rest)) {
      dash = col;
      col += m[0].length;
      rest = rest.slice(m[0].length);
    }
    const km = /^(""|[^\s[\]{},:"'#][^:]*?) *:(?= |$)/.exec(rest);
    // A key this scanner does not read (`k::`, `a:b: c`) would go uncounted.
    if (!km && !/^[[{]/.test(rest) && /:(?= |$)/.test(rest)) return undefined;
    let value = rest;
    if (km) {
      const key = km[1]!;
      if (key !== '""' && (!PLAIN_KEY.test(key) || NULL_KEY.test(key))) return undefined;
      count++;
      value = rest.slice(km[0].length).trim();
    }
    if (/^[|>][0-9+-]*$/.test(value)) {
      blockParent = km ? col : dash;
      continue;
    }
    if (value.startsWith("[") || value.startsWith("{")) {
      const n = flowKeyCount(value);
      if (n === undefined) return undefined;
      count += n;
    }
  }
  return count;
}

/** Keys in a one-line flow collection (quoted strings already emptied), undefined if unsure. */
function flowKeyCount(value: string): number | undefined {
  const stack: string[] = [];
  let count = 0;
  let entry = "";
  let keyed = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    // In a flow mapping, an entry with no `key: ` before its end or a nested collection is a key
    // too (`{a:1}` is the key "a:1", `{a:{}}` the key "a:" ...): not counted, so left to the yaml package.
    const unkeyed = stack[stack.length - 1] === "{" && !keyed && entry.trim() !== "";
    if (c === "{" || c === "[") {
      if (unkeyed) return undefined;
      stack.push(c);
      entry = "";
      keyed = false;
    } else if (c === "}" || c === "]") {
      if (c === "}" && unkeyed) return undefined;
      if (stack.pop() !== (c === "}" ? "{" : "[")) return undefined;
      if (stack.length === 0 && value.slice(i + 1).trim() !== "") return undefined;
      entry = "";
      keyed = true;
    } else if (c === ",") {
      if (unkeyed) return undefined;
      entry = "";
      keyed = false;
    } else if (c === ":" && /^[\s,}\]]?$/.test(value[i + 1] ?? "")) {
      if (stack[stack.length - 1] !== "{" || keyed) return undefined;
      const key = entry.trim();
      if (key !== '""' && (!PLAIN_KEY.test(key) || NULL_KEY.test(key))) return undefined;
      count++;
      keyed = true;
    } else entry += c;
  }
  return stack.length === 0 ? count : undefined;
}
