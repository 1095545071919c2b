import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readRegularFile, UnreadableFileError } from "../../src/util/files.ts";
import { cleanup, tempDir } from "../helpers/bobcat.ts";

const dir = tempDir();
afterAll(() => cleanup(dir));

async function failure(path: string, max?: number): Promise<UnreadableFileError> {
  try {
    await readRegularFile(path, max);
  } catch (e) {
    expect(e).toBeInstanceOf(UnreadableFileError);
    return e as UnreadableFileError;
  }
  throw new Error(`expected ${path} to be refused`);
}

test("a FIFO without a writer, a device and a directory are refused at once, not read", async () => {
  const fifo = join(dir, "pipe");
  execFileSync("mkfifo", [fifo]);
  expect((await failure(fifo)).message).toBe(`${fifo} is a FIFO (named pipe), not a regular file`);
  expect((await failure("/dev/zero")).reason).toBe("is a character device, not a regular file");
  const d = await failure(dir);
  expect(d.isDirectory).toBe(true);
  expect(d.code).toBe("ENOTREGULAR");
});

test("the size is bounded: exactly the limit is read, one byte more is refused", async () => {
  const file = join(dir, "data");
  writeFileSync(file, new Uint8Array(200_000).fill(7));
  expect((await readRegularFile(file, 200_000)).length).toBe(200_000);
  const e = await failure(file, 199_999);
  expect(e.code).toBe("ETOOLARGE");
  expect(e.reason).toBe("is larger than 199999 bytes");
  expect((await failure(file, 64 * 1024)).reason).toBe("is larger than 64 KiB");
  writeFileSync(file, "");
  expect((await readRegularFile(file)).length).toBe(0);
});

test("missing files keep the open's own error", async () => {
  await expect(readRegularFile(join(dir, "nope"))).rejects.toMatchObject({ code: "ENOENT" });
});
