/** writeFileAtomic: the content whole or in parts, and nothing left behind. */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/util/atomic-file.ts";

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
