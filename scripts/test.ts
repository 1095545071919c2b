/**
 * `npm test`: the gate, then the test suite. The gate is a type check of the whole tree
 * (`tsc -p .` and `deno check` of the entry points), the formatter check (`deno fmt --check`,
 * settings in deno.json) and the circular-import check of src/ (scripts/check-cycles.ts). The
 * tests run even when the gate fails, so one run shows everything; the exit code is non-zero if
 * either failed, and a failed gate is named again after the tests' summary.
 *
 *   bun scripts/test.ts [bun test arguments...]
 *   bun scripts/test.ts --gate-only [--root DIR]   (the gate alone, on DIR; default this repository)
 */
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..");
const CHECK_CYCLES = join(import.meta.dir, "check-cycles.ts");
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

export const CHECKS: { name: string; cmd: string[]; fix: string }[] = [
  { name: "type check (tsc -p .)", cmd: [bin("tsc"), "-p", "."], fix: "fix the type errors listed above" },
  {
    name: "type check (deno check of the entry points)",
    cmd: [bin("deno"), "check", "--quiet", "src/cli/main.ts", "mod.ts", "edge.ts"],
    fix: "fix the type errors listed above",
  },
  {
    name: "format (deno fmt --check)",
    cmd: [bin("deno"), "fmt", "--check"],
    fix: "run ./node_modules/.bin/deno fmt",
  },
  {
    name: "circular imports (scripts/check-cycles.ts src)",
    cmd: [bin("bun"), CHECK_CYCLES, "src"],
    fix: "break the cycles listed above",
  },
];

function runGate(root: string): string[] {
  const failed: string[] = [];
  for (const c of CHECKS) {
    const t0 = Date.now();
    const r = spawnSync(c.cmd[0]!, c.cmd.slice(1), { cwd: root, stdio: "inherit" });
    const ok = r.status === 0;
    console.log(`gate: ${ok ? "ok    " : "FAILED"} ${c.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    if (!ok) failed.push(`${c.name}: ${r.error ? r.error.message : c.fix}`);
  }
  return failed;
}

function reportGate(failed: string[]): void {
  if (failed.length === 0) return;
  console.error(`\ngate FAILED (${failed.length} of ${CHECKS.length} checks):`);
  for (const f of failed) console.error(`  - ${f}`);
}

if (import.meta.main && process.argv[2] === "--gate-only") {
  const i = process.argv.indexOf("--root");
  const failed = runGate(i > 0 ? resolve(process.argv[i + 1]!) : ROOT);
  reportGate(failed);
  process.exit(failed.length > 0 ? 1 : 0);
} else if (import.meta.main) {
  const gateFailed = runGate(ROOT);
  const tests = spawnSync(bin("bun"), ["test", "--timeout", "60000", ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: "inherit",
  });
  reportGate(gateFailed);
  process.exit(gateFailed.length > 0 ? 1 : (tests.status ?? 1));
}
