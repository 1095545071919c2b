/**
 * `${name}` and `${name:-default}` expansion on every string value, as Tomcat's digester does
 * with IntrospectionUtils.replaceProperties — except that an unresolved name is an error
 * (Tomcat leaves it literal, which turns a typo into a confusing failure much later).
 */
import type { PathSeg } from "./source.ts";

const MAX_PASSES = 20;
const REF = /\$\{([^}:]+?)(?::-([^}]*))?\}/g;

export interface ExpansionProblem {
  path: PathSeg[];
  message: string;
  fix: string;
}

export type Lookup = (name: string) => string | undefined;

/** Lookup over: CLI -D properties, the config's `properties`, built-ins, then `env.NAME`. */
export function makeLookup(
  builtins: Record<string, string>,
  properties: Record<string, unknown>,
  env: Record<string, string | undefined>,
): Lookup {
  return (name) => {
    if (name.startsWith("env.")) return env[name.slice(4)];
    if (Object.hasOwn(properties, name)) return String(properties[name]);
    if (Object.hasOwn(builtins, name)) return builtins[name];
    return undefined;
  };
}

export function expandString(value: string, lookup: Lookup): { value: string; unresolved?: string; loop?: boolean } {
  let current = value;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    if (!current.includes("${")) return { value: current };
    let unresolved: string | undefined;
    const next = current.replace(REF, (whole, name: string, def: string | undefined) => {
      const v = lookup(name.trim());
      if (v !== undefined) return v;
      if (def !== undefined) return def;
      unresolved ??= name.trim();
      return whole;
    });
    if (unresolved) return { value: next, unresolved };
    if (next === current) return { value: next };
    current = next;
  }
  return { value: current, loop: true };
}

/** Expands every string in `data` in place-free fashion, collecting problems with their paths. */
export function expandTree(data: unknown, lookup: Lookup, problems: ExpansionProblem[], path: PathSeg[] = []): unknown {
  if (typeof data === "string") {
    const r = expandString(data, lookup);
    if (r.unresolved) {
      const isEnv = r.unresolved.startsWith("env.");
      problems.push({
        path,
        message: `\${${r.unresolved}} is not defined`,
        fix: isEnv
          ? `set the environment variable ${r.unresolved.slice(4)}, or give a default: \${${r.unresolved}:-value}`
          : `define "${r.unresolved}" under properties: (or with -D${r.unresolved}=value), or give a default: \${${r.unresolved}:-value}`,
      });
    } else if (r.loop) {
      problems.push({
        path,
        message: `property expansion did not settle after ${MAX_PASSES} passes (a property refers to itself)`,
        fix: "break the cycle between the properties used here",
      });
    }
    return r.value;
  }
  if (Array.isArray(data)) return data.map((v, i) => expandTree(v, lookup, problems, [...path, i]));
  if (data && typeof data === "object" && !(data instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(data)) out[k] = expandTree(v, lookup, problems, [...path, k]);
    return out;
  }
  return data;
}
