/**
 * Reads YAML or TOML into plain data plus a locator that maps a config path
 * (`["server","services",0,"connectors",1,"port"]`) back to a line and column, so every
 * validation error can point at the place in the user's file.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node as YamlNode, parseDocument, visit } from "yaml";
import { parse as parseToml, TomlError } from "smol-toml";
import { BobcatError } from "../util/errors.ts";

export type PathSeg = string | number;
export interface Position {
  line: number;
  column: number;
}
export interface ParsedSource {
  file: string;
  format: "yaml" | "toml";
  data: unknown;
  /** Position of the value at `path` (or of its key when `key` is true); nearest ancestor if unknown. */
  locate(path: PathSeg[], key?: boolean): Position | undefined;
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
  return detectFormat(file, text) === "toml" ? parseTomlSource(file, text) : parseYamlSource(file, text);
}

function parseYamlSource(file: string, text: string): ParsedSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lineCounter.linePos(e.pos[0]);
    throw new BobcatError("config.syntax", `YAML syntax error: ${e.message.split("\n")[0]}`, {
      where: { file, line: pos.line, column: pos.col },
      fix: "correct the YAML syntax at this position (indentation, a missing colon, or an unquoted special character)",
    });
  }
  const toPos = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return {
    file,
    format: "yaml",
    data: yamlData(doc, file, toPos),
    locate(path, key = false) {
      let node: YamlNode | null | undefined = doc.contents as YamlNode | null;
      let best: Position | undefined = node?.range ? toPos(node.range[0]) : undefined;
      for (let i = 0; i < path.length && node; i++) {
        const seg = path[i]!;
        const last = i === path.length - 1;
        if (isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
          if (!pair) return best;
          const k = pair.key as YamlNode;
          if (last && key && k.range) return toPos(k.range[0]);
          node = pair.value as YamlNode | null;
          const r = node?.range ?? k.range;
          if (r) best = toPos(r[0]);
        } else if (isSeq(node) && typeof seg === "number") {
          node = node.items[seg] as YamlNode | undefined;
          if (node?.range) best = toPos(node.range[0]);
        } else {
          return best;
        }
      }
      return best;
    },
  };
}

/** yaml's own limit: an alias whose expansion (aliases within aliases counted) exceeds it is refused. */
export const MAX_YAML_ALIAS_COUNT = 100;

/**
 * The document as plain data. Aliases are bounded ("billion laughs": a few lines of nested
 * aliases would otherwise expand to gigabytes in every later walk of the tree); the alias that
 * crosses the limit is reported with its line.
 */
function yamlData(doc: ReturnType<typeof parseDocument>, file: string, toPos: (offset: number) => Position): unknown {
  let current: YamlNode | undefined;
  // Remember which alias is being resolved when yaml gives up (its error carries no position).
  visit(doc, {
    Alias(_key, node) {
      const own = node.toJSON.bind(node);
      Object.defineProperty(node, "toJSON", {
        value: (arg: unknown, ctx: unknown) => {
          current = node;
          return own(arg, ctx as never);
        },
      });
    },
  });
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT }) ?? {};
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    const pos = current?.range ? toPos(current.range[0]) : undefined;
    const name = current && isAlias(current) ? ` *${current.source}` : "";
    const bomb = /excessive alias count/i.test(e.message);
    throw new BobcatError(
      "config.syntax",
      bomb
        ? `YAML alias${name} expands to too many nodes (aliases of aliases, more than ${MAX_YAML_ALIAS_COUNT}): refused as a resource exhaustion attack`
        : `YAML error: ${e.message}`,
      {
        where: { file, line: pos?.line, column: pos?.column },
        fix: bomb
          ? "write the values out instead of nesting aliases of aliases"
          : "define the anchor (&name) before the alias (*name) that uses it",
      },
    );
  }
}

/**
 * smol-toml gives no positions, so the locator re-reads the text: it tracks the current
 * `[table]` / `[[array]]` header and records where each `key =` line sits. Inline tables fall
 * back to the line of the key that holds them.
 */
function parseTomlSource(file: string, text: string): ParsedSource {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) {
      throw new BobcatError("config.syntax", `TOML syntax error: ${e.message.split("\n")[0]}`, {
        where: { file, line: e.line, column: e.column },
        fix: "correct the TOML syntax at this position",
      });
    }
    throw e;
  }
  const positions = new Map<string, Position>();
  const arrayCounts = new Map<string, number>();
  let table: PathSeg[] = [];
  const lines = text.split(/\r?\n/);
  const keyPath = (raw: string): string[] =>
    raw.split(".").map((s) => s.trim().replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1"));
  lines.forEach((line, idx) => {
    const header = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?/.exec(line);
    if (header) {
      const segs = keyPath(header[2]!);
      // Resolve array-of-table indices of the parents: `[[a.b]]` under the current `[[a]]`.
      const resolved: PathSeg[] = [];
      for (let i = 0; i < segs.length; i++) {
        resolved.push(segs[i]!);
        const k = JSON.stringify(resolved);
        const isLast = i === segs.length - 1;
        if (isLast && header[1] === "[[") {
          const n = (arrayCounts.get(k) ?? -1) + 1;
          arrayCounts.set(k, n);
          // A new array element resets the counts of arrays nested in the previous one.
          for (const key of [...arrayCounts.keys()]) if (key.startsWith(k.slice(0, -1) + ",")) arrayCounts.delete(key);
          positions.set(JSON.stringify([...resolved]), { line: idx + 1, column: 1 });
          resolved.push(n);
        } else if (!isLast && arrayCounts.has(k)) {
          resolved.push(arrayCounts.get(k)!);
        }
      }
      table = resolved;
      positions.set(JSON.stringify(table), { line: idx + 1, column: 1 });
      return;
    }
    const kv = /^(\s*)([A-Za-z0-9_\-."' ]+?)\s*=/.exec(line);
    if (kv) {
      const p = [...table, ...keyPath(kv[2]!)];
      positions.set(JSON.stringify(p), { line: idx + 1, column: kv[1]!.length + 1 });
    }
  });
  return {
    file,
    format: "toml",
    data,
    locate(path) {
      for (let n = path.length; n >= 0; n--) {
        const p = positions.get(JSON.stringify(path.slice(0, n)));
        if (p) return p;
      }
      return undefined;
    },
  };
}
