/**
 * On Deno, a start that serves from the native back-end loads nothing of Deno's Node layer
 * (the first `node:` import, or touch of `process` or `Buffer`, makes Deno compile its Node
 * polyfills: ~70 ms of CPU and ~5 MiB at every start, bench/probes/deno-node-layer.ts). Checked
 * two ways: the static module graph of the CLI has no `node:` import (modules only some configs
 * need import theirs when they load), and a module-load trace (V8's script log) of a real start
 * up to its first HTTPS 200 names no Node-layer module beyond the ones the global setTimeout
 * itself loads (Deno's timers are Node's). A plain start touches no global timer before its first
 * response either (src/util/background-timer.ts): its trace is empty. dist-lib/cli.js is checked
 * the same way in tests/e2e/package.test.ts. Nor does a start from a config in the plain YAML
 * subset load the `yaml` package or the TOML reader (src/config/yaml-reader.ts): yaml-plain.ts
 * reads it and answers its positions; nor, with no XML file about, the XML parser and the modules
 * that convert Tomcat's XML files (src/config/xml-config.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  CLI,
  DENO,
  freePort,
  localhostCertificate,
  PKI,
  ROOT,
  tempDir,
  tlsAppConfig,
} from "../helpers/bobcat.ts";
import { nodeLayerAtFirstRequest, nodeLayerOfCommand, timerModules } from "../helpers/deno-first-request.ts";
import { nodeLayerModules, scriptsInLog, traceFlags } from "../helpers/deno-node-trace.ts";
import { StandardManager } from "../../src/session/standard-manager.ts";

const dir = tempDir("bobcat-deno-start-");
afterAll(() => cleanup(dir));
const timers = timerModules(dir);
const beyondTimers = (loaded: string[]) => loaded.filter((m) => !timers.has(m));
const accessLogged = (logs: string) =>
  existsSync(logs) &&
  readdirSync(logs).some((f) => f.startsWith("localhost_access_log") && statSync(join(logs, f)).size > 0);

interface GraphModule {
  specifier: string;
  dependencies?: Array<{ specifier: string; isDynamic?: boolean; code?: { specifier?: string } }>;
}

test("the CLI's static module graph imports no node: module", () => {
  const r = spawnSync(DENO, ["info", "--json", `--config=${join(ROOT, "deno.json")}`, CLI], {
    encoding: "utf8",
    timeout: 60000,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  });
  expect(r.status).toBe(0);
  const modules = new Map((JSON.parse(r.stdout).modules as GraphModule[]).map((m) => [m.specifier, m]));
  // Deno's graph lists dynamically imported modules too: walk the static imports from the entry.
  const seen = new Set<string>();
  const stack = [Bun.pathToFileURL(CLI).href];
  const nodeImports: string[] = [];
  while (stack.length > 0) {
    const spec = stack.pop()!;
    if (seen.has(spec)) continue;
    seen.add(spec);
    for (const d of modules.get(spec)?.dependencies ?? []) {
      if (d.isDynamic || !d.code?.specifier) continue;
      if (d.specifier.startsWith("node:")) nodeImports.push(`${spec.slice(spec.indexOf("/src/") + 1)}: ${d.specifier}`);
      else stack.push(d.code.specifier);
    }
  }
  expect(seen.size).toBeGreaterThan(50);
  expect(nodeImports).toEqual([]);
});

test("the trace sees the Node layer load when a script imports node:fs", () => {
  const script = join(dir, "uses-fs.mjs");
  writeFileSync(script, `import { existsSync } from "node:fs";\nexistsSync("/");\n`);
  const log = join(dir, "uses-fs.log");
  const r = Bun.spawnSync([DENO, "run", "-A", traceFlags(log), script], { stdout: "ignore", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  expect(beyondTimers(nodeLayerModules(log))).toContain("ext:deno_node/fs.ts");
});

describe("a start on Deno's native back-end, up to its first HTTPS 200", () => {
  test.each([
    ["a PEM certificate, a handler module and the manager app", false],
    ["the same with a chain file (its links checked with Web Crypto)", true],
  ])("%s", async (name, chain) => {
    const base = join(dir, name.length.toString());
    mkdirSync(base, { recursive: true });
    const port = await freePort();
    writeFileSync(join(base, "hello.ts"), `export default { fetch: () => new Response("hello") };\n`);
    writeFileSync(
      join(base, "server.yaml"),
      `logging: { level: warn }\n` +
        tlsAppConfig(port, `            - certificates:\n                - ${localhostCertificate("rsa", chain)}`, {
          contexts: `              - path: ""
                handler: hello.ts
              - path: /manager
                handler: bobcat:manager
`,
        }),
    );
    const loaded = await nodeLayerAtFirstRequest(
      CLI,
      ["run", "--config", "server.yaml"],
      `https://127.0.0.1:${port}/`,
      {
        cwd: base,
        log: join(base, "trace.log"),
      },
    );
    expect(loaded).toEqual([]);
  });

  test("a restart with persisted sessions, its first 200 for a restored session (read while the rest are checked)", async () => {
    const base = join(dir, "restart");
    mkdirSync(base, { recursive: true });
    const file = join(base, "SESSIONS.ser");
    // Written as a stop writes them: enough records for the restore to take many parts.
    const seeded = new StandardManager({ name: "/", pathname: file });
    await seeded.start();
    let last = "";
    for (let i = 0; i < 20000; i++) {
      const s = seeded.createSession();
      s.setAttribute("user", `u${i}`);
      s.setAttribute("n", i);
      s.endAccess();
      last = s.id;
    }
    await seeded.stop();
    const port = await freePort();
    // 200 only for a restored session (the id in the URL: the helper sends no cookie).
    writeFileSync(
      join(base, "app.ts"),
      `export default { fetch(req, ctx) {
  const s = ctx.getSession(false);
  return s ? new Response(String(s.getAttribute("user"))) : new Response("none", { status: 404 });
} };\n`,
    );
    writeFileSync(
      join(base, "server.yaml"),
      `logging: { level: warn }\n` +
        tlsAppConfig(port, `            - certificates:\n                - ${localhostCertificate("rsa")}`, {
          contexts: `              - path: ""
                handler: app.ts
                manager: { pathname: ${file} }
`,
        }),
    );
    const loaded = await nodeLayerAtFirstRequest(
      CLI,
      ["run", "--config", "server.yaml"],
      `https://127.0.0.1:${port}/;jsessionid=${last}`,
      { cwd: base, log: join(base, "trace.log") },
    );
    // The restore's parts wait with V8's own timeout, not the global timers (src/util/background-timer.ts).
    expect(loaded).toEqual([]);
  });

  test("started by the npm launcher (bin/bobcat.mjs: BOBCAT_PARENT_FD, its parent watched)", async () => {
    const base = join(dir, "launcher");
    mkdirSync(base, { recursive: true });
    const port = await freePort();
    writeFileSync(
      join(base, "server.yaml"),
      `logging: { level: warn }
server:
  services:
    - connectors:
        - { port: ${port}, address: 127.0.0.1, SSLEnabled: true, sslHostConfigs: [{ certificates: [{ certificateFile: ${PKI}/localhost-rsa.pem, certificateKeyFile: ${PKI}/localhost-rsa-key.pem }] }] }
      engine:
        defaultHost: localhost
        hosts: [{ name: localhost, contexts: [{ path: "", handler: "bobcat:root" }] }]
`,
    );
    const loaded = await nodeLayerOfCommand(
      ["node", join(ROOT, "bin/bobcat.mjs"), "run", "--config", "server.yaml"],
      `https://127.0.0.1:${port}/`,
      { cwd: base, log: join(base, "trace.log"), env: { BOBCAT_RUNTIME: "deno" } },
    );
    expect(beyondTimers(loaded)).toEqual([]);
  });

  test("the built-in default config (HTTP → HTTPS, access log, session file, appBase), its first access log line written", async () => {
    const base = join(dir, "default");
    mkdirSync(join(base, "conf"), { recursive: true });
    // In place of the self-signed certificate a first start makes (making it needs node:crypto).
    copyFileSync(join(PKI, "localhost-rsa.pem"), join(base, "conf/localhost-cert.pem"));
    copyFileSync(join(PKI, "localhost-rsa-key.pem"), join(base, "conf/localhost-key.pem"));
    const [http, https] = [await freePort(), await freePort()];
    const loaded = await nodeLayerAtFirstRequest(CLI, ["run", "--base", base], `https://127.0.0.1:${https}/`, {
      cwd: base,
      log: join(base, "trace.log"),
      env: { BOBCAT_ADDRESS: "127.0.0.1", BOBCAT_HTTP_PORT: String(http), BOBCAT_HTTPS_PORT: String(https) },
      // The access log is buffered and written every second.
      after: async () => {
        for (let i = 0; i < 100 && !accessLogged(join(base, "logs")); i++) await Bun.sleep(50);
        expect(accessLogged(join(base, "logs"))).toBe(true);
      },
    });
    expect(beyondTimers(loaded)).toEqual([]);
  });
});

/**
 * The first TLS handshake of a Deno process waits ~35 ms for its crypto library's random number
 * generator; a start that will serve TLS has Web Crypto set it up off the event loop before its
 * connectors listen (src/runtime/deno-tls-warmup.ts), and a plain-HTTP start does not.
 */
describe("the TLS random number generator on Deno", () => {
  const preload = join(dir, "crypto-order.mjs");
  writeFileSync(
    preload,
    `const generateKey = crypto.subtle.generateKey.bind(crypto.subtle);
crypto.subtle.generateKey = (...a) => { console.error("[order] generateKey " + (a[0]?.namedCurve ?? a[0]?.name)); return generateKey(...a); };
for (const name of ["listen", "listenTls"]) {
  const f = Deno[name];
  Deno[name] = (...a) => { console.error("[order] " + name); return f(...a); };
}
`,
  );

  async function order(config: string): Promise<string[]> {
    const base = join(dir, `order-${config.length}`);
    mkdirSync(base, { recursive: true });
    writeFileSync(join(base, "hello.ts"), `export default { fetch: () => new Response("hello") };\n`);
    writeFileSync(join(base, "server.yaml"), config);
    const proc = Bun.spawn(
      [
        DENO,
        "run",
        "-A",
        "--quiet",
        `--config=${join(ROOT, "deno.json")}`,
        `--preload=${preload}`,
        CLI,
        "run",
        "--config",
        "server.yaml",
      ],
      {
        cwd: base,
        stdout: "ignore",
        stderr: "pipe",
        env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      },
    );
    let log = "";
    const reader = proc.stderr.getReader();
    const deadline = Date.now() + 30000;
    try {
      while (!/listening on/.test(log) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        log += new TextDecoder().decode(value);
      }
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    expect(log).toMatch(/listening on/);
    return log.split("\n").filter((l) => l.startsWith("[order] ")).map((l) => l.slice(8));
  }

  test("a TLS connector: a P-256 key is generated before the listen", async () => {
    const port = await freePort();
    const steps = await order(
      `logging: { level: info }\n` +
        tlsAppConfig(port, `            - certificates:\n                - ${localhostCertificate("rsa")}`, {
          contexts: `              - path: ""\n                handler: hello.ts\n`,
        }),
    );
    expect(steps).toEqual(["generateKey P-256", "listenTls"]);
  });

  test("plain HTTP only: no key is generated", async () => {
    const port = await freePort();
    const steps = await order(`logging: { level: info }
server:
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts: [{ name: localhost, contexts: [{ path: "", handler: hello.ts }] }]
`);
    expect(steps).toEqual(["listen"]);
  });
});

describe("the config readers a start on Deno loads", () => {
  const configReaders = (scripts: string[]) =>
    scripts.filter((s) =>
      /source-(yaml|toml)\.ts$|\/config\/(convert|webxml)\.ts$|node_modules\/(yaml|smol-toml|fast-xml-parser)\//.test(s)
    );

  test("a plain YAML config: neither the yaml package, the TOML reader nor the XML converters, up to the first HTTPS 200", async () => {
    const base = join(dir, "plain-readers");
    mkdirSync(base, { recursive: true });
    const port = await freePort();
    writeFileSync(join(base, "hello.ts"), `export default { fetch: () => new Response("hello") };\n`);
    writeFileSync(
      join(base, "server.yaml"),
      `logging: { level: warn }  # flow and block mappings, a comment\n` +
        tlsAppConfig(port, `            - certificates:\n                - ${localhostCertificate("rsa")}`, {
          contexts: `              - path: ""\n                handler: hello.ts\n`,
        }),
    );
    const log = join(base, "trace.log");
    // Without the code cache every module is compiled, so the log names each one the start loads.
    await nodeLayerOfCommand(
      [
        DENO,
        "run",
        "-A",
        "--quiet",
        "--no-code-cache",
        `--config=${join(ROOT, "deno.json")}`,
        CLI,
        "run",
        "--config",
        "server.yaml",
      ],
      `https://127.0.0.1:${port}/`,
      { cwd: base, log },
    );
    const scripts = scriptsInLog(log);
    expect(scripts.some((s) => s.endsWith("/src/config/yaml-plain.ts"))).toBe(true);
    expect(configReaders(scripts)).toEqual([]);
  });

  test.each([
    ["TOML", "server.toml", `[server]\n[[server.services]]\n[[server.services.connectors]]\nport = "x"\n`, "4:1"],
    [
      "YAML beyond the plain subset (an anchor)",
      "server.yaml",
      "a: &x 1\nserver:\n  services:\n    - connectors:\n        - port: x\n",
      "5:17",
    ],
    ["plain YAML", "server.yaml", "server:\n  services:\n    - connectors:\n        - port: x\n", "4:17"],
  ])("%s: a config error names its line and column", (_name, file, text, at) => {
    const base = join(dir, `readers-${file}-${at}`);
    mkdirSync(base, { recursive: true });
    writeFileSync(join(base, file), text);
    const r = spawnSync(DENO, [
      "run",
      "-A",
      "--quiet",
      `--config=${join(ROOT, "deno.json")}`,
      CLI,
      "check",
      "--config",
      file,
    ], {
      cwd: base,
      encoding: "utf8",
      timeout: 60000,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      `${join(base, file)}:${at}: server.services[0].connectors[0].port: Connector port must be a whole number`,
    );
  });
});
