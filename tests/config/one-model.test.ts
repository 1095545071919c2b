/**
 * The schema is the one model: an attribute added to an element definition appears in the
 * inferred model type, the JSON Schema, the reference docs, the loaded config and the
 * component that uses it, with nothing else to edit; the generated artefacts are fresh.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { referenceText, schemaText } from "../../scripts/gen-config-artifacts.ts";
import { Manager, StandardManagerDef } from "../../src/config/schema.ts";
import type { AttrDef, Infer } from "../../src/config/schema-types.ts";
import type { ContextConfig, ManagerConfig, StandardManagerConfig } from "../../src/config/model.ts";
import { loadConfigText } from "../../src/config/load.ts";
import { managerConfig, StandardManager } from "../../src/session/index.ts";
import { SERVER_PLATFORM } from "../../src/runtime/server-platform.ts";

const ROOT = join(import.meta.dir, "..", "..");

// --- Types: checked by `tsc -p .` (a wrong inference fails the type check) ------------------
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const assertType = <T extends true>(_: T) => {};
const Probe = {
  name: "Probe",
  doc: "",
  attrs: {
    count: { kind: "int", doc: "", default: 7 },
    label: { kind: "string", doc: "" },
    mode: { kind: "enum", values: ["a", "b"], doc: "", required: true },
    old: { kind: "string", doc: "", movedTo: "label" },
    noop: { kind: "boolean", doc: "", ignored: "why" },
  },
} as const;
assertType<Equal<Infer<typeof Probe>, { count: number; mode: "a" | "b"; label?: string }>>(true);
// The model's types are the schema's: a Manager is a union told apart by className.
assertType<Equal<StandardManagerConfig["maxActiveSessions"], number>>(true);
assertType<Equal<StandardManagerConfig["pathname"], string | undefined>>(true);
assertType<Equal<ContextConfig["manager"], ManagerConfig>>(true);
assertType<Equal<ContextConfig["sessionTrackingModes"], ("COOKIE" | "URL" | "SSL")[]>>(true);

const added = "probeAttribute";
const attrs = StandardManagerDef.attrs as Record<string, AttrDef>;
afterEach(() => {
  delete attrs[added];
});

test("the generated artefacts are fresh (config/server.schema.json, docs/config-reference.md)", () => {
  expect(readFileSync(join(ROOT, "config/server.schema.json"), "utf8")).toBe(schemaText());
  expect(readFileSync(join(ROOT, "docs/config-reference.md"), "utf8")).toBe(referenceText());
});

test("an attribute added in the schema reaches the JSON Schema, the docs, the config and the manager", () => {
  attrs[added] = { kind: "int", doc: "A probe attribute.", default: 41, min: 0 };
  expect(schemaText()).toContain(`"${added}"`);
  expect(referenceText()).toContain(`| \`${added}\` | int | \`41\` | A probe attribute. |`);

  const yaml = (extra: string) =>
    `server:
  services:
    - connectors: [{ port: 0 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - { path: "", handler: "bobcat:root", manager: { ${extra} } }
`;
  const ctx = (extra: string) =>
    loadConfigText("t.yaml", yaml(extra), { baseDir: "/" }).server.services[0]!.engine.hosts[0]!.contexts[0]!;
  const defaulted = ctx("").manager as Record<string, unknown>;
  expect(defaulted[added]).toBe(41);
  const set = ctx(`${added}: 5`);
  expect((set.manager as Record<string, unknown>)[added]).toBe(5);
  expect(() => ctx(`${added}: -1`)).toThrow(`Manager ${added} must be at least 0`);

  // The component gets the validated object as its config: nothing to copy or re-default.
  const manager = SERVER_PLATFORM.createManager(set.manager, { workDir: "/tmp" }) as StandardManager;
  expect((manager.config as Record<string, unknown>)[added]).toBe(5);
  // And code that builds a manager without a config file gets the same default and checks.
  expect((managerConfig() as Record<string, unknown>)[added]).toBe(41);
  expect((new StandardManager({ [added]: 3 } as never).config as Record<string, unknown>)[added]).toBe(3);
  expect(() => new StandardManager({ [added]: "x" } as never)).toThrow("must be a whole number");
  expect(Manager.variants.map.StandardManager.element()).toBe(StandardManagerDef);
});
