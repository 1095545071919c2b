/**
 * TOML configs (smol-toml): loaded by source.ts only when a config is TOML, so a YAML config
 * never loads smol-toml.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { BobcatError } from "../util/errors.ts";
import type { ParsedSource, PathSeg, Position } from "./source-types.ts";

/**
 * smol-toml gives no positions, so the locator re-reads the text: it tracks the current
 * `[table]` / `[[array]]` header and records where each `key =` line sits. Inline tables fall
 * back to the line of the key that holds them.
 */
export function parseTomlSource(file: string, text: string): ParsedSource {
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
