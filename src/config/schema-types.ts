/**
 * The vocabulary the config schema is written in. One definition per server.xml element drives
 * validation, defaults, the JSON Schema for editors and the README's reference tables.
 */
export type AttrKind =
  | "string"
  | "int"
  | "number"
  | "boolean"
  | "enum"
  /** A file or directory; relative values resolve against the base directory. */
  | "path"
  /** A list of strings; a comma-separated string is accepted too (as server.xml writes it). */
  | "list"
  /** A JavaScript-compatible regular expression, anchored when applied. */
  | "regex"
  /** A string → string map. */
  | "map";

export interface AttrDef {
  kind: AttrKind;
  doc: string;
  default?: unknown;
  /** Allowed values for `enum` (compared case-insensitively, stored as listed here). */
  values?: readonly string[];
  /** Extra spellings that mean a listed value, e.g. `want` → `optional`. */
  synonyms?: Record<string, string>;
  min?: number;
  max?: number;
  required?: boolean;
  /** Accepted for server.xml compatibility but not acted on: a note is logged when set. */
  ignored?: string;
  /** Accepted, but the value is moved elsewhere (legacy attributes); a note is logged. */
  movedTo?: string;
  /** Values are secrets: never printed by `bobcat check`. */
  secret?: boolean;
}

export interface ChildDef {
  element: () => ElementDef;
  list: boolean;
  doc?: string;
}

/** Elements chosen by `className` (Manager, Store, Valve): each variant adds its own attributes. */
export interface Variants {
  /** Short name of the variant used when `className` is absent; none = `className` is required. */
  defaultVariant?: string;
  /** short name → [Tomcat's full class name, the variant's own element definition]. */
  map: Record<string, { fullName: string; element: () => ElementDef }>;
}

export interface ElementDef {
  /** Tomcat's element name, e.g. `Connector`. */
  name: string;
  doc: string;
  attrs: Record<string, AttrDef>;
  children?: Record<string, ChildDef>;
  variants?: Variants;
}
