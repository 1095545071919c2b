/**
 * A source map's `mappings` reduced to one segment per original line: of each run of consecutive
 * segments (in generated order) that map to the same source file and line, only the first is
 * kept, and the first of every generated line. A position still maps to the right file and line
 * (the segment in force is the first one of its original line); the column is that of the line's
 * first mapped expression instead of the exact one.
 *
 * Why (scripts/build-lib.ts): Deno parses the whole map of a module while loading it, whenever
 * the module imports one that is not loaded yet (deno_core maps the import's position for a
 * possible "module not found" message), and keeps it for the life of the process at ~40 bytes a
 * segment. The minified CLI build has a segment every few characters: 4.6 times as many as
 * original lines, about 1 MiB of a Deno server's idle memory for the four maps a plain start
 * reads (`bun bench/startup.ts --runtime deno`, README "What is short and why").
 */

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

/** The numbers of one segment (base64 VLQ). */
export function decodeSegment(segment: string): number[] {
  const out: number[] = [];
  let value = 0, shift = 0;
  for (const c of segment) {
    const digit = DIGIT.get(c);
    if (digit === undefined) throw new Error(`not a base64 VLQ digit in a source map: ${JSON.stringify(c)}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    out.push(value % 2 === 1 ? -Math.floor(value / 2) : value / 2);
    value = 0;
    shift = 0;
  }
  if (shift !== 0) throw new Error(`a truncated base64 VLQ number in a source map: ${JSON.stringify(segment)}`);
  return out;
}

function encode(n: number): string {
  let v = n < 0 ? -n * 2 + 1 : n * 2;
  let s = "";
  do {
    let digit = v % 32;
    v = Math.floor(v / 32);
    if (v > 0) digit |= 32;
    s += BASE64[digit];
  } while (v > 0);
  return s;
}

/** `mappings` (source map v3) with one segment per original line, as described above. */
export function lineGranularMappings(mappings: string): string {
  // Source, original line, original column and name are deltas across the whole string, the
  // generated column within a generated line: tracked absolutely, re-encoded against what is kept.
  const abs = [0, 0, 0, 0];
  const kept = [0, 0, 0, 0];
  let previous: string | undefined;
  return mappings.split(";").map((line) => {
    let column = 0, keptColumn = 0;
    const out: string[] = [];
    for (const segment of line.split(",")) {
      if (segment === "") continue;
      const fields = decodeSegment(segment);
      column += fields[0]!;
      for (let i = 1; i < fields.length; i++) abs[i - 1] = abs[i - 1]! + fields[i]!;
      // A segment of generated code that maps to nothing is a run of its own.
      const key = fields.length >= 4 ? `${abs[0]}:${abs[1]}` : "";
      if (out.length === 0 || key !== previous) {
        let s = encode(column - keptColumn);
        keptColumn = column;
        for (let i = 1; i < fields.length; i++) {
          s += encode(abs[i - 1]! - kept[i - 1]!);
          kept[i - 1] = abs[i - 1]!;
        }
        out.push(s);
      }
      previous = key;
    }
    return out.join(",");
  }).join(";");
}
