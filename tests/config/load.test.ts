import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigText, type LoadOptions } from "../../src/config/load.ts";
import { deployInto } from "../../src/config/deploy.ts";
import { BobcatError, BobcatErrors } from "../../src/util/errors.ts";
import { ROOT } from "../helpers/bobcat.ts";
import { defaultConfigModule, referenceText, schemaText } from "../../scripts/gen-config-artifacts.ts";

const minimal = (connectors: string, extra = "") => `
server:
  services:
    - connectors:
${connectors}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: bobcat:root
${extra}`;

function problems(text: string, file = "/etc/bobcat/server.yaml", env: Record<string, string> = {}): BobcatErrors {
  try {
    loadConfigText(file, text, { baseDir: "/srv/base", env });
  } catch (e) {
    if (e instanceof BobcatErrors) return e;
    throw e;
  }
  throw new Error("expected the config to be refused");
}

describe("config loading", () => {
  test("the default config loads, with the documented defaults", () => {
    const text = readFileSync(join(ROOT, "config/server.yaml"), "utf8");
    const c = loadConfigText(join(ROOT, "config/server.yaml"), text, { baseDir: "/srv/base", env: {} });
    const [http, https] = c.server.services[0]!.connectors;
    expect(http!.port).toBe(8080);
    expect(http!.redirectPort).toBe(8443);
    expect(http!.secure).toBe(false);
    expect(https!.SSLEnabled).toBe(true);
    expect(https!.scheme).toBe("https");
    expect(https!.secure).toBe(true);
    expect(https!.maxThreads).toBe(150);
    expect(https!.acceptCount).toBe(100);
    expect(https!.name).toBe("https-jsse-nio-8443");
    const cert = https!.sslHostConfigs[0]!.certificates[0]!;
    expect(cert.certificateFile).toBe("/srv/base/conf/localhost-cert.pem");
    const host = c.server.services[0]!.engine.hosts[0]!;
    expect(host.appBase).toBe("/srv/base/webapps");
    expect(host.workDir).toBe("/srv/base/work/Catalina/localhost");
    expect(host.contexts[0]!.name).toBe("ROOT");
    expect(host.contexts[0]!.sessionTimeout).toBe(30);
  });

  test("env variables override the default ports", () => {
    const text = readFileSync(join(ROOT, "config/server.yaml"), "utf8");
    const c = loadConfigText("/x/server.yaml", text, { env: { BOBCAT_HTTP_PORT: "9080", BOBCAT_HTTPS_PORT: "9443" } });
    expect(c.server.services[0]!.connectors.map((x) => x.port)).toEqual([9080, 9443]);
    expect(c.server.services[0]!.connectors[0]!.redirectPort).toBe(9443);
  });

  test("YAML and TOML give the same model", () => {
    const yaml = readFileSync(join(ROOT, "config/server.yaml"), "utf8");
    const toml = readFileSync(join(ROOT, "config/server.toml"), "utf8");
    const a = loadConfigText("/x/server.yaml", yaml, { baseDir: "/b", env: {} });
    const b = loadConfigText("/x/server.toml", toml, { baseDir: "/b", env: {} });
    expect(JSON.stringify(b.server)).toBe(JSON.stringify(a.server));
  });

  test("unknown attribute: file, line, column, path and a did-you-mean", () => {
    const e = problems(minimal("        - port: 8080\n          redirecPort: 8443"));
    expect(e.errors).toHaveLength(1);
    const text = e.errors[0]!.format();
    expect(text).toContain("/etc/bobcat/server.yaml:6:11");
    expect(text).toContain("server.services[0].connectors[0].redirecPort");
    expect(text).toContain('did you mean "redirectPort"');
  });

  test("wrong case is caught as a did-you-mean (attribute names are Tomcat's, case and all)", () => {
    const e = problems(minimal("        - port: 8443\n          sslEnabled: true"));
    expect(e.errors[0]!.format()).toContain('did you mean "SSLEnabled"');
  });

  test("wrong types and ranges", () => {
    const e = problems(
      minimal(
        "        - port: eighty\n        - port: 70000\n        - port: 8081\n          SSLEnabled: maybe\n          maxThreads: 0",
      ),
    );
    const text = e.message;
    expect(text).toContain("port must be a whole number");
    expect(text).toContain("must be at most 65535");
    expect(text).toContain("SSLEnabled must be true or false");
    expect(text).toContain("maxThreads must be at least 1");
    expect(e.errors.length).toBe(4);
  });

  test("several problems are reported together", () => {
    const e = problems(`
server:
  services:
    - connectors:
        - port: 8080
        - port: 8080
      engine:
        defaultHost: nowhere
        hosts:
          - name: localhost
            contexts:
              - path: /a
                docBase: a
              - path: /a
                docBase: b
          - name: LOCALHOST
`);
    const codes = e.errors.map((x) => x.code).sort();
    expect(codes).toEqual(["config.defaultHost", "config.duplicate", "config.duplicate", "config.portClash"]);
    expect(e.message).toContain("port 8080 is already used");
    expect(e.message).toContain('context path "/a" is defined twice');
    expect(e.message).toContain('host name "LOCALHOST" is used twice');
    expect(e.message).toContain('defaultHost "nowhere"');
  });

  test("missing required values", () => {
    const e = problems(`
server:
  services:
    - connectors:
        - address: 127.0.0.1
      engine:
        hosts:
          - contexts:
              - path: /x
`);
    const text = e.message;
    expect(text).toContain('Connector needs "port"');
    expect(text).toContain('Engine needs "defaultHost"');
    expect(text).toContain('Host needs "name"');
    expect(text).toContain("has neither docBase nor handler");
  });

  test("TLS connector without certificates, and certificates without TLS", () => {
    const e = problems(
      minimal(
        "        - port: 8443\n          SSLEnabled: true\n        - port: 8444\n          sslHostConfigs:\n            - certificates:\n                - certificateFile: a.pem",
      ),
    );
    expect(e.message).toContain("has SSLEnabled but no sslHostConfigs");
    expect(e.message).toContain("has sslHostConfigs but SSLEnabled is false");
  });

  test("defaultSSLHostConfigName must name an SSLHostConfig (Tomcat's message)", () => {
    const e = problems(
      minimal(
        "        - port: 8443\n          SSLEnabled: true\n          sslHostConfigs:\n            - hostName: a.example\n              certificates:\n                - certificateFile: a.pem",
      ),
    );
    expect(e.message).toContain("No SSLHostConfig element was found with the hostName [_default_]");
  });

  test("${env.X} without a default is an error; properties, defaults and built-ins expand", () => {
    const e = problems(minimal("        - port: ${env.NO_SUCH_VAR}"), "/c/server.yaml", {});
    expect(e.message).toContain("${env.NO_SUCH_VAR} is not defined");
    expect(e.message).toContain("set the environment variable NO_SUCH_VAR");
    // One problem, not a second one for the port's type ("whole number, found ${env.NO_SUCH_VAR}").
    expect(e.errors.map((x) => x.message)).toEqual(["${env.NO_SUCH_VAR} is not defined"]);
    const c = loadConfigText(
      "/c/server.yaml",
      `properties:\n  base.port: "9000"\n  other: \${base.port}\n` +
        minimal("        - port: ${other}\n          address: ${ADDR:-127.0.0.1}\n          server: ${catalina.base}"),
      { baseDir: "/srv", env: {} },
    );
    const conn = c.server.services[0]!.connectors[0]!;
    expect(conn.port).toBe(9000);
    expect(conn.address).toBe("127.0.0.1");
    expect(conn.server).toBe("/srv");
  });

  test("a self-referring property is reported, not looped on", () => {
    const e = problems(`properties:\n  a: \${b}\n  b: \${a}\n` + minimal("        - port: ${a}"));
    expect(e.message).toContain(
      "/etc/bobcat/server.yaml:2:6: properties.a: properties refer to each other in a cycle: a → b → a",
    );
    expect(e.message).toContain("break the cycle");
    const self = problems(`properties:\n  me: "x\${me}"\n` + minimal("        - port: 8080"));
    expect(self.message).toContain(':2:7: properties.me: property "me" refers to itself');
    const env = problems(minimal("        - port: ${env.LOOP}"), "/c/server.yaml", { LOOP: "${env.LOOP}" });
    expect(env.message).toContain('property "env.LOOP" refers to itself');
  });

  test("${...} expansion is bounded: a chain that grows at each step and deep nesting are errors naming the property and line", () => {
    // Each property repeats the previous one 4 times: a13 would be 100 × 4^13 characters (6.7 GB).
    const props = ["  a0: " + "x".repeat(100)];
    for (let i = 1; i <= 13; i++) props.push(`  a${i}: "${`\${a${i - 1}}`.repeat(4)}"`);
    const text = `properties:\n${props.join("\n")}\n` + minimal("        - port: 8080\n          server: ${a13}");
    const started = Date.now();
    const e = problems(text);
    expect(Date.now() - started).toBeLessThan(20_000); // a generous bound: unbounded expansion never returns
    // a6 is 409,600 characters, a7 1.6 M: a7 is the first over 1 MiB, reported on its own line (line 9).
    expect(e.message).toContain('/etc/bobcat/server.yaml:9:7: properties.a7: property "a7" expands to more than 1 MiB');
    expect(e.message).not.toContain("properties.a6:");
    expect(e.message).toMatch(
      /connectors\[0\]\.server: property "a7" expands to more than 1 MiB \(through a13 → a12 → .* → a7\)/,
    );
    // Nesting deeper than 32 properties (the outermost first, so nothing is expanded yet when it is read).
    const deep = ["  p0: end"];
    for (let i = 1; i <= 40; i++) deep.unshift(`  p${i}: "\${p${i - 1}}"`);
    const d = problems(`properties:\n${deep.join("\n")}\n` + minimal("        - port: 8080"));
    expect(d.message).toContain(
      ":2:8: properties.p40: properties refer to other properties more than 32 deep: p40 → p39 → p38 → ... → p10 → p9 → p8",
    );
    // p32 needs 33 levels (p32 … p0); p31 and below are fine.
    expect(d.message).toContain(
      "properties.p32: properties refer to other properties more than 32 deep: p32 → p31 → p30 → ... → p2 → p1 → p0",
    );
    expect(d.message).not.toContain("properties.p31:");
    // Many values each using a large property: the file's total is bounded (one problem, not thousands).
    const many = Array.from({ length: 40 }, (_, i) => `  v${i}: \${big}`).join("\n");
    const t = problems(
      `properties:\n  half: "${"y".repeat(500_000)}"\n  big: "\${half}\${half}"\n${many}\n` +
        minimal("        - port: 8080"),
    );
    expect(t.message.match(/add up to more than 16 MiB/g)?.length).toBe(1);
  });

  test("relative paths resolve against the base dir; docBase against appBase", () => {
    const c = loadConfigText(
      "/etc/bobcat/server.yaml",
      minimal(
        "        - port: 8080",
        "              - path: /static\n                docBase: site\n              - path: /abs\n                docBase: /var/www",
      ),
      { baseDir: "/srv/b", env: {} },
    );
    const ctx = c.server.services[0]!.engine.hosts[0]!.contexts;
    expect(ctx[1]!.docBase).toBe("/srv/b/webapps/site");
    expect(ctx[2]!.docBase).toBe("/var/www");
    expect(ctx[1]!.workDir).toBe("/srv/b/work/Catalina/localhost/static");
  });

  test("legacy connector TLS attributes move to the default SSLHostConfig with a note", () => {
    const c = loadConfigText(
      "/c/s.yaml",
      minimal(
        "        - port: 8443\n          SSLEnabled: true\n          keystoreFile: conf/k.p12\n          keystorePass: secret\n          sslEnabledProtocols: TLSv1.3",
      ),
      { baseDir: "/b", env: {} },
    );
    const conn = c.server.services[0]!.connectors[0]!;
    expect(conn.sslHostConfigs[0]!.hostName).toBe("_default_");
    expect(conn.sslHostConfigs[0]!.protocols).toBe("TLSv1.3");
    expect(conn.sslHostConfigs[0]!.certificates[0]!.certificateKeystoreFile).toBe("/b/conf/k.p12");
    expect(conn.sslHostConfigs[0]!.certificates[0]!.certificateKeystorePassword).toBe("secret");
    expect(c.notes.join("\n")).toContain("legacy connector attribute keystoreFile");
  });

  test("Tomcat 9's APR-style connector TLS attributes move too, the key password and protocol limits included", () => {
    // A Tomcat 9 server.xml of the OpenSSL style: moving the key file but not SSLPassword made an
    // encrypted key unreadable, and SSLProtocol/SSLCipherSuite were dropped (a wider protocol set).
    const c = loadConfigText(
      "/c/s.yaml",
      minimal(
        "        - port: 8443\n          SSLEnabled: true\n" +
          "          SSLCertificateFile: conf/c.pem\n          SSLCertificateKeyFile: conf/k.pem\n" +
          "          SSLPassword: kp\n          SSLProtocol: TLSv1.2\n          SSLCipherSuite: HIGH:!aNULL:!MD5\n" +
          "          SSLHonorCipherOrder: true\n          SSLVerifyDepth: 3\n          SSLCACertificatePath: conf/ca\n" +
          "          SSLCARevocationFile: conf/ca.crl\n          SSLDisableSessionTickets: true\n" +
          "          sessionTimeout: 600\n          keyPassFile: conf/kp.txt",
      ),
      { baseDir: "/b", env: {} },
    );
    const host = c.server.services[0]!.connectors[0]!.sslHostConfigs[0]!;
    expect(host).toMatchObject({
      hostName: "_default_",
      protocols: "TLSv1.2",
      ciphers: "HIGH:!aNULL:!MD5",
      honorCipherOrder: true,
      certificateVerificationDepth: 3,
      caCertificatePath: "/b/conf/ca",
      certificateRevocationListFile: "/b/conf/ca.crl",
      disableSessionTickets: true,
      sessionTimeout: 600,
    });
    expect(host.certificates[0]).toMatchObject({
      certificateFile: "/b/conf/c.pem",
      certificateKeyFile: "/b/conf/k.pem",
      certificateKeyPassword: "kp",
      certificateKeyPasswordFile: "/b/conf/kp.txt",
    });
    expect(c.notes.join("\n")).toContain("legacy connector attribute SSLPassword");
  });

  test("several certificates on one SSLHostConfig: a missing type and a repeated type are told apart", () => {
    const host = (a: string, b: string) =>
      minimal(
        "        - port: 8443\n          SSLEnabled: true\n          sslHostConfigs:\n            - certificates:\n" +
          `                - { certificateFile: a.pem${a} }\n                - { certificateFile: b.pem${b} }`,
      );
    const missing = problems(host("", ", type: EC"));
    expect(missing.message).toContain("at least one is missing the required attribute type");
    const twice = problems(host(", type: RSA", ", type: RSA"));
    expect(twice.message).toContain(
      "sslHostConfigs[0].certificates[1].type: Multiple certificates of type [RSA] were specified for SSLHostConfig",
    );
    expect(twice.message).not.toContain("missing the required attribute type");
    expect(twice.message).toContain("its own SSLHostConfig (hostName) for SNI");
  });

  test("accepted-but-ignored attributes leave a note", () => {
    const c = loadConfigText("/c/s.yaml", minimal("        - port: 8080\n          URIEncoding: UTF-8"), { env: {} });
    expect(c.notes.join("\n")).toContain("URIEncoding is accepted but has no effect");
  });

  test("portOffset shifts ports and redirectPort", () => {
    const c = loadConfigText(
      "/c/s.yaml",
      minimal("        - port: 8080\n          redirectPort: 8443").replace(
        "server:\n",
        "server:\n  portOffset: 100\n",
      ),
      { env: {} },
    );
    expect(c.server.services[0]!.connectors[0]!.port).toBe(8180);
    expect(c.server.services[0]!.connectors[0]!.redirectPort).toBe(8543);
  });

  test("a __proto__ key (which every later copy of the tree would drop) is refused with its file and line", () => {
    const problem = (file: string, text: string): string => {
      try {
        loadConfigText(file, text, { env: {} });
      } catch (e) {
        expect(e).toBeInstanceOf(BobcatError);
        return (e as BobcatError).format();
      }
      throw new Error("no error");
    };
    expect(problem("/c/p.yaml", "properties:\n  other: 1\n  __proto__: x\n" + minimal("        - port: 8080")))
      .toMatch(/\/c\/p\.yaml:3:3: properties\.__proto__: "__proto__" cannot be a key[^]*fix: rename the key/);
    expect(problem("/c/q.yaml", minimal("        - { port: 8080, __proto__: { port: 1 } }")))
      .toMatch(/\/c\/q\.yaml:\d+:\d+: server\.services\[0\]\.connectors\[0\]\.__proto__: "__proto__"/);
    expect(problem("/c/p.toml", '[properties]\n"__proto__" = "x"\n'))
      .toMatch(/\/c\/p\.toml:2:1: properties\.__proto__: "__proto__" cannot be a key/);
  });

  test("a __proto__ property given to the library (JSON.parse makes one) is refused as -D__proto__= is", async () => {
    const properties = JSON.parse('{"port":"8080","__proto__":"x"}') as Record<string, string>;
    expect(Object.hasOwn(properties, "__proto__")).toBe(true);
    const refused = (e: unknown) => {
      expect(e).toBeInstanceOf(BobcatError);
      expect((e as BobcatError).code).toBe("config.key");
      expect((e as BobcatError).format()).toMatch(
        /^the properties option: "__proto__" cannot be a property name\n\s+fix: rename the property/,
      );
      return true;
    };
    const text = minimal("        - port: ${port}");
    expect(() => loadConfigText("/c/s.yaml", text, { env: {}, properties })).toThrow(BobcatError);
    try {
      loadConfigText("/c/s.yaml", text, { env: {}, properties });
    } catch (e) {
      refused(e);
    }
    // createServer passes its properties through: refused before anything listens.
    const { createServer } = await import("../../src/api/server.ts");
    expect(await createServer({ configText: text, properties, configureLogging: false }).catch(refused)).toBe(true);
    // Without the key, the same properties load.
    const { __proto__: _, ...rest } = properties;
    expect(loadConfigText("/c/s.yaml", text, { env: {}, properties: rest }).server.services[0]!.connectors[0]!.port)
      .toBe(8080);
  });

  test("YAML syntax errors give line and column", () => {
    try {
      loadConfigText("/c/bad.yaml", "server:\n  services:\n    - connectors: [\n", { env: {} });
      throw new Error("no error");
    } catch (e) {
      expect((e as Error & { format(): string }).format()).toMatch(/\/c\/bad\.yaml:\d+:\d+: .*YAML syntax error/);
    }
  });

  test("a wrong shape (a number, a list or an empty item where a mapping goes) is refused with its problems, never a crash", () => {
    const deploy: LoadOptions["prepare"] = (root, info) => {
      deployInto(root, info.baseDir, { contextXmlDefaults: false, mode: "check" }, info.where);
    };
    const shapes: Record<string, string> = {
      "server: 1": "server: 1\n",
      "services: x": "server:\n  services: x\n",
      "an empty service": "server:\n  services:\n    -\n",
      "connectors: true": "server:\n  services:\n    - connectors: true\n",
      "an empty host": minimal("        - port: 8080").replace(
        "          - name: localhost\n",
        "          -\n          - name: localhost\n",
      ),
      "sslHostConfigs: [1]": minimal("        - { port: 8443, SSLEnabled: true, sslHostConfigs: [1] }"),
      "an empty context": minimal("        - port: 8080").replace(
        "            contexts:\n",
        "            contexts:\n              -\n",
      ),
    };
    for (const [name, text] of Object.entries(shapes)) {
      for (const prepare of [undefined, deploy]) {
        let thrown: unknown;
        try {
          loadConfigText("/c/shape.yaml", text, { env: {}, baseDir: "/nonexistent-bobcat-base", prepare });
        } catch (e) {
          thrown = e;
        }
        expect({ name, error: thrown instanceof BobcatErrors ? "BobcatErrors" : String(thrown) })
          .toEqual({ name, error: "BobcatErrors" });
      }
    }
  });

  test("an unquoted ${...} inside [ ] or { } is a YAML syntax error whose fix says to quote it", () => {
    const refused = (text: string): BobcatError => {
      try {
        loadConfigText("/c/flow.yaml", text, { env: {}, properties: { "http.port": "8080" } });
      } catch (e) {
        if (e instanceof BobcatError) return e;
        throw e;
      }
      throw new Error("no error");
    };
    const e = refused(minimal("        - { port: ${http.port}, address: 127.0.0.1 }"));
    expect(e.format()).toStartWith("/c/flow.yaml:5:20: YAML syntax error");
    expect(e.fix).toContain('quote the value that holds ${...} (port: "${http.port}")');
    // Quoted, it loads; other syntax errors keep the general advice.
    expect(
      loadConfigText("/c/flow.yaml", minimal('        - { port: "${http.port}" }'), {
        env: {},
        properties: { "http.port": "8080" },
      }).server.services[0]!.connectors[0]!.port,
    ).toBe(8080);
    expect(refused(minimal("        - { port: [8080 }")).fix).toContain("correct the YAML syntax");
  });

  test("a YAML alias bomb (billion laughs) and an unknown alias are config errors with file:line, not crashes", () => {
    const levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (
      const [prev, name] of [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"], ["f", "g"], ["g", "h"], [
        "h",
        "i",
      ]]
    ) {
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    const bomb = `properties:\n${levels.map((l) => "  " + l).join("\n")}\n` + minimal("        - port: 8080");
    const format = (text: string): string => {
      try {
        loadConfigText("/c/bomb.yaml", text, { env: {} });
      } catch (e) {
        expect(e).toBeInstanceOf(BobcatError);
        return (e as BobcatError).format();
      }
      throw new Error("expected the config to be refused");
    };
    const started = Date.now();
    const msg = format(bomb);
    expect(Date.now() - started).toBeLessThan(20_000);
    // 9^3 = 729 > 100: the alias *c in d's list (line 5) crosses the limit.
    expect(msg).toMatch(/^\/c\/bomb\.yaml:5:\d+: YAML alias \*c expands to too many nodes .*resource exhaustion/);
    expect(msg).toContain("fix: write the values out");
    // A few aliases are fine.
    const ok = loadConfigText(
      "/c/ok.yaml",
      `properties:\n  a: &p "8080"\n  b: *p\n` + minimal("        - port: 8080"),
      { env: {} },
    );
    expect(ok.properties.b).toBe("8080");
    expect(format(`server:\n  services: *nowhere\n`)).toMatch(/^\/c\/bomb\.yaml:2:13: YAML error: Unresolved alias/);
  });

  test("YAML merge keys (<<: *anchor, <<: [*a, *b]) are applied, keys written beside them win", () => {
    const c = loadConfigText(
      "/c/merge.yaml",
      `server:
  services:
    - connectors:
        - &conn { port: 8080, address: 127.0.0.1, connectionTimeout: 5000 }
        - <<: *conn
          port: 8081
        - <<: [*conn, { maxThreads: 7 }]
          port: 8082
      engine:
        defaultHost: localhost
        hosts: [{ name: localhost, contexts: [{ path: "", handler: "bobcat:root" }] }]
`,
      { env: {} },
    );
    expect(c.server.services[0]!.connectors.map((k) => [k.port, k.address, k.connectionTimeout, k.maxThreads]))
      .toEqual([[8080, "127.0.0.1", 5000, 200], [8081, "127.0.0.1", 5000, 200], [8082, "127.0.0.1", 5000, 7]]);
  });

  test("TOML errors point at the line of the key", () => {
    const e = problems(
      `[server]\n[[server.services]]\n[[server.services.connectors]]\nport = 8080\nmaxThread = 5\n[server.services.engine]\ndefaultHost = "localhost"\n[[server.services.engine.hosts]]\nname = "localhost"\n[[server.services.engine.hosts.contexts]]\nhandler = "bobcat:root"\n`,
      "/c/s.toml",
    );
    expect(e.errors[0]!.format()).toContain("/c/s.toml:5:1");
  });

  test("className accepts short and full Tomcat names; unknown ones are refused", () => {
    const ok = loadConfigText(
      "/c/s.yaml",
      minimal(
        "        - port: 8080",
        "            valves:\n              - className: org.apache.catalina.valves.AccessLogValve\n                directory: '-'",
      ),
      { env: {} },
    );
    expect(ok.server.services[0]!.engine.hosts[0]!.valves[0]!.className).toBe("AccessLogValve");
    const e = problems(
      minimal("        - port: 8080", "            valves:\n              - className: AccesLogValve"),
    );
    expect(e.message).toContain('did you mean "AccessLogValve"');
  });

  test("generated artifacts are up to date (default config module, JSON Schema)", () => {
    const yaml = readFileSync(join(ROOT, "config/server.yaml"), "utf8");
    expect(readFileSync(join(ROOT, "src/cli/default-config.ts"), "utf8")).toBe(defaultConfigModule(yaml));
    expect(readFileSync(join(ROOT, "config/server.schema.json"), "utf8")).toBe(schemaText());
    expect(readFileSync(join(ROOT, "docs/config-reference.md"), "utf8")).toBe(referenceText());
  });
});
