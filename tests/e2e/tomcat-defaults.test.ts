/**
 * Tomcat's defaults and behaviours as a user meets them through the CLI (`bobcat check`, `run`):
 * StandardManager persistence off unless pathname is set, -D STRICT_SERVLET_COMPLIANCE, the
 * SSL tracking mode without a TLS connector, Java class-name filters, ${user.home}/.keystore,
 * key-only truststores, secret masking from the schema, refused sessions reaching the handler,
 * and 500 pages without the exception's message.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { freePort, PKI, runCli, startBobcat, tempDirs, tfetch, writeFiles } from "../helpers/bobcat.ts";
import { loadConfigText } from "../../src/config/load.ts";
import { startBunNative } from "../../src/runtime/bun.ts";
import type { ConnectorPipeline } from "../../src/runtime/connector.ts";

/** A PKCS12 file (password changeit) of the localhost RSA key and certificate under `name`, made by openssl. */
function exportP12(out: string, name: string, extra: string[] = []) {
  const pem = ["-in", join(PKI, "localhost-rsa.pem"), "-inkey", join(PKI, "localhost-rsa-key.pem")];
  return spawnSync("openssl", [
    "pkcs12",
    "-export",
    ...pem,
    ...extra,
    "-name",
    name,
    "-passout",
    "pass:changeit",
    "-out",
    out,
  ]);
}

const dirs = tempDirs();
afterAll(dirs.removeAll);
const base = dirs.make;

/** A plain HTTP server with one context; `tls` adds an HTTPS connector whose certificate is given by `cert`. */
function config(opts: { context?: string; connector?: string; cert?: string; server?: string } = {}): string {
  const https = opts.cert === undefined ? "" : `
        - port: 0
          address: 127.0.0.1
          SSLEnabled: true
${opts.connector ?? ""}
          sslHostConfigs:
            - certificates:
                - ${opts.cert}`;
  return `
server:
${opts.server ?? ""}
  services:
    - connectors:
        - port: 0
          address: 127.0.0.1${https}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: bobcat:root
${opts.context ?? ""}`;
}

async function check(yaml: string, args: string[] = [], env: Record<string, string> = {}) {
  const dir = base();
  writeFiles(dir, { "server.yaml": yaml });
  return await runCli("bun", ["check", "--config", join(dir, "server.yaml"), ...args], { env });
}

const PEM_CERT =
  `certificateFile: ${PKI}/localhost-rsa.pem\n                  certificateKeyFile: ${PKI}/localhost-rsa-key.pem`;

describe("bobcat check", () => {
  test("StandardManager persistence is off without pathname; the default config file turns it on", async () => {
    const plain = await check(config());
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("className: StandardManager");
    expect(plain.stdout).not.toContain("pathname");
    const defaults = await runCli("bun", ["check"], {
      cwd: base(),
      env: { BOBCAT_HTTP_PORT: "0", BOBCAT_HTTPS_PORT: "0" },
    });
    expect(defaults.stdout).toContain("pathname: SESSIONS.ser");
  });

  test("-Dorg.apache.catalina.STRICT_SERVLET_COMPLIANCE=true sets strictServletCompliance; the attribute wins", async () => {
    const off = await check(config());
    expect(off.stdout).toContain("strictServletCompliance: false");
    const on = await check(config(), ["-Dorg.apache.catalina.STRICT_SERVLET_COMPLIANCE=true"]);
    expect(on.code).toBe(0);
    expect(on.stdout).toContain("strictServletCompliance: true");
    const explicit = await check(config({ server: "  strictServletCompliance: false" }), [
      "-Dorg.apache.catalina.STRICT_SERVLET_COMPLIANCE=true",
    ]);
    expect(explicit.stdout).toContain("strictServletCompliance: false");
    const bad = await check(config(), ["-Dorg.apache.catalina.STRICT_SERVLET_COMPLIANCE=maybe"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("org.apache.catalina.STRICT_SERVLET_COMPLIANCE");
    expect(bad.stderr).toContain("must be true or false");
  });

  test("sessionTrackingModes [SSL] on a service without a TLS connector is a start-up error", async () => {
    const r = await check(config({ context: "                sessionTrackingModes: [SSL]" }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("The session tracking mode [SSL] requested for context [/] is not supported");
    expect(r.stderr).toMatch(/server\.yaml:\d+/);
    const withTls = await check(config({ context: "                sessionTrackingModes: [SSL]", cert: PEM_CERT }));
    expect(withTls.code).toBe(0);
  });

  test("a sessionAttributeValueClassNameFilter of Java class names is warned about", async () => {
    const r = await check(
      config({
        context:
          '                manager: { sessionAttributeValueClassNameFilter: "java\\\\.lang\\\\.(?:String|Integer)" }',
      }),
    );
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/WARN .*sessionAttributeValueClassNameFilter .* names Java classes/);
  });

  test("a Certificate with only a keystore password uses ${user.home}/.keystore, as Tomcat does", async () => {
    const home = base();
    const p12 = join(home, ".keystore");
    expect(exportP12(p12, "tomcat").status).toBe(0);
    const r = await check(config({ cert: "certificateKeystorePassword: changeit" }), [], { HOME: home });
    expect(r.output).toContain(`using ${p12}`);
    expect(r.code).toBe(0);
    // check masks secret attributes (the schema's `secret`), and the properties that fed them.
    expect(r.stdout).toContain('certificateKeystorePassword: "********"');
    expect(r.stdout).not.toContain("changeit");
    rmSync(p12);
    const missing = await check(config({ cert: "certificateKeystorePassword: changeit" }), [], { HOME: home });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(p12);
  });

  test("a truststore holding only a private key entry is refused with the reason", async () => {
    const dir = base();
    const store = join(dir, "keys-only.p12");
    expect(exportP12(store, "server", ["-certfile", join(PKI, "ca.pem")]).status).toBe(0);
    const tls = (file: string) =>
      config({
        cert: PEM_CERT,
        connector:
          `          clientAuth: "true"\n          truststoreFile: ${file}\n          truststorePass: changeit`,
      });
    const r = await check(tls(store));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("holds only private key entries (server) and no trusted certificate entry");
    expect(r.stderr).toContain("keytool -importcert");
    copyFileSync(join(PKI, "client-truststore.p12"), join(dir, "trusted.p12"));
    expect((await check(tls(join(dir, "trusted.p12")))).code).toBe(0);
  });
});

describe("bobcat convert", () => {
  test("a Context without <Manager> keeps persistence off", async () => {
    const dir = base();
    writeFiles(dir, {
      "server.xml": `<Server><Service name="Catalina"><Connector port="8080"/>
        <Engine name="Catalina" defaultHost="localhost"><Host name="localhost" appBase="webapps">
          <Context path="/app" docBase="app"/></Host></Engine></Service></Server>`,
    });
    const r = await runCli("bun", ["convert", join(dir, "server.xml")]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("pathname");
    const loaded = loadConfigText(join(dir, "out.yaml"), r.stdout, { baseDir: dir });
    const m = loaded.server.services[0]!.engine.hosts[0]!.contexts[0]!.manager;
    expect(m.className === "StandardManager" && m.pathname).toBeFalsy();
  });
});

describe("bobcat run", () => {
  const APP = `
export default {
  fetch(req, ctx) {
    const url = new URL(req.url);
    if (url.pathname === "/caught") {
      try { ctx.getSession(); return new Response("made"); }
      catch (e) { return new Response("full: " + e.name, { status: 429 }); }
    }
    ctx.getSession();
    return new Response("made");
  },
};
`;
  test("a refused session (maxActiveSessions) is the handler's to catch; uncaught it answers 503", async () => {
    const dir = base();
    const port = await freePort();
    const s = await startBobcat({
      runtime: "bun",
      base: dir,
      files: { "app.js": APP },
      config: `
server:
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.js
                manager: { maxActiveSessions: 1 }
`,
    });
    try {
      expect(await (await tfetch(`http://127.0.0.1:${port}/`)).text()).toBe("made");
      const caught = await tfetch(`http://127.0.0.1:${port}/caught`);
      expect(caught.status).toBe(429);
      expect(await caught.text()).toBe("full: TooManyActiveSessionsException");
      const uncaught = await tfetch(`http://127.0.0.1:${port}/`);
      expect(uncaught.status).toBe(503);
      expect(await uncaught.text()).toContain("maxActiveSessions 1");
    } finally {
      await s.stop();
    }
    // No pathname: nothing was persisted.
    expect(existsSync(join(dir, "work/Catalina/localhost/ROOT/SESSIONS.ser"))).toBe(false);
  });
});

test("an error that escapes to the runtime's server answers the 500 page without its message (Bun native)", async () => {
  const config = loadConfigText(
    "t.yaml",
    `server:
  services:
    - connectors: [{ port: 0, address: 127.0.0.1 }]
      engine: { defaultHost: localhost, hosts: [{ name: localhost, contexts: [{ path: "", handler: "bobcat:root" }] }] }
`,
    { baseDir: "/" },
  );
  const connector = config.server.services[0]!.connectors[0]!;
  const pipeline = {
    handle: () => {
      throw new Error("secret detail: /etc/bobcat/keystore.p12 password hunter2");
    },
  } as unknown as ConnectorPipeline;
  const listener = await startBunNative({ config: connector, pipeline });
  try {
    const res = await fetch(`http://127.0.0.1:${listener.port}/`);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toContain("HTTP Status 500 – Internal Server Error");
    expect(body).not.toContain("hunter2");
    expect(body).not.toContain("secret detail");
  } finally {
    await listener.closeAll();
    await listener.stopAccepting();
  }
});
