/**
 * DataSourceRealm on real PostgreSQL and MariaDB servers (started by the test), with Tomcat's
 * table layout (userTable/userNameCol/userCredCol, userRoleTable/roleNameCol) and passwords
 * hashed as Tomcat's digest.sh prints them (MessageDigestCredentialHandler SHA-256, salted,
 * iterated). Logins through the real CLI with curl, on Bun and Deno: right and wrong
 * passwords, roles, unknown users, and SQL injection in the user name, which never
 * authenticates and never changes the tables.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanup, curlStatus, freePort, type Running, RUNTIMES, startBobcat, tempDir } from "../helpers/bobcat.ts";
import { type PostgresServer, startPostgres } from "../helpers/postgres.ts";
import { type MariaDbServer, startMariaDb } from "../helpers/services.ts";

// digest.sh -a SHA-256 -i 3 -s 8 secret (Tomcat 10.1)
const SECRET_SHA256 = "6cbcf81d6885cef1$3$3f71ff1da6595acd3f6477878ef8421416afc30bd2e701474f821999f5a5225e";

const SCHEMA = (text: string) => `
CREATE TABLE users (user_name VARCHAR(64) NOT NULL PRIMARY KEY, user_pass ${text} NOT NULL);
CREATE TABLE user_roles (user_name VARCHAR(64) NOT NULL, role_name VARCHAR(64) NOT NULL, PRIMARY KEY (user_name, role_name));
INSERT INTO users VALUES ('alice', '${SECRET_SHA256}'), ('carol', '${SECRET_SHA256}');
INSERT INTO user_roles VALUES ('alice', 'staff'), ('alice', 'other'), ('carol', 'other');
`;

/** User names an attacker tries: none is a user, and none may reach the SQL as SQL. */
const INJECTIONS = [
  "' OR '1'='1",
  "' OR 1=1 --",
  "alice' --",
  "alice'#",
  "alice' OR 'x'='x",
  '" OR "1"="1',
  "alice'; DROP TABLE users; --",
  "\\' OR 1=1 -- ",
  "' UNION SELECT 'x' --",
];

let pg: PostgresServer;
let maria: MariaDbServer;

beforeAll(async () => {
  [pg, maria] = await Promise.all([startPostgres(), startMariaDb()]);
  pg.psql(SCHEMA("TEXT"));
  maria.sql(SCHEMA("VARCHAR(255)"));
}, 180_000);

afterAll(async () => {
  pg?.destroy();
  await maria?.destroy();
});

function realm(resource: string): string {
  return `realm:
                  className: org.apache.catalina.realm.DataSourceRealm
                  dataSourceName: ${resource}
                  userTable: users
                  userNameCol: user_name
                  userCredCol: user_pass
                  userRoleTable: user_roles
                  roleNameCol: role_name
                  credentialHandler: { className: MessageDigestCredentialHandler, algorithm: SHA-256 }`;
}

function config(port: number): string {
  return `server:
  globalNamingResources:
    resources:
      - { name: jdbc/pg, type: DataSource, url: "${pg.url}" }
      - { name: jdbc/maria, type: DataSource, url: "${maria.url}" }
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            appBase: webapps
            contexts:
${
    [["pg", "jdbc/pg"], ["maria", "jdbc/maria"]].map(([path, res]) =>
      `              - path: /${path}
                docBase: app
                loginConfig: { authMethod: BASIC, realmName: ${path} }
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: [staff] }]
                ${realm(res!)}
`
    ).join("")
  }`;
}

async function status(url: string, user: string, password: string): Promise<number> {
  return Number(await curlStatus(url, `${user}:${password}`));
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

for (const runtime of RUNTIMES) {
  describe(`DataSourceRealm on PostgreSQL and MariaDB (${runtime})`, () => {
    let srv: Running | undefined;
    let port = 0;
    beforeAll(async () => {
      port = await freePort();
      const base = tempDir("bobcat-dsrealm-");
      dirs.push(base);
      srv = await startBobcat({ runtime, base, config: config(port), files: { "webapps/app/index.html": "INDEX" } });
    }, 60_000);
    afterAll(async () => {
      await srv?.stop();
    });

    for (const db of ["pg", "maria"]) {
      test(`${db}: Tomcat's tables and digests; injection never authenticates`, async () => {
        const url = `http://127.0.0.1:${port}/${db}/`;
        expect(await status(url, "alice", "secret")).toBe(200);
        expect(await status(url, "alice", "wrong")).toBe(401);
        expect(await status(url, "carol", "secret")).toBe(403);
        expect(await status(url, "nobody", "secret")).toBe(401);
        for (const name of INJECTIONS) {
          for (const password of ["secret", "x", "' OR '1'='1"]) {
            const got = await status(url, name, password);
            if (got !== 401) throw new Error(`user name ${JSON.stringify(name)} got ${got}`);
          }
        }
        // The tables are intact and alice still gets in.
        expect(await status(url, "alice", "secret")).toBe(200);
        const count = db === "pg" ? pg.psql("SELECT count(*) FROM users") : maria.sql("SELECT count(*) FROM users");
        expect(count).toContain("2");
      }, 60_000);
    }
  });
}
