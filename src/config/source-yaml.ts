/**
 * The YAML reader with positions (the `yaml` package): every node keeps its offset, so a config
 * path maps back to a line and column; YAML errors, duplicate keys and alias bombs are reported
 * with their line. On Bun, source.ts parses with the built-in Bun.YAML first and loads this module
 * only when a position is asked for (an error, a note) or the text uses a construct where the two
 * parsers could differ.
 */
// @ts-types="../../node_modules/yaml/dist/index.d.ts"
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node as YamlNode, parseDocument, visit } from "yaml";
import { BobcatError } from "../util/errors.ts";
import type { ParsedSource, Position } from "./source-types.ts";

// @ts-types="../../node_modules/yaml/dist/index.d.ts"
export { parse, stringify } from "yaml";

export function parseYamlSource(file: string, text: string): ParsedSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lineCounter.linePos(e.pos[0]);
    // `port: ${http.port}` inside [ ] or { }: YAML reads that { as the start of a mapping.
    const reference = text[e.pos[0]] === "{" && text[e.pos[0] - 1] === "$";
    throw new BobcatError("config.syntax", `YAML syntax error: ${e.message.split("\n")[0]}`, {
      where: { file, line: pos.line, column: pos.col },
      fix: reference
        ? 'quote the value that holds ${...} (port: "${http.port}"): inside [ ] or { } YAML reads its { as the start of a mapping'
        : "correct the YAML syntax at this position (indentation, a missing colon, or an unquoted special character)",
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
