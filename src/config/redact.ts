/**
 * The loaded config with every `secret` attribute of the schema masked, for printing
 * (`bobcat check`). Properties whose value is a masked secret are masked too, since a
 * password usually arrives through `${...}`.
 */
import type { AttrDef, ElementDef } from "./schema-types.ts";
import { ConfigFile } from "./schema.ts";
import type { BobcatConfig } from "./model.ts";

const MASK = "********";

export function redactSecrets(config: BobcatConfig): Record<string, unknown> {
  const secrets = new Set<string>();
  const walk = (def: ElementDef, value: unknown): unknown => {
    if (!value || typeof value !== "object" || Array.isArray(value)) return value;
    const v = value as Record<string, unknown>;
    let attrs: Record<string, AttrDef> = def.attrs;
    let children = def.children ?? {};
    const variant = def.variants && typeof v.className === "string" ? def.variants.map[v.className] : undefined;
    if (variant) {
      attrs = { ...attrs, ...variant.element().attrs };
      children = { ...children, ...(variant.element().children ?? {}) };
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const child = children[k];
      if (attrs[k]?.secret && typeof x === "string") {
        secrets.add(x);
        out[k] = MASK;
      } else if (child) {
        out[k] = Array.isArray(x) ? x.map((item) => walk(child.element(), item)) : walk(child.element(), x);
      } else out[k] = x;
    }
    return out;
  };
  const tree = walk(ConfigFile, { logging: config.logging, server: config.server }) as Record<string, unknown>;
  const properties = Object.fromEntries(
    Object.entries(config.properties).map(([k, x]) => [k, secrets.has(x) ? MASK : x]),
  );
  return { file: config.file, baseDir: config.baseDir, properties, ...tree };
}
