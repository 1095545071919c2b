/**
 * A Tomcat CATALINA_BASE run as it is: `bobcat run --base DIR` with no --config reads
 * conf/server.xml, deploys webapps/ (ROOT, foo#bar, ##versions), conf/Catalina/localhost/*.xml
 * descriptors and META-INF/context.yaml, applies conf/web.xml and WEB-INF/web.xml (constraints,
 * login config, welcome files, error pages, mime mappings, JSP mappings), and, while running,
 * deploys, redeploys and undeploys applications (autoDeploy) and reloads a reloadable handler
 * without losing sessions. `check` refuses what would fail every request.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  fetchUntil,
  freePort,
  PKI,
  runCli,
  type Running,
  RUNTIMES,
  startBobcat,
  tempDir,
  tfetch,
  waitUntil,
  writeFiles,
} from "../helpers/bobcat.ts";

const CONF_WEB_XML = `<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <servlet><servlet-name>default</servlet-name><servlet-class>org.apache.catalina.servlets.DefaultServlet</servlet-class></servlet>
  <servlet><servlet-name>jsp</servlet-name><servlet-class>org.apache.jasper.servlet.JspServlet</servlet-class></servlet>
  <servlet-mapping><servlet-name>default</servlet-name><url-pattern>/</url-pattern></servlet-mapping>
  <servlet-mapping><servlet-name>jsp</servlet-name><url-pattern>*.jsp</url-pattern><url-pattern>*.jspx</url-pattern></servlet-mapping>
  <session-config><session-timeout>30</session-timeout></session-config>
  <mime-mapping><extension>bobcat</extension><mime-type>application/x-bobcat</mime-type></mime-mapping>
  <welcome-file-list><welcome-file>index.html</welcome-file><welcome-file>index.jsp</welcome-file></welcome-file-list>
</web-app>
`;

const APP_WEB_XML = `<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <security-constraint>
    <web-resource-collection><web-resource-name>secret</web-resource-name><url-pattern>/secret/*</url-pattern></web-resource-collection>
    <auth-constraint><role-name>staff</role-name></auth-constraint>
  </security-constraint>
  <security-constraint>
    <web-resource-collection><web-resource-name>closed</web-resource-name><url-pattern>/closed/*</url-pattern></web-resource-collection>
    <auth-constraint/>
  </security-constraint>
  <security-constraint>
    <web-resource-collection>
      <web-resource-name>writes</web-resource-name><url-pattern>/docs/*</url-pattern>
      <http-method-omission>GET</http-method-omission><http-method-omission>HEAD</http-method-omission>
    </web-resource-collection>
    <auth-constraint><role-name>staff</role-name></auth-constraint>
  </security-constraint>
  <security-constraint>
    <web-resource-collection><web-resource-name>any</web-resource-name><url-pattern>/members/*</url-pattern></web-resource-collection>
    <auth-constraint><role-name>**</role-name></auth-constraint>
  </security-constraint>
  <security-constraint>
    <web-resource-collection><web-resource-name>tls</web-resource-name><url-pattern>/pay/*</url-pattern></web-resource-collection>
    <user-data-constraint><transport-guarantee>CONFIDENTIAL</transport-guarantee></user-data-constraint>
  </security-constraint>
  <login-config><auth-method>BASIC</auth-method><realm-name>App</realm-name></login-config>
  <security-role><role-name>staff</role-name></security-role>
  <error-page><error-code>404</error-code><location>/errors/404.html</location></error-page>
  <error-page><error-code>403</error-code><location>/errors/403.html</location></error-page>
  <mime-mapping><extension>data</extension><mime-type>application/x-app-data</mime-type></mime-mapping>
  <welcome-file-list><welcome-file>start.html</welcome-file></welcome-file-list>
</web-app>
`;

const COUNTER = (version: string) => `
export default {
  fetch(req, ctx) {
    const s = ctx.getSession();
    const n = (s.getAttribute("n") ?? 0) + 1;
    s.setAttribute("n", n);
    return new Response("${version} " + n);
  },
};
`;

function serverXml(port: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="${port}" address="127.0.0.1" protocol="HTTP/1.1" connectionTimeout="20000" redirectPort="8443" />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="true" deployIgnore="ignored.*" copyXML="true" />
    </Engine>
  </Service>
</Server>
`;
}

/** A CATALINA_BASE as a Tomcat user has one. */
function catalinaBase(port: number): string {
  const base = tempDir("bobcat-catalina-");
  writeFiles(base, {
    "conf/server.xml": serverXml(port),
    "conf/web.xml": CONF_WEB_XML,
    "conf/context.xml": `<Context><WatchedResource>WEB-INF/web.xml</WatchedResource></Context>`,
    "conf/Catalina/localhost/described.xml": `<Context docBase="${join(base, "outside")}" />`,
    "outside/index.html": "described",
    "webapps/ROOT/index.html": "root index",
    "webapps/ROOT/page.jsp": "<%= secret source %>",
    "webapps/ROOT/META-INF/context.xml": `<Context antiResourceLocking="false" />`,
    "webapps/app/WEB-INF/web.xml": APP_WEB_XML,
    "webapps/app/start.html": "app start",
    "webapps/app/secret/start.html": "secret",
    "webapps/app/closed/start.html": "closed",
    "webapps/app/docs/a.txt": "doc",
    "webapps/app/members/start.html": "members",
    "webapps/app/pay/start.html": "pay",
    "webapps/app/x.data": "data",
    "webapps/app/x.bobcat": "bobcat",
    "webapps/app/errors/404.html": "custom 404",
    "webapps/app/errors/403.html": "custom 403",
    "webapps/app/META-INF/context.yaml":
      `realm:\n  users:\n    - { username: alice, password: pw, roles: [staff] }\n    - { username: bob, password: pw, roles: [] }\n`,
    "webapps/shop#v1/index.html": "shop v1 path",
    "webapps/multi##1/index.html": "version 1",
    "webapps/multi##2/index.html": "version 2",
    "webapps/ignored-app/index.html": "ignored",
    "webapps/stateful/WEB-INF/app.js": COUNTER("one"),
    "webapps/stateful/META-INF/context.yaml":
      "handler: WEB-INF/app.js\nreloadable: true\nmanager: { pathname: SESSIONS.ser }\n",
    "webapps/other/WEB-INF/app.js": COUNTER("other"),
    "webapps/other/META-INF/context.yaml": "handler: WEB-INF/app.js\n",
    "spare/index.html": "new app",
    "webapps/thrower/WEB-INF/app.js":
      `class PaymentError extends Error {}\nexport default { fetch(req) { if (req.url.endsWith("/pay")) throw new PaymentError("declined"); throw new TypeError("bad"); } };\n`,
    "webapps/thrower/META-INF/context.yaml": "handler: WEB-INF/app.js\n",
    "webapps/thrower/WEB-INF/web.xml": `<web-app>
  <error-page><exception-type>PaymentError</exception-type><location>/payment.html</location></error-page>
  <error-page><exception-type>java.lang.Throwable</exception-type><location>/oops.html</location></error-page>
</web-app>`,
    "webapps/thrower/payment.html": "payment failed",
    "webapps/thrower/oops.html": "something broke",
  });
  return base;
}

const basic = (user: string, pw: string) => ({ authorization: `Basic ${btoa(`${user}:${pw}`)}` });

for (const runtime of RUNTIMES) {
  describe(`a CATALINA_BASE run as it is (${runtime})`, () => {
    const dirs: string[] = [];
    let server: Running | undefined;
    afterAll(async () => {
      await server?.stop();
      for (const d of dirs) cleanup(d);
    });

    test("run --base DIR: webapps, descriptors, web.xml, then autoDeploy and reloadable", async () => {
      const port = await freePort();
      const base = catalinaBase(port);
      dirs.push(base);
      server = await startBobcat({ runtime, base, args: ["run", "--base", base] });
      const url = (p: string) => `http://127.0.0.1:${port}${p}`;
      const get = async (p: string, init: RequestInit = {}) => {
        const res = await tfetch(url(p), init);
        return { status: res.status, body: await res.text(), headers: res.headers };
      };

      // Deployment: ROOT, foo, foo#bar, ##versions, descriptors, deployIgnore.
      expect((await get("/")).body).toBe("root index");
      expect((await get("/app")).headers.get("location")).toBe("/app/");
      expect((await get("/app/")).body).toBe("app start");
      expect((await get("/shop/v1/")).body).toBe("shop v1 path");
      expect((await get("/multi/")).body).toBe("version 2");
      expect((await get("/described/")).body).toBe("described");
      expect((await get("/ignored-app/")).status).toBe(404);
      // copyXML: the application's META-INF/context.xml became its descriptor.
      expect(readFileSync(join(base, "conf/Catalina/localhost/ROOT.xml"), "utf8")).toContain("antiResourceLocking");

      // Never served: WEB-INF, META-INF, JSP sources.
      for (const p of ["/app/WEB-INF/web.xml", "/app/META-INF/context.yaml", "/META-INF/context.xml", "/page.jsp"]) {
        const r = await get(p);
        expect(r.status).toBe(404);
        expect(r.body).not.toContain("secret source");
        expect(r.body).not.toContain("<web-app");
      }

      // web.xml security: roles, deny-all, omissions, **, CONFIDENTIAL.
      const secret = await get("/app/secret/");
      expect(secret.status).toBe(401);
      expect(secret.headers.get("www-authenticate")).toStartWith('Basic realm="App"');
      expect((await get("/app/secret/", { headers: basic("alice", "pw") })).body).toBe("secret");
      const bob = await get("/app/secret/", { headers: basic("bob", "pw") });
      expect(bob.status).toBe(403);
      expect(bob.body).toBe("custom 403");
      expect((await get("/app/closed/", { headers: basic("alice", "pw") })).status).toBe(403);
      expect((await get("/app/docs/a.txt")).body).toBe("doc");
      expect((await get("/app/docs/a.txt", { method: "DELETE" })).status).toBe(401);
      expect((await get("/app/members/")).status).toBe(401);
      expect((await get("/app/members/", { headers: basic("bob", "pw") })).body).toBe("members");
      const pay = await get("/app/pay/");
      expect(pay.status).toBe(302);
      expect(pay.headers.get("location")).toBe("https://127.0.0.1:8443/app/pay/");

      // Error pages by code, mime mappings from both web.xml files.
      const missing = await get("/app/nothing-here");
      expect(missing.status).toBe(404);
      expect(missing.body).toBe("custom 404");
      expect((await get("/app/x.data")).headers.get("content-type")).toStartWith("application/x-app-data");
      expect((await get("/app/x.bobcat")).headers.get("content-type")).toStartWith("application/x-bobcat");

      // Error pages by exception type: the error's class, then java.lang.Throwable for any.
      const paid = await get("/thrower/pay");
      expect([paid.status, paid.body]).toEqual([500, "payment failed"]);
      const other = await get("/thrower/x");
      expect([other.status, other.body]).toEqual([500, "something broke"]);

      // Sessions in two applications.
      const cookieOf = (h: Headers) => h.get("set-cookie")!.split(";")[0]!;
      const first = await get("/stateful/");
      expect(first.body).toBe("one 1");
      const statefulCookie = { cookie: cookieOf(first.headers) };
      const o1 = await get("/other/");
      const otherCookie = { cookie: cookieOf(o1.headers) };
      expect((await get("/other/", { headers: otherCookie })).body).toBe("other 2");

      // autoDeploy: a directory copied in is served, removing it undeploys it.
      cpSync(join(base, "spare"), join(base, "webapps", "fresh"), { recursive: true });
      await fetchUntil(url("/fresh/"), (s, b) => s === 200 && b === "new app");
      rmSync(join(base, "webapps", "fresh"), { recursive: true });
      await fetchUntil(url("/fresh/"), (s) => s === 404);
      // A descriptor dropped in is deployed, and what its conversion says is logged as at start:
      // a Tomcat attribute bobcat has not at INFO, a misspelt one at WARN, naming the file.
      const late = join(base, "conf", "Catalina", "localhost", "late.xml");
      const logged = (level: string, attr: string) =>
        server!.output().includes(`${level} [config] ${late}:1: <Context> ${attr} not converted`);
      writeFileSync(late, `<Context docBase="${join(base, "outside")}" swallowOutput="true" cookiez="1" />`);
      await fetchUntil(url("/late/"), (s, b) => s === 200 && b === "described");
      expect(await waitUntil(() => logged("WARN ", 'cookiez="1"'))).toBe(true);
      expect(logged("INFO ", 'swallowOutput="true"')).toBe(true);
      // Changed, it is redeployed, and logged again.
      writeFileSync(late, `<Context docBase="${join(base, "outside")}" swallowOutput="false" cookiez="2" />`);
      const touched = new Date(Date.now() + 5000);
      utimesSync(late, touched, touched);
      expect(await waitUntil(() => logged("WARN ", 'cookiez="2"'), 15_000)).toBe(true);
      expect(logged("INFO ", 'swallowOutput="false"')).toBe(true);
      expect(server.output()).toContain("autoDeploy: redeployed localhost/late");
      rmSync(late);
      await fetchUntil(url("/late/"), (s) => s === 404);
      // A changed web.xml redeploys the application.
      writeFileSync(
        join(base, "webapps", "app", "WEB-INF", "web.xml"),
        APP_WEB_XML.replace("<welcome-file>start.html</welcome-file>", "<welcome-file>other.html</welcome-file>"),
      );
      writeFileSync(join(base, "webapps", "app", "other.html"), "other welcome");
      await fetchUntil(url("/app/"), (s, b) => s === 200 && b === "other welcome");

      // reloadable: a changed handler module is loaded again; its sessions survive the reload.
      const handler = join(base, "webapps", "stateful", "WEB-INF", "app.js");
      writeFileSync(handler, COUNTER("two"));
      const later = new Date(Date.now() + 5000);
      utimesSync(handler, later, later);
      const reloaded = await fetchUntil(url("/stateful/"), (_, b) => b.startsWith("two "), {
        init: { headers: statefulCookie },
      });
      // The count went on from the session the old module had made.
      expect(Number(reloaded.split(" ")[1])).toBeGreaterThan(1);

      // The other application's session went on through all of it.
      expect((await get("/other/", { headers: otherCookie })).body).toBe("other 3");
      expect(server.output()).toContain("autoDeploy: deployed localhost/fresh");
      expect(server.output()).toContain("autoDeploy: undeployed localhost/fresh");
    }, 90000);
  });

  describe(`copyXML's copy is the application's descriptor, with no redeploy (${runtime})`, () => {
    const dirs: string[] = [];
    let server: Running | undefined;
    afterAll(async () => {
      await server?.stop();
      for (const d of dirs) cleanup(d);
    });

    test("ROOT copied at start and an application copied when autoDeploy deploys it are not redeployed", async () => {
      const port = await freePort();
      const base = tempDir("bobcat-copyxml-");
      dirs.push(base);
      writeFiles(base, {
        "conf/server.xml": serverXml(port),
        "webapps/ROOT/index.html": "root",
        "webapps/ROOT/META-INF/context.xml": `<Context antiResourceLocking="false" />`,
        "spare/index.html": "fresh",
        "spare/META-INF/context.xml": `<Context sessionCookieName="FRESHID" />`,
        "other/index.html": "other",
      });
      server = await startBobcat({ runtime, base, args: ["run", "--base", base] });
      const url = (p: string) => `http://127.0.0.1:${port}${p}`;
      const descriptors = join(base, "conf", "Catalina", "localhost");
      expect((await tfetch(url("/"))).status).toBe(200);
      expect(readFileSync(join(descriptors, "ROOT.xml"), "utf8")).toContain("antiResourceLocking");
      // A new application makes the next scan load the config again: ROOT is not redeployed.
      cpSync(join(base, "spare"), join(base, "webapps", "fresh"), { recursive: true });
      await fetchUntil(url("/fresh/"), (s, b) => s === 200 && b === "fresh");
      expect(readFileSync(join(descriptors, "fresh.xml"), "utf8")).toContain("FRESHID");
      // And another: the application just deployed (and copied) is not redeployed either.
      cpSync(join(base, "other"), join(base, "webapps", "other"), { recursive: true });
      await fetchUntil(url("/other/"), (s, b) => s === 200 && b === "other");
      // One more scan interval, with nothing changed.
      await new Promise((r) => setTimeout(r, 2500));
      expect(server.output()).toContain("autoDeploy: deployed localhost/fresh");
      expect(server.output()).toContain("autoDeploy: deployed localhost/other");
      expect(server.output()).not.toContain("autoDeploy: redeployed");
      expect((await tfetch(url("/fresh/"))).status).toBe(200);
    }, 60000);
  });
}

describe("check refuses what would fail every request", () => {
  const runtime = RUNTIMES[0]!;
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(cleanup));

  test("a docBase that does not exist, an empty welcome list, a handler that does not load", async () => {
    const base = tempDir("bobcat-catalina-check-");
    dirs.push(base);
    writeFiles(base, {
      "conf/server.yaml": `server:
  services:
    - connectors: [{ port: 0, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - { path: /gone, docBase: /nonexistent/bobcat-docbase }
              - { path: /empty, docBase: ${base}/site, welcomeFiles: [] }
              - { path: /broken, handler: broken.js }
`,
      "site/index.html": "x",
      "broken.js": "export default {;",
    });
    const r = await runCli(runtime, ["check", "--base", base]);
    expect(r.code).toBe(1);
    expect(r.output).toContain("docBase /nonexistent/bobcat-docbase does not exist");
    expect(r.output).toMatch(
      /conf\/server\.yaml:9:\d+: server\.services\[0\]\.engine\.hosts\[0\]\.contexts\[0\]\.docBase/,
    );
    // The docBase stops loading; the others are found once it is fixed.
    writeFiles(base, {
      "conf/server.yaml": (await Bun.file(join(base, "conf/server.yaml")).text()).replace(
        "/nonexistent/bobcat-docbase",
        `${base}/site`,
      ),
    });
    const r2 = await runCli(runtime, ["check", "--base", base]);
    expect(r2.code).toBe(1);
    expect(r2.output).toContain("context /empty: the welcome file list is empty");
    expect(r2.output).toContain("broken.js failed to load");
  }, 60000);

  for (const rt of RUNTIMES) {
    test(
      `${rt}: \${...} in a deployed application's META-INF/context.yaml and context.xml expand as in the config`,
      async () => {
        const base = tempDir("bobcat-catalina-expand-");
        dirs.push(base);
        const port = await freePort();
        writeFiles(base, {
          "conf/server.yaml": `properties:
  shop.password: s3cret
server:
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            appBase: webapps
`,
          "webapps/ROOT/index.html": "root",
          "webapps/shop/index.html": "shop",
          "webapps/shop/META-INF/context.yaml": `loginConfig: { authMethod: BASIC }
securityConstraints: [{ urlPatterns: ["/*"], authRoles: [staff] }]
realm:
  users: [{ username: alice, password: "\${shop.password}", roles: [staff] }]
`,
          "webapps/docs/index.html": "docs",
          "webapps/docs/META-INF/context.xml":
            '<Context><Valve className="org.apache.catalina.valves.RemoteAddrValve" allow="${env.DOCS_ALLOW}"/></Context>',
        });
        const server = await startBobcat({
          runtime: rt,
          base,
          args: ["run", "--base", base],
          env: { DOCS_ALLOW: "127\\.0\\.0\\.1" },
        });
        try {
          const url = `http://127.0.0.1:${port}`;
          const login = (password: string) =>
            tfetch(`${url}/shop/`, { headers: { authorization: `Basic ${btoa(`alice:${password}`)}` } });
          expect((await login("s3cret")).status).toBe(200);
          // Not the text as written: that would be a password anyone reading the file knows.
          expect((await login("${shop.password}")).status).toBe(401);
          // The valve allows the address the environment gives (the text as written would match no one).
          expect((await tfetch(`${url}/docs/`)).status).toBe(200);
        } finally {
          await server.stop();
        }
        // A name defined nowhere: an error naming the file it is in, as in the config.
        const r = await runCli(rt, ["check", "--base", base]);
        expect(r.code).toBe(1);
        expect(r.output).toContain(
          `${join(base, "webapps/docs/META-INF/context.xml")}:1:72: valves[0].allow: \${env.DOCS_ALLOW} is not defined`,
        );
        // A context.yaml that is not YAML: its line and column, the message without the yaml package's excerpt.
        writeFiles(base, { "webapps/shop/META-INF/context.yaml": "reloadable: true\nreloadable: false\n" });
        const dup = await runCli(rt, ["check", "--base", base], { env: { DOCS_ALLOW: "x" } });
        expect(dup.code).toBe(1);
        expect(dup.output).toContain(
          `${join(base, "webapps/shop/META-INF/context.yaml")}:2:1: YAML syntax error: Map keys must be unique\n`,
        );
        // A setting the schema refuses: the context file's line, not the Host's in the config.
        writeFiles(base, {
          "webapps/shop/META-INF/context.yaml": "loginConfig: { authMethod: BASIC }\nsessionTimeout: soon\n",
        });
        const bad = await runCli(rt, ["check", "--base", base], { env: { DOCS_ALLOW: "x" } });
        expect(bad.code).toBe(1);
        expect(bad.output).toMatch(
          /webapps\/shop\/META-INF\/context\.yaml:2:17: server\.services\[0\]\.engine\.hosts\[0\]\.contexts\[\d\]\.sessionTimeout: Context sessionTimeout must be a whole number/,
        );
      },
      60000,
    );

    test(
      `${rt}: a server.xml's problems name its own line and column, not those of the YAML it converts to`,
      async () => {
        const base = tempDir("bobcat-catalina-xml-errors-");
        dirs.push(base);
        const port = await freePort();
        writeFiles(base, {
          "conf/server.xml": serverXml(port)
            .replace('connectionTimeout="20000"', 'connectionTimeout="soon"')
            .replace('redirectPort="8443"', 'redirectPort="${no.such.port}"'),
        });
        const r = await runCli(rt, ["check", "--base", base]);
        expect(r.code).toBe(1);
        const xml = join(base, "conf/server.xml");
        expect(r.output).toContain(`${xml}: 2 problem(s) in the configuration`);
        // The attributes on line 4 of the file, each at its column.
        const line4 = readFileSync(xml, "utf8").split("\n")[3]!;
        const column = (attr: string) => line4.indexOf(` ${attr}=`) + 2;
        expect(r.output).toContain(
          `${xml}:4:${column("connectionTimeout")}: server.services[0].connectors[0].connectionTimeout:`,
        );
        expect(r.output).toContain(
          `${xml}:4:${
            column("redirectPort")
          }: server.services[0].connectors[0].redirectPort: \${no.such.port} is not defined`,
        );
        expect(r.output).not.toContain("(converted):");

        // Found after loading (the certificate files): the element's position. Attributes
        // dropped as unknown (misspelt) are warnings, as Tomcat's digester gives; one Tomcat has
        // and bobcat lacks (maxParameterCount) is a note.
        writeFiles(base, {
          "conf/server.xml": serverXml(port).replace(
            '    <Engine name="Catalina"',
            `    <Connector port="${await freePort()}" address="127.0.0.1" SSLEnabled="true" maxParameterCount="1000">
      <SSLHostConfig certificateVerificaton="required">
        <Certificate certificateFile="conf/missing.pem" certificateKeyFile="conf/missing-key.pem" />
      </SSLHostConfig>
    </Connector>
    <Engine name="Catalina"`,
          ),
          "webapps/ROOT/index.html": "hello",
          "conf/Catalina/localhost/typo.xml": `<Context docBase="${join(base, "webapps/ROOT")}" reloadabel="true" />`,
        });
        const cert = await runCli(rt, ["check", "--base", base]);
        expect(cert.output).toContain(
          `WARN  [config] server.xml: ${xml}:6: <SSLHostConfig> certificateVerificaton="required" not converted — not a bobcat <SSLHostConfig> attribute (did you mean certificateVerification?)`,
        );
        const descriptor = join(base, "conf/Catalina/localhost/typo.xml");
        expect(cert.output).toContain(
          `WARN  [config] ${descriptor}:1: <Context> reloadabel="true" not converted — not a bobcat <Context> attribute (did you mean reloadable?)`,
        );
        expect(cert.output).toContain(
          `INFO  [config] server.xml: ${xml}:5: <Connector> maxParameterCount="1000" not converted — not a bobcat <Connector> attribute`,
        );
        expect(cert.code).toBe(1);
        expect(cert.output).toContain(
          `${xml}:7:9: server.services[0].connectors[1].sslHostConfigs[0].certificates[0]:`,
        );
        expect(cert.output).toContain("missing.pem");
        // The problems' title names the server.xml too, never the YAML it was converted to.
        expect(cert.output).toContain(`${xml}: 1 problem(s) stop this config from running`);
        expect(cert.output).not.toContain("(converted)");
      },
      60000,
    );
  }

  test(
    "run --config conf/server.xml runs Tomcat's file as it is; an access control it cannot keep stops it",
    async () => {
      const base = tempDir("bobcat-catalina-xml-");
      dirs.push(base);
      const port = await freePort();
      writeFiles(base, { "conf/server.xml": serverXml(port), "webapps/ROOT/index.html": "hello" });
      const server = await startBobcat({ runtime, base, args: ["run", "--config", join(base, "conf/server.xml")] });
      try {
        expect(await (await tfetch(`http://127.0.0.1:${port}/`)).text()).toBe("hello");
      } finally {
        await server.stop();
      }
      writeFiles(base, {
        "conf/server.xml": serverXml(port).replace(
          'copyXML="true" />',
          'copyXML="true">\n<Valve className="org.apache.catalina.authenticator.BasicAuthenticator" />\n</Host>',
        ),
      });
      const r = await runCli(runtime, ["run", "--base", base]);
      expect(r.code).toBe(1);
      expect(r.output).toContain("server.xml:7");
      expect(r.output).toContain("restricts access");
    },
    60000,
  );

  for (const rt of RUNTIMES) {
    test(`${rt}: the SSL how-to's conf/logging.properties handshake level turns on handshake logging`, async () => {
      // Troubleshooting, as the how-to says: org.apache.tomcat.util.net.NioEndpoint.handshake.level=FINE
      // in $CATALINA_BASE/conf/logging.properties. It was not read, so nothing was logged.
      const base = tempDir();
      dirs.push(base);
      writeFiles(base, {
        "conf/server.xml": `<Server port="-1"><Service name="Catalina">
  <Connector port="0" address="127.0.0.1" SSLEnabled="true">
    <SSLHostConfig><Certificate certificateFile="${PKI}/localhost-rsa.pem"
      certificateKeyFile="${PKI}/localhost-rsa-key.pem" certificateChainFile="${PKI}/intermediate.pem"/></SSLHostConfig>
  </Connector>
  <Engine name="Catalina" defaultHost="localhost"><Host name="localhost" appBase="webapps"/></Engine>
</Service></Server>`,
        "webapps/ROOT/index.html": "x",
        "conf/logging.properties": "handlers = java.util.logging.ConsoleHandler\n.level = INFO\n" +
          "org.apache.tomcat.util.net.NioEndpoint.handshake.level=FINE\n" +
          "org.apache.tomcat.util.net.Nio2Endpoint.handshake.level = FINE\n",
      });
      const r = await runCli(rt, ["check", "--base", base]);
      expect(r.code).toBe(0);
      expect(r.output).toContain(
        "conf/logging.properties:3: org.apache.tomcat.util.net.NioEndpoint.handshake.level applied as logging.components.handshake: debug",
      );
      // The level takes effect: handshake logs need the node-compat back-end, and the plan says so.
      expect(r.output).toContain("handshake debug logging");
      // A level java.util.logging does not have is named, not guessed.
      writeFiles(base, { "conf/logging.properties": "org.apache.tomcat.util.net.NioEndpoint.handshake.level=LOUD\n" });
      const bad = await runCli(rt, ["check", "--base", base]);
      expect(bad.output).toContain("handshake.level=LOUD at line 1 is not a java.util.logging level");
      expect(bad.output).not.toContain("handshake debug logging");
    }, 60000);
  }
});
