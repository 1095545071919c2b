/**
 * RewriteValve as a Tomcat user brings it: a CATALINA_BASE whose conf/server.xml puts the valve
 * on the Host (rules in conf/Catalina/localhost/rewrite.config) and whose webapps/app puts one in
 * META-INF/context.xml (rules in WEB-INF/rewrite.config), run with `bobcat run --base DIR` on
 * Bun and Deno and asked with curl: redirects to HTTPS, internal rewrites, F and G, query
 * handling, conditions on headers, and rewrites that try to reach a constrained path, WEB-INF,
 * or outside the context or docBase. Then `convert` turns the same server.xml into YAML that
 * `check` accepts, and a broken rule stops `check` naming the file and line.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  run,
  runCli,
  type Running,
  RUNTIMES,
  startBobcat,
  tempDir,
  writeFiles,
} from "../helpers/bobcat.ts";

const serverXml = (port: number) =>
  `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="${port}" address="127.0.0.1" protocol="HTTP/1.1" redirectPort="8443"/>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps">
        <Valve className="org.apache.catalina.valves.rewrite.RewriteValve"/>
        <Valve className="org.apache.catalina.valves.ErrorReportValve" showReport="false" showServerInfo="false"/>
      </Host>
      <Host name="other.test" appBase="other-apps">
        <Valve className="org.apache.catalina.valves.ErrorReportValve" errorCode.404="conf/other-404.html"/>
      </Host>
    </Engine>
  </Service>
</Server>
`;

const HOST_RULES = `# Host rules (conf/Catalina/localhost/rewrite.config)
RewriteCond %{HTTPS} off
RewriteRule ^/pay/(.*)$ https://%{HTTP_HOST}:8443/pay/$1 [R=301,L]
RewriteRule ^/old/(.*)$ /new/$1 [L]
RewriteRule ^/blocked(/.*)?$ - [F]
RewriteRule ^/gone$ - [G]
RewriteRule ^/search/(.*)$ /new/page.html?q=$1 [QSA,L]
RewriteCond %{HTTP:X-Beta} =yes
RewriteRule ^/home$ /new/beta.html [L]
RewriteRule ^/home$ /new/page.html [L]
# Into the application's protected area: the constraint still applies.
RewriteRule ^/open/(.*)$ /app/secret/$1 [L]
RewriteRule ^/peek/(.*)$ /app/WEB-INF/$1 [L]
RewriteRule ^/climb/(.*)$ /new/../../$1 [L]
RewriteRule ^/slash/(.*)$ /new\\%2F$1 [L]
`;

const APP_RULES = `RewriteRule ^/legacy/(.*)$ /$1 [L]
RewriteRule ^/esc/(.*)$ /../$1 [L]
RewriteRule ^/moved$ /start.html [R]
`;

const APP_WEB_XML = `<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <security-constraint>
    <web-resource-collection><web-resource-name>s</web-resource-name><url-pattern>/secret/*</url-pattern></web-resource-collection>
    <auth-constraint><role-name>staff</role-name></auth-constraint>
  </security-constraint>
  <login-config><auth-method>BASIC</auth-method><realm-name>App</realm-name></login-config>
  <security-role><role-name>staff</role-name></security-role>
</web-app>
`;

function base(port: number): string {
  const dir = tempDir("bobcat-rewrite-");
  writeFiles(dir, {
    "conf/server.xml": serverXml(port),
    "conf/Catalina/localhost/rewrite.config": HOST_RULES,
    "webapps/ROOT/index.html": "root",
    "webapps/ROOT/new/page.html": "page",
    "webapps/ROOT/new/beta.html": "beta",
    "webapps/ROOT/new/x.html": "new x",
    "webapps/app/start.html": "app start",
    "webapps/app/hello.html": "app hello",
    "webapps/app/secret/data.html": "secret data",
    "webapps/app/WEB-INF/web.xml": APP_WEB_XML,
    "webapps/app/WEB-INF/rewrite.config": APP_RULES,
    "webapps/app/META-INF/context.xml":
      '<Context><Valve className="org.apache.catalina.valves.rewrite.RewriteValve"/></Context>\n',
    "outside.txt": "outside",
    "other-apps/only/index.html": "only",
    "conf/other-404.html": "<p>OTHER-HOST-404</p>",
  });
  return dir;
}

async function curl(args: string[]): Promise<{ status: number; headers: string; body: string }> {
  const r = await run(["curl", "-s", "-D", "-", "--path-as-is", "--max-time", "10", ...args]);
  const [headers = "", ...rest] = r.stdout.split(/\r\n\r\n/);
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0);
  return { status, headers, body: rest.join("\r\n\r\n") };
}
const header = (headers: string, name: string) => new RegExp(`^${name}: *(.*?)\\r?$`, "im").exec(headers)?.[1];

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) cleanup(d);
});

for (const runtime of RUNTIMES) {
  describe(`RewriteValve from a CATALINA_BASE on ${runtime}`, () => {
    test("host and context rules, as Tomcat applies them", async () => {
      const port = await freePort();
      const dir = base(port);
      dirs.push(dir);
      let srv: Running | undefined;
      try {
        srv = await startBobcat({ runtime, base: dir, args: ["run", "--base", dir] });
        const url = `http://127.0.0.1:${port}`;
        const pay = await curl([`${url}/pay/invoice?id=7`]);
        expect(pay.status).toBe(301);
        expect(header(pay.headers, "location")).toBe("https://127.0.0.1:8443/pay/invoice?id=7");

        const old = await curl([`${url}/old/x.html`]);
        expect([old.status, old.body]).toEqual([200, "new x"]);
        expect((await curl([`${url}/blocked/thing`])).status).toBe(403);
        expect((await curl([`${url}/gone`])).status).toBe(410);
        const search = await curl([`${url}/search/cats?page=2`]);
        expect([search.status, search.body]).toEqual([200, "page"]);
        expect((await curl([`${url}/home`])).body).toBe("page");
        expect((await curl(["-H", "X-Beta: yes", `${url}/home`])).body).toBe("beta");

        // A rewrite is routed like a request: constraints, WEB-INF and the root still hold.
        const open = await curl([`${url}/open/data.html`]);
        expect(open.status).toBe(401);
        expect(header(open.headers, "www-authenticate")).toContain('realm="App"');
        expect(open.body).not.toContain("secret data");
        expect((await curl([`${url}/peek/web.xml`])).status).toBe(404);
        for (const p of ["/climb/outside.txt", "/slash/x.html"]) {
          const r = await curl([`${url}${p}`]);
          expect(r.status).toBe(400);
          expect(r.body).not.toContain("outside");
        }

        // The application's own rules see paths within it and stay within it.
        const legacy = await curl([`${url}/app/legacy/hello.html`]);
        expect([legacy.status, legacy.body]).toEqual([200, "app hello"]);
        expect((await curl([`${url}/app/esc/index.html`])).status).toBe(400);
        const moved = await curl([`${url}/app/moved?x=1`]);
        expect(moved.status).toBe(302);
        expect(header(moved.headers, "location")).toBe("/app/start.html?x=1");

        // The boundary's 400s and the no-context 404 get the host's ErrorReportValve page, as
        // Tomcat 10.1 renders them: here without the message and without the server name.
        for (const args of [[`${url}/a%2Fb`], ["-H", "Host: a b", `${url}/`], [`${url}/x%00y`]]) {
          const bad = await curl(args);
          expect(bad.status).toBe(400);
          expect(bad.body).toContain("HTTP Status 400");
          expect(bad.body).not.toContain("Bad Request:");
          expect(bad.body).not.toContain("bobcat");
        }
        const other = await curl(["-H", "Host: other.test", `${url}/nothing`]);
        expect([other.status, other.body]).toEqual([404, "<p>OTHER-HOST-404</p>"]);
        expect((await curl(["-H", "Host: other.test", `${url}/only/`])).body).toBe("only");
      } finally {
        await srv?.stop();
      }
    }, 60_000);
  });
}

describe("RewriteValve through convert and check", () => {
  test("convert keeps the valve; check reads the rules and names a broken line", async () => {
    const port = await freePort();
    const dir = base(port);
    dirs.push(dir);
    const out = join(dir, "conf", "bobcat.yaml");
    const conv = await runCli("bun", ["convert", join(dir, "conf", "server.xml"), "-o", out]);
    expect(conv.code).toBe(0);
    const yaml = await Bun.file(out).text();
    expect(yaml).toContain("org.apache.catalina.valves.rewrite.RewriteValve");
    const ok = await runCli("bun", ["check", "--config", out, "--base", dir]);
    expect(ok.code).toBe(0);
    writeFiles(dir, { "conf/Catalina/localhost/rewrite.config": HOST_RULES + "RewriteRule ^/x /y [XYZ]\n" });
    const bad = await runCli("bun", ["check", "--config", out, "--base", dir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/rewrite\.config:16: RewriteRule flag "XYZ"/);
  }, 60_000);
});
