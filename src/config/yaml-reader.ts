/**
 * Loads the `yaml` and TOML readers where there is no Bun.YAML (Deno, Node), when a config needs
 * them: source.ts must read YAML synchronously, and only Bun can load a module synchronously (it
 * does so when a reader is first needed). A config in the plain YAML subset needs neither
 * (yaml-plain.ts reads it and gives its positions), so a server's start loads them only for a
 * TOML file, YAML beyond that subset, or a META-INF/context.yaml beyond it: the entry points that
 * read a config (load-file.ts, catalina.ts, api/server.ts) run their reading through
 * withConfigReaders.
 */
import { ConfigReaderNotLoaded, NEEDS_YAML_READER, useTomlReader, useYamlReader } from "./source.ts";

let loaded: Promise<void> | undefined;

/** Loads both readers (once) where source.ts cannot load them itself. */
export function loadConfigReaders(): Promise<void> {
  if (!NEEDS_YAML_READER) return Promise.resolve();
  return loaded ??= (async () => {
    useYamlReader(await import("./source-yaml.ts"));
    useTomlReader(await import("./source-toml.ts"));
  })();
}

/**
 * Runs `read`; if it needed a reader before one was loaded, loads them and runs `read` again
 * (reading a config has no effects beyond its result, as with xml-parser.ts's withXmlParser).
 */
export async function withConfigReaders<T>(read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (!(e instanceof ConfigReaderNotLoaded)) throw e;
    await loadConfigReaders();
    return await read();
  }
}
