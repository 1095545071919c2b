/**
 * The vocabulary the config schema is written in. One definition per server.xml element drives
 * validation, defaults, the JSON Schema for editors and the README's reference tables, and —
 * through `Infer` below — the TypeScript type of the validated element (src/config/model.ts).
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
  /** Allowed values for `enum`, for each item of a `list` and each value of a `map` (compared case-insensitively, stored as listed here). */
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
  /**
   * When the attribute is not set: the value of this property (`-Dname=value` on the command
   * line, or the file's `properties`), as Tomcat reads the system property; then `default`.
   */
  property?: string;
}

export interface ChildDef {
  element: () => ElementDef;
  list: boolean;
  doc?: string;
  /** A single child that is always in the model: absent in the file, it is built from its defaults. */
  defaulted?: boolean;
  /** A single child the file must have. */
  required?: boolean;
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

// ---------------------------------------------------------------------------------------------
// The validated value of an element, inferred from its definition (written `as const satisfies
// ElementDef`). An attribute with a default or `required: true` is always present; others are
// optional. `ignored` and `movedTo` attributes are not part of the model. A list child is an
// array; a single child is optional unless `defaulted` or `required`. Variants (className) make
// a union discriminated by the short className.

type Dropped<A> = A extends { ignored: string } ? true : A extends { movedTo: string } ? true : false;

/** The value type of one attribute. */
export type AttrValue<A> = A extends { kind: "enum"; values: readonly (infer V extends string)[] } ? V
  : A extends { kind: "int" | "number" } ? number
  : A extends { kind: "boolean" } ? boolean
  : A extends { kind: "list"; values: readonly (infer V extends string)[] } ? V[]
  : A extends { kind: "list" } ? string[]
  : A extends { kind: "map"; values: readonly (infer V extends string)[] } ? Record<string, V>
  : A extends { kind: "map" } ? Record<string, string>
  : string;

type Always<A> = A extends { required: true } ? true
  : A extends { default: infer D } ? ([D] extends [undefined] ? false : true)
  : false;

type AttrsOf<T> =
  & {
    -readonly [K in keyof T as Dropped<T[K]> extends true ? never : Always<T[K]> extends true ? K : never]: AttrValue<
      T[K]
    >;
  }
  & {
    -readonly [K in keyof T as Dropped<T[K]> extends true ? never : Always<T[K]> extends true ? never : K]?: AttrValue<
      T[K]
    >;
  };

/**
 * A recursive reference (a LockOutRealm's nested realms) is written `element: (): ElementDef => X`
 * to break the cycle in the definitions' own types; it infers as `unknown`, and model.ts names it.
 */
type ElementValue<E> = ElementDef extends E ? unknown : Infer<E>;
type ChildValue<C> = C extends { element: () => infer E; list: true } ? ElementValue<E>[]
  : C extends { element: () => infer E } ? ElementValue<E>
  : never;
type ChildAlways<C> = C extends { list: true } ? true
  : C extends { defaulted: true } | { required: true } ? true
  : false;

type ChildrenOf<T> =
  & { -readonly [K in keyof T as ChildAlways<T[K]> extends true ? K : never]: ChildValue<T[K]> }
  & { -readonly [K in keyof T as ChildAlways<T[K]> extends true ? never : K]?: ChildValue<T[K]> };

type VariantsOf<V> = V extends { map: infer M } ? {
    [K in keyof M]: { className: K } & (M[K] extends { element: () => infer E } ? Infer<E> : never);
  }[keyof M]
  : unknown;

type Simplify<T> = T extends unknown ? { [K in keyof T]: T[K] } : never;

/** The validated value of element definition `E`: what `Validator.element(E, ...)` returns. */
export type Infer<E> = E extends { attrs: infer A } ? Simplify<
    & AttrsOf<A>
    & (E extends { children: infer C } ? ChildrenOf<C> : unknown)
    & (E extends { variants: infer V } ? VariantsOf<V> : unknown)
  >
  : never;
