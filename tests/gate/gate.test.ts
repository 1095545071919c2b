/**
 * The gate `npm test` runs before the suite (scripts/test.ts --gate-only), on a small throw-away
 * project: clean, it passes; with a type error, a badly formatted file and an import cycle, each
 * of its checks fails and names the fault.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BUN, ROOT, run } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "bobcat-gate-"));
  dirs.push(dir);
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const base: Record<string, string> = {
    "tsconfig.json": JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "ESNext",
        moduleResolution: "bundler",
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        types: [],
      },
      include: ["src", "mod.ts", "edge.ts"],
    }),
    "deno.json": JSON.stringify({
      nodeModulesDir: "manual",
      fmt: { lineWidth: 120, include: ["src/", "mod.ts", "edge.ts"] },
    }),
    "mod.ts": 'export { main } from "./src/cli/main.ts";\n',
    "edge.ts": 'export { twice } from "./src/core/util.ts";\n',
    "src/cli/main.ts":
      'import { twice } from "../core/util.ts";\n\nexport function main(): number {\n  return twice(2);\n}\n',
    "src/core/util.ts": "export function twice(n: number): number {\n  return n * 2;\n}\n",
  };
  for (const [name, text] of Object.entries({ ...base, ...files })) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const gate = (dir: string) =>
  run([BUN, join(ROOT, "scripts", "test.ts"), "--gate-only", "--root", dir], { timeoutMs: 120_000 });

describe("the gate", () => {
  test("a clean tree passes every check", async () => {
    const r = await gate(project({}));
    const out = r.stdout + r.stderr;
    expect(out).not.toContain("FAILED");
    expect(out).toContain("gate: ok     type check (tsc -p .)");
    expect(out).toContain("gate: ok     format (deno fmt --check)");
    expect(out).toContain("gate: ok     circular imports");
    expect(r.code).toBe(0);
  }, 150_000);

  test("a type error, a formatting error and an import cycle each fail it, named", async () => {
    const r = await gate(
      project({
        // A type error: a string where a number is returned.
        "src/core/util.ts": 'export function twice(n: number): number {\n  return "two";\n}\n',
        // Formatting: single quotes and no semicolon where deno fmt wants double quotes and one.
        "src/core/fmt.ts": "export const x = 'a'\n",
        // A cycle between two files, and so between two folders.
        "src/core/a.ts": 'import { b } from "../session/b.ts";\n\nexport const a = (): number => b() + 1;\n',
        "src/session/b.ts":
          'import { a } from "../core/a.ts";\n\nexport const b = (): number => (typeof a === "function" ? 1 : 0);\n',
      }),
    );
    const out = r.stdout + r.stderr;
    expect(r.code).toBe(1);
    expect(out).toContain("gate: FAILED type check (tsc -p .)");
    expect(out).toContain("src/core/util.ts");
    expect(out).toContain("gate: FAILED type check (deno check of the entry points)");
    expect(out).toContain("gate: FAILED format (deno fmt --check)");
    expect(out).toContain("src/core/fmt.ts");
    expect(out).toContain("gate: FAILED circular imports");
    expect(out).toMatch(/file cycle: src\/(core\/a|session\/b)\.ts → src\/(core\/a|session\/b)\.ts → /);
    expect(out).toContain("folder cycle between src/core, src/session");
    expect(out).toContain("gate FAILED (4 of 4 checks)");
  }, 150_000);
});
