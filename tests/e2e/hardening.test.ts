/**
 * Attacks on what the server reads and on BASIC logins, through the real CLI on both runtimes:
 * FIFOs and devices where a config, keystore, handler or session file should be (never a hang),
 * YAML alias bombs and `${...}` expansion bombs (config errors with file:line), and password
 * guessing against BASIC (Tomcat's LockOutRealm), with curl, on the native and node-compat
 * back-ends.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  curlStatus,
  freePort,
  PKI,
  run,
  runCli,
  type Running,
  RUNTIMES,
  startBobcat,
  tempDir,
  writeFiles,
} from "../helpers/bobcat.ts";

const mkfifo = (path: string) => execFileSync("mkfifo", [path]);

/** A minimal config: one plain HTTP connector (extra lines under it), the given contexts. */
function config(port: number, contexts: string, connectorExtra = ""): string {
  return `
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
${connectorExtra}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
${contexts}
`;
}

const ROOT_CONTEXT = `              - path: ""
                handler: bobcat:root`;

/** One of the CLI commands, which must end (well within the limit) with exit 1 and the message. */
async function refused(runtime: (typeof RUNTIMES)[number], args: string[], cwd: string) {
  const r = await runCli(runtime, args, { cwd, timeoutMs: 30_000 });
  // A hang is killed by the time limit (exit code null/137), which fails here.
  expect(r.code).toBe(1);
  expect(r.output).not.toContain("unexpected error");
  return r.output;
}

for (const runtime of RUNTIMES) {
  describe(`files that are not regular files, and config bombs (${runtime})`, () => {
    let base: string;
    beforeAll(() => {
      base = tempDir();
    });
    afterAll(() => cleanup(base));

    test("bobcat check --config on a FIFO or /dev/zero returns at once with exit 1 and says what is wrong", async () => {
      mkfifo(join(base, "server.yaml"));
      let out = await refused(runtime, ["check", "--config", join(base, "server.yaml")], base);
      expect(out).toContain(
        `cannot read config file ${join(base, "server.yaml")}: it is a FIFO (named pipe), not a regular file`,
      );
      expect(out).toContain("fix: point --config at a regular YAML or TOML file");
      out = await refused(runtime, ["run", "--config", join(base, "server.yaml")], base);
      expect(out).toContain("is a FIFO (named pipe), not a regular file");
      out = await refused(runtime, ["check", "--config", "/dev/zero"], base);
      expect(out).toContain("cannot read config file /dev/zero: it is a character device, not a regular file");
    });

    test("files the config names: a FIFO keystore, key, password file, handler or session file is an error naming the attribute", async () => {
      const dir = join(base, "named");
      mkdirSync(dir);
      for (const f of ["key.pem", "store.p12", "pass.txt", "app.ts", "SESSIONS.ser"]) mkfifo(join(dir, f));
      writeFiles(dir, {
        "pem.yaml": config(
          await freePort(),
          ROOT_CONTEXT,
          `          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${PKI}/localhost-rsa.pem
                  certificateKeyFile: key.pem`,
        ),
        "store.yaml": config(
          await freePort(),
          ROOT_CONTEXT,
          `          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateKeystoreFile: store.p12`,
        ),
        "pass.yaml": config(
          await freePort(),
          ROOT_CONTEXT,
          `          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateKeystoreFile: ${join(import.meta.dir, "..", "fixtures", "keystores")}/keytool-rsa.p12
                  certificateKeystorePasswordFile: pass.txt`,
        ),
        "handler.yaml": config(
          await freePort(),
          `              - path: ""
                handler: app.ts`,
        ),
        "pathname.yaml": config(
          await freePort(),
          `              - path: ""
                handler: bobcat:root
                manager: { pathname: ${join(dir, "SESSIONS.ser")} }`,
        ),
      });
      const check = (name: string) => refused(runtime, ["check", "--config", join(dir, name), "--base", dir], dir);
      let out = await check("pem.yaml");
      expect(out).toMatch(
        /pem\.yaml:\d+:\d+: .*File \[.*key\.pem\] is a FIFO \(named pipe\), not a regular file \(from certificateKeyFile\)/,
      );
      expect(out).toContain("fix: point certificateKeyFile at a regular file");
      out = await check("store.yaml");
      expect(out).toMatch(
        /Keystore file \[.*store\.p12\] is a FIFO \(named pipe\), not a regular file \(from certificateKeystoreFile\)/,
      );
      out = await check("pass.yaml");
      expect(out).toMatch(
        /Password file \[.*pass\.txt\] is a FIFO \(named pipe\), not a regular file \(from certificateKeystorePasswordFile\)/,
      );
      out = await check("handler.yaml");
      expect(out).toMatch(
        /handler\.yaml:\d+:\d+: .*handler: handler module .*app\.ts is a FIFO \(named pipe\), not a regular file/,
      );
      out = await check("pathname.yaml");
      expect(out).toMatch(
        /pathname\.yaml:\d+:\d+: .*manager\.pathname: .*the session persistence file \[.*SESSIONS\.ser\] is a FIFO \(named pipe\), not a regular file/,
      );
      // run refuses it too (start-up reads the file), promptly.
      out = await refused(runtime, ["run", "--config", join(dir, "pathname.yaml"), "--base", dir], dir);
      expect(out).toContain("the session persistence file");
    });

    test("a YAML alias bomb is a config error at the alias's line, exit 1, no stack trace", async () => {
      const levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
      for (let i = 1; i < 9; i++) {
        const [prev, name] = ["abcdefghi"[i - 1], "abcdefghi"[i]];
        levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`);
      }
      const file = join(base, "bomb.yaml");
      writeFiles(base, {
        "bomb.yaml": `properties:\n${levels.map((l) => "  " + l).join("\n")}\n` +
          config(await freePort(), ROOT_CONTEXT),
      });
      const out = await refused(runtime, ["check", "--config", file], base);
      expect(out).toContain(`${file}:5:`);
      expect(out).toContain("YAML alias *c expands to too many nodes");
      expect(out).not.toMatch(/\n\s+at /); // no stack trace
    });

    test("a ${...} chain that grows at each step, and a property that refers to itself, are config errors naming the property and line", async () => {
      const props = ["  a0: " + "x".repeat(100)];
      for (let i = 1; i <= 14; i++) props.push(`  a${i}: "${`\${a${i - 1}}`.repeat(4)}"`);
      props.push(`  loop: "x\${loop}"`);
      const file = join(base, "expand.yaml");
      writeFiles(base, {
        "expand.yaml": `properties:\n${props.join("\n")}\n` + config(
          await freePort(),
          `              - path: ""
                handler: bobcat:root
                sessionCookieName: \${a14}
              - path: /x
                sessionCookieName: \${loop}`,
        ),
      });
      const out = await refused(runtime, ["check", "--config", file], base);
      expect(out).toContain(`${file}:9:7: properties.a7: property "a7" expands to more than 1 MiB`);
      expect(out).toContain(`${file}:17:9: properties.loop: property "loop" refers to itself`);
      expect(out).toMatch(
        /sessionCookieName: property "a7" expands to more than 1 MiB \(through a14 → a13 → .* → a7\)/,
      );
    });
  });

  for (const backend of ["native", "node-compat"] as const) {
    describe(`BASIC lock-out and a FIFO in the FileStore directory (${runtime}, ${backend})`, () => {
      let s: Running;
      let port: number;
      const FIFO_ID = "0123456789ABCDEF0123456789ABCDEF";
      beforeAll(async () => {
        port = await freePort();
        const base = tempDir();
        mkdirSync(join(base, "sessions"));
        mkfifo(join(base, "sessions", `${FIFO_ID}.session`));
        s = await startBobcat({
          runtime,
          base,
          files: {
            "secret/index.html": "the secret\n",
            "app.ts":
              `export default { fetch(req, ctx) { const s = ctx.getSession(); s.setAttribute("n", 1); return new Response("session " + s.id); } };`,
          },
          env: backend === "node-compat" ? { BOBCAT_BACKEND: "node-compat" } : {},
          config: config(
            port,
            `              - path: /secure
                docBase: ${join(base, "secret")}
                loginConfig: { authMethod: BASIC, realmName: test }
                realm:
                  users:
                    - { username: alice, password: right, roles: [user] }
                    - { username: bob, password: bobpw, roles: [user] }
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [user] }]
              - path: /fast
                docBase: ${join(base, "secret")}
                loginConfig: { authMethod: BASIC }
                realm:
                  failureCount: 2
                  lockOutTime: 1
                  users: [{ username: alice, password: right, roles: [user] }]
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [user] }]
              - path: /off
                docBase: ${join(base, "secret")}
                loginConfig: { authMethod: BASIC }
                realm:
                  failureCount: 0
                  users: [{ username: alice, password: right, roles: [user] }]
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [user] }]
              - path: /app
                handler: app.ts
                manager:
                  className: PersistentManager
                  maxIdleBackup: 0
                  store: { className: FileStore, directory: ${join(base, "sessions")} }`,
            "",
          ),
        });
        expect(s.output()).toContain(
          backend === "native"
            ? `native ${runtime === "bun" ? "Bun.serve" : "Deno HTTP server"}`
            : "node-compat back-end",
        );
      });
      afterAll(async () => {
        if (!s) return;
        await s.stop();
        cleanup(s.base);
      });

      const curl = (path: string, user: string) => curlStatus(`http://127.0.0.1:${port}${path}`, user);

      test("5 wrong passwords lock the user out: the right one then gets 401, with Tomcat's warning; other users still log in", async () => {
        expect(await curl("/secure/", "alice:right")).toBe("200");
        for (let i = 0; i < 5; i++) expect(await curl("/secure/", `alice:guess${i}`)).toBe("401");
        expect(await curl("/secure/", "alice:right")).toBe("401");
        expect(s.output()).toContain("WARN  [core] An attempt was made to authenticate the locked user [alice]");
        expect(await curl("/secure/", "bob:bobpw")).toBe("200");
        // Unknown names are counted (and locked) too.
        for (let i = 0; i < 6; i++) expect(await curl("/secure/", `nobody:${i}`)).toBe("401");
        expect(s.output()).toContain("An attempt was made to authenticate the locked user [nobody]");
      });

      test("failureCount and lockOutTime are configurable; a success before the limit resets the count; failureCount 0 turns it off", async () => {
        expect(await curl("/fast/", "alice:wrong")).toBe("401");
        expect(await curl("/fast/", "alice:right")).toBe("200"); // 1 failure, then a success: cleared
        expect(await curl("/fast/", "alice:wrong")).toBe("401");
        expect(await curl("/fast/", "alice:right")).toBe("200");
        expect(await curl("/fast/", "alice:wrong")).toBe("401");
        expect(await curl("/fast/", "alice:wrong")).toBe("401");
        expect(await curl("/fast/", "alice:right")).toBe("401"); // locked after 2
        // Locked for 1 s after the last failure: try again (bounded) until it runs out.
        let code = "401";
        for (let i = 0; i < 20 && code === "401"; i++) {
          await Bun.sleep(250);
          code = await curl("/fast/", "alice:right");
        }
        expect(code).toBe("200");
        for (let i = 0; i < 8; i++) expect(await curl("/off/", `alice:wrong${i}`)).toBe("401");
        expect(await curl("/off/", "alice:right")).toBe("200");
      });

      test("a FIFO named like a session file is skipped with a warning: the request gets a new session, and SIGTERM stops the server", async () => {
        const r = await run([
          "curl",
          "-s",
          "--max-time",
          "10",
          "-b",
          `JSESSIONID=${FIFO_ID}`,
          `http://127.0.0.1:${port}/app/`,
        ]);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^session [0-9A-F]{32}$/);
        expect(r.stdout).not.toContain(FIFO_ID);
        expect(s.output()).toContain(
          `${FIFO_ID}.session]: it is a FIFO (named pipe), not a regular file; move it out of the session directory`,
        );
        const code = await s.stop();
        expect(code).toBe(0);
        expect(s.output()).not.toContain("ERROR");
      });
    });
  }
}
