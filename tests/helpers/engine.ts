/**
 * An Engine built from a config text and started, in-process (no sockets): the set-up of the
 * tests/core files that hand Requests to `Engine.handle`/`handleSync`.
 */
import { join } from "node:path";
import { loadConfigText } from "../../src/config/load.ts";
import { Engine, type EngineSettings } from "../../src/core/engine.ts";
import { SERVER_PLATFORM } from "../../src/runtime/server-platform.ts";

/**
 * The first service's engine of `yaml` (read as `baseDir`/server.yaml with no environment), with
 * the server's platform unless `settings` gives another, started (`start`: Engine.start's options).
 */
export async function startedEngine(
  baseDir: string,
  yaml: string,
  settings: Partial<EngineSettings> = {},
  start: Parameters<Engine["start"]>[0] = {},
): Promise<Engine> {
  const config = loadConfigText(join(baseDir, "server.yaml"), yaml, { baseDir, env: {} });
  const engine = new Engine(config.server.services[0]!, {
    strictServletCompliance: false,
    baseDir,
    platform: SERVER_PLATFORM,
    ...settings,
  });
  await engine.start(start);
  return engine;
}
