/**
 * `createServer` for scripts: a config (file, text or object) and handler objects in, a running
 * server out. Each server keeps its own handlers, sessions and manager view.
 */
import { loadConfigText, type LoadOptions } from "../config/load.ts";
import { loadConfigFile } from "../config/load-file.ts";
import type { BobcatConfig } from "../config/model.ts";
import { BobcatServer } from "../runtime/server.ts";

export interface ServerOptions extends LoadOptions {
  /** A YAML/TOML file; or give `configText` (+ optional `configName` for messages); or `config`. */
  configFile?: string;
  configText?: string;
  configName?: string;
  config?: BobcatConfig;
  /** Handler objects by the spec a context names in `handler:` (e.g. "app:main"), for this server only. */
  handlers?: Record<string, unknown>;
  /** Apply the config's logging section (default true; logging is process-wide). */
  configureLogging?: boolean;
}

export async function resolveConfig(o: ServerOptions): Promise<BobcatConfig> {
  if (o.config) return o.config;
  if (o.configFile) return loadConfigFile(o.configFile, o);
  if (o.configText !== undefined) return loadConfigText(o.configName ?? "<configText>", o.configText, o);
  throw new TypeError("createServer: give configFile, configText or config");
}

/** Loads the config, opens keystores, starts every connector. Resolves once all listen. */
export async function createServer(options: ServerOptions): Promise<BobcatServer> {
  const server = new BobcatServer(await resolveConfig(options), { handlers: options.handlers });
  return server.start({ configureLogging: options.configureLogging });
}
