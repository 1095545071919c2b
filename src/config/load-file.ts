/** Reading a config file from disk, then loadConfigText (servers; edge runtimes load text). */
import { dirname, resolve } from "../util/host/path.ts";
import type { BobcatConfig } from "./model.ts";
import { loadConfigText, type LoadOptions } from "./load.ts";
import { withConfigReaders } from "./yaml-reader.ts";
import { BobcatError } from "../util/errors.ts";
import { MAX_CONFIG_FILE_BYTES, readRegularTextFile, UnreadableFileError } from "../util/files.ts";

export async function loadConfigFile(file: string, opts: LoadOptions = {}): Promise<BobcatConfig> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readRegularTextFile(abs, MAX_CONFIG_FILE_BYTES);
  } catch (e) {
    if (e instanceof UnreadableFileError) {
      throw new BobcatError("config.notRegular", `cannot read config file ${abs}: it ${e.reason}`, {
        where: { file: abs },
        fix: e.code === "ETOOLARGE"
          ? "point --config at the server's YAML or TOML file (a config file is a few kilobytes)"
          : "point --config at a regular YAML or TOML file (not a pipe, device or directory)",
      });
    }
    const code = (e as NodeJS.ErrnoException).code;
    throw new BobcatError(
      "config.notFound",
      `cannot read config file ${abs}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
      {
        where: { file: abs },
        fix: code === "ENOENT"
          ? "check the --config path (relative paths are resolved against the current directory)"
          : "check the file's permissions",
      },
    );
  }
  return withConfigReaders(() => loadConfigText(abs, text, { ...opts, baseDir: opts.baseDir ?? dirname(abs) }));
}
