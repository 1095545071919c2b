/**
 * scripts/line-source-map.ts: the CLI build's source maps keep one segment per original line, and
 * every generated position still maps to the file and line it mapped to before.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSegment, lineGranularMappings } from "../../scripts/line-source-map.ts";

const dir = mkdtempSync(join(tmpdir(), "bobcat-line-map-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Segment = { line: number; column: number; source?: number; srcLine?: number; srcColumn?: number };

/** Every segment with absolute positions. */
function segments(mappings: string): Segment[] {
  const out: Segment[] = [];
  let source = 0, srcLine = 0, srcColumn = 0;
  mappings.split(";").forEach((text, line) => {
    let column = 0;
    for (const s of text.split(",").filter(Boolean)) {
      const f = decodeSegment(s);
      column += f[0]!;
      if (f.length < 4) {
        out.push({ line, column });
        continue;
      }
      source += f[1]!;
      srcLine += f[2]!;
      srcColumn += f[3]!;
      out.push({ line, column, source, srcLine, srcColumn });
    }
  });
  return out;
}

/** What a generated position maps to: the last segment at or before it on its generated line. */
function lookup(map: Segment[], line: number, column: number): Segment | undefined {
  let found: Segment | undefined;
  for (const s of map) if (s.line === line && s.column <= column) found = s;
  return found;
}

test("a minified bundle's map keeps every position's file and line with fewer segments", async () => {
  writeFileSync(
    join(dir, "a.ts"),
    `export function area(w: number, h: number): number {
  const checked = [w, h].map((n) => {
    if (!Number.isFinite(n)) throw new RangeError("not a finite number: " + n);
    return Math.abs(n);
  });
  return checked[0]! * checked[1]!;
}
`,
  );
  writeFileSync(
    join(dir, "main.ts"),
    `import { area } from "./a.ts";
const sizes = [[1, 2], [3, 4], [5, Number(process.argv[2] ?? 6)]];
let total = 0;
for (const [w, h] of sizes) total += area(w!, h!);
console.log(total, sizes.length > 2 ? "many" : "few");
`,
  );
  const r = await Bun.build({
    entrypoints: [join(dir, "main.ts")],
    outdir: join(dir, "out"),
    minify: { whitespace: true, syntax: true },
    sourcemap: "linked",
  });
  expect(r.success).toBe(true);
  const map = JSON.parse(readFileSync(join(dir, "out", "main.js.map"), "utf8")) as { mappings: string };
  const before = segments(map.mappings);
  const after = segments(lineGranularMappings(map.mappings));
  expect(before.length).toBeGreaterThan(20);
  expect(after.length).toBeLessThan(before.length / 2);
  // Both files are in the map, and each original line once per run of its generated code.
  expect(new Set(after.map((s) => s.source)).size).toBe(new Set(before.map((s) => s.source)).size);
  for (const s of before) {
    const now = lookup(after, s.line, s.column);
    expect({ at: [s.line, s.column], source: now?.source, line: now?.srcLine })
      .toEqual({ at: [s.line, s.column], source: s.source, line: s.srcLine });
  }
  // What is kept is unchanged: each kept segment is one of the original ones.
  const original = new Set(before.map((s) => JSON.stringify(s)));
  for (const s of after) expect(original.has(JSON.stringify(s))).toBe(true);
});

test("names and unmapped segments survive; an empty map stays empty", () => {
  // Two segments on one original line, then an unmapped one, then the next original lines: the
  // second goes (same line as the first).
  const mappings = "AAAA,EAAEA,C,EACA;AACC";
  expect(segments(lineGranularMappings(mappings))).toEqual([
    { line: 0, column: 0, source: 0, srcLine: 0, srcColumn: 0 },
    { line: 0, column: 3 },
    { line: 0, column: 5, source: 0, srcLine: 1, srcColumn: 2 },
    { line: 1, column: 0, source: 0, srcLine: 2, srcColumn: 3 },
  ]);
  // A name (the fifth field) is a delta from the last name written: name 0 goes with its segment,
  // name 1 is then written as 1.
  expect(lineGranularMappings("AAAA,EAAEA,EACAC")).toBe("AAAA,IACEC");
  expect(lineGranularMappings("")).toBe("");
  expect(lineGranularMappings(";;")).toBe(";;");
  expect(() => lineGranularMappings("A!")).toThrow(/base64 VLQ/);
});
