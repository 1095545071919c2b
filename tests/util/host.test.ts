/**
 * src/util/host: the POSIX path functions against node:path's own, case by case, on Bun and in a
 * Deno child process; the file calls on Deno (Deno.* there) and Bun (node:fs) giving the same
 * results and Node-shaped errors.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { posix } from "node:path";
import { join } from "node:path";
import { POSIX_PATH } from "../../src/util/host/path.ts";
import { cleanup, DENO, ROOT, run, tempDir } from "../helpers/bobcat.ts";

const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///a//b/",
  "a",
  "a/",
  "a//b",
  "/a/b/c",
  "/a/b/c/",
  "a/./b/../c",
  "../a/../../b",
  "/../a",
  "/a/..",
  "a/..",
  "./a",
  "a/b/..",
  ".hidden",
  "a/.hidden",
  "a/b.txt",
  "a/b.tar.gz",
  "a/b.",
  "a/..b",
  "...",
  "a/...",
  "/x/y/z.d/",
  "conf/server.yaml",
];

/** Every function over PATHS (pairs for join, resolve, relative), as one JSON-able record. */
const cases = `(p, paths) => {
  const out = {};
  for (const a of paths) {
    for (const f of ["normalize", "dirname", "basename", "extname", "isAbsolute"]) out[f + "(" + JSON.stringify(a) + ")"] = p[f](a);
    out["basename(" + JSON.stringify(a) + ", .txt)"] = p.basename(a, ".txt");
    for (const b of paths) {
      out["join(" + JSON.stringify(a) + ", " + JSON.stringify(b) + ")"] = p.join(a, b);
      out["resolve(" + JSON.stringify(a) + ", " + JSON.stringify(b) + ")"] = p.resolve(a, b);
      out["relative(" + JSON.stringify(a) + ", " + JSON.stringify(b) + ")"] = p.relative(a, b);
    }
  }
  out["join()"] = p.join();
  out["resolve()"] = p.resolve();
  out["join(a, b, c)"] = p.join("a", "", "/b/", "../c");
  out["resolve(a, /b, c)"] = p.resolve("a", "/b", "c");
  return out;
}`;
// deno-lint-ignore no-explicit-any
const compare = (0, eval)(cases) as (p: any, paths: string[]) => Record<string, unknown>;

test("the POSIX path functions give node:path.posix's results (Bun)", () => {
  expect(compare(POSIX_PATH, PATHS)).toEqual(compare(posix, PATHS));
  expect(POSIX_PATH.sep).toBe("/");
});

test("the POSIX path functions give node:path.posix's results (Deno)", async () => {
  const script = `
    import { posix } from "node:path";
    import { POSIX_PATH } from ${JSON.stringify(join(ROOT, "src/util/host/path.ts"))};
    const compare = ${cases};
    const paths = ${JSON.stringify(PATHS)};
    const ours = compare(POSIX_PATH, paths), node = compare(posix, paths);
    const diffs = Object.keys(node).filter((k) => ours[k] !== node[k]).map((k) => [k, ours[k], node[k]]);
    console.log(JSON.stringify({ checked: Object.keys(node).length, diffs }));`;
  const r = await run([DENO, "eval", `--config=${join(ROOT, "deno.json")}`, script], { timeoutMs: 30000 });
  expect(r.stderr).toBe("");
  const out = JSON.parse(r.stdout) as { checked: number; diffs: unknown[] };
  expect(out.diffs).toEqual([]);
  expect(out.checked).toBeGreaterThan(2000);
});

const dir = tempDir("bobcat-host-");
afterAll(() => cleanup(dir));
mkdirSync(join(dir, "sub"));
writeFileSync(join(dir, "file.txt"), "héllo");
symlinkSync(join(dir, "file.txt"), join(dir, "link"));

/** What the host fs functions say about `dir`, the same on every runtime. */
const fsReport = `async (fs, dir) => {
  const err = async (f) => { try { await f(); return "no error"; } catch (e) { return e.code + " | " + e.message; } };
  const info = (st) => ({ isFile: st.isFile, isDirectory: st.isDirectory, isSymbolicLink: st.isSymbolicLink, isFIFO: st.isFIFO, size: st.size, mtime: st.mtimeMs > 0 });
  return {
    exists: [fs.existsSync(dir + "/file.txt"), fs.existsSync(dir + "/link"), fs.existsSync(dir + "/none")],
    statFile: info(fs.statSync(dir + "/file.txt")),
    statLink: info(await fs.stat(dir + "/link")),
    statDir: info(fs.statSync(dir + "/sub")),
    text: [fs.readTextFileSync(dir + "/file.txt"), await fs.readTextFile(dir + "/link")],
    bytes: [...(await fs.readFile(dir + "/file.txt"))],
    entries: fs.readDirSync(dir).sort((a, b) => a.name.localeCompare(b.name)),
    real: fs.realpathSync(dir + "/link") === fs.realpathSync(dir + "/file.txt"),
    missingStat: await err(() => fs.statSync(dir + "/none")),
    missingRead: await err(() => fs.readFile(dir + "/none")),
    dirRead: await err(() => fs.readTextFileSync(dir + "/sub")),
    rmMissingForced: await err(() => fs.rm(dir + "/none", { force: true })),
    rmMissing: await err(() => fs.rm(dir + "/none")),
    made: await (async () => {
      await fs.mkdir(dir + "/made/deep", { recursive: true });
      await fs.rename(dir + "/made/deep", dir + "/made/moved");
      const names = fs.readDirSync(dir + "/made").map((e) => e.name);
      await fs.rm(dir + "/made", { recursive: true });
      return [names, fs.existsSync(dir + "/made")];
    })(),
  };
}`;

test("the host file calls: the same results and Node-shaped errors on Bun and Deno", async () => {
  const report = (0, eval)(fsReport) as (fs: unknown, dir: string) => Promise<Record<string, unknown>>;
  const onBun = await report(await import("../../src/util/host/fs.ts"), dir);
  expect(onBun.exists).toEqual([true, true, false]);
  expect(onBun.missingStat).toBe(`ENOENT | ENOENT: no such file or directory, stat '${dir}/none'`);
  expect(onBun.rmMissingForced).toBe("no error");
  const script = `
    import * as fs from ${JSON.stringify(join(ROOT, "src/util/host/fs.ts"))};
    console.log(JSON.stringify(await (${fsReport})(fs, ${JSON.stringify(dir)})));`;
  const r = await run([DENO, "eval", `--config=${join(ROOT, "deno.json")}`, script], { timeoutMs: 30000 });
  expect(r.stderr).toBe("");
  const onDeno = JSON.parse(r.stdout) as Record<string, string>;
  // The same codes everywhere; the messages' wording after the path's syscall may differ.
  for (const k of ["missingStat", "missingRead", "dirRead", "rmMissing"]) {
    expect({ k, code: onDeno[k]!.split(" | ")[0] }).toEqual({ k, code: (onBun[k] as string).split(" | ")[0] });
    expect(onDeno[k]).toMatch(/^E[A-Z]+ \| E[A-Z]+: [a-z]/);
  }
  const same = (o: Record<string, unknown>) => {
    const { missingStat: _1, missingRead: _2, dirRead: _3, rmMissing: _4, ...rest } = o;
    return rest;
  };
  expect(same(onDeno)).toEqual(same(onBun));
  expect(onDeno.missingStat).toBe(`ENOENT | ENOENT: no such file or directory, stat '${dir}/none'`);
});
