/**
 * `${name}` and `${name:-default}` expansion on every string value, as Tomcat's digester does
 * with IntrospectionUtils.replaceProperties — except that an unresolved name is an error
 * (Tomcat leaves it literal, which turns a typo into a confusing failure much later).
 *
 * Expansion is bounded: a property that refers to itself (directly or through others) is an
 * error naming the cycle, properties nest at most MAX_DEPTH deep, one value expands to at most
 * MAX_VALUE_LENGTH characters and one file's expansions to MAX_TOTAL_LENGTH in all — so a chain
 * of properties that doubles at each step is refused instead of filling memory.
 */
import type { PathSeg } from "./source.ts";

const MAX_PASSES = 20;
/** Properties referring to properties referring to ... */
export const MAX_DEPTH = 32;
/** Characters one expanded value (or property) may have. */
export const MAX_VALUE_LENGTH = 1024 * 1024;
/** Characters all expansions of one file may produce together. */
export const MAX_TOTAL_LENGTH = 16 * 1024 * 1024;
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

class ExpansionFailure extends Error {
  constructor(
    message: string,
    readonly fix: string,
    /** total: the file's budget is spent; depth: too deep from where this expansion started (not a fault of the property itself). */
    readonly kind: "value" | "total" | "depth" = "value",
  ) {
    super(message);
  }
  get total(): boolean {
    return this.kind === "total";
  }
}

const chain = (names: readonly string[]) =>
  (names.length > 8 ? [...names.slice(0, 3), "...", ...names.slice(-3)] : names).join(" → ");
const mib = (n: number) => `${n / (1024 * 1024)} MiB`;

/** One expansion run over one lookup: property values are expanded once and remembered (failures too). */
export class Expander {
  private readonly memo = new Map<string, string | ExpansionFailure>();
  private total = 0;
  /** Set once the file's total is exceeded; later values are left as they are, without more problems. */
  exhausted = false;

  constructor(private readonly lookup: Lookup) {}

  /** The expanded value, or a problem (message and fix). */
  expandValue(value: string): { value: string; problem?: { message: string; fix: string } } {
    if (!value.includes("${") || this.exhausted) return { value };
    try {
      return { value: this.expand(value, []) };
    } catch (e) {
      if (!(e instanceof ExpansionFailure)) throw e;
      if (e.total) {
        if (this.exhausted) return { value };
        this.exhausted = true;
      }
      return { value, problem: { message: e.message, fix: e.fix } };
    }
  }

  /** The expanded value of property `name` (its own cycles and limits are named after it). */
  expandProperty(name: string, raw: string): { value: string; problem?: { message: string; fix: string } } {
    if (!raw.includes("${") || this.exhausted) return { value: raw };
    try {
      return { value: this.resolve(name, []) ?? raw };
    } catch (e) {
      if (!(e instanceof ExpansionFailure)) throw e;
      if (e.total) {
        if (this.exhausted) return { value: raw };
        this.exhausted = true;
      }
      return { value: raw, problem: { message: e.message, fix: e.fix } };
    }
  }

  /** `stack`: the properties being expanded, outermost first. Throws ExpansionFailure. */
  private expand(text: string, stack: readonly string[]): string {
    let current = text;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      if (!current.includes("${")) return current;
      let out = "";
      let last = 0;
      for (const m of current.matchAll(REF)) {
        const name = m[1]!.trim();
        let v = this.resolve(name, stack);
        if (v === undefined) {
          if (m[2] === undefined) throw unresolved(name);
          v = m[2];
        }
        out += current.slice(last, m.index) + v;
        last = m.index! + m[0].length;
        if (out.length > MAX_VALUE_LENGTH) throw tooLong(stack);
      }
      if (last === 0) return current;
      out += current.slice(last);
      if (out.length > MAX_VALUE_LENGTH) throw tooLong(stack);
      this.total += out.length;
      if (this.total > MAX_TOTAL_LENGTH) {
        throw new ExpansionFailure(
          `the \${...} expansions in this file add up to more than ${mib(MAX_TOTAL_LENGTH)}`,
          "use fewer or shorter properties; large values belong in files the config names",
          "total",
        );
      }
      if (out === current) return current;
      current = out;
    }
    throw new ExpansionFailure(
      `property expansion did not settle after ${MAX_PASSES} passes` + (stack.length ? ` (in ${chain(stack)})` : ""),
      "make sure no value expands to another ${...} reference over and over",
    );
  }

  private resolve(name: string, stack: readonly string[]): string | undefined {
    const known = this.memo.get(name);
    if (known instanceof ExpansionFailure) throw known;
    if (known !== undefined) return known;
    if (stack.includes(name)) {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      throw new ExpansionFailure(
        cycle.length === 2
          ? `property "${name}" refers to itself`
          : `properties refer to each other in a cycle: ${chain(cycle)}`,
        `break the cycle: give "${name}" a value that does not lead back to it`,
      );
    }
    if (stack.length >= MAX_DEPTH) {
      throw new ExpansionFailure(
        `properties refer to other properties more than ${MAX_DEPTH} deep: ${chain([...stack, name])}`,
        "write the value out in one of the properties along the way",
        "depth",
      );
    }
    const raw = this.lookup(name);
    if (raw === undefined) return undefined;
    let value: string;
    try {
      value = this.expand(raw, [...stack, name]);
    } catch (e) {
      if (e instanceof ExpansionFailure && e.kind === "value") this.memo.set(name, e);
      throw e;
    }
    this.memo.set(name, value);
    return value;
  }
}

function unresolved(name: string): ExpansionFailure {
  const isEnv = name.startsWith("env.");
  return new ExpansionFailure(
    `\${${name}} is not defined`,
    isEnv
      ? `set the environment variable ${name.slice(4)}, or give a default: \${${name}:-value}`
      : `define "${name}" under properties: (or with -D${name}=value), or give a default: \${${name}:-value}`,
  );
}

function tooLong(stack: readonly string[]): ExpansionFailure {
  const prop = stack[stack.length - 1];
  return new ExpansionFailure(
    prop
      ? `property "${prop}" expands to more than ${mib(MAX_VALUE_LENGTH)}` +
        (stack.length > 1 ? ` (through ${chain(stack)})` : "")
      : `this value expands to more than ${mib(MAX_VALUE_LENGTH)}`,
    "properties that repeat other properties grow at every step; shorten them",
  );
}

/** Expands the `properties:` section: each string value as the property it defines. */
export function expandProperties(
  properties: Record<string, unknown>,
  lookup: Lookup,
  problems: ExpansionProblem[],
): Record<string, unknown> {
  const expander = new Expander(lookup);
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(properties)) {
    const path = ["properties", name];
    if (typeof raw !== "string") {
      out[name] = expandTree(raw, lookup, problems, path, expander);
      continue;
    }
    const r = expander.expandProperty(name, raw);
    if (r.problem) problems.push({ path, ...r.problem });
    out[name] = r.value;
  }
  return out;
}

/** Expands every string in `data` (returning a copy), collecting problems with their paths. */
export function expandTree(
  data: unknown,
  lookup: Lookup,
  problems: ExpansionProblem[],
  path: PathSeg[] = [],
  expander: Expander = new Expander(lookup),
): unknown {
  if (typeof data === "string") {
    const r = expander.expandValue(data);
    if (r.problem) problems.push({ path, ...r.problem });
    return r.value;
  }
  if (Array.isArray(data)) return data.map((v, i) => expandTree(v, lookup, problems, [...path, i], expander));
  if (data && typeof data === "object" && !(data instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(data)) out[k] = expandTree(v, lookup, problems, [...path, k], expander);
    return out;
  }
  return data;
}
