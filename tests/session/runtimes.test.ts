/** The same bytes and the same sessions under Bun and Deno: each runtime runs the fixtures as a child process. */
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const fixtures = join(import.meta.dir, "fixtures");
const runtimes = {
  bun: (script: string, args: string[] = []) => [join(root, "node_modules/.bin/bun"), [script, ...args]] as const,
  deno: (script: string, args: string[] = []) =>
    [join(root, "node_modules/.bin/deno"), [
      "run",
      "-A",
      "--quiet",
      `--config=${join(root, "deno.json")}`,
      script,
      ...args,
    ]] as const,
};
const scratch: string[] = [];
afterAll(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(runtime: keyof typeof runtimes, script: string, args: string[] = []): string {
  const [cmd, argv] = runtimes[runtime](join(fixtures, script), args);
  const r = spawnSync(cmd, argv, {
    cwd: root,
    encoding: "utf8",
    timeout: 30000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${runtime} ${script} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

test("the serializer writes identical bytes under Bun and Deno", () => {
  const bun = run("bun", "print-fixed.ts");
  const deno = run("deno", "print-fixed.ts");
  expect(bun.split("\n").filter(Boolean)).toHaveLength(2);
  expect(deno).toBe(bun);
}, 60000);

for (const [writer, reader] of [["bun", "deno"], ["deno", "bun"]] as const) {
  test(`sessions persisted by ${writer} are restored by ${reader}`, () => {
    const dir = mkdtempSync(join(tmpdir(), "bobcat-session-rt-"));
    scratch.push(dir);
    const id = run(writer, "restart-cycle.ts", ["write", dir]).trim();
    expect(id).toMatch(/^[0-9A-F]{32}\.n1$/);
    const restored = JSON.parse(run(reader, "restart-cycle.ts", ["read", dir]));
    expect(restored).toEqual({
      id,
      account: "alice:100000000000000000000",
      visits: [["/", 3]],
      principal: { name: "alice", roles: ["user"] },
      authType: "BASIC",
    });
  }, 60000);
}
