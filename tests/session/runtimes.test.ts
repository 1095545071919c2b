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

for (const runtime of ["bun", "deno"] as const) {
  test(`session ids under ${runtime}: upper-case hex of the configured length, all different`, () => {
    const { byDefault, mixed, bigLength } = JSON.parse(run(runtime, "print-ids.ts")) as {
      byDefault: string[];
      mixed: string[];
      bigLength: number;
    };
    expect(new Set(byDefault).size).toBe(3000);
    for (const id of byDefault) expect(id).toMatch(/^[0-9A-F]{32}$/);
    // Every hex digit shows up, and the bytes are spread (not a narrow range): each of the 16
    // digits is between 4% and 9% of the 96,000 characters (6.25% expected).
    const counts = new Map<string, number>();
    for (const c of byDefault.join("")) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(16);
    for (const n of counts.values()) {
      expect(n / 96000).toBeGreaterThan(0.04);
      expect(n / 96000).toBeLessThan(0.09);
    }
    // Lengths changing from one call to the next: each id has its own length (none cut or padded
    // from the one before), the default generator's ids between them too.
    const hex = (n: number, route = "") => new RegExp(`^[0-9A-F]{${n}}${route}$`);
    const made = [hex(16), hex(32), hex(4), hex(2048), hex(32), hex(6, "\\.n1"), hex(32)];
    const expected = made.flatMap((m) => [m, hex(32)]);
    expect(mixed).toHaveLength(14);
    mixed.forEach((id, i) => expect(id).toMatch(expected[i]!));
    expect(new Set(mixed.filter((id) => id.length === 32)).size).toBe(10);
    expect(bigLength).toBe(10000);
  }, 60000);
}
