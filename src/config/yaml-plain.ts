/**
 * A small reader for the plain YAML subset bobcat configs are written in, for runtimes without
 * Bun.YAML (Deno, Node). The `yaml` package's first parse of a config costs some 20 ms of CPU on
 * Deno (its lexer, parser and composer compiled and run cold), which is a tenth of the server's
 * start; this reader is a few small functions. It answers only for block mappings and sequences,
 * one-line flow collections and plain or quoted scalars resolved as the `yaml` package's core
 * schema resolves them; on anything else (block scalars, continuation lines, unusual escapes,
 * duplicate keys, odd indentation) it returns undefined and the `yaml` package reads the text,
 * as it always does for positions and error messages. source.ts runs plainYamlKeyCount first,
 * which turns away anchors, tags, directives, documents and complex keys.
 */

/** Thrown inside the reader when the text leaves the subset; never escapes this module. */
const LEAVE = Symbol("not the plain subset");

type Line = { indent: number; text: string };

const NULL_KEY = /^(null|Null|NULL)$/;

/** The data of `text` when this reader can read it exactly, else undefined. */
export function readPlainYaml(text: string): unknown {
  if (/[\t\r\ufeff]/.test(text)) return undefined;
  try {
    const lines = codeLines(text);
    if (lines.length === 0) return null;
    const r = new Reader(lines);
    const value = r.node(lines[0]!.indent);
    if (r.at < lines.length) return undefined;
    return value;
  } catch (e) {
    if (e === LEAVE) return undefined;
    throw e;
  }
}

function leave(): never {
  throw LEAVE;
}

/** The non-blank lines with their comments cut (a `#` after a space or at the start, outside quotes). */
function codeLines(text: string): Line[] {
  const out: Line[] = [];
  for (const raw of text.split("\n")) {
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
    out.push({ indent: code.length - body.length, text: body });
  }
  return out;
}

class Reader {
  at = 0;
  constructor(private readonly lines: Line[]) {}

  /** The block node whose first line is the current one, at column `indent`. */
  node(indent: number): unknown {
    const line = this.lines[this.at]!;
    if (line.indent !== indent) leave();
    if (line.text === "-" || line.text.startsWith("- ")) return this.sequence(indent);
    if (keyOf(line.text)) return this.mapping(indent);
    // A lone scalar or flow collection as the whole node.
    this.at++;
    const value = inlineValue(line.text);
    this.noContinuation(indent - 1);
    return value;
  }

  private sequence(indent: number): unknown[] {
    const items: unknown[] = [];
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent) break;
      if (line.indent > indent) leave();
      if (line.text === "-") {
        this.at++;
        items.push(this.nested(indent));
        continue;
      }
      if (!line.text.startsWith("- ")) break; // a key after a sequence written at its key's column
      const rest = line.text.slice(2).trimStart();
      // The item's content read as a node at its own column ("- a: 1" starts a mapping there).
      this.lines[this.at] = { indent: indent + (line.text.length - rest.length), text: rest };
      items.push(this.node(this.lines[this.at]!.indent));
    }
    return items;
  }

  private mapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent) break;
      if (line.indent > indent) leave();
      const key = keyOf(line.text);
      if (key === undefined) leave();
      if (Object.hasOwn(map, key.name)) leave(); // the yaml package refuses duplicate keys
      this.at++;
      const rest = line.text.slice(key.length).trim();
      let value: unknown;
      if (rest !== "") {
        value = inlineValue(rest);
        this.noContinuation(indent);
      } else {
        const next = this.lines[this.at];
        // A sequence may be written at its key's column.
        if (next && next.indent === indent && (next.text === "-" || next.text.startsWith("- "))) {
          value = this.sequence(indent);
        } else value = this.nested(indent);
      }
      map[key.name] = value;
    }
    return map;
  }

  /** The value on the lines indented past `parent`, or null when there are none. */
  private nested(parent: number): unknown {
    const next = this.lines[this.at];
    if (!next || next.indent <= parent) return null;
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

/** A value written on one line: a flow collection, a quoted or a plain scalar. */
function inlineValue(text: string): unknown {
  const c = text[0]!;
  if (c === "[" || c === "{") {
    const r = { text, at: 0 };
    const value = flowNode(r);
    if (r.text.slice(r.at).trim() !== "") leave();
    return value;
  }
  if (c === '"' || c === "'") {
    const q = quoted(text, 0);
    if (text.slice(q.end).trim() !== "") leave();
    return q.value;
  }
  if ("&*!|>%@`?#,]}".includes(c) || /^[-:] |^[-:]$/.test(text) || /: | #|:$/.test(text)) leave();
  return plainScalar(text);
}

type Flow = { text: string; at: number };

function skipSpaces(r: Flow): void {
  while (r.text[r.at] === " ") r.at++;
}

function flowNode(r: Flow): unknown {
  skipSpaces(r);
  const c = r.text[r.at];
  if (c === "[" || c === "{") {
    const close = c === "[" ? "]" : "}";
    const seq: unknown[] = [];
    const map: Record<string, unknown> = {};
    r.at++;
    for (;;) {
      skipSpaces(r);
      if (r.text[r.at] === close) {
        r.at++;
        return c === "[" ? seq : map;
      }
      if (c === "{") {
        const m = /^([A-Za-z_][A-Za-z0-9_.-]*) *:(?=[ ,}]|$)/.exec(r.text.slice(r.at));
        if (!m) leave();
        const name = m[1]!;
        if (NULL_KEY.test(name) || name === "__proto__" || Object.hasOwn(map, name)) leave();
        r.at += m[0].length;
        skipSpaces(r);
        map[name] = r.text[r.at] === "," || r.text[r.at] === "}" ? null : flowNode(r);
      } else {
        seq.push(flowNode(r));
      }
      skipSpaces(r);
      if (r.text[r.at] === ",") r.at++;
      else if (r.text[r.at] !== close) leave();
    }
  }
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
