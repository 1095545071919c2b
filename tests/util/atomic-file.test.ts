/** writeFileAtomic: the content whole or in parts, and nothing left behind. */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/util/atomic-file.ts";
import { DENO, ROOT } from "../helpers/bobcat.ts";
import { nodeLayerModules, traceFlags } from "../helpers/deno-node-trace.ts";

test("content given in parts is written in order, replacing the file, with no temporary file left", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bobcat-atomic-"));
  try {
    const file = join(dir, "SESSIONS.ser");
    await writeFileAtomic(file, "old content that is longer than the new");
    const big = crypto.getRandomValues(new Uint8Array(3 << 20));
    const parts = [Uint8Array.of(1, 2), new Uint8Array(0), big.subarray(7), Uint8Array.of(3)];
    await writeFileAtomic(file, parts);
    expect(readFileSync(file)).toEqual(Buffer.concat(parts));
    expect(readdirSync(dir)).toEqual(["SESSIONS.ser"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("parts made as they are written may share one buffer; a maker that fails leaves the old file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bobcat-atomic-"));
  try {
    const file = join(dir, "SESSIONS.ser");
    await writeFileAtomic(file, "old");
    const expected: number[] = [];
    // Each piece is written into the same buffer, over the one before: written before the next is asked for.
    async function* pieces(fail: boolean): AsyncGenerator<Uint8Array> {
      const buffer = new Uint8Array(1 << 16);
      for (let k = 0; k < 40; k++) {
        const n = 1 + ((k * 7919) % buffer.length);
        for (let i = 0; i < n; i++) buffer[i] = (k + i) & 0xff;
        if (!fail) { for (let i = 0; i < n; i++) expected.push(buffer[i]!); }
        if (fail && k === 20) throw new Error("the maker failed");
        yield buffer.subarray(0, n);
      }
    }
    await expect(writeFileAtomic(file, pieces(true))).rejects.toThrow("the maker failed");
    expect(readFileSync(file, "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["SESSIONS.ser"]);
    await writeFileAtomic(file, pieces(false));
    expect(new Uint8Array(readFileSync(file))).toEqual(Uint8Array.from(expected));
    expect(readdirSync(dir)).toEqual(["SESSIONS.ser"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * On Deno the same writes go through Deno.open (src/util/host/fs.ts), so that a stop writing its
 * sessions file loads none of Deno's Node layer (node:fs would, ~45 ms of CPU and more with
 * `process`: bench/probes/deno-node-layer.ts): checked with V8's script log.
 */
test("on Deno: content whole, in parts and under a unique name, mode 0600, and no Node-layer module loaded", () => {
  const dir = mkdtempSync(join(tmpdir(), "bobcat-atomic-deno-"));
  try {
    const script = join(dir, "write.mjs");
    writeFileSync(
      script,
      `import { writeFileAtomic } from ${JSON.stringify(join(ROOT, "src/util/atomic-file.ts"))};
const dir = Deno.args[0];
await writeFileAtomic(dir + "/a.txt", "old content that is longer than the new");
await writeFileAtomic(dir + "/a.txt", [Uint8Array.of(104, 105), new Uint8Array(0), Uint8Array.of(33)]);
async function* parts() { const b = new Uint8Array(3); for (let k = 0; k < 3; k++) { b.fill(97 + k); yield b; } }
await writeFileAtomic(dir + "/sub/b.txt", parts(), { mkdir: true });
await writeFileAtomic(dir + "/c.txt", new TextEncoder().encode("unique"), { unique: true, mode: 0o640 });
let failed = "";
try { await writeFileAtomic(dir + "/missing/d.txt", "x"); } catch (e) { failed = e.code; }
console.log(JSON.stringify({ failed }));
`,
    );
    const log = join(dir, "trace.log");
    const r = Bun.spawnSync([DENO, "run", "-A", "--quiet", traceFlags(log), script, dir], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toEqual({ failed: "ENOENT" });
    expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("hi!");
    expect(readFileSync(join(dir, "sub/b.txt"), "utf8")).toBe("aaabbbccc");
    expect(readFileSync(join(dir, "c.txt"), "utf8")).toBe("unique");
    expect(statSync(join(dir, "a.txt")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "c.txt")).mode & 0o777).toBe(0o640 & ~process.umask());
    expect(readdirSync(dir).sort()).toEqual(["a.txt", "c.txt", "sub", "trace.log", "write.mjs"]);
    expect(readdirSync(join(dir, "sub"))).toEqual(["b.txt"]);
    expect(nodeLayerModules(log)).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
