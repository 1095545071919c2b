/**
 * Checks parsed config data against the element definitions: unknown attributes (with a
 * did-you-mean), wrong types, missing required values, enum values. Applies defaults and
 * resolves paths. Reports every problem found, not just the first.
 */
import { isAbsolute, resolve } from "../util/host/path.ts";
import type { AttrDef, ElementDef, Infer } from "./schema-types.ts";
import { formatPath, type ParsedSource, type PathSeg } from "./source.ts";
import { BobcatError, type Where } from "../util/errors.ts";
import { fromJavaRegex } from "./proxy-defaults.ts";
import { copyData } from "./copy-data.ts";

/** Where each validated element and attribute came from, for errors found later (TLS, stores). */
export const SOURCE = Symbol("bobcat.source");
export interface SourceInfo {
  self: Where;
  attr(name: string): Where;
  /** The value as written (after ${...} expansion, before paths were resolved). */
  raw(name: string): unknown;
}

export function sourceOf(node: object): SourceInfo {
  return (
    (node as { [SOURCE]?: SourceInfo })[SOURCE] ??
      { self: {}, attr: (name: string) => ({ attribute: name }), raw: () => undefined }
  );
}

export class Validator {
  readonly errors: BobcatError[] = [];
  readonly notes: string[] = [];

  constructor(
    private readonly source: ParsedSource,
    private readonly baseDir: string,
    /** The expanded properties, for attributes whose default is a property (`AttrDef.property`). */
    private readonly properties: Record<string, string> = {},
  ) {}

  where(path: PathSeg[], key = false): Where {
    const pos = this.source.locate(path, key);
    const last = path[path.length - 1];
    return {
      file: this.source.fileOf?.(path) ?? this.source.file,
      line: pos?.line,
      column: pos?.column,
      path: formatPath(path),
      attribute: typeof last === "string" ? last : undefined,
    };
  }

  /** As where(), with the line and column found only when first read (runtime code passes these along). */
  lazyWhere(path: PathSeg[]): Where {
    let pos: { line?: number; column?: number } | undefined;
    const at = () => pos ??= this.source.locate(path) ?? {};
    const last = path[path.length - 1];
    return {
      file: this.source.fileOf?.(path) ?? this.source.file,
      get line() {
        return at().line;
      },
      get column() {
        return at().column;
      },
      path: formatPath(path),
      attribute: typeof last === "string" ? last : undefined,
    };
  }

  error(code: string, path: PathSeg[], message: string, fix?: string, key = false): void {
    this.errors.push(new BobcatError(code, message, { where: this.where(path, key), fix }));
  }

  /** The validated value of `def`: the validator builds exactly the shape `Infer` describes. */
  validate<E extends ElementDef>(def: E, data: unknown, path: PathSeg[]): Infer<E> {
    return this.element(def, data, path) as Infer<E>;
  }

  element(def: ElementDef, data: unknown, path: PathSeg[]): Record<string, unknown> {
    if (data === null || data === undefined) data = {};
    if (typeof data !== "object" || Array.isArray(data)) {
      this.error(
        "config.type",
        path,
        `${def.name} must be a mapping of attributes, found ${describe(data)}`,
        `write ${def.name}'s attributes as key: value pairs`,
      );
      return {};
    }
    const input = data as Record<string, unknown>;
    let attrs = def.attrs;
    let children = def.children ?? {};
    const out: Record<string, unknown> = {};
    if (def.variants) {
      const chosen = this.variant(def, input, path);
      if (!chosen) return out;
      out.className = chosen.short;
      attrs = { ...attrs, ...chosen.def.attrs };
      children = { ...children, ...(chosen.def.children ?? {}) };
    }
    const known = new Set([...Object.keys(attrs), ...Object.keys(children), ...(def.variants ? ["className"] : [])]);
    for (const key of Object.keys(input)) {
      if (known.has(key)) continue;
      const home = def.variants && otherVariant(def, key);
      if (home) {
        this.error(
          "config.unknownAttribute",
          [...path, key],
          `"${key}" belongs to ${home}, not to ${out.className}`,
          `set className: ${home}, or remove ${key}`,
          true,
        );
        continue;
      }
      const suggestion = didYouMean(key, [...known]);
      this.error(
        "config.unknownAttribute",
        [...path, key],
        `unknown attribute "${key}" on ${def.name}`,
        suggestion
          ? `did you mean "${suggestion}"?`
          : `remove it; ${def.name} accepts: ${[...known].sort().join(", ")}`,
        true,
      );
    }
    for (const [name, a] of Object.entries(attrs)) {
      const present = Object.hasOwn(input, name) && input[name] !== null;
      if (!present) {
        const fromProperty = a.property === undefined ? undefined : this.properties[a.property];
        if (fromProperty !== undefined) {
          const v = this.attr(a, fromProperty, ["properties", a.property!], `property ${a.property} for ${def.name}`);
          if (v !== undefined) out[name] = v;
        } else if (a.required) {
          this.error("config.required", [...path, name], `${def.name} needs "${name}"`, `add ${name}: ${hint(a)}`);
        } else if (a.default !== undefined) {
          out[name] = copyData(a.default);
          if (a.kind === "path") out[name] = this.resolvePath(out[name] as string);
        }
        continue;
      }
      const v = this.attr(a, input[name], [...path, name], def.name);
      if (v === undefined) continue;
      if (a.ignored) {
        this.notes.push(
          `${formatWhereShort(this.where([...path, name]))}: ${name} is accepted but has no effect: ${a.ignored}`,
        );
      }
      out[name] = v;
    }
    for (const [name, c] of Object.entries(children)) {
      const raw = input[name];
      if (raw === undefined || raw === null) {
        if (c.list) out[name] = [];
        else if (c.defaulted) out[name] = this.element(c.element(), {}, [...path, name]);
        else if (c.required) {
          this.error(
            "config.required",
            [...path, name],
            `${def.name} needs ${name} (a <${c.element().name}>)`,
            c.element().variants
              ? `add ${name}: { className: ${Object.keys(c.element().variants!.map).join(" | ")}, ... }`
              : `add ${name}: (see config/server.yaml)`,
          );
        }
        continue;
      }
      if (c.list) {
        const items = Array.isArray(raw) ? raw : [raw];
        if (!Array.isArray(raw) && typeof raw !== "object") {
          this.error(
            "config.type",
            [...path, name],
            `${name} must be a list of ${c.element().name} entries`,
            `write ${name}: as a list (- item)`,
          );
          continue;
        }
        out[name] = items.map((item, i) =>
          this.element(c.element(), item, [...path, name, ...(Array.isArray(raw) ? [i] : [])])
        );
      } else {
        if (Array.isArray(raw)) {
          this.error(
            "config.type",
            [...path, name],
            `${name} is a single ${c.element().name}, not a list`,
            `remove the list markers under ${name}`,
          );
          continue;
        }
        out[name] = this.element(c.element(), raw, [...path, name]);
      }
    }
    attachSource(out, this, path, input);
    return out;
  }

  private variant(
    def: ElementDef,
    input: Record<string, unknown>,
    path: PathSeg[],
  ): { short: string; def: ElementDef } | undefined {
    const variants = def.variants!;
    const raw = input.className ?? variants.defaultVariant;
    if (raw === undefined) {
      this.error(
        "config.required",
        [...path, "className"],
        `${def.name} needs "className"`,
        `set className to one of: ${Object.keys(variants.map).join(", ")}`,
      );
      return undefined;
    }
    const name = String(raw);
    for (const [short, v] of Object.entries(variants.map)) {
      if (name === short || name === v.fullName) return { short, def: v.element() };
    }
    const suggestion = didYouMean(name.split(".").pop()!, Object.keys(variants.map));
    this.error(
      "config.unknownClass",
      [...path, "className"],
      `unknown ${def.name} className "${name}"`,
      suggestion ? `did you mean "${suggestion}"?` : `use one of: ${Object.keys(variants.map).join(", ")}`,
    );
    return undefined;
  }

  /** One attribute's value checked and converted; undefined (with an error recorded) when it is wrong. */
  attr(a: AttrDef, v: unknown, path: PathSeg[], element: string): unknown {
    const name = String(path[path.length - 1]);
    const bad = (expected: string, fix?: string) => {
      this.error(
        "config.type",
        path,
        `${element} ${name} must be ${expected}, found ${describe(v)}`,
        fix ?? `write ${name}: ${hint(a)}`,
      );
      return undefined;
    };
    switch (a.kind) {
      case "string":
        if (typeof v === "string") return v;
        if (typeof v === "number" || typeof v === "boolean") return String(v);
        return bad("a string");
      case "path":
        if (typeof v !== "string" || v === "") return bad("a file or directory path");
        return this.resolvePath(v);
      case "int":
      case "number": {
        const n = typeof v === "number"
          ? v
          : typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v)
          ? Number(v)
          : NaN;
        if (Number.isNaN(n) || (a.kind === "int" && !Number.isInteger(n))) {
          return bad(a.kind === "int" ? "a whole number" : "a number");
        }
        if (a.min !== undefined && n < a.min) return bad(`at least ${a.min}`);
        if (a.max !== undefined && n > a.max) return bad(`at most ${a.max}`);
        return n;
      }
      case "boolean":
        if (typeof v === "boolean") return v;
        if (typeof v === "string" && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === "true";
        return bad("true or false");
      case "enum": {
        const s = String(v).trim();
        const hit = a.values!.find((x) => x.toLowerCase() === s.toLowerCase());
        if (hit) return hit;
        const syn = a.synonyms && Object.entries(a.synonyms).find(([k]) => k.toLowerCase() === s.toLowerCase());
        if (syn) return syn[1];
        return bad(`one of ${a.values!.join(", ")}`, `use one of: ${a.values!.join(", ")}`);
      }
      case "list": {
        let items: string[];
        if (Array.isArray(v) && v.every((x) => ["string", "number"].includes(typeof x))) items = v.map(String);
        else if (typeof v === "string") items = v.split(",").map((s) => s.trim()).filter((s) => s);
        else return bad("a list of strings");
        if (!a.values) return items;
        const out = items.map((x) => a.values!.find((y) => y.toLowerCase() === x.trim().toLowerCase()));
        const wrong = items.find((_, i) => out[i] === undefined);
        if (wrong !== undefined) return bad(`a list of ${a.values.join(", ")}`, `use one of: ${a.values.join(", ")}`);
        return out;
      }
      case "regex":
        if (typeof v !== "string") return bad("a regular expression string");
        try {
          new RegExp(fromJavaRegex(v));
          return v;
        } catch (e) {
          return bad(`a valid regular expression (${(e as Error).message})`);
        }
      case "map":
        if (v && typeof v === "object" && !Array.isArray(v)) {
          const out: Record<string, string> = {};
          for (const [k, x] of Object.entries(v)) {
            if (x !== null && typeof x === "object") return bad("a mapping of names to plain values");
            out[k] = String(x);
            if (a.values) {
              const hit = a.values.find((y) => y.toLowerCase() === out[k]!.trim().toLowerCase());
              if (hit === undefined) {
                this.error(
                  "config.type",
                  [...path, k],
                  `${element} ${name}: "${out[k]}" for ${k} is not one of ${a.values.join(", ")}`,
                  `use one of: ${a.values.join(", ")}`,
                );
                return undefined;
              }
              out[k] = hit;
            }
          }
          return out;
        }
        return bad("a mapping of names to values");
    }
  }

  resolvePath(p: string): string {
    return isAbsolute(p) ? p : resolve(this.baseDir, p);
  }
}

function attachSource(
  out: Record<string, unknown>,
  v: Validator,
  path: PathSeg[],
  input: Record<string, unknown>,
): void {
  let self: Where | undefined;
  const info: SourceInfo = {
    // The line and column are looked up when an error reads them: that may load the yaml package.
    get self() {
      return self ??= v.lazyWhere(path);
    },
    attr: (name) => v.lazyWhere([...path, name]),
    raw: (name) => input[name],
  };
  Object.defineProperty(out, SOURCE, { value: info, enumerable: false });
}

/** The variant of `def` (by className) that has attribute or child `key`, if any. */
function otherVariant(def: ElementDef, key: string): string | undefined {
  return Object.entries(def.variants!.map).find(([, v]) => {
    const e = v.element();
    return Object.hasOwn(e.attrs, key) || Object.hasOwn(e.children ?? {}, key);
  })?.[0];
}

function formatWhereShort(w: Where): string {
  return `${w.file ?? ""}${w.line ? `:${w.line}` : ""} ${w.path ?? ""}`.trim();
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}

function hint(a: AttrDef): string {
  if (a.kind === "enum") return a.values!.join(" | ");
  if (a.default !== undefined) return JSON.stringify(a.default);
  return {
    string: "text",
    path: "path/to/file",
    int: "123",
    number: "1.5",
    boolean: "true",
    list: "[a, b]",
    regex: "'^pattern$'",
    map: "{ name: value }",
    enum: "",
  }[a.kind];
}

export function didYouMean(word: string, candidates: string[]): string | undefined {
  const lower = word.toLowerCase();
  const exactCase = candidates.find((c) => c.toLowerCase() === lower);
  if (exactCase) return exactCase;
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = levenshtein(lower, c.toLowerCase());
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * Errors from layers that know attribute names but not files (session managers, stores) get
 * the file, line and config path of the attribute, from the first node that has it.
 */
export function locateError(e: unknown, nodes: Array<object | undefined>): unknown {
  if (!(e instanceof BobcatError) || e.where.file) return e;
  const attribute = e.where.attribute;
  const node = nodes.find((n) => n && attribute && Object.hasOwn(n, attribute)) ?? nodes.find((n) => n);
  if (!node) return e;
  const src = sourceOf(node);
  const where = attribute && Object.hasOwn(node, attribute) ? src.attr(attribute) : src.self;
  return new BobcatError(e.code, e.message, {
    where: { ...where, attribute: attribute ?? where.attribute },
    fix: e.fix,
    cause: e,
  });
}
