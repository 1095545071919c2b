/**
 * `bobcat store init` sizes the id column for the ids the config's managers make: Tomcat's
 * varchar(100) unless a larger sessionIdLength (two characters a byte) or a long jvmRoute makes
 * them longer, when the first store write would fail ("value too long") on a varchar(100).
 */
import { describe, expect, spyOn, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import { storeInit } from "../../src/cli/commands.ts";

const config = (manager: string, jvmRoute = "") => `
server:
  globalNamingResources:
    resources: [{ name: jdbc/sessions, type: DataSource, url: "postgres://bobcat@127.0.0.1:1/sessions" }]
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost${jvmRoute ? `\n        jvmRoute: ${jvmRoute}` : ""}
        hosts:
          - name: localhost
            contexts:
              - { path: /a, handler: bobcat:root, manager: { className: PersistentManager, store: { className: DataSourceStore, dataSourceName: jdbc/sessions } } }
              - { path: /b, handler: bobcat:root, manager: ${manager} }
`;

/** What `store init --print` prints (it opens no connection). */
async function printed(text: string): Promise<string> {
  const out: string[] = [];
  const spy = spyOn(console, "log").mockImplementation((...args: unknown[]) => void out.push(args.join(" ")));
  try {
    const code = await storeInit(loadConfigText("/srv/server.yaml", text, { baseDir: "/srv", env: {} }), true);
    expect(code).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return out.join("\n");
}

describe("bobcat store init: the id column", () => {
  test("Tomcat's varchar(100) for the default ids (32 characters)", async () => {
    const sql = await printed(
      config("{ className: PersistentManager, store: { className: DataSourceStore, dataSourceName: jdbc/sessions } }"),
    );
    expect(sql).toMatch(/"id" +varchar\(100\) NOT NULL/);
  });

  test("as wide as the longest ids any context makes: sessionIdLength 64 and .node-01 → 136", async () => {
    const sql = await printed(
      config(
        "{ className: PersistentManager, sessionIdGenerator: { sessionIdLength: 64 }, store: { className: DataSourceStore, dataSourceName: jdbc/sessions } }",
        "node-01",
      ),
    );
    // Both contexts share the table: each statement is as wide as the longest ids.
    expect(sql.match(/varchar\(136\) NOT NULL/g)).toHaveLength(2);
    expect(sql).not.toContain("varchar(100)");
  });

  test("a context with no DataSourceStore does not widen it", async () => {
    const sql = await printed(config("{ className: StandardManager, sessionIdGenerator: { sessionIdLength: 200 } }"));
    expect(sql).toContain("varchar(100) NOT NULL");
  });
});
