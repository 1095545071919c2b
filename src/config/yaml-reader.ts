/**
 * Loads the `yaml` and TOML readers where there is no Bun.YAML (Deno, Node): source.ts must read YAML
 * synchronously, and only Bun can load a module synchronously (it does so when a position is
 * first needed). Imported by load-file.ts, so every server path that reads a config has it.
 */
import { NEEDS_YAML_READER, useTomlReader, useYamlReader } from "./source.ts";

if (NEEDS_YAML_READER) {
  useYamlReader(await import("./source-yaml.ts"));
  useTomlReader(await import("./source-toml.ts"));
}
