/**
 * Realms, credential handlers, authenticators and access valves as a Tomcat user gets them:
 * a tomcat-users.xml whose passwords Tomcat's own digest.sh hashed (run here when Debian's
 * tomcat10 is installed, else the strings it printed, committed below), BASIC, FORM and DIGEST
 * logins through the real CLI with curl, the LockOutRealm, RemoteAddrValve refusing a client
 * bound to 127.0.0.2, HealthCheckValve and ErrorReportValve pages; then a server.xml with a
 * RemoteAddrValve converted and run, and access restrictions convert cannot honour refused.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
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

const DIGEST_SH = "/usr/share/tomcat10/bin/digest.sh";

/** What Tomcat 10.1's digest.sh printed (used when it is not installed). */
const FIXTURES = {
  // digest.sh -a SHA-256 -i 3 -s 8 secret
  sha256: "6cbcf81d6885cef1$3$3f71ff1da6595acd3f6477878ef8421416afc30bd2e701474f821999f5a5225e",
  // digest.sh -h org.apache.catalina.realm.SecretKeyCredentialHandler hunter2
  pbkdf2:
    "afa7af854c1ddc819754589fb9f17d90ab5aa32ef1a4af8745d899f7894df887$20000$79d7c3012e506143906ef982a4b7957e01aef96c",
  // digest.sh -a MD5 -s 0 dave:DigestRealm:pw  (H(A1) for DIGEST)
  ha1: "02cd144ecdd4f51bad5ac8d2565302c9",
};

async function digestSh(args: string[]): Promise<string> {
  const r = await run([DIGEST_SH, ...args], { timeoutMs: 30000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.code !== 0 || !line.includes(":")) throw new Error(`digest.sh ${args.join(" ")} failed: ${r.stderr}`);
  return line.slice(line.lastIndexOf(":") + 1);
}

async function hashes(): Promise<typeof FIXTURES & { fromDigestSh: boolean }> {
  if (!existsSync(DIGEST_SH)) return { ...FIXTURES, fromDigestSh: false };
  const [sha256, pbkdf2, ha1] = await Promise.all([
    digestSh(["-a", "SHA-256", "-i", "3", "-s", "8", "secret"]),
    digestSh(["-h", "org.apache.catalina.realm.SecretKeyCredentialHandler", "hunter2"]),
    digestSh(["-a", "MD5", "-s", "0", "dave:DigestRealm:pw"]),
  ]);
  return { sha256, pbkdf2, ha1, fromDigestSh: true };
}

const ECHO = `export default {
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname !== "/secret/echo") return new Response("no", { status: 404 });
    return new Response(req.method + " " + (await req.text()));
  },
};
`;

function users(h: typeof FIXTURES): string {
  // alice: SHA-256 salted (MessageDigestCredentialHandler); bob: PBKDF2 (SecretKeyCredentialHandler), roles by group.
  return `<?xml version="1.0" encoding="UTF-8"?>
<tomcat-users xmlns="http://tomcat.apache.org/xml" version="1.0">
  <role rolename="user"/>
  <group groupname="staff" roles="user,manager-gui"/>
  <user username="alice" password="${h.sha256}" roles="user"/>
  <user username="bob" password="${h.pbkdf2}" groups="staff"/>
  <user username="carol" password="${h.sha256}" roles="other"/>
</tomcat-users>
`;
}

function config(port: number): string {
  return `server:
  globalNamingResources:
    resources:
      - { name: UserDatabase, type: org.apache.catalina.UserDatabase, pathname: conf/tomcat-users.xml }
  services:
    - name: Catalina
      connectors:
        - { port: ${port}, address: 127.0.0.1 }
      engine:
        name: Catalina
        defaultHost: localhost
        realm:
          className: org.apache.catalina.realm.LockOutRealm
          failureCount: 5
          lockOutTime: 2
          realms:
            - className: org.apache.catalina.realm.UserDatabaseRealm
              resourceName: UserDatabase
              credentialHandler:
                className: NestedCredentialHandler
                credentialHandlers:
                  - { className: MessageDigestCredentialHandler, algorithm: SHA-256 }
                  - { className: SecretKeyCredentialHandler }
        valves:
          - { className: HealthCheckValve }
        hosts:
          - name: localhost
            appBase: webapps
            valves:
              - className: ErrorReportValve
                showServerInfo: false
                errorCodes: { "404": conf/404.html }
            contexts:
              - path: /basic
                docBase: app
                loginConfig: { authMethod: BASIC, realmName: Test }
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [user] }]
              - path: /form
                docBase: app
                handler: echo.mjs
                loginConfig: { authMethod: FORM, formLoginPage: /login.html, formErrorPage: /error.html }
                securityConstraints: [{ urlPatterns: ["/secret/*"], authRoles: [user] }]
              - path: /digest
                docBase: app
                loginConfig: { authMethod: DIGEST, realmName: DigestRealm }
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [user] }]
                realm:
                  className: MemoryRealm
                  pathname: conf/digest-users.xml
                  credentialHandler: { className: MessageDigestCredentialHandler, algorithm: MD5 }
              - path: /plain
                docBase: app
                loginConfig: { authMethod: DIGEST, realmName: Plain }
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [user] }]
                realm:
                  users: [{ username: erin, password: "pw 2", roles: [user] }]
              - path: /db
                docBase: app
                loginConfig: { authMethod: BASIC, realmName: Db }
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [user] }]
                resources: [{ name: jdbc/users, url: "sqlite:users.db" }]
                realm:
                  className: org.apache.catalina.realm.DataSourceRealm
                  dataSourceName: jdbc/users
                  localDataSource: true
                  userTable: users
                  userNameCol: user_name
                  userCredCol: user_pass
                  userRoleTable: user_roles
                  roleNameCol: role_name
                  credentialHandler: { className: SecretKeyCredentialHandler }
              - path: /local
                docBase: app
                valves:
                  - { className: RemoteAddrValve, allow: '127\\.0\\.0\\.1|::1' }
              - path: /cidr
                docBase: app
                valves:
                  - { className: RemoteCIDRValve, deny: 127.0.0.2/32, denyStatus: 404 }
`;
}

function files(h: typeof FIXTURES): Record<string, string> {
  return {
    "conf/tomcat-users.xml": users(h),
    "conf/digest-users.xml": `<tomcat-users><user username="dave" password="${h.ha1}" roles="user"/></tomcat-users>`,
    "conf/404.html": "<html><body>CUSTOM-404</body></html>",
    "echo.mjs": ECHO,
    "webapps/app/index.html": "INDEX",
    "webapps/app/secret/page.html": "SECRET-PAGE",
    "webapps/app/login.html":
      `<form method="post" action="j_security_check">LOGIN-PAGE<input name="j_username"><input name="j_password"></form>`,
    "webapps/app/error.html": "LOGIN-FAILED",
  };
}

async function curl(args: string[]): Promise<{ status: number; headers: string; body: string }> {
  const r = await run(["curl", "-s", "-D", "-", "--max-time", "10", ...args]);
  const text = r.stdout;
  // Headers of the last response (digest makes two), then the body.
  const parts = text.split(/\r\n\r\n/);
  let i = 0;
  while (i < parts.length - 2 && /^HTTP\//.test(parts[i + 1] ?? "")) i++;
  const headers = parts[i] ?? "";
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0);
  return { status, headers, body: parts.slice(i + 1).join("\r\n\r\n") };
}

const cookieOf = (headers: string) => /set-cookie: JSESSIONID=([^;]+)/i.exec(headers)?.[1];

let h: Awaited<ReturnType<typeof hashes>>;
beforeAll(async () => {
  h = await hashes();
}, 60000);

for (const runtime of RUNTIMES) {
  describe(`realms and valves on ${runtime}`, () => {
    let srv: Running;
    let url: string;
    beforeAll(async () => {
      const port = await freePort();
      const base = tempDir();
      const db = new Database(join(base, "users.db"));
      db.run("CREATE TABLE users (user_name TEXT PRIMARY KEY, user_pass TEXT)");
      db.run("CREATE TABLE user_roles (user_name TEXT, role_name TEXT)");
      db.run("INSERT INTO users VALUES (?, ?), (?, ?)", ["bob", h.pbkdf2, "nora", h.pbkdf2]);
      db.run("INSERT INTO user_roles VALUES (?, ?)", ["bob", "user"]);
      db.close();
      srv = await startBobcat({ runtime, base, config: config(port), files: files(h) });
      url = `http://127.0.0.1:${port}`;
    }, 60000);
    afterAll(async () => {
      await srv?.stop();
      cleanup(srv.base);
    });

    test("BASIC: users hashed by digest.sh (SHA-256 and PBKDF2) log in; roles from groups", async () => {
      expect(h.fromDigestSh).toBe(existsSync(DIGEST_SH));
      const none = await curl([`${url}/basic/`]);
      expect(none.status).toBe(401);
      expect(none.headers).toMatch(/www-authenticate: Basic realm="Test"/i);
      expect((await curl(["-u", "alice:secret", `${url}/basic/`])).body).toBe("INDEX");
      expect((await curl(["-u", "bob:hunter2", `${url}/basic/`])).body).toBe("INDEX");
      expect((await curl(["-u", "carol:secret", `${url}/basic/`])).status).toBe(403);
      expect((await curl(["-u", "alice:wrong", `${url}/basic/`])).status).toBe(401);
    });

    test("FORM: login page in place, error page, new session id, saved POST replayed", async () => {
      const first = await curl(["-X", "POST", "-d", "a=1&b=2", `${url}/form/secret/echo`]);
      expect(first.status).toBe(200);
      expect(first.body).toContain("LOGIN-PAGE");
      const session = cookieOf(first.headers)!;
      expect(session).toBeTruthy();
      const bad = await curl([
        "-b",
        `JSESSIONID=${session}`,
        "--data-urlencode",
        "j_username=alice",
        "--data-urlencode",
        "j_password=nope",
        `${url}/form/j_security_check`,
      ]);
      expect(bad.body).toContain("LOGIN-FAILED");
      const ok = await curl([
        "-b",
        `JSESSIONID=${session}`,
        "--data-urlencode",
        "j_username=alice",
        "--data-urlencode",
        "j_password=secret",
        `${url}/form/j_security_check`,
      ]);
      expect(ok.status).toBe(303);
      expect(ok.headers).toMatch(/location: \/form\/secret\/echo/i);
      const renewed = cookieOf(ok.headers)!;
      expect(renewed).toBeTruthy();
      expect(renewed).not.toBe(session);
      // The redirect is followed with a GET; the saved POST and its body are what runs.
      const replay = await curl(["-b", `JSESSIONID=${renewed}`, `${url}/form/secret/echo`]);
      expect(replay.body).toBe("POST a=1&b=2");
      const again = await curl(["-b", `JSESSIONID=${renewed}`, `${url}/form/secret/page.html`]);
      expect(again.body).toBe("SECRET-PAGE");
      // The old session id no longer logs anyone in.
      expect((await curl(["-b", `JSESSIONID=${session}`, `${url}/form/secret/page.html`])).body).toContain(
        "LOGIN-PAGE",
      );
    });

    test("DIGEST: H(A1) from digest.sh (MD5) and plain passwords (SHA-256)", async () => {
      const challenge = await curl([`${url}/digest/`]);
      expect(challenge.status).toBe(401);
      expect(challenge.headers).toMatch(
        /www-authenticate: Digest realm="DigestRealm", qop="auth", nonce="[^"]+", opaque="[0-9a-f]+", algorithm=MD5/i,
      );
      expect((await curl(["--digest", "-u", "dave:pw", `${url}/digest/`])).body).toBe("INDEX");
      expect((await curl(["--digest", "-u", "dave:wrong", `${url}/digest/`])).status).toBe(401);
      const plain = await curl(["--digest", "-u", "erin:pw 2", `${url}/plain/`]);
      expect(plain.body).toBe("INDEX");
    });

    test("DataSourceRealm: users and roles tables in SQLite, PBKDF2 passwords", async () => {
      expect((await curl(["-u", "bob:hunter2", `${url}/db/`])).body).toBe("INDEX");
      expect((await curl(["-u", "nora:hunter2", `${url}/db/`])).status).toBe(403);
      expect((await curl(["-u", "bob:nope", `${url}/db/`])).status).toBe(401);
      expect((await curl(["-u", "nobody:x", `${url}/db/`])).status).toBe(401);
    });

    test("LockOutRealm: 5 failures lock the name, even with the right password, until lockOutTime", async () => {
      for (let i = 0; i < 5; i++) expect((await curl(["-u", "bob:bad", `${url}/basic/`])).status).toBe(401);
      expect((await curl(["-u", "bob:hunter2", `${url}/basic/`])).status).toBe(401);
      expect(srv.output()).toContain("An attempt was made to authenticate the locked user [bob]");
      await Bun.sleep(2100);
      expect((await curl(["-u", "alice:secret", `${url}/basic/`])).status).toBe(200);
      expect((await curl(["-u", "bob:hunter2", `${url}/basic/`])).status).toBe(200);
    }, 20000);

    test("RemoteAddrValve and RemoteCIDRValve: 127.0.0.2 refused, 127.0.0.1 let in", async () => {
      expect((await curl([`${url}/local/`])).body).toBe("INDEX");
      const refused = await curl(["--interface", "127.0.0.2", `${url}/local/`]);
      expect(refused.status).toBe(403);
      expect((await curl(["--interface", "127.0.0.2", `${url}/cidr/`])).status).toBe(404);
      expect((await curl([`${url}/cidr/`])).body).toBe("INDEX");
    });

    test("HealthCheckValve and ErrorReportValve", async () => {
      const health = await curl([`${url}/health`]);
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toEqual({ status: "UP" });
      const missing = await curl([`${url}/local/nothing.html`]);
      expect(missing.status).toBe(404);
      expect(missing.body).toContain("CUSTOM-404");
      const denied = await curl(["--interface", "127.0.0.2", `${url}/local/`]);
      expect(denied.body).not.toContain("bobcat");
    });
  });
}

describe("HTTP/2 where Http2Protocol is on, http/1.1 where not", () => {
  const h2Config = (on: number, off: number) => {
    const tls = `          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${PKI}/localhost-rsa.pem
                  certificateKeyFile: ${PKI}/localhost-rsa-key.pem
                  certificateChainFile: ${PKI}/intermediate.pem
`;
    return `server:
  services:
    - connectors:
        - port: ${on}
          address: 127.0.0.1
          upgradeProtocols: [{ className: org.apache.coyote.http2.Http2Protocol }]
${tls}        - port: ${off}
          address: 127.0.0.1
${tls}      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts: [{ path: "", docBase: "\${catalina.base}/site" }]
`;
  };
  const version = async (port: number) => {
    const r = await run([
      "curl",
      "-s",
      "--http2",
      "--cacert",
      join(PKI, "ca.pem"),
      "-o",
      "/dev/null",
      "-w",
      "%{http_version} %{http_code}",
      "--resolve",
      `localhost:${port}:127.0.0.1`,
      `https://localhost:${port}/`,
    ]);
    return r.stdout;
  };
  for (const runtime of RUNTIMES) {
    for (const compat of [false, true]) {
      test(`${runtime} ${compat ? "node-compat" : "native"}`, async () => {
        const [on, off] = [await freePort(), await freePort()];
        const srv = await startBobcat({
          runtime,
          config: h2Config(on, off),
          files: { "site/index.html": "hi" },
          connectors: 2,
          env: compat ? { BOBCAT_BACKEND: "node-compat" } : {},
        });
        try {
          expect(await version(on)).toBe("2 200");
          expect(await version(off)).toBe("1.1 200");
          expect(srv.output()).toContain("negotiates h2 and http/1.1 by ALPN");
          expect(srv.output()).toContain("negotiates http/1.1 only");
        } finally {
          await srv.stop();
          cleanup(srv.base);
        }
      }, 60000);
    }
  }
});

describe("server.xml with access restrictions", () => {
  const serverXml = (port: number, extra: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="${port}" address="127.0.0.1" protocol="HTTP/1.1"/>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps">
        <Valve className="org.apache.catalina.valves.RemoteAddrValve" allow="127\\.\\d+\\.\\d+\\.1|::1|0:0:0:0:0:0:0:1"/>
${extra}        <Context path="" docBase="app"/>
      </Host>
    </Engine>
  </Service>
</Server>
`;

  test("a RemoteAddrValve converts and is enforced", async () => {
    const base = tempDir();
    try {
      const port = await freePort();
      writeFiles(base, { "conf/server.xml": serverXml(port, ""), "webapps/app/index.html": "ROOT" });
      const conv = await runCli("bun", [
        "convert",
        join(base, "conf/server.xml"),
        "-o",
        join(base, "conf/server.yaml"),
      ]);
      expect(conv.code).toBe(0);
      expect(readFileSync(join(base, "conf/server.yaml"), "utf8")).toContain("RemoteAddrValve");
      const srv = await startBobcat({
        runtime: "bun",
        base,
        args: ["run", "--config", join(base, "conf/server.yaml"), "--base", base],
      });
      try {
        expect((await curl([`http://127.0.0.1:${port}/`])).body).toBe("ROOT");
        expect((await curl(["--interface", "127.0.0.2", `http://127.0.0.1:${port}/`])).status).toBe(403);
      } finally {
        await srv.stop();
      }
    } finally {
      cleanup(base);
    }
  }, 60000);

  test("what cannot be honoured stops convert with the line and a way out", async () => {
    const base = tempDir();
    try {
      writeFiles(base, {
        "conf/server.xml": serverXml(
          8080,
          `        <Realm className="org.apache.catalina.realm.JNDIRealm" connectionURL="ldap://x"/>
        <Valve className="org.apache.catalina.valves.SemaphoreValve"/>
`,
        ),
      });
      const conv = await runCli("bun", ["convert", join(base, "conf/server.xml"), "-o", join(base, "out.yaml")]);
      expect(conv.code).toBe(1);
      expect(conv.stderr).toMatch(/server\.xml:8: .*JNDIRealm.* restricts access/);
      expect(conv.stderr).toMatch(/server\.xml:9: .*SemaphoreValve.* restricts access/);
      expect(conv.stderr).toContain("RemoteAddrValve");
      expect(existsSync(join(base, "out.yaml"))).toBe(false);
    } finally {
      cleanup(base);
    }
  }, 30000);
});
