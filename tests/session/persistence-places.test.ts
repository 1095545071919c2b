/**
 * Two contexts may not persist sessions to the same place (src/config/session-files.ts): one
 * StandardManager pathname file, or one FileStore directory, would make one application's
 * sessions (and logins) valid in the other. Found by the black-box sweep of the Manager
 * reference: /a restored /b's session after a restart, and /d loaded /c's session by its id.
 */
import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import { BobcatErrors } from "../../src/util/errors.ts";

const config = (...managers: string[]) => `
server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
${managers.map((m, i) => `              - { path: /c${i}, handler: bobcat:root, manager: ${m} }`).join("\n")}
`;

const load = (text: string) => loadConfigText("/etc/bobcat/server.yaml", text, { baseDir: "/srv/base", env: {} });

function refused(text: string): BobcatErrors {
  try {
    load(text);
  } catch (e) {
    if (e instanceof BobcatErrors) return e;
    throw e;
  }
  throw new Error("expected the config to be refused");
}

describe("session persistence places across contexts", () => {
  test("one pathname file for two StandardManagers is refused, naming both contexts and the file", () => {
    const e = refused(config("{ pathname: /var/lib/s.ser }", "{ pathname: /var/lib/s.ser }"));
    expect(e.errors.map((x) => x.code)).toEqual(["config.sessionPersistenceClash"]);
    const [err] = e.errors;
    expect(err!.message).toContain("context localhost/c1: the session persistence file [/var/lib/s.ser]");
    expect(err!.message).toContain("localhost/c0's");
    expect(err!.where.path).toBe("server.services[0].engine.hosts[0].contexts[1].manager.pathname");
    expect(err!.where.line).toBe(11);
  });

  test("a relative pathname lies in each context's own work directory: no clash", () => {
    const c = load(config("{ pathname: SESSIONS.ser }", "{ pathname: SESSIONS.ser }", "{ pathname: '' }", "{}"));
    expect(c.server.services[0]!.engine!.hosts[0]!.contexts).toHaveLength(4);
  });

  test("relative paths that meet, and FileStores on one directory, are refused", () => {
    const e = refused(
      config(
        "{ pathname: ../s.ser }",
        "{ pathname: ../s.ser }",
        "{ className: PersistentManager, store: { className: FileStore, directory: /srv/sessions } }",
        "{ className: PersistentManager, store: { className: FileStore, directory: /srv/sessions/ } }",
      ),
    );
    expect(e.errors.map((x) => x.code)).toEqual([
      "config.sessionPersistenceClash",
      "config.sessionPersistenceClash",
    ]);
    expect(e.errors[0]!.message).toContain("[/srv/base/work/Catalina/localhost/s.ser]");
    expect(e.errors[1]!.message).toContain("context localhost/c3: the FileStore directory [/srv/sessions]");
    expect(e.errors[1]!.where.path).toBe("server.services[0].engine.hosts[0].contexts[3].manager.store.directory");
  });

  test("FileStores in their own work directories, and a pathname beside a FileStore, load", () => {
    const c = load(
      config(
        "{ className: PersistentManager, store: { className: FileStore } }",
        "{ className: PersistentManager, store: { className: FileStore, directory: sessions } }",
        "{ className: PersistentManager, store: { className: FileStore } }",
        "{ pathname: /srv/sessions/s.ser }",
        "{ className: PersistentManager, store: { className: FileStore, directory: /srv/sessions } }",
      ),
    );
    expect(c.server.services[0]!.engine!.hosts[0]!.contexts).toHaveLength(5);
  });

  test("the same context in two services whose engines share a name: one work directory, named in the fix", () => {
    const service = (name: string, port: number) => `
    - name: ${name}
      connectors: [{ port: ${port} }]
      engine:
        defaultHost: localhost
        hosts: [{ name: localhost, contexts: [{ path: /app, handler: bobcat:root, manager: { pathname: S.ser } }] }]`;
    const e = refused(`server:\n  services:${service("A", 8080)}${service("B", 8081)}\n`);
    const [err] = e.errors;
    expect(err!.message).toContain(
      "context localhost/app of service B: the session persistence file [/srv/base/work/Catalina/localhost/app/S.ser] is also context localhost/app of service A's",
    );
    expect(err!.fix).toContain("share the work directory [/srv/base/work/Catalina/localhost/app]");
    expect(err!.fix).toContain("give the engines distinct names");
  });

  describe("shared stores: one table (or Redis) and one application key /Engine/Host/context", () => {
    const twoServices = (store: (service: string) => string, resources = "", engines = ["Catalina", "Catalina"]) =>
      `server:
  globalNamingResources:
    resources:
      - { name: jdbc/sessions, type: DataSource, url: "sqlite:sessions.db" }
      - { name: jdbc/same, type: DataSource, url: "sqlite:/srv/base/sessions.db" }
      - { name: jdbc/other, type: DataSource, url: "sqlite:other.db" }
  services:${
        ["A", "B"].map((name, i) => `
    - name: ${name}
      connectors: [{ port: ${8080 + i} }]
      engine:
        name: ${engines[i]}
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: /app
                handler: bobcat:root${resources}
                manager: { className: PersistentManager, store: ${store(name)} }`).join("")
      }
`;
    const ds = (name: string, extra = "") => `{ className: DataSourceStore, dataSourceName: ${name}${extra} }`;

    test("two DataSourceStores on one data source's table with the same key are refused, naming both and the key", () => {
      const e = refused(twoServices(() => ds("jdbc/sessions")));
      expect(e.errors.map((x) => x.code)).toEqual(["config.sessionPersistenceClash"]);
      const [err] = e.errors;
      expect(err!.message).toContain(
        "context localhost/app of service B: its sessions would be kept in the table [tomcat$sessions] of data source [jdbc/sessions] under the application key [/Catalina/localhost/app], as context localhost/app of service A's are",
      );
      expect(err!.where.path).toBe("server.services[1].engine.hosts[0].contexts[0].manager.store");
      expect(err!.fix).toContain("give the engines distinct names, or one context its own sessionTable or data source");
    });

    test("two resources reaching one database (a relative sqlite: path resolved), and table names in another case, clash", () => {
      const e = refused(
        twoServices((s) =>
          s === "A" ? ds("jdbc/sessions", ", sessionTable: Sessions") : ds("jdbc/same", ", sessionTable: sessions")
        ),
      );
      expect(e.errors.map((x) => x.code)).toEqual(["config.sessionPersistenceClash"]);
    });

    test("context resources (localDataSource) on one database clash too", () => {
      const local = `
                resources: [{ name: jdbc/mine, type: DataSource, url: "sqlite:/srv/db/mine.db" }]`;
      const e = refused(twoServices(() => ds("jdbc/mine", ", localDataSource: true"), local));
      expect(e.errors[0]!.message).toContain("of data source [jdbc/mine]");
    });

    test("another table, another data source, or engines of other names keep them apart", () => {
      for (
        const text of [
          twoServices((s) => ds("jdbc/sessions", s === "A" ? "" : ", sessionTable: sessions_b")),
          twoServices((s) => ds(s === "A" ? "jdbc/sessions" : "jdbc/other")),
          twoServices(() => ds("jdbc/sessions"), "", ["Catalina", "Other"]),
        ]
      ) expect(load(text).server.services).toHaveLength(2);
    });

    test("two RedisStores on one Redis and prefix with the same key are refused, the password not shown", () => {
      const redis = (prefix: string) =>
        `{ className: RedisStore, url: "redis://u:secret@redis:6379/0", keyPrefix: ${prefix} }`;
      const e = refused(twoServices(() => redis("bobcat")));
      expect(e.errors[0]!.message).toContain(
        "the Redis keys [bobcat:{/Catalina/localhost/app}:*] at [redis://redis:6379/0]",
      );
      expect(e.errors[0]!.message).not.toContain("secret");
      expect(e.errors[0]!.fix).toContain("its own keyPrefix");
      expect(load(twoServices((s) => redis(s === "A" ? "bobcat" : "other"))).server.services).toHaveLength(2);
    });
  });
});
