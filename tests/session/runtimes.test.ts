import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const script = join(import.meta.dir, "fixtures/print-fixed.ts");

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", timeout: 30000, env: { ...process.env, NO_COLOR: "1" } });
  if (r.error) throw r.error;
  expect(r.stderr.trim()).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

test("the serializer writes identical bytes under Bun and Deno", () => {
  const bun = run(join(root, "node_modules/.bin/bun"), [script]);
  const deno = run(join(root, "node_modules/.bin/deno"), ["run", "-A", "--no-config", script]);
  expect(bun.split("\n").filter(Boolean)).toHaveLength(2);
  expect(deno).toBe(bun);
}, 60000);
