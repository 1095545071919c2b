/**
 * copyData (src/config/copy-data.ts), which copies attribute defaults into each validated element:
 * arrays and plain objects at every depth are new, so changing one element's list or map leaves
 * the schema's default and every other element alone; leaves are kept as they are.
 */
import { describe, expect, test } from "bun:test";
import { copyData } from "../../src/config/copy-data.ts";
import { loadConfigText } from "../../src/config/load.ts";

describe("copyData", () => {
  test("copies arrays and plain objects at every depth, keeps leaves", () => {
    const original = { list: ["a", "b"], nested: { deeper: [{ n: 1 }], flag: true, none: null }, s: "x" };
    const copy = copyData(original);
    expect(copy).toEqual(original);
    expect(copy).not.toBe(original);
    expect(copy.list).not.toBe(original.list);
    expect(copy.nested).not.toBe(original.nested);
    expect(copy.nested.deeper).not.toBe(original.nested.deeper);
    expect(copy.nested.deeper[0]).not.toBe(original.nested.deeper[0]);
    copy.nested.deeper[0]!.n = 2;
    copy.list.push("c");
    expect(original).toEqual({ list: ["a", "b"], nested: { deeper: [{ n: 1 }], flag: true, none: null }, s: "x" });
    expect(copyData("s")).toBe("s");
    expect(copyData(null)).toBe(null);
  });

  test("keeps a __proto__ key as a key, as structuredClone does, and copies prototype-less objects", () => {
    // A map's keys come from the file: conf/context.xml's errorCode.__proto__ is one.
    const parsed = JSON.parse(
      '{"__proto__": {"polluted": true}, "errorCodes": {"__proto__": "/x.html", "404": "/n.html"}}',
    );
    const copy = copyData(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.keys(copy)).toEqual(["__proto__", "errorCodes"]);
    expect(copy).toEqual(structuredClone(parsed));
    expect(Object.entries(copy.errorCodes as object)).toEqual([["404", "/n.html"], ["__proto__", "/x.html"]]);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { list: ["a"] });
    const bareCopy = copyData(bare);
    expect(bareCopy).not.toBe(bare);
    expect(bareCopy.list).not.toBe(bare.list);
    expect({ ...bareCopy }).toEqual({ list: ["a"] });
  });

  test("each host gets its own copy of a list default (aliases), not the schema's", () => {
    const text = `server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: a
        hosts:
          - name: a
          - name: b
`;
    const c = loadConfigText("/srv/base/server.yaml", text, { baseDir: "/srv/base", env: {} });
    const [a, b] = c.server.services[0]!.engine.hosts;
    expect(a!.aliases).toEqual([]);
    expect(a!.aliases).not.toBe(b!.aliases);
    a!.aliases.push("x");
    const again = loadConfigText("/srv/base/server.yaml", text, { baseDir: "/srv/base", env: {} });
    expect(b!.aliases).toEqual([]);
    expect(again.server.services[0]!.engine.hosts[0]!.aliases).toEqual([]);
  });
});
