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
});
