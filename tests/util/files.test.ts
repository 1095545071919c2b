import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readRegularFile, UnreadableFileError } from "../../src/util/files.ts";
import { cleanup, DENO, ROOT, run, tempDir } from "../helpers/bobcat.ts";

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
  // Over SYNC_READ_MAX (1 MiB) but under the config bound: a big CRL, read again while serving.
  const big = join(dir, "deno-big");
  writeFileSync(big, new Uint8Array(1_500_000).fill(7));
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

test("on Bun: a config-sized bound reads with node:fs's synchronous calls (up to SYNC_READ_MAX), a session file's and a bigger file's with node:fs/promises", async () => {
  const file = join(dir, "bun-data");
  writeFileSync(file, new Uint8Array(200_000).fill(7));
  const big = join(dir, "bun-big");
  writeFileSync(big, new Uint8Array(1_500_000).fill(7));
  const fifo = join(dir, "bun-pipe");
  execFileSync("mkfifo", [fifo]);
  // Which open each read used: node:fs's openSync or node:fs/promises' open.
  const fs = process.getBuiltinModule("node:fs") as { openSync: (...a: unknown[]) => number };
  const fsp = process.getBuiltinModule("node:fs/promises") as { open: (...a: unknown[]) => Promise<unknown> };
  const { openSync } = fs, { open } = fsp;
  const calls: string[] = [];
  fs.openSync = (...a) => (calls.push("openSync"), openSync(...a));
  fsp.open = (...a) => (calls.push("open"), open(...a));
  const outcome = async (path: string, max?: number) => {
    calls.length = 0;
    try {
      return [(await readRegularFile(path, max)).length, ...calls].join(" ");
    } catch (e) {
      return [(e as UnreadableFileError).code, ...calls].join(" ");
    }
  };
  try {
    expect({
      config: await outcome(file),
      over: await outcome(file, 199_999),
      session: await outcome(file, Number.MAX_SAFE_INTEGER),
      big: await outcome(big),
      fifo: await outcome(fifo),
    }).toEqual({
      config: "200000 openSync",
      over: "ETOOLARGE openSync",
      session: "200000 open",
      // Over SYNC_READ_MAX: opened and stat'ed synchronously, then read through node:fs/promises.
      big: "1500000 openSync open",
      fifo: "ENOTREGULAR openSync",
    });
  } finally {
    fs.openSync = openSync;
    fsp.open = open;
  }
});

test("on Deno: the same outcomes; a config-sized bound reads with Deno's synchronous calls (up to SYNC_READ_MAX), a session file's with its asynchronous ones", async () => {
  const fifo = join(dir, "deno-pipe");
  execFileSync("mkfifo", [fifo]);
  const file = join(dir, "deno-data");
  writeFileSync(file, new Uint8Array(200_000).fill(7));
  // Over SYNC_READ_MAX (1 MiB) but under the config bound: a big CRL, read again while serving.
  const big = join(dir, "deno-big");
  writeFileSync(big, new Uint8Array(1_500_000).fill(7));
  // Which of Deno's open calls each read used, and what it gave (a length, or the error's code and reason).
  const script = `
import { readRegularFile } from ${JSON.stringify(join(ROOT, "src/util/files.ts"))};
const calls = [];
for (const name of ["open", "openSync"]) {
  const f = Deno[name];
  Deno[name] = (...a) => (calls.push(name), f(...a));
}
const outcome = async (path, max) => {
  calls.length = 0;
  try {
    const n = (await readRegularFile(path, max)).length;
    return [n, ...calls].join(" ");
  } catch (e) {
    return [e.code, e.reason, ...calls].filter(Boolean).join(" ");
  }
};
console.log(JSON.stringify({
  config: await outcome(${JSON.stringify(file)}),
  exact: await outcome(${JSON.stringify(file)}, 200000),
  over: await outcome(${JSON.stringify(file)}, 199999),
  session: await outcome(${JSON.stringify(file)}, Number.MAX_SAFE_INTEGER),
  big: await outcome(${JSON.stringify(big)}),
  fifo: await outcome(${JSON.stringify(fifo)}),
  fifoSession: await outcome(${JSON.stringify(fifo)}, Number.MAX_SAFE_INTEGER),
  device: await outcome("/dev/zero"),
  missing: await outcome(${JSON.stringify(join(dir, "nope"))}),
}));
`;
  const r = await run([DENO, "eval", `--config=${join(ROOT, "deno.json")}`, script], { timeoutMs: 30000 });
  expect(r.stderr).toBe("");
  expect(JSON.parse(r.stdout)).toEqual({
    config: "200000 openSync",
    exact: "200000 openSync",
    over: "ETOOLARGE is larger than 199999 bytes openSync",
    session: "200000 open",
    big: "1500000 open",
    fifo: "ENOTREGULAR is a FIFO (named pipe), not a regular file",
    fifoSession: "ENOTREGULAR is a FIFO (named pipe), not a regular file",
    device: "ENOTREGULAR is a character device, not a regular file",
    missing: "ENOENT",
  });
});
