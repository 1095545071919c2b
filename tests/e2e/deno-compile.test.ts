/**
 * `bun build.ts --deno` as far as it can go without the internet (deno compile downloads its
 * `denort` runtime): with the Deno CLI standing in for denort, deno compile type-checks the
 * entry with the project's config, resolves the module graph and reports what it would embed,
 * which must leave out the runtimes, type packages and test tools in node_modules. A DENORT_BIN
 * that is the full Deno CLI, or nothing at all, is refused before anything is written.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUN, cleanup, DENO, ROOT, tempDir } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

async function build(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([BUN, join(ROOT, "build.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 240000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, output: stdout + stderr };
}

test("deno compile checks, resolves and embeds bobcat without bun, deno, TypeScript or playwright", async () => {
  const r = await build(["--deno", "--verify"]);
  expect(r.output).toContain("Check src/cli/main.ts");
  expect(r.output).toContain("verified:");
  expect(r.code).toBe(0);
  const embedded = r.output.slice(r.output.indexOf("Embedded Files"));
  expect(embedded).toContain("hono");
  expect(embedded).toContain("drizzle-orm");
  expect(embedded).not.toMatch(/bun\.exe|[├└]─+┬? (bun|deno|@deno|@oven|typescript|playwright-core|\.bin)[/ ]/);
  // The whole payload: bobcat's sources and its run-time packages, not the 300 MB of runtimes.
  const files = /Files: ([\d.]+)MB/.exec(embedded);
  expect(Number(files?.[1])).toBeLessThan(60);
}, 300000);

test("a DENORT_BIN that is the full Deno CLI is refused with what to do", async () => {
  const out = tempDir();
  dirs.push(out);
  const r = await build(["--deno", "--outfile", join(out, "bobcat-deno")], { DENORT_BIN: DENO });
  expect(r.code).toBe(1);
  expect(r.output).toContain(`DENORT_BIN=${DENO} is the full Deno CLI (deno `);
  expect(r.output).toContain("Point DENORT_BIN at the denort binary of the same Deno version");
  expect(existsSync(join(out, "bobcat-deno"))).toBe(false);

  const missing = await build(["--deno", "--outfile", join(out, "bobcat-deno")], {
    DENORT_BIN: join(out, "no-such-denort"),
  });
  expect(missing.code).toBe(1);
  expect(missing.output).toContain("does not exist");
}, 60000);
