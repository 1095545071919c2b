/**
 * Which CLI bin/bobcat.mjs runs under Deno from a checkout: dist-lib/cli.js (the package's
 * build, faster to start) while no file it was built from is newer, the sources otherwise. A
 * copy of the launcher in a scratch checkout whose two entries only say which one ran.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/bobcat.ts";

const dir = mkdtempSync(join(tmpdir(), "bobcat-launcher-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

for (const d of ["bin", "src/cli", "src/core", "dist-lib"]) mkdirSync(join(dir, d), { recursive: true });
copyFileSync(join(ROOT, "bin/bobcat.mjs"), join(dir, "bin/bobcat.mjs"));
copyFileSync(join(ROOT, "deno.json"), join(dir, "deno.json"));
symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bobcat", type: "module" }));
for (const f of ["mod.ts", "edge.ts", "src/core/engine.ts"]) writeFileSync(join(dir, f), "export {};\n");
writeFileSync(join(dir, "src/cli/main.ts"), `console.log("sources");\n`);
writeFileSync(join(dir, "dist-lib/cli.js"), `console.log("build");\n`);

/** Every file of the scratch checkout at `sources` seconds, its build at `build` seconds. */
function times(sources: number, build: number): void {
  for (const f of ["package.json", "mod.ts", "edge.ts", "src/core/engine.ts", "src/cli/main.ts"]) {
    utimesSync(join(dir, f), sources, sources);
  }
  utimesSync(join(dir, "dist-lib/cli.js"), build, build);
}

function run(runtime: "deno" | "bun"): string {
  const r = spawnSync("node", [join(dir, "bin/bobcat.mjs")], {
    cwd: dir,
    encoding: "utf8",
    timeout: 60000,
    env: { ...process.env, BOBCAT_RUNTIME: runtime, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  });
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

const t0 = Math.floor(Date.now() / 1000) - 1000;

describe("the launcher from a checkout under Deno", () => {
  test("runs dist-lib/cli.js while it is newer than every source", () => {
    times(t0, t0 + 10);
    expect(run("deno")).toBe("build");
  });

  test("runs the sources once one of them is newer than the build", () => {
    times(t0, t0 + 10);
    utimesSync(join(dir, "src/core/engine.ts"), t0 + 20, t0 + 20);
    expect(run("deno")).toBe("sources");
  });

  test("runs the sources when there is no build, and Bun always runs them", () => {
    times(t0, t0 + 10);
    expect(run("bun")).toBe("sources");
    rmSync(join(dir, "dist-lib/cli.js"));
    expect(run("deno")).toBe("sources");
  });
});
