import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { parse } from "yaml";
import { convertContextXml, convertServerXml } from "../../src/config/convert.ts";
import { loadConfigText } from "../../src/config/load.ts";
import type { BobcatConfig } from "../../src/config/model.ts";
import { BobcatError, BobcatErrors } from "../../src/util/errors.ts";
import { BUN, ROOT, tempDir } from "../helpers/bobcat.ts";
import { loadXmlParser } from "../../src/config/xml-parser.ts";

// The XML readers are synchronous; their async callers load fast-xml-parser first.
beforeAll(async () => {
  await loadXmlParser();
});

const FIXTURES = join(ROOT, "tests", "fixtures", "tomcat");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");
const DEFAULT_SERVER_XML = fixture("server.xml");
const DEFAULT_CONTEXT_XML = fixture("context.xml");

function convert(name: string, contextName?: string) {
  return convertServerXml(fixture(name), {
    file: `conf/${name}`,
    contextXml: contextName ? fixture(contextName) : undefined,
    contextFile: contextName ? `conf/${contextName}` : undefined,
  });
}

function load(yaml: string, properties: Record<string, string> = {}): BobcatConfig {
  return loadConfigText("/srv/tomcat/conf/server.yaml", yaml, { baseDir: "/srv/tomcat", env: {}, properties });
}

// Converted trees are checked loosely, key by key.
type Tree = any;
/** The converted data, comments aside, exactly as a YAML reader sees it. */
const data = (yaml: string): Tree => parse(yaml);

function conversionError(run: () => unknown): BobcatError {
  try {
    run();
  } catch (e) {
    if (e instanceof BobcatError) return e;
    throw e;
  }
  throw new Error("expected the conversion to fail");
}

describe("bobcat convert: Tomcat's default files (tomcat.md §6)", () => {
  test("the default server.xml converts into a config that loads", () => {
    const { yaml, warnings } = convertServerXml(DEFAULT_SERVER_XML, { file: "/opt/tomcat/conf/server.xml" });
    const c = load(yaml);
    const service = c.server.services[0]!;
    expect(service.name).toBe("Catalina");
    expect(service.connectors).toHaveLength(1);
    expect(service.connectors[0]!.port).toBe(8080);
    expect(service.connectors[0]!.redirectPort).toBe(8443);
    expect(service.engine.defaultHost).toBe("localhost");
    const host = service.engine.hosts[0]!;
    expect(host.name).toBe("localhost");
    expect(host.appBase).toBe("/srv/tomcat/webapps");
    const valve = host.valves[0] as unknown as Record<string, unknown>;
    expect(valve.className).toBe("AccessLogValve");
    expect(valve.pattern).toBe('%h %l %u %t "%r" %s %b'); // &quot; decoded

    const tree = data(yaml);
    expect(tree.server.listeners.map((l: { className: string }) => l.className)).toEqual([
      "org.apache.catalina.startup.VersionLoggerListener",
      "org.apache.catalina.core.AprLifecycleListener",
      "org.apache.catalina.core.JreMemoryLeakPreventionListener",
      "org.apache.catalina.mbeans.GlobalResourcesLifecycleListener",
      "org.apache.catalina.core.ThreadLocalLeakPreventionListener",
    ]);
    expect(tree.server.port).toBe(8005);
    expect(tree.server.services[0].connectors[0].connectionTimeout).toBe(20000);
    expect(tree.server.services[0].engine.hosts[0].unpackWARs).toBe(true);

    // The LockOutRealm around the UserDatabaseRealm, and the UserDatabase it reads, convert as they are.
    expect(tree.server.services[0].engine.realm).toEqual({
      className: "org.apache.catalina.realm.LockOutRealm",
      realms: [{ className: "org.apache.catalina.realm.UserDatabaseRealm", resourceName: "UserDatabase" }],
    });
    expect(tree.server.globalNamingResources.resources[0]).toMatchObject({
      name: "UserDatabase",
      type: "org.apache.catalina.UserDatabase",
      pathname: "conf/tomcat-users.xml",
    });
    expect(warnings).toHaveLength(0);

    // The header says where it came from and which base directory the relative paths need.
    expect(yaml).toStartWith("# Converted by `bobcat convert` from /opt/tomcat/conf/server.xml.\n");
    expect(yaml).toContain("run with --base /opt/tomcat.");
  });

  test("the default file's commented-out AJP, TLS and Executor blocks, switched on, are reported or converted", () => {
    const uncomment = (xml: string, marker: string) => {
      const at = xml.indexOf(marker);
      const open = xml.lastIndexOf("<!--", at);
      const close = xml.indexOf("-->", at);
      return xml.slice(0, open) + xml.slice(open + 4, close) + xml.slice(close + 3);
    };
    let xml = uncomment(DEFAULT_SERVER_XML, '<Connector protocol="AJP/1.3"');
    xml = uncomment(xml, '<Connector port="8443"');
    xml = uncomment(xml, '<Executor name="tomcatThreadPool"');
    const { yaml, warnings } = convertServerXml(xml);
    const c = load(yaml);
    const [http, https] = c.server.services[0]!.connectors;
    expect(c.server.services[0]!.connectors).toHaveLength(2);
    expect(http!.port).toBe(8080);
    expect(https!.SSLEnabled).toBe(true);
    expect(https!.maxThreads).toBe(150);
    const cert = https!.sslHostConfigs[0]!.certificates[0]!;
    expect(cert.certificateKeystoreFile).toBe("/srv/tomcat/conf/localhost-rsa.jks");
    expect(cert.type).toBe("RSA");
    expect(yaml).toContain(
      '# not converted: <Connector protocol="AJP/1.3" address="::1" port="8009" redirectPort="8443"> — bobcat has no AJP connector',
    );
    // <UpgradeProtocol className="...Http2Protocol"> turns HTTP/2 on for that connector.
    expect(https!.upgradeProtocols).toEqual([{ className: "Http2Protocol" }]);
    expect(yaml).toContain(
      '# not converted: <Executor name="tomcatThreadPool" namePrefix="catalina-exec-" maxThreads="150" minSpareThreads="4"> — bobcat has no shared thread pools',
    );
    expect(warnings.filter((w) => w.includes('not converted: <Connector protocol="AJP/1.3"'))).toHaveLength(1);
    expect(warnings.filter((w) => w.includes("<Executor"))).toHaveLength(1);
  });

  test("the default context.xml: its WatchedResources are reported once, in the header", () => {
    const { yaml, warnings } = convertServerXml(DEFAULT_SERVER_XML, {
      contextXml: DEFAULT_CONTEXT_XML,
      contextFile: "conf/context.xml",
    });
    load(yaml);
    const header = yaml.slice(0, yaml.indexOf("\nserver:"));
    expect(header).toContain("from server.xml and conf/context.xml.");
    expect(header).toContain(
      "# not converted: <WatchedResource>WEB-INF/web.xml</WatchedResource> — bobcat watches WEB-INF/web.xml",
    );
    expect(header).toContain("# not converted: <WatchedResource>${catalina.base}/conf/web.xml</WatchedResource>");
    const watched = warnings.filter((w) => w.includes("WatchedResource"));
    expect(watched).toHaveLength(3);
    expect(watched[0]).toStartWith("conf/context.xml:23: ");
  });
});

describe("bobcat convert: fixtures", () => {
  test("TLS connector with a keystore certificate and a PEM certificate", () => {
    const { yaml, warnings } = convert("tls-keystore-pem.xml");
    const tree = data(yaml);
    const tls = tree.server.services[0].connectors[1];
    expect(tls.SSLEnabled).toBe(true);
    expect(tls.acceptCount).toBe(50);
    expect(tls.sslHostConfigs[0].honorCipherOrder).toBe(true);
    expect(tls.sslHostConfigs[0].certificates).toEqual([
      {
        certificateKeystoreFile: "${user.home}/.keystore",
        certificateKeystorePassword: "changeit",
        certificateKeyAlias: "tomcat",
        type: "RSA",
      },
      {
        certificateKeyFile: "conf/localhost-ec-key.pem",
        certificateFile: "conf/localhost-ec-cert.pem",
        certificateChainFile: "conf/localhost-ec-chain.pem",
        type: "EC",
      },
    ]);
    // ${...} is kept for bobcat to expand, defaults included.
    expect(tree.server.services[0].connectors[0].port).toBe("${http.port:-8080}");
    const c = load(yaml);
    expect(c.server.services[0]!.connectors[0]!.port).toBe(8080);
    const [rsa, ec] = c.server.services[0]!.connectors[1]!.sslHostConfigs[0]!.certificates;
    expect(rsa!.certificateKeystoreFile).toMatch(/\/\.keystore$/);
    expect(rsa!.certificateKeystoreFile).not.toContain("${");
    expect(ec!.certificateFile).toBe("/srv/tomcat/conf/localhost-ec-cert.pem");
    expect(c.server.services[0]!.engine.hosts[0]!.contexts[0]!.cookieProcessor.sameSiteCookies).toBe("strict");

    expect(yaml).toContain(
      '# not converted: <Executor name="tomcatThreadPool" namePrefix="catalina-exec-" maxThreads="150" minSpareThreads="4"> — bobcat has no shared thread pools',
    );
    expect(yaml).toContain('# not converted: maxParameterCount="1000" — not a bobcat <Connector> attribute');
    expect(warnings).toEqual([
      expect.stringMatching(/^conf\/tls-keystore-pem\.xml:6: not converted: <Executor /),
      'conf/tls-keystore-pem.xml:7: <Connector> maxParameterCount="1000" not converted — not a bobcat <Connector> attribute',
      'conf/tls-keystore-pem.xml:9: <Connector> maxParameterCount="1000" not converted — not a bobcat <Connector> attribute',
    ]);
  });

  test("SNI: two SSLHostConfigs, the default one named, client certificates on the other", () => {
    const { yaml, warnings } = convert("sni.xml");
    expect(warnings).toEqual([]);
    const c = load(yaml, { "www.pass": "secret" });
    const conn = c.server.services[0]!.connectors[0]!;
    expect(conn.defaultSSLHostConfigName).toBe("www.example.com");
    expect(conn.sslHostConfigs.map((h) => h.hostName)).toEqual(["www.example.com", "*.api.example.com"]);
    const api = conn.sslHostConfigs[1]!;
    expect(api.certificateVerification).toBe("required");
    expect(api.certificateVerificationDepth).toBe(3);
    expect(api.truststoreType).toBe("JKS");
    expect(conn.sslHostConfigs[0]!.certificates[0]!.certificateKeystorePassword).toBe("secret");
    const hosts = c.server.services[0]!.engine.hosts;
    expect(hosts[1]!.aliases).toEqual(["v1.api.example.com"]);
    expect(data(yaml).server.services[0].connectors[0].sslHostConfigs[1].certificateVerificationDepth).toBe(3);
  });

  test("Tomcat 9 connector TLS attributes stay on the connector, and bobcat moves them when it loads", () => {
    const { yaml, warnings } = convert("legacy-tomcat9.xml");
    const tls = data(yaml).server.services[0].connectors[1];
    expect(tls.keystoreFile).toBe("conf/.keystore");
    expect(tls.keystorePass).toBe("changeit");
    expect(tls.clientAuth).toBe("want");
    expect(tls.sslHostConfigs).toBeUndefined();
    expect(yaml).toContain(
      "keystoreFile: conf/.keystore # Tomcat 9 attribute: bobcat moves it to certificateKeystoreFile on the default SSLHostConfig's certificate",
    );
    // Its APR spellings move too (SSLHonorCipherOrder, like useServerCipherSuitesOrder).
    expect(yaml).toContain(
      "SSLHonorCipherOrder: true # Tomcat 9 attribute: bobcat moves it to honorCipherOrder on the default SSLHostConfig",
    );
    expect(yaml).toContain(
      '# not converted: <Connector port="8009" protocol="AJP/1.3" redirectPort="8443" secretRequired="false"> — bobcat has no AJP connector',
    );
    expect(warnings).toHaveLength(1);

    const c = load(yaml);
    const conn = c.server.services[0]!.connectors[1]!;
    const host = conn.sslHostConfigs[0]!;
    expect(host.hostName).toBe("_default_");
    expect(host.honorCipherOrder).toBe(true);
    expect(host.certificateVerification).toBe("optional");
    expect(host.protocols).toBe("TLSv1.2");
    expect(host.certificates[0]!.certificateKeystoreFile).toBe("/srv/tomcat/conf/.keystore");
    expect(host.certificates[0]!.certificateKeyAlias).toBe("tomcat");
    expect(c.notes.join("\n")).toContain("legacy connector attribute keystoreFile");
    expect(c.server.services[0]!.engine.jvmRoute).toBe("jvm1");
  });

  test("a Host with Aliases and Contexts with their Manager and SessionIdGenerator", () => {
    const { yaml, warnings } = convert("hosts-contexts.xml");
    const c = load(yaml);
    const [www, stat] = c.server.services[0]!.engine.hosts;
    expect(www!.aliases).toEqual(["example.com", "www.example.net"]);
    const [root, admin] = www!.contexts;
    expect(root!.sessionCookieName).toBe("SID");
    const m = root!.manager as unknown as Record<string, unknown>;
    expect(m.maxActiveSessions).toBe(2000);
    expect(m.pathname).toBe("SESSIONS.ser");
    expect(m.sessionIdGenerator).toMatchObject({ sessionIdLength: 24, jvmRoute: "fromGenerator" });
    expect(admin!.sessionTimeout).toBe(15);
    expect(admin!.manager).toMatchObject({ className: "StandardManager", pathname: "", processExpiresFrequency: 1 });
    expect(admin!.realm).toMatchObject({ className: "MemoryRealm", users: [] });
    expect(admin!.realm.className === "MemoryRealm" && admin!.realm.pathname).toEndWith("conf/admin-users.xml");
    expect(admin!.valves[0]).toMatchObject({ className: "AccessLogValve", pattern: "combined", rotatable: false });
    expect(stat!.contexts[0]!.listings).toBe(true);

    const tree = data(yaml);
    expect(tree.server.services[0].engine.hosts[0].aliases).toEqual(["example.com", "www.example.net"]);
    expect(tree.server.services[0].engine.hosts[0].contexts[0].manager.sessionIdGenerator.sessionIdLength).toBe(24);
    // A Java class-name filter would match nothing in bobcat and lose every attribute on persist.
    expect(warnings[0]).toContain("sessionAttributeValueClassNameFilter");
    expect(warnings[0]).toContain("names Java classes");
    expect(warnings).toHaveLength(1);
  });

  test("PersistentManager with FileStore and DataSourceStore, and DataSource resources", () => {
    const { yaml, warnings } = convert("persistent-sessions.xml");
    const tree = data(yaml);
    expect(tree.server.globalNamingResources.resources).toEqual([
      {
        name: "UserDatabase",
        auth: "Container",
        type: "org.apache.catalina.UserDatabase",
        factory: "org.apache.catalina.users.MemoryUserDatabaseFactory",
        pathname: "conf/tomcat-users.xml",
      },
      {
        name: "jdbc/SessionDS",
        auth: "Container",
        type: "javax.sql.DataSource",
        driverClassName: "org.postgresql.Driver",
        url: "jdbc:postgresql://db.internal:5432/sessions",
        username: "tomcat",
        password: "${db.pass}",
        maxTotal: 20,
        maxWaitMillis: 5000,
      },
    ]);
    const [cart, shop] = tree.server.services[0].engine.hosts[0].contexts;
    expect(cart.manager).toEqual({
      className: "org.apache.catalina.session.PersistentManager",
      maxIdleBackup: 1,
      maxIdleSwap: 3,
      processExpiresFrequency: 1,
      saveOnRestart: true,
      store: { className: "org.apache.catalina.session.FileStore", directory: "sessions" },
    });
    expect(shop.resources).toEqual([{
      name: "jdbc/LocalDS",
      type: "javax.sql.DataSource",
      url: "sqlite:data/shop.db",
    }]);
    expect(shop.manager).toMatchObject({
      className: "org.apache.catalina.session.PersistentManager",
      maxIdleSwap: 1800,
      minIdleSwap: 60,
      maxActiveSessions: 1000,
      sessionActivityCheck: true,
    });
    expect(shop.manager.store).toEqual({
      className: "org.apache.catalina.session.DataSourceStore",
      dataSourceName: "jdbc/SessionDS",
      sessionTable: "tomcat_sessions",
      sessionIdCol: "session_id",
      sessionAppCol: "app_name",
      sessionDataCol: "session_data",
      sessionValidCol: "valid_session",
      sessionMaxInactiveCol: "max_inactive",
      sessionLastAccessedCol: "last_access",
    });
    // The only warnings are for elements copied without a schema definition.
    expect(warnings.filter((w) => !w.includes("is copied as written"))).toEqual([]);

    // The converted file loads: resources, PersistentManager and both stores are in the schema.
    const loaded: BobcatConfig = load(yaml, { "db.pass": "pw" });
    const ctx = loaded.server.services[0]!.engine.hosts[0]!.contexts[0]! as unknown as {
      manager: Record<string, unknown>;
    };
    expect(ctx.manager).toMatchObject({ className: "PersistentManager", maxIdleSwap: 3 });
    expect(ctx.manager.store).toMatchObject({ className: "FileStore", directory: "sessions" });
  });

  test("RemoteIpValve, SSLValve, AccessLogValve, ErrorReportValve and RemoteAddrValve convert; other valves are commented", () => {
    const { yaml, warnings } = convert("valves.xml");
    const c = load(yaml);
    const engine = c.server.services[0]!.engine;
    const [remoteIp, ssl] = engine.valves as unknown as Record<string, unknown>[];
    expect(remoteIp).toMatchObject({
      className: "RemoteIpValve",
      internalProxies: "10\\.0\\.0\\.\\d{1,3}|127\\.0\\.0\\.1",
      httpsServerPort: 443,
      protocolHeader: "x-forwarded-proto",
    });
    expect(ssl).toMatchObject({ className: "SSLValve", sslClientCertHeader: "X-SSL-Client-Cert" });
    const host = engine.hosts[0]!;
    expect(host.valves).toHaveLength(2);
    expect(host.valves[1]).toMatchObject({ className: "ErrorReportValve", showReport: false, showServerInfo: false });
    expect(host.contexts[0]!.valves[1]).toMatchObject({
      className: "RemoteAddrValve",
      allow: "127\\.\\d+\\.\\d+\\.\\d+",
    });
    expect(host.valves[0]).toMatchObject({
      className: "AccessLogValve",
      buffered: false,
      pattern: '%{X-Forwarded-For}i %l %u %t "%r" %s %b %D',
    });
    expect(host.contexts[0]!.valves[0]).toMatchObject({ className: "AccessLogValve", fileDateFormat: "" });
    expect(data(yaml).server.services[0].engine.hosts[0].contexts[0].valves[0].directory).toBe("-");
    const conn = c.server.services[0]!.connectors[0]!;
    expect(conn.proxyPort).toBe(443);
    expect(conn.secure).toBe(true);

    const notConverted = warnings.map((w) => /className="([^"]+)"/.exec(w)?.[1]);
    expect(notConverted).toEqual(["org.apache.catalina.authenticator.SingleSignOn"]);
  });

  test("an access control that does not convert is an error naming its line, never a warning", () => {
    const xml = fixture("valves.xml").replace(
      /^.*RemoteAddrValve.*$/m,
      '<Valve className="org.apache.catalina.authenticator.BasicAuthenticator" />',
    );
    let caught: unknown;
    try {
      convertServerXml(xml, { file: "valves.xml" });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BobcatErrors);
    const [err] = (caught as BobcatErrors).errors;
    expect(err!.code).toBe("convert.accessControl");
    expect(err!.where).toMatchObject({ file: "valves.xml", line: 22 });
    expect(err!.message).toContain("BasicAuthenticator");
    expect(err!.message).toContain("restricts access");
  });

  test("a <Store> bobcat does not have is an error at its line (JDBCStore: removed in Tomcat 10), not a missing store", () => {
    const withStore = (store: string) =>
      `<Server>\n<Service name="S">\n<Connector port="8080"/>\n<Engine name="E" defaultHost="h">\n<Host name="h">\n<Context path="/a" docBase="a">\n<Manager className="org.apache.catalina.session.PersistentManager">\n${store}\n</Manager>\n</Context>\n</Host>\n</Engine>\n</Service>\n</Server>`;
    const refused = (store: string) => {
      try {
        convertServerXml(withStore(store), { file: "server.xml" });
      } catch (e) {
        if (e instanceof BobcatErrors) return e.errors;
        throw e;
      }
      return [];
    };
    const [jdbc] = refused(
      '<Store className="org.apache.catalina.session.JDBCStore" driverName="org.postgresql.Driver" connectionURL="jdbc:postgresql://db/web"/>',
    );
    expect(jdbc!.code).toBe("convert.store");
    expect(jdbc!.where).toMatchObject({ file: "server.xml", line: 8 });
    expect(jdbc!.message).toContain("JDBCStore was removed in Tomcat 10");
    expect(jdbc!.fix).toContain("DataSourceStore");
    const [custom] = refused('<Store className="com.example.MemcachedStore"/>');
    expect(custom!.code).toBe("convert.store");
    expect(custom!.message).toContain("className is one of: FileStore, DataSourceStore");
    expect(refused('<Store className="org.apache.catalina.session.FileStore" directory="s"/>')).toEqual([]);
  });

  test("a misspelt access-control valve, or a FilterValve, is an error; Tomcat's other valves are notes", () => {
    const hostValves = (valves: string) =>
      `<Server>\n<Service name="S">\n<Connector port="8080"/>\n<Engine name="E" defaultHost="h">\n<Host name="h">\n${valves}\n</Host>\n</Engine>\n</Service>\n</Server>`;
    const refused = (valves: string) => {
      try {
        convertServerXml(hostValves(valves), { file: "server.xml" });
      } catch (e) {
        if (e instanceof BobcatErrors) return e.errors;
        throw e;
      }
      return [];
    };
    // Tomcat would not start with it; dropped, the server would let everybody in.
    const [typo] = refused('<Valve className="org.apache.catalina.valves.RemoteAddrValv" allow="10\\.1\\.1\\.1"/>');
    expect(typo!.code).toBe("convert.accessControl");
    expect(typo!.where).toMatchObject({ file: "server.xml", line: 6 });
    expect(typo!.fix).toBe("correct the className: did you mean RemoteAddrValve?");
    const [filter] = refused(
      '<Valve className="org.apache.catalina.valves.FilterValve" filterClass="org.apache.catalina.filters.RemoteAddrFilter"/>',
    );
    expect(filter!.message).toContain("restricts access");
    // A valve of Tomcat's that restricts nothing is a note, even one whose name is near a restricting one.
    expect(refused('<Valve className="org.apache.catalina.valves.StuckThreadDetectionValve"/>')).toEqual([]);
    expect(refused('<Valve className="org.apache.catalina.valves.CrawlerSessionManagerValve"/>')).toEqual([]);
  });

  test("context.xml settings become every context's defaults; a context's own settings win", () => {
    const { yaml, warnings } = convert("hosts-contexts.xml", "context-defaults.xml");
    const c = load(yaml);
    const [root, admin] = c.server.services[0]!.engine.hosts[0]!.contexts;
    const files = c.server.services[0]!.engine.hosts[1]!.contexts[0]!;
    expect(root!.sessionCookieName).toBe("SID");
    expect((root!.manager as unknown as Record<string, unknown>).maxActiveSessions).toBe(2000);
    expect(files.sessionCookieName).toBe("APPSESSION");
    expect(files.manager).toMatchObject({ pathname: "", maxActiveSessions: 500 });
    expect(files.cookieProcessor.sameSiteCookies).toBe("strict");
    // Valves add up, context.xml's first, as in Tomcat.
    expect(admin!.valves.map((v) => (v as unknown as { prefix: string }).prefix)).toEqual([
      "app_access",
      "admin_access",
    ]);
    const header = yaml.slice(0, yaml.indexOf("\nserver:"));
    expect(header).toContain('# not converted: antiResourceLocking="false" — not a bobcat <Context> attribute');
    expect(header).toContain("# not converted: <WatchedResource>WEB-INF/web.xml</WatchedResource>");
    expect(yaml.split("antiResourceLocking")).toHaveLength(2);
    expect(yaml).toContain("# from conf/context-defaults.xml");
    expect(warnings.filter((w) => w.startsWith("conf/context-defaults.xml:"))).toHaveLength(2);
  });

  test("context.xml defaults with no <Context> to apply to are shown, commented, in the header", () => {
    const { yaml, warnings } = convertServerXml(DEFAULT_SERVER_XML, { contextXml: fixture("context-defaults.xml") });
    load(yaml);
    const header = yaml.slice(0, yaml.indexOf("\nserver:"));
    expect(header).toContain("# not applied — the server.xml lists no <Context>");
    expect(header).toContain('#   manager:\n#     pathname: ""\n#     maxActiveSessions: 500');
    expect(warnings.some((w) => w.startsWith("context.xml:3: not applied"))).toBe(true);
  });
});

describe("bobcat convert: typing, unknown parts, errors", () => {
  const wrap = (connector: string, extra = "") =>
    `<Server>
  <Service>
    ${connector}
    <Engine defaultHost="localhost">
      <Host name="localhost">${extra}</Host>
    </Engine>
  </Service>
</Server>`;

  test("values are typed by the schema; text stays text", () => {
    const { yaml, warnings } = convertServerXml(
      wrap(
        '<Connector port="8443" SSLEnabled="TRUE" maxThreads="10" address="127.0.0.1" server="007" xpoweredBy="false"><SSLHostConfig sessionTimeout="300" protocols="TLSv1.3"><Certificate certificateFile="c.pem" certificateKeystorePassword="123456"/></SSLHostConfig></Connector>',
      ),
    );
    expect(warnings).toEqual([]);
    const conn = data(yaml).server.services[0].connectors[0];
    expect(conn).toMatchObject({
      port: 8443,
      SSLEnabled: true,
      maxThreads: 10,
      address: "127.0.0.1",
      server: "007",
      xpoweredBy: false,
    });
    expect(conn.sslHostConfigs[0].sessionTimeout).toBe(300);
    expect(conn.sslHostConfigs[0].certificates[0].certificateKeystorePassword).toBe("123456");
    expect(yaml).toContain('server: "007"');
    expect(yaml).toContain('certificateKeystorePassword: "123456"');
  });

  test("a value the schema cannot type is kept as written, flagged, and refused at load", () => {
    const { yaml, warnings } = convertServerXml(wrap('<Connector port="8080" maxThreads="lots" secure="yes"/>'));
    const conn = data(yaml).server.services[0].connectors[0];
    expect(conn.maxThreads).toBe("lots");
    expect(conn.secure).toBe("yes");
    expect(yaml).toContain("maxThreads: lots # is not a whole number: fix it before running");
    expect(warnings).toEqual([
      'server.xml:3: <Connector> maxThreads="lots" is not a whole number; kept as written, bobcat refuses it until it is fixed',
      'server.xml:3: <Connector> secure="yes" is not true or false; kept as written, bobcat refuses it until it is fixed',
    ]);
    expect(() => load(yaml)).toThrow(/maxThreads must be a whole number/);
  });

  test("unknown elements and attributes become comments and warnings, nested content included", () => {
    const { yaml, warnings } = convertServerXml(
      wrap(
        '<Connector port="8080" fooBar="1"/>',
        `
        <Frobnicator level="9"><Gear teeth="12"/><Gear teeth="20">spare</Gear></Frobnicator>
        <Listener className="org.apache.catalina.startup.ContextConfig"/>
        <Realm className="org.apache.catalina.realm.MemoryRealm"/>`,
      ),
    );
    load(yaml);
    expect(yaml).toContain('# not converted: fooBar="1" — not a bobcat <Connector> attribute');
    expect(yaml).toContain('# not converted: <Frobnicator level="9"> — bobcat has no <Frobnicator>\n');
    expect(yaml).toContain('#   <Gear teeth="12"/>\n');
    expect(yaml).toContain('#   <Gear teeth="20">spare</Gear>\n');
    expect(yaml).toContain("— bobcat takes <Listener> inside <Server> only, not inside <Host>");
    // A realm on a Host is the realm of its contexts, as in Tomcat.
    expect(yaml).toContain("realm:\n              className: org.apache.catalina.realm.MemoryRealm\n");
    expect(warnings).toEqual([
      'server.xml:3: <Connector> fooBar="1" not converted — not a bobcat <Connector> attribute',
      'server.xml:6: not converted: <Frobnicator level="9"> — bobcat has no <Frobnicator> (with 2 nested elements, shown in the output)',
      expect.stringMatching(/^server\.xml:7: not converted: <Listener /),
    ]);
  });

  test("a misspelt attribute, dropped as Tomcat drops it, is named with the one meant", () => {
    const { warnings, atWarn } = convertServerXml(
      wrap(
        '<Connector port="8443" SSLEnabled="true" maxParameterCount="1000" maxSavePostSize="4096" fooBar="1" SSLDisableCompression="true">\n' +
          '<SSLHostConfig certificateVerificaton="required"><Certificate certificateFile="c.pem"/></SSLHostConfig>\n' +
          "</Connector>",
      ),
    );
    const misspelt =
      'server.xml:4: <SSLHostConfig> certificateVerificaton="required" not converted — not a bobcat <SSLHostConfig> attribute (did you mean certificateVerification?)';
    expect(warnings).toContain(misspelt);
    // A Tomcat attribute bobcat does not have is not taken for a misspelling, even one close to
    // a bobcat attribute (maxSavePostSize, maxPostSize).
    const tomcats = [
      'server.xml:3: <Connector> maxParameterCount="1000" not converted — not a bobcat <Connector> attribute',
      'server.xml:3: <Connector> maxSavePostSize="4096" not converted — not a bobcat <Connector> attribute',
    ];
    for (const w of tomcats) expect(warnings).toContain(w);
    // What Tomcat 10+ would not know either, and warn of ("failed to set property"), a server
    // logs at WARN: the misspelling, an attribute no Tomcat has, a Tomcat 9 TLS attribute on the Connector.
    expect(atWarn).toEqual([
      'server.xml:3: <Connector> fooBar="1" not converted — not a bobcat <Connector> attribute',
      expect.stringMatching(
        /^server\.xml:3: <Connector> SSLDisableCompression="true" not converted — a Tomcat 9 TLS attribute/,
      ),
      misspelt,
    ]);
    for (const w of atWarn) expect(warnings).toContain(w);
  });

  test("attributes dropped as unknown by a context file are marked too; Tomcat's own are not", () => {
    const { warnings, atWarn } = convertContextXml(
      '<Context reloadabel="true" antiResourceLocking="false"><Valve className="org.apache.catalina.valves.AccessLogValve" patern="common"/></Context>',
      "conf/Catalina/localhost/app.xml",
    );
    expect(warnings).toHaveLength(3);
    expect(atWarn).toEqual([
      'conf/Catalina/localhost/app.xml:1: <Context> reloadabel="true" not converted — not a bobcat <Context> attribute (did you mean reloadable?)',
      // A valve's attributes depend on its class: one close to a bobcat attribute is taken for a misspelling.
      'conf/Catalina/localhost/app.xml:1: <Valve> patern="common" not converted — not a bobcat <Valve> attribute (did you mean pattern?)',
    ]);
  });

  test("a clustering Manager (DeltaManager, BackupManager) is a WARN naming what replaces it and how to share sessions", () => {
    const { yaml, warnings, atWarn } = convertServerXml(
      wrap(
        '<Connector port="8080"/>',
        '<Context path="/a" docBase="a"><Manager className="org.apache.catalina.ha.session.DeltaManager"/></Context>',
      ),
    );
    expect(atWarn).toHaveLength(1);
    expect(warnings).toEqual(atWarn);
    expect(atWarn[0]).toStartWith(
      'server.xml:5: not converted: <Manager className="org.apache.catalina.ha.session.DeltaManager">',
    );
    expect(atWarn[0]).toContain("the context gets bobcat's default StandardManager");
    expect(atWarn[0]).toContain("a PersistentManager with a DataSourceStore or RedisStore");
    expect(atWarn[0]).toContain("consistency: shared");
    // The context loads, with the default manager.
    expect(load(yaml).server.services[0]!.engine.hosts[0]!.contexts[0]!.manager.className).toBe("StandardManager");
    const context = convertContextXml(
      '<Context><Manager className="org.apache.catalina.ha.session.BackupManager" mapSendOptions="6"/></Context>',
      "conf/Catalina/localhost/app.xml",
    );
    expect(context.atWarn).toEqual(context.warnings);
    expect(context.atWarn[0]).toContain("BackupManager");
  });

  test("className on an element bobcat has one implementation of is an attribute it does not take", () => {
    const { yaml, warnings } = convertServerXml(
      wrap('<Connector port="8080"/>').replace(
        '<Host name="localhost">',
        '<Host name="localhost" className="org.apache.catalina.core.StandardHost">',
      ),
    );
    expect(load(yaml).server.services[0]!.engine.hosts[0]!.name).toBe("localhost");
    expect(yaml).toContain(
      '# not converted: className="org.apache.catalina.core.StandardHost" — not a bobcat <Host> attribute',
    );
    expect(warnings).toHaveLength(1);
  });

  test("a second <Manager> replaces the first, as in Tomcat, and the first is reported", () => {
    const { yaml, warnings } = convertServerXml(
      wrap(
        '<Connector port="8080"/>',
        '<Context path="/a" docBase="a"><Manager pathname="one.ser"/><Manager pathname="two.ser"/></Context>',
      ),
    );
    expect(load(yaml).server.services[0]!.engine.hosts[0]!.contexts[0]!.manager).toMatchObject({ pathname: "two.ser" });
    expect(yaml).toContain(
      '# not converted: <Manager pathname="one.ser"> — replaced by the later <Manager>, as in Tomcat',
    );
    expect(warnings).toHaveLength(1);
  });

  test("Certificate attributes written on <SSLHostConfig> itself (Tomcat 9) become its certificate", () => {
    const { yaml, warnings } = convertServerXml(
      wrap(
        '<Connector port="8443" SSLEnabled="true"><SSLHostConfig protocols="TLSv1.2" certificateKeystoreFile="conf/ks.p12" certificateKeystorePassword="pw"/></Connector>',
      ),
    );
    expect(warnings).toEqual([]);
    expect(yaml).toContain("# from attributes on <SSLHostConfig> itself (Tomcat 9 style)");
    const host = load(yaml).server.services[0]!.connectors[0]!.sslHostConfigs[0]!;
    expect(host.protocols).toBe("TLSv1.2");
    expect(host.certificates).toHaveLength(1);
    expect(host.certificates[0]!.certificateKeystoreFile).toBe("/srv/tomcat/conf/ks.p12");
  });

  test("malformed XML: the error names the file, line and column", () => {
    const e = conversionError(() =>
      convertServerXml('<Server port="8005">\n  <Service name="Catalina">\n  </Servce>\n</Server>\n', {
        file: "conf/server.xml",
      })
    );
    expect(e.code).toBe("convert.xmlSyntax");
    expect(e.where).toMatchObject({ file: "conf/server.xml", line: 3, column: 3 });
    expect(e.format()).toStartWith("conf/server.xml:3:3: malformed XML: Expected closing tag 'Service'");

    expect(conversionError(() => convertServerXml('<Server port="1" port="2"/>')).format()).toContain(
      "server.xml:1:18: malformed XML: Attribute 'port' is repeated",
    );
    expect(conversionError(() => convertServerXml("")).message).toBe("the file is empty");
    expect(conversionError(() => convertServerXml("<Server/><Server/>")).message).toContain("2 root elements");
    // Tomcat's docs show connectors kept in other files and pulled in through external entities.
    const entity = conversionError(() =>
      convertServerXml(
        '<?xml version="1.0"?>\n<!DOCTYPE server-xml [\n  <!ENTITY conn SYSTEM "conn.xml">\n]>\n<Server>\n  <Service>&conn;</Service>\n</Server>',
      )
    );
    expect(entity.where.line).toBe(3);
    expect(entity.fix).toContain("does not expand entities");
    expect(
      conversionError(() => convertServerXml(`<Server>${"<a>".repeat(120)}${"</a>".repeat(120)}</Server>`)).message,
    ).toContain("Maximum nested tags");
  });

  test("an element or attribute named __proto__, constructor or prototype: its line and column, and what to do", () => {
    // fast-xml-parser refuses these names; the error used to carry no line and a fix about nesting.
    const attr = conversionError(() =>
      convertServerXml('<Server>\n  <!-- __proto__="x" -->\n  <Service name="a"\n     __proto__="x"/>\n</Server>', {
        file: "conf/server.xml",
      })
    );
    expect(attr.code).toBe("convert.xmlName");
    expect(attr.where).toMatchObject({ file: "conf/server.xml", line: 4, column: 6 });
    expect(attr.fix).toContain("rename or remove it");
    const element = conversionError(() =>
      convertServerXml("<Server>\n  <Service>\n    <constructor/>\n  </Service>\n</Server>", {
        file: "conf/server.xml",
      })
    );
    expect(element.format()).toStartWith('conf/server.xml:3:5: "constructor" cannot be an element or attribute name');
    expect(conversionError(() => convertServerXml('<Server prototype="1"/>')).where).toMatchObject({
      line: 1,
      column: 9,
    });
  });

  test("the wrong root element is refused with a pointer to the right option", () => {
    const e = conversionError(() => convertServerXml(DEFAULT_CONTEXT_XML, { file: "conf/context.xml" }));
    expect(e.code).toBe("convert.root");
    expect(e.fix).toContain("--context");
    const c = conversionError(() => convertServerXml(DEFAULT_SERVER_XML, { contextXml: DEFAULT_SERVER_XML }));
    expect(c.message).toContain("not <Context>");
    const bad = conversionError(() =>
      convertServerXml(DEFAULT_SERVER_XML, {
        contextXml: "<Context>\n<Manager>\n</Context>",
        contextFile: "conf/context.xml",
      })
    );
    expect(bad.where).toMatchObject({ file: "conf/context.xml", line: 3 });
  });
});

describe("bobcat convert: the command", () => {
  const run = (...args: string[]) => {
    const script = `import { convertMain } from ${
      JSON.stringify(join(ROOT, "src/cli/convert.ts"))
    }; process.exitCode = await convertMain(${JSON.stringify(args)});`;
    const r = spawnSync(BUN, ["-e", script], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test("--help", () => {
    const r = run("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("Usage: bobcat convert SERVER.XML [--output FILE] [--context FILE]");
    expect(r.stdout).toContain("-o, --output FILE");
  });

  test("writes -o, warns on stderr, and loads the result to say what still needs fixing", () => {
    const dir = tempDir();
    const out = join(dir, "server.yaml");
    const r = run(join(FIXTURES, "sni.xml"), "-o", out);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(existsSync(out)).toBe(true);
    expect(data(readFileSync(out, "utf8")).server.services[0].connectors[0].port).toBe(8443);
    // ${www.pass} is not defined anywhere yet.
    expect(r.stderr).toContain("the converted config does not load yet");
    expect(r.stderr).toContain("${www.pass} is not defined");
  });

  test("prints to stdout, with --context, and warnings on stderr", () => {
    const r = run(join(FIXTURES, "server.xml"), `--context=${join(FIXTURES, "context.xml")}`);
    expect(r.code).toBe(0);
    expect(data(r.stdout).server.services[0].name).toBe("Catalina");
    expect(r.stderr.split("\n").filter((l) => l.startsWith("bobcat: warning: "))).toHaveLength(3);
    expect(r.stderr).not.toContain("does not load");
  });

  test("usage errors exit 2, unreadable or malformed input exits 1", () => {
    expect(run().code).toBe(2);
    expect(run("--frob", "x.xml").stderr).toContain("unknown option --frob");
    expect(run("a.xml", "b.xml").code).toBe(2);
    const dir = tempDir();
    const xml = join(dir, "server.xml");
    writeFileSync(xml, "<Server>\n<Service>\n</Server>\n");
    expect(run(xml, "-o", xml).stderr).toContain("would overwrite the server.xml");
    const bad = run(xml);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${xml}:3:1: malformed XML`);
    const missing = run(join(dir, "nope.xml"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such file");
  });
});
