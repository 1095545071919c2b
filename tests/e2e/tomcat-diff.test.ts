/**
 * The differential test: Debian's own tomcat10 (with tomcat10-examples and tomcat10-docs, which
 * bring real web.xml files with constraints, error pages and static content) and bobcat run over
 * copies of the same CATALINA_BASE (/var/lib/tomcat10 plus small BASIC- and FORM-protected
 * applications whose users are in conf/tomcat-users.xml, read by the Engine's UserDatabaseRealm),
 * and answer the same requests. Status, Location, WWW-Authenticate, the media type and, for
 * static content, the body must agree. What needs a servlet or a JSP is listed below as an
 * expected difference, and bobcat's answer to it is checked too (404, naming the servlet): never
 * the JSP's source. One Tomcat start for the file; one bobcat start per runtime.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, freePort, type Running, RUNTIMES, startBobcat, tempDir, writeFiles } from "../helpers/bobcat.ts";

const CATALINA_HOME = "/usr/share/tomcat10";
const DEBIAN_BASE = "/var/lib/tomcat10";

interface Case {
  method?: string;
  path: string;
  auth?: [string, string];
  /** An application/x-www-form-urlencoded body. */
  form?: string;
  /** Why bobcat answers differently (a servlet or a JSP), and what it answers instead. */
  differs?: { why: string; bobcatStatus: number; bobcatSays?: string };
}

const CASES: Case[] = [
  // ROOT and the welcome file.
  { path: "/" },
  { path: "/index.html" },
  { method: "HEAD", path: "/" },
  { path: "/nothing-here.html" },
  // WEB-INF and META-INF are never served, in any case.
  { path: "/META-INF/context.xml" },
  { path: "/docs/WEB-INF/web.xml" },
  { path: "/docs/web-inf/web.xml" },
  { path: "/docs/META-INF/context.xml" },
  { path: "/examples/WEB-INF/web.xml" },
  { path: "/secure/WEB-INF/web.xml" },
  // Redirects to the directory, welcome files below.
  { path: "/docs" },
  { path: "/docs/" },
  { path: "/docs/config" },
  { path: "/docs/config/" },
  { path: "/examples" },
  { path: "/examples/" },
  { path: "/examples/servlets/" },
  { path: "/examples/jsp/" },
  { path: "/examples/websocket/" },
  // Static files and their types.
  { path: "/docs/images/tomcat.png" },
  { path: "/docs/RELEASE-NOTES.txt" },
  { path: "/docs/index.html" },
  { path: "/docs/missing.html" },
  // The examples' constraint: GET/POST/PUT/DELETE need a login, every other method is refused.
  { method: "HEAD", path: "/examples/jsp/security/protected/" },
  { method: "OPTIONS", path: "/examples/jsp/security/protected/index.jsp" },
  { method: "PATCH", path: "/examples/jsp/security/protected/index.jsp" },
  // A BASIC application: challenge, right and wrong credentials, roles, deny-all, CONFIDENTIAL, error page.
  { path: "/secure/open.html" },
  { path: "/secure/private/" },
  { path: "/secure/private/", auth: ["alice", "alice-pw"] },
  { path: "/secure/private/", auth: ["alice", "wrong"] },
  { path: "/secure/private/", auth: ["bob", "bob-pw"] },
  { path: "/secure/closed/", auth: ["alice", "alice-pw"] },
  { path: "/secure/tls/" },
  { path: "/secure/missing.html" },
  { method: "DELETE", path: "/secure/open.html" },
  // Expected differences: these need the JSP engine or a servlet.
  {
    path: "/examples/jsp/jsp2/el/basic-arithmetic.jsp",
    differs: { why: "a JSP", bobcatStatus: 404, bobcatSays: "servlet jsp" },
  },
  {
    path: "/examples/servlets/servlet/HelloWorldExample",
    differs: { why: "a servlet", bobcatStatus: 404, bobcatSays: "servlet HelloWorldExample" },
  },
  {
    path: "/examples/jsp/security/protected/index.jsp",
    differs: { why: "FORM login, whose login page is a JSP", bobcatStatus: 404, bobcatSays: "servlet jsp" },
  },
  // A FORM application with static login and error pages: the login page in place of the page
  // asked for, a failed login's error page, a direct POST without a saved request.
  { path: "/form/open.html" },
  { path: "/form/private/" },
  { method: "POST", path: "/form/j_security_check", form: "j_username=alice&j_password=wrong" },
  { method: "POST", path: "/form/private/j_security_check", form: "j_username=alice&j_password=alice-pw" },
  // The Host's RewriteValve (conf/Catalina/localhost/rewrite.config, REWRITE_RULES below).
  { path: "/rw/old/index.html" },
  { path: "/rw/partial" },
  { path: "/rw/partial/more" },
  { path: "/rw/redir/config/" },
  { path: "/rw/qs?x=1" },
  { path: "/rw/forbidden" },
  { path: "/rw/gone" },
  { path: "/rw/cond?go=docs/" },
  { path: "/rw/cond?stay=1" },
  { path: "/RW/NOCASE/index.html" },
  { path: "/rw/host" },
  { path: "/rw/private" },
  { path: "/rw/private", auth: ["alice", "alice-pw"] },
  { path: "/rw/webinf" },
  { path: "/rw/climb/conf/server.xml" },
  { path: "/rw/unicode/x" },
];

/** Rules for the Host's RewriteValve, added to both copies: Tomcat's semantics, compared. */
const REWRITE_RULES = `# Internal rewrites, whole-string matching, redirects, F and G, conditions, flags.
RewriteRule ^/rw/old/(.*)$ /docs/$1 [L]
RewriteRule ^/rw/partial /docs/ [L]
RewriteRule ^/rw/redir/(.*)$ /docs/$1 [R=301,L]
RewriteRule ^/rw/qs$ /docs/index.html?added=1 [R,QSA]
RewriteRule ^/rw/forbidden$ - [F]
RewriteRule ^/rw/gone$ - [G]
RewriteCond %{QUERY_STRING} ^go=(.*)$
RewriteRule ^/rw/cond$ /%1 [R,QSD]
RewriteRule ^/rw/nocase/(.*)$ /docs/$1 [NC,L]
RewriteCond %{HTTP_HOST} ^127\.0\.0\.1$
RewriteRule ^/rw/host$ /docs/index.html [L]
RewriteRule ^/rw/private$ /secure/private/ [L]
RewriteRule ^/rw/webinf$ /docs/WEB-INF/web.xml [L]
RewriteRule ^/rw/climb/(.*)$ /docs/../../$1 [L]
RewriteRule ^/rw/unicode/(.*)$ /docs/\u00e9$1 [R]
`;

/** Small BASIC and FORM applications added to both copies (the Debian packages have none). */
const SECURE_APP: Record<string, string> = {
  "webapps/secure/open.html": "<p>open</p>\n",
  "webapps/secure/private/index.html": "<p>private</p>\n",
  "webapps/secure/closed/index.html": "<p>closed</p>\n",
  "webapps/secure/tls/index.html": "<p>tls</p>\n",
  "webapps/secure/404.html": "<p>custom not found</p>\n",
  "webapps/secure/WEB-INF/web.xml": `<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <security-constraint>
    <web-resource-collection><web-resource-name>p</web-resource-name><url-pattern>/private/*</url-pattern></web-resource-collection>
    <auth-constraint><role-name>staff</role-name></auth-constraint>
  </security-constraint>
  <security-constraint>
    <web-resource-collection><web-resource-name>c</web-resource-name><url-pattern>/closed/*</url-pattern></web-resource-collection>
    <auth-constraint/>
  </security-constraint>
  <security-constraint>
    <web-resource-collection><web-resource-name>t</web-resource-name><url-pattern>/tls/*</url-pattern></web-resource-collection>
    <user-data-constraint><transport-guarantee>CONFIDENTIAL</transport-guarantee></user-data-constraint>
  </security-constraint>
  <login-config><auth-method>BASIC</auth-method><realm-name>Secure App</realm-name></login-config>
  <security-role><role-name>staff</role-name></security-role>
  <error-page><error-code>404</error-code><location>/404.html</location></error-page>
</web-app>
`,
  // Users come from the Engine's UserDatabaseRealm: conf/tomcat-users.xml (below), for both.
  "webapps/form/open.html": "<p>form open</p>\n",
  "webapps/form/private/index.html": "<p>form private</p>\n",
  "webapps/form/login.html":
    '<form method="post" action="j_security_check"><input name="j_username"><input name="j_password" type="password"></form>\n',
  "webapps/form/error.html": "<p>login failed</p>\n",
  "webapps/form/WEB-INF/web.xml": `<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <security-constraint>
    <web-resource-collection><web-resource-name>p</web-resource-name><url-pattern>/private/*</url-pattern></web-resource-collection>
    <auth-constraint><role-name>staff</role-name></auth-constraint>
  </security-constraint>
  <login-config>
    <auth-method>FORM</auth-method>
    <form-login-config><form-login-page>/login.html</form-login-page><form-error-page>/error.html</form-error-page></form-login-config>
  </login-config>
  <security-role><role-name>staff</role-name></security-role>
</web-app>
`,
};

const TOMCAT_USERS = `<?xml version="1.0" encoding="UTF-8"?>
<tomcat-users xmlns="http://tomcat.apache.org/xml" version="1.0">
  <role rolename="staff"/>
  <role rolename="guest"/>
  <user username="alice" password="alice-pw" roles="staff"/>
  <user username="bob" password="bob-pw" roles="guest"/>
</tomcat-users>
`;

/** A copy of Debian's CATALINA_BASE listening on `port` (127.0.0.1 only), with the secure app. */
function copyBase(port: number): string {
  const base = tempDir("bobcat-tomcat-diff-");
  for (const d of ["conf", "webapps"]) {
    cpSync(join(DEBIAN_BASE, d), join(base, d), { recursive: true, dereference: true });
  }
  for (const d of ["logs", "work", "temp"]) mkdirSync(join(base, d), { recursive: true });
  const serverXml = readFileSync(join(base, "conf", "server.xml"), "utf8");
  const patched = serverXml.replace(/<Connector port="8080"/, `<Connector port="${port}" address="127.0.0.1"`);
  if (patched === serverXml) throw new Error("Debian's server.xml no longer has the port 8080 connector");
  const withValve = patched.replace(
    /<\/Host>/,
    '  <Valve className="org.apache.catalina.valves.rewrite.RewriteValve"/>\n      </Host>',
  );
  writeFileSync(join(base, "conf", "server.xml"), withValve);
  writeFileSync(join(base, "conf", "Catalina", "localhost", "rewrite.config"), REWRITE_RULES);
  writeFileSync(join(base, "conf", "tomcat-users.xml"), TOMCAT_USERS);
  writeFiles(base, SECURE_APP);
  return base;
}

interface Answer {
  status: number;
  location: string | null;
  challenge: string | null;
  type: string | null;
  body: Uint8Array;
  text: string;
}

async function ask(port: number, c: Case): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (c.auth) headers.authorization = `Basic ${btoa(c.auth.join(":"))}`;
  if (c.form !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
  const res = await fetch(`http://127.0.0.1:${port}${c.path}`, {
    method: c.method ?? "GET",
    headers,
    body: c.form,
    redirect: "manual",
    keepalive: false,
  } as RequestInit);
  const body = new Uint8Array(await res.arrayBuffer());
  return {
    status: res.status,
    location: res.headers.get("location"),
    challenge: res.headers.get("www-authenticate"),
    // The media type: Tomcat names no charset for static files, bobcat says utf-8 for text.
    type: res.headers.get("content-type")?.split(";")[0]!.trim().toLowerCase() ?? null,
    body,
    text: new TextDecoder().decode(body),
  };
}

const label = (c: Case) => `${c.method ?? "GET"} ${c.path}${c.auth ? ` as ${c.auth[0]}:${c.auth[1]}` : ""}`;

describe("Debian's tomcat10 and bobcat over the same CATALINA_BASE", () => {
  const dirs: string[] = [];
  let tomcat: ChildProcess | undefined;
  const tomcatAnswers = new Map<Case, Answer>();

  beforeAll(async () => {
    // .ci/run installs tomcat10, tomcat10-examples and tomcat10-docs; without them this fails.
    for (
      const p of [
        join(CATALINA_HOME, "bin", "bootstrap.jar"),
        "/usr/share/tomcat10-examples",
        "/usr/share/tomcat10-docs",
      ]
    ) {
      if (!existsSync(p)) throw new Error(`${p} is missing: apt-get install tomcat10 tomcat10-examples tomcat10-docs`);
    }
    const port = await freePort();
    const base = copyBase(port);
    dirs.push(base);
    let out = "";
    tomcat = spawn("java", [
      "-Xmx160m",
      "-XX:TieredStopAtLevel=1",
      "-Xshare:auto",
      `-Djava.util.logging.config.file=${join(base, "conf", "logging.properties")}`,
      "-Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager",
      `-Dcatalina.base=${base}`,
      `-Dcatalina.home=${CATALINA_HOME}`,
      `-Djava.io.tmpdir=${join(base, "temp")}`,
      "-cp",
      `${CATALINA_HOME}/bin/bootstrap.jar:${CATALINA_HOME}/bin/tomcat-juli.jar`,
      "org.apache.catalina.startup.Bootstrap",
      "start",
    ], { cwd: base, stdio: ["ignore", "pipe", "pipe"] });
    tomcat.stdout!.on("data", (d) => (out += d));
    tomcat.stderr!.on("data", (d) => (out += d));
    const deadline = Date.now() + 90_000;
    while (!/Server startup in/.test(out)) {
      if (tomcat.exitCode !== null) throw new Error(`Tomcat exited before starting:\n${out}`);
      if (Date.now() > deadline) throw new Error(`Tomcat did not start within 90 s:\n${out}`);
      await Bun.sleep(200);
    }
    for (const c of CASES) tomcatAnswers.set(c, await ask(port, c));
    // Its answers are all we need from it.
    tomcat.kill("SIGTERM");
    await Promise.race([new Promise((r) => tomcat!.once("exit", r)), Bun.sleep(10_000)]);
    if (tomcat.exitCode === null) tomcat.kill("SIGKILL");
  }, 120_000);

  afterAll(() => {
    if (tomcat && tomcat.exitCode === null) tomcat.kill("SIGKILL");
    for (const d of dirs) cleanup(d);
  });

  for (const runtime of RUNTIMES) {
    test(`bobcat on ${runtime} answers as Tomcat does`, async () => {
      const port = await freePort();
      const base = copyBase(port);
      dirs.push(base);
      let server: Running | undefined;
      try {
        server = await startBobcat({ runtime, base, args: ["run", "--base", base] });
        const mismatches: string[] = [];
        for (const c of CASES) {
          const t = tomcatAnswers.get(c)!;
          const b = await ask(port, c);
          if (c.differs) {
            // Listed, and bobcat's own answer checked: never a JSP's source.
            if (b.status === t.status && b.location === t.location && b.challenge === t.challenge) {
              mismatches.push(
                `${label(c)}: listed as a difference (${c.differs.why}) but bobcat now answers as Tomcat: compare it`,
              );
            }
            if (b.status !== c.differs.bobcatStatus) {
              mismatches.push(
                `${
                  label(c)
                } (expected difference: ${c.differs.why}): bobcat ${b.status}, wanted ${c.differs.bobcatStatus}`,
              );
            }
            if (c.differs.bobcatSays && !b.text.includes(c.differs.bobcatSays)) {
              mismatches.push(`${label(c)}: bobcat's answer does not name ${c.differs.bobcatSays}`);
            }
            expect(b.text).not.toContain("<%");
            continue;
          }
          const diff: string[] = [];
          if (b.status !== t.status) diff.push(`status ${b.status} vs Tomcat ${t.status}`);
          if (b.location !== t.location) diff.push(`Location ${b.location} vs Tomcat ${t.location}`);
          // Expected difference: bobcat's BASIC challenge names the charset (RFC 7617), as Tomcat's
          // BasicAuthenticator does only when its charset attribute is set.
          const challenge = b.challenge?.replace(/, charset="UTF-8"$/, "") ?? null;
          if (challenge !== t.challenge) diff.push(`WWW-Authenticate ${b.challenge} vs Tomcat ${t.challenge}`);
          // Error pages are each server's own; the type of a page with content must agree.
          if (t.status < 300 || b.status < 300 || c.path.endsWith("missing.html")) {
            if (b.type !== t.type && !(t.body.length === 0 && b.body.length === 0)) {
              diff.push(`type ${b.type} vs Tomcat ${t.type}`);
            }
          }
          const staticBody = t.status === 200 || (c.path.startsWith("/secure/") && t.status === 404);
          if (staticBody && Buffer.compare(Buffer.from(b.body), Buffer.from(t.body)) !== 0) {
            diff.push(`body of ${b.body.length} bytes vs Tomcat ${t.body.length}`);
          }
          if (diff.length > 0) mismatches.push(`${label(c)}: ${diff.join("; ")}`);
          if (process.env.BOBCAT_DIFF_VERBOSE) {
            console.log(
              `${
                label(c)
              }: Tomcat ${t.status} ${t.type} ${t.body.length}b, bobcat ${b.status} ${b.type} ${b.body.length}b`,
            );
          }
        }
        expect(mismatches).toEqual([]);
      } finally {
        await server?.stop();
      }
    }, 60_000);
  }
});
