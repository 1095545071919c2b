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
