/**
 * A small reader for the plain YAML subset bobcat configs are written in, for runtimes without
 * Bun.YAML (Deno, Node). The `yaml` package's first parse of a config costs some 20 ms of CPU on
 * Deno (its lexer, parser and composer compiled and run cold), which is a tenth of the server's
 * start; this reader is a few small functions. It answers only for block mappings and sequences,
 * one-line flow collections and plain or quoted scalars resolved as the `yaml` package's core
 * schema resolves them; on anything else (block scalars, continuation lines, unusual escapes,
 * duplicate keys, odd indentation) it returns undefined and the `yaml` package reads the text.
 * source.ts runs plainYamlKeyCount first, which turns away anchors, tags, directives, documents
 * and complex keys.
 *
 * It also notes where each node and key is, so that a config it read can be given positions (the
 * line and column an error message names) as the `yaml` package's reading would give them
 * (plainLocate; tests/config/yaml-fast.test.ts compares the two): the `yaml` package is then not
 * loaded at all for a plain config, which on Deno is 1.4 MiB of idle RSS and ~40 ms of CPU at
 * every start (the package's module and its reader's, with their code cache and source maps).
 */
import type { PathSeg, Position } from "./source-types.ts";

/** Thrown inside the reader when the text leaves the subset; never escapes this module. */
const LEAVE = Symbol("not the plain subset");

/** A line's code (indentation, comment and trailing spaces cut), its 1-based number and its whole text. */
type Line = { indent: number; text: string; no: number; raw: string };

/**
 * Where a node starts, as the `yaml` package's node range does (1-based line and column), with a
 * mapping's keys (where each is, and its value's node) or a sequence's items.
 */
export interface PlainNode extends Position {
  entries?: Map<string, { key: Position; value: PlainNode }>;
  items?: PlainNode[];
}

const NULL_KEY = /^(null|Null|NULL)$/;

/** The data of `text` when this reader can read it exactly, else undefined. */
export function readPlainYaml(text: string): unknown {
  return readPlainYamlNodes(text)?.data;
}

/** The data of `text` and where its nodes are (root undefined for an empty text), or undefined. */
export function readPlainYamlNodes(text: string): { data: unknown; root: PlainNode | undefined } | undefined {
  if (/[\t\r\ufeff]/.test(text)) return undefined;
  try {
    const lines = codeLines(text);
    if (lines.length === 0) return { data: null, root: undefined };
    const r = new Reader(lines);
    const data = r.node(lines[0]!.indent);
    if (r.at < lines.length) return undefined;
    return { data, root: r.pos };
  } catch (e) {
    if (e === LEAVE) return undefined;
    throw e;
  }
}

/**
 * The position of the value at `path` (of its key when `key`), else of the nearest node on the
 * way there: what source-yaml.ts's locate answers for the same text.
 */
export function plainLocate(root: PlainNode | undefined, path: PathSeg[], key = false): Position | undefined {
  let node = root;
  let best: Position | undefined = root && at(root);
  for (let i = 0; i < path.length && node; i++) {
    const seg = path[i]!;
    if (node.entries) {
      const entry = node.entries.get(String(seg));
      if (!entry) return best;
      if (i === path.length - 1 && key) return at(entry.key);
      node = entry.value;
      best = at(node);
    } else if (node.items && typeof seg === "number") {
      node = node.items[seg];
      if (node) best = at(node);
    } else {
      return best;
    }
  }
  return best;
}

const at = (p: Position): Position => ({ line: p.line, column: p.column });

function leave(): never {
  throw LEAVE;
}

/** The non-blank lines with their comments cut (a `#` after a space or at the start, outside quotes). */
function codeLines(text: string): Line[] {
  const out: Line[] = [];
  const raws = text.split("\n");
  for (let no = 1; no <= raws.length; no++) {
    const raw = raws[no - 1]!;
    let end = raw.length;
    let quote = "";
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (quote) {
        if (quote === '"' && c === "\\") i++;
        else if (c === quote) quote = "";
      } else if ((c === '"' || c === "'") && (i === 0 || " [{,:-".includes(raw[i - 1]!))) quote = c;
      else if (c === "#" && (i === 0 || raw[i - 1] === " ")) {
        end = i;
        break;
      }
    }
    if (quote) leave(); // a quoted string over several lines
    const code = raw.slice(0, end).trimEnd();
    const body = code.trimStart();
    if (body === "") continue;
    if (/^(---|\.\.\.)(\s|$)|^%/.test(body)) leave(); // documents and directives
    out.push({ indent: code.length - body.length, text: body, no, raw });
  }
  return out;
}

/** Where the first character after `from` and the spaces that follow it is (an empty node's position). */
function afterSpaces(line: Line, from: number): Position {
  let i = from;
  while (line.raw[i] === " ") i++;
  return { line: line.no, column: i + 1 };
}

class Reader {
  at = 0;
  /** The position of the node the last call returned. */
  pos: PlainNode = { line: 1, column: 1 };
  constructor(private readonly lines: Line[]) {}

  /** The block node whose first line is the current one, at column `indent`. */
  node(indent: number): unknown {
    const line = this.lines[this.at]!;
    if (line.indent !== indent) leave();
    if (line.text === "-" || line.text.startsWith("- ")) return this.sequence(indent);
    if (keyOf(line.text)) return this.mapping(indent);
    // A lone scalar or flow collection as the whole node.
    this.at++;
    const r: Flow = { text: line.text, at: 0, base: line.indent, line: line.no, pos: this.pos };
    const value = inlineValue(r);
    this.pos = r.pos;
    this.noContinuation(indent - 1);
    return value;
  }

  private sequence(indent: number): unknown[] {
    const items: unknown[] = [];
    const first = this.lines[this.at]!;
    const pos: PlainNode = { line: first.no, column: first.indent + 1, items: [] };
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent) break;
      if (line.indent > indent) leave();
      if (line.text === "-") {
        this.at++;
        items.push(this.nested(indent, afterSpaces(line, line.indent + 1)));
        pos.items!.push(this.pos);
        continue;
      }
      if (!line.text.startsWith("- ")) break; // a key after a sequence written at its key's column
      const rest = line.text.slice(2).trimStart();
      // The item's content read as a node at its own column ("- a: 1" starts a mapping there).
      this.lines[this.at] = { ...line, indent: indent + (line.text.length - rest.length), text: rest };
      items.push(this.node(this.lines[this.at]!.indent));
      pos.items!.push(this.pos);
    }
    this.pos = pos;
    return items;
  }

  private mapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    const first = this.lines[this.at]!;
    const pos: PlainNode = { line: first.no, column: first.indent + 1, entries: new Map() };
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent) break;
      if (line.indent > indent) leave();
      const key = keyOf(line.text);
      if (key === undefined) leave();
      if (Object.hasOwn(map, key.name)) leave(); // the yaml package refuses duplicate keys
      this.at++;
      const after = line.text.slice(key.length);
      const rest = after.trim();
      let value: unknown;
      if (rest !== "") {
        const base = line.indent + key.length + (after.length - after.trimStart().length);
        const r: Flow = { text: rest, at: 0, base, line: line.no, pos: this.pos };
        value = inlineValue(r);
        this.pos = r.pos;
        this.noContinuation(indent);
      } else {
        const next = this.lines[this.at];
        // A sequence may be written at its key's column.
        if (next && next.indent === indent && (next.text === "-" || next.text.startsWith("- "))) {
          value = this.sequence(indent);
        } else value = this.nested(indent, afterSpaces(line, line.indent + key.length));
      }
      map[key.name] = value;
      pos.entries!.set(key.name, { key: { line: line.no, column: line.indent + 1 }, value: this.pos });
    }
    this.pos = pos;
    return map;
  }

  /** The value on the lines indented past `parent`, or null (at `empty`) when there are none. */
  private nested(parent: number, empty: Position): unknown {
    const next = this.lines[this.at];
    if (!next || next.indent <= parent) {
      this.pos = empty;
      return null;
    }
    return this.node(next.indent);
  }

  /** A value given on its line may not go on over more-indented lines (a multi-line plain scalar). */
  private noContinuation(parent: number): void {
    const next = this.lines[this.at];
    if (next && next.indent > parent) leave();
  }
}

/** The key of a `key: ...` line and the length of `key:`, if the line is one. */
function keyOf(text: string): { name: string; length: number } | undefined {
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*) *:(?= |$)/.exec(text);
  if (!m) {
    // Other keys (quoted, with spaces, numbers...): the yaml package.
    if (/^[^\s"'[\]{}][^:]*?:(?= |$)/.test(text)) leave();
    if ((text[0] === '"' || text[0] === "'") && /^ *:/.test(text.slice(quoted(text, 0).end))) leave();
    return undefined;
  }
  const name = m[1]!;
  if (NULL_KEY.test(name) || name === "__proto__") leave();
  return { name, length: m[0].length };
}

/** A value written on one line (`r.text`, from its start): a flow collection, a quoted or a plain scalar. */
function inlineValue(r: Flow): unknown {
  const text = r.text;
  const c = text[0]!;
  if (c === "[" || c === "{") {
    const value = flowNode(r);
    if (r.text.slice(r.at).trim() !== "") leave();
    return value;
  }
  r.pos = { line: r.line, column: r.base + 1 };
  if (c === '"' || c === "'") {
    const q = quoted(text, 0);
    if (text.slice(q.end).trim() !== "") leave();
    return q.value;
  }
  if ("&*!|>%@`?#,]}".includes(c) || /^[-:] |^[-:]$/.test(text) || /: | #|:$/.test(text)) leave();
  return plainScalar(text);
}

/**
 * A one-line value being read: its text, where the reading is, the column index of the text's
 * start in its line, the line's number, and the position of the node read last.
 */
type Flow = { text: string; at: number; base: number; line: number; pos: PlainNode };

function skipSpaces(r: Flow): void {
  while (r.text[r.at] === " ") r.at++;
}

function flowNode(r: Flow): unknown {
  skipSpaces(r);
  const c = r.text[r.at];
  const here = (): Position => ({ line: r.line, column: r.base + r.at + 1 });
  if (c === "[" || c === "{") {
    const close = c === "[" ? "]" : "}";
    const seq: unknown[] = [];
    const map: Record<string, unknown> = {};
    const pos: PlainNode = c === "[" ? { ...here(), items: [] } : { ...here(), entries: new Map() };
    r.at++;
    for (;;) {
      skipSpaces(r);
      if (r.text[r.at] === close) {
        r.at++;
        r.pos = pos;
        return c === "[" ? seq : map;
      }
      if (c === "{") {
        const m = /^([A-Za-z_][A-Za-z0-9_.-]*) *:(?=[ ,}]|$)/.exec(r.text.slice(r.at));
        if (!m) leave();
        const name = m[1]!;
        if (NULL_KEY.test(name) || name === "__proto__" || Object.hasOwn(map, name)) leave();
        const key = here();
        r.at += m[0].length;
        skipSpaces(r);
        if (r.text[r.at] === "," || r.text[r.at] === "}") {
          map[name] = null;
          r.pos = here();
        } else map[name] = flowNode(r);
        pos.entries!.set(name, { key, value: r.pos });
      } else {
        seq.push(flowNode(r));
        pos.items!.push(r.pos);
      }
      skipSpaces(r);
      if (r.text[r.at] === ",") r.at++;
      else if (r.text[r.at] !== close) leave();
    }
  }
  r.pos = here();
  if (c === '"' || c === "'") {
    const q = quoted(r.text, r.at);
    r.at = q.end;
    return q.value;
  }
  // A plain scalar in a flow collection ends at , ] or } (and may not hold a ": ").
  const m = /^[^,[\]{}]*/.exec(r.text.slice(r.at))!;
  const raw = m[0].trimEnd();
  if (raw === "" || "&*!|>%@`?#".includes(raw[0]!) || /^[-:]( |$)/.test(raw) || /:| #/.test(raw)) leave();
  r.at += m[0].length;
  return plainScalar(raw);
}

const ESCAPES: Record<string, string> = { "\\": "\\", '"': '"', "/": "/", n: "\n", t: "\t", r: "\r", "0": "\0" };

/** A quoted scalar starting at `start`: its value and where it ends. */
function quoted(text: string, start: number): { value: string; end: number } {
  const q = text[start]!;
  let value = "";
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === q) {
      if (q === "'" && text[i + 1] === "'") {
        value += "'";
        i++;
        continue;
      }
      return { value, end: i + 1 };
    }
    if (q === '"' && c === "\\") {
      const e = ESCAPES[text[i + 1]!];
      if (e === undefined) leave(); // \x, \u and the rest: the yaml package
      value += e;
      i++;
    } else value += c;
  }
  return leave();
}

const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** A plain scalar as the `yaml` package's core schema resolves it. */
function plainScalar(s: string): unknown {
  if (/^(?:~|[Nn]ull|NULL)$/.test(s)) return null;
  if (/^(?:[Tt]rue|TRUE)$/.test(s)) return true;
  if (/^(?:[Ff]alse|FALSE)$/.test(s)) return false;
  if (/^[-+]?[0-9]+$/.test(s)) return parseInt(s, 10);
  if (FLOAT.test(s)) return parseFloat(s);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(s)) return s[0] === "-" ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(s)) return NaN;
  if (/^[-+]?0[xXoO]/.test(s)) leave();
  return s;
}
