/** JSON Schema for editors, generated from the same definitions the validator uses. */
import type { AttrDef, ElementDef } from "./schema-types.ts";
import { ConfigFile } from "./schema.ts";

type Json = Record<string, unknown>;

function attrSchema(a: AttrDef): Json {
  const base: Json = { description: a.doc + (a.ignored ? ` (accepted, no effect: ${a.ignored})` : "") };
  if (a.default !== undefined) base.default = a.default;
  const expand = { type: "string", pattern: "\\$\\{" };
  switch (a.kind) {
    case "int":
    case "number":
      return {
        ...base,
        anyOf: [{ type: a.kind === "int" ? "integer" : "number", minimum: a.min, maximum: a.max }, expand],
      };
    case "boolean":
      return { ...base, anyOf: [{ type: "boolean" }, expand] };
    case "enum":
      return { ...base, anyOf: [{ enum: [...a.values!, ...Object.keys(a.synonyms ?? {})] }, expand] };
    case "list":
      return {
        ...base,
        anyOf: [{ type: "array", items: a.values ? { enum: [...a.values] } : { type: "string" } }, { type: "string" }],
      };
    case "map":
      return {
        ...base,
        type: "object",
        additionalProperties: a.values ? { enum: [...a.values] } : { type: ["string", "number", "boolean"] },
      };
    default:
      return { ...base, type: "string" };
  }
}

function elementSchema(def: ElementDef, defs: Json): Json {
  const props: Json = {};
  const required: string[] = [];
  for (const [name, a] of Object.entries(def.attrs)) {
    props[name] = attrSchema(a);
    if (a.required) required.push(name);
  }
  for (const [name, c] of Object.entries(def.children ?? {})) {
    const child = c.element();
    // Once per element: realms nest realms, credential handlers nest handlers.
    if (!(child.name in defs)) {
      defs[child.name] = {};
      defs[child.name] = elementSchema(child, defs);
    }
    const ref = { $ref: `#/$defs/${child.name}` };
    props[name] = c.list ? { type: "array", items: ref } : ref;
  }
  if (def.variants) {
    const variants = Object.entries(def.variants.map).map(([short, v]) => {
      const inner = elementSchema(v.element(), defs) as { properties: Json; required?: string[] };
      return {
        type: "object",
        properties: { ...props, ...inner.properties, className: { enum: [short, v.fullName] } },
        required: [
          ...required,
          ...(def.variants!.defaultVariant === short ? [] : ["className"]),
          ...(inner.required ?? []),
        ],
        additionalProperties: false,
      };
    });
    return { description: def.doc, oneOf: variants };
  }
  return {
    type: "object",
    description: def.doc,
    properties: props,
    required: required.length ? required : undefined,
    additionalProperties: false,
  };
}

export function Schema(): Json {
  const defs: Json = {};
  const root = elementSchema(ConfigFile, defs);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "bobcat configuration",
    ...root,
    $defs: defs,
  };
}
