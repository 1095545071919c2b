/** Reading a config file from disk, then loadConfigText (servers; edge runtimes load text). */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { BobcatConfig } from "./model.ts";
import { loadConfigText, type LoadOptions } from "./load.ts";
import { BobcatError } from "../util/errors.ts";

export async function loadConfigFile(file: string, opts: LoadOptions = {}): Promise<BobcatConfig> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BobcatError("config.notFound", `cannot read config file ${abs}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`, {
      where: { file: abs },
      fix: code === "ENOENT" ? "check the --config path (relative paths are resolved against the current directory)" : "check the file's permissions",
    });
  }
  return loadConfigText(abs, text, { ...opts, baseDir: opts.baseDir ?? dirname(abs) });
}
