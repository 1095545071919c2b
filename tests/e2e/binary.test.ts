/**
 * The single executable as a user receives it: built once with `bun build.ts` (bun build
 * --compile), then placed alone in an empty directory under /tmp with no node_modules anywhere
 * above it (each test gets its own directory with a hard link to the one build). It serves the
 * default config, YAML (with the `yaml` package's anchors, merge keys and error positions) and
 * TOML configs, a Tomcat CATALINA_BASE with its server.xml, keystores, every session store across a
 * SIGTERM restart, a Hono handler module beside it, and runs keytool and convert. Each of these is
 * a module loaded on demand: a chunk or a dynamic import the bundle lost fails only here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, linkSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  BUN,
  cleanup,
  configSyntaxFiles,
  freePort,
  opensslConnect,
  plainConfig,
  ROOT,
  run,
  sessionsDataSource,
  tempDir,
  waitUntil,
  writeFiles,
} from "../helpers/bobcat.ts";
import { type PostgresServer, startPostgres } from "../helpers/postgres.ts";
import { type RedisServer, startRedis } from "../helpers/services.ts";

const dirs: string[] = [];
let built: string;
let pg: PostgresServer | undefined;
let redis: RedisServer | undefined;

const KS = join(ROOT, "tests/fixtures/keystores");

beforeAll(async () => {
  const out = tempDir("bobcat-exe-build-");
  dirs.push(out);
  const build = await run([BUN, join(ROOT, "build.ts"), "--outfile", join(out, "bobcat")], {
    cwd: ROOT,
    timeoutMs: 180000,
  });
  if (build.code !== 0) throw new Error(`bun build.ts failed:\n${build.stdout}${build.stderr}`);
  built = join(out, "bobcat");
}, 200000);

afterAll(async () => {
  pg?.destroy();
  await redis?.destroy();
  dirs.forEach(cleanup);
});

/** An empty directory holding only the executable (plus `files`); nothing of the checkout. */
function site(files: Record<string, string | Uint8Array> = {}): string {
  const dir = tempDir("bobcat-exe-");
  dirs.push(dir);
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, "node_modules"))) {
      throw new Error(`${d}/node_modules exists: the executable would not be tested alone`);
    }
  }
  try {
    linkSync(built, join(dir, "bobcat"));
  } catch {
    copyFileSync(built, join(dir, "bobcat"));
  }
  writeFiles(dir, files);
  return dir;
}

/** Nothing from the checkout's environment: no PATH to its runtimes, HOME in the site. */
const env = (dir: string, extra: Record<string, string> = {}) => ({
  PATH: "/usr/bin:/bin",
  HOME: dir,
  NO_COLOR: "1",
  ...extra,
});

function exe(dir: string, args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  return run([join(dir, "bobcat"), ...args], {
    cwd: dir,
    env: env(dir, opts.env),
    stdin: opts.stdin,
    timeoutMs: 60000,
  });
}

/** Starts `bobcat run ...` in `dir` and waits (bounded) for `connectors` listening lines. */
async function serve(dir: string, args: string[], connectors = 1, extraEnv: Record<string, string> = {}) {
  const proc = spawn(join(dir, "bobcat"), ["run", ...args], {
    cwd: dir,
    env: env(dir, extraEnv),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + 30000;
  while ((out.match(/listening on/g) ?? []).length < connectors) {
    if (code !== undefined || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`the executable did not start:\n${out}`);
    }
    await Bun.sleep(50);
  }
  return {
    output: () => out,
    /** SIGTERM, bounded wait; the exit status. */
    async stop(): Promise<number | null> {
      if (code !== undefined) return code;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15000);
      const c = await exited;
      clearTimeout(t);
      return c;
    },
  };
}

test("bun build.ts makes one executable that runs alone in an empty directory and serves HTTPS with its default config", async () => {
  const dir = site();
  const version = await exe(dir, ["version"]);
  expect(version.stdout).toMatch(/^bobcat \d+\.\d+\.\d+ \(Bun /);

  const http = await freePort();
  const https = await freePort();
  const s = await serve(dir, [], 2, {
    BOBCAT_HTTP_PORT: String(http),
    BOBCAT_HTTPS_PORT: String(https),
    BOBCAT_ADDRESS: "127.0.0.1",
  });
  try {
    expect(s.output()).toContain(`listening on https://127.0.0.1:${https}/`);
    const cert = readFileSync(join(dir, "conf/localhost-cert.pem"), "utf8");
    const res = await fetch(`https://localhost:${https}/`, { tls: { ca: cert } } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("bobcat is running");
    const redirect = await fetch(`http://127.0.0.1:${http}/x`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe(`https://127.0.0.1:${https}/x`);
  } finally {
    expect(await s.stop()).toBe(0);
  }
});

test("YAML read by the yaml package (anchors, merge keys; an error with its file:line:column) and TOML", async () => {
  const [yamlPort, mergedPort, tomlPort] = [await freePort(), await freePort(), await freePort()];
  const dir = site(configSyntaxFiles({ yaml: yamlPort, merged: mergedPort, toml: tomlPort }, "conf/"));
  const bad = await exe(dir, ["check", "--config", "conf/bad.yaml"]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain(`${join(dir, "conf/bad.yaml")}:4:7: YAML syntax error`);
  const badToml = await exe(dir, ["check", "--config", "conf/bad.toml"]);
  expect(badToml.code).toBe(1);
  expect(badToml.stderr).toContain(`${join(dir, "conf/bad.toml")}:1:8: TOML syntax error`);

  const merged = await exe(dir, ["check", "--config", "conf/merge.yaml", "--base", "."]);
  expect(merged.code).toBe(0);
  // The merged connector has the anchored one's attributes, its own port.
  expect(merged.stdout.match(/connectionTimeout: 15000/g)?.length).toBe(2);
  for (
    const [config, ports] of [["conf/merge.yaml", [yamlPort, mergedPort]], ["conf/server.toml", [tomlPort]]] as const
  ) {
    const s = await serve(dir, ["--config", config, "--base", "."], ports.length);
    try {
      for (const port of ports) {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        expect(await res.text()).toContain("bobcat 0.1.0 is running");
      }
    } finally {
      expect(await s.stop()).toBe(0);
    }
  }
});

test("a Tomcat CATALINA_BASE as it is: conf/server.xml, webapps/ROOT, keystores keytool made", async () => {
  const [http, jks, p12] = [await freePort(), await freePort(), await freePort()];
  const dir = site({
    "base/conf/keytool-rsa.jks": readFileSync(join(KS, "keytool-rsa.jks")),
    "base/conf/keytool-ec.p12": readFileSync(join(KS, "keytool-ec.p12")),
    "base/webapps/ROOT/index.html": "<h1>from CATALINA_BASE</h1>",
    "base/conf/server.xml": `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="${http}" address="127.0.0.1" protocol="HTTP/1.1" connectionTimeout="20000" />
    <Connector port="${jks}" address="127.0.0.1" protocol="org.apache.coyote.http11.Http11NioProtocol" SSLEnabled="true">
      <SSLHostConfig>
        <Certificate certificateKeystoreFile="conf/keytool-rsa.jks" certificateKeystoreType="JKS"
                     certificateKeystorePassword="changeit" certificateKeyAlias="tomcat" type="RSA" />
      </SSLHostConfig>
    </Connector>
    <Connector port="${p12}" address="127.0.0.1" protocol="org.apache.coyote.http11.Http11NioProtocol" SSLEnabled="true">
      <SSLHostConfig>
        <Certificate certificateKeystoreFile="\${catalina.base}/conf/keytool-ec.p12" certificateKeystorePassword="changeit" />
      </SSLHostConfig>
    </Connector>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="true" />
    </Engine>
  </Service>
</Server>`,
  });
  const check = await exe(dir, ["check", "--base", "base"]);
  expect(check.output).not.toContain("problem");
  expect(check.code).toBe(0);
  const s = await serve(dir, ["--base", "base"], 3);
  try {
    expect(await (await fetch(`http://127.0.0.1:${http}/`)).text()).toBe("<h1>from CATALINA_BASE</h1>");
    for (const port of [jks, p12]) {
      const r = await opensslConnect(port, {
        servername: "localhost",
        caFile: join(KS, "pem/root-ca.pem"),
        verify: true,
      });
      expect([port, r.stdout.includes("Verify return code: 0 (ok)")]).toEqual([port, true]);
    }
  } finally {
    expect(await s.stop()).toBe(0);
  }
});

describe("keystores", () => {
  for (
    const [name, certificate] of [
      ["PKCS12 (keytool, EC)", `certificateKeystoreFile: conf/keytool-ec.p12`],
      [
        "JKS (keytool, RSA, alias tomcat)",
        `certificateKeystoreFile: conf/keytool-rsa.jks\n                  certificateKeystoreType: JKS\n                  certificateKeyAlias: tomcat`,
      ],
    ] as const
  ) {
    test(`${name} serves HTTPS that openssl verifies`, async () => {
      const dir = site({
        "conf/keytool-ec.p12": readFileSync(join(KS, "keytool-ec.p12")),
        "conf/keytool-rsa.jks": readFileSync(join(KS, "keytool-rsa.jks")),
      });
      const port = await freePort();
      writeFiles(dir, {
        "conf/server.yaml": `server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - ${certificate}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts: [{ path: "", handler: "bobcat:root" }]
`,
      });
      const s = await serve(dir, ["--config", "conf/server.yaml", "--base", "."]);
      try {
        const r = await opensslConnect(port, {
          servername: "localhost",
          caFile: join(KS, "pem/root-ca.pem"),
          verify: true,
        });
        expect(r.stdout).toContain("Verify return code: 0 (ok)");
      } finally {
        expect(await s.stop()).toBe(0);
      }
    });
  }
});

const SESSION_APP = `export default { fetch(req, ctx) {
  const s = ctx.getSession();
  const n = (s.getAttribute("n") ?? 0) + 1;
  s.setAttribute("n", n);
  return Response.json({ n, id: s.id });
} };`;

test(
  "workers: 2 from the executable alone: both worker processes answer, share one session, and SIGTERM stops them all",
  async () => {
    const port = await freePort();
    const dir = site({
      "app.js": `export default { fetch(req, ctx) {
  const s = ctx.getSession();
  const n = (s.getAttribute("n") ?? 0) + 1;
  s.setAttribute("n", n);
  return Response.json({ n, pid: process.pid });
} };`,
      "work/.keep": "",
      "conf/server.yaml": plainConfig(
        port,
        `              - path: ""
                handler: app.js
                manager:
                  className: PersistentManager
                  consistency: shared
                  store: { className: DataSourceStore, dataSourceName: jdbc/sessions }
`,
        `  workers: 2\n${sessionsDataSource("sqlite:work/sessions.db")}`,
      ),
    });
    // One "listening on" line per worker.
    const s = await serve(dir, ["--config", "conf/server.yaml", "--base", "."], 2);
    await waitUntil(() => s.output().includes("all 2 workers ready"));
    const pids = [...s.output().matchAll(/worker \d+ \(pid (\d+)\) ready/g)].map((m) => Number(m[1]));
    let code: number | null = null;
    try {
      const first = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } });
      const cookie = first.headers.getSetCookie()[0]!.split(";")[0]!;
      const seen = new Set<number>([((await first.json()) as { pid: number }).pid]);
      let n = 1;
      // Fresh connections until both workers answered (bounded); each sees the one session's count.
      for (let i = 0; i < 100 && seen.size < 2; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { cookie, connection: "close" } });
        const body = (await r.json()) as { n: number; pid: number };
        expect(body.n).toBe(++n);
        seen.add(body.pid);
      }
      expect(seen.size).toBe(2);
    } finally {
      code = await s.stop();
    }
    expect(code).toBe(0);
    // Every worker is gone with the primary (bounded wait).
    for (let i = 0; i < 100 && pids.some(alive); i++) await Bun.sleep(50);
    expect(pids.length).toBe(2);
    expect(pids.filter(alive)).toEqual([]);
    expect(s.output()).not.toContain("misuse");
  },
  60000,
);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("session stores survive a SIGTERM restart", () => {
  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  }, 120000);

  const stores = {
    FileStore: { resources: "", store: "{ className: FileStore, directory: sessions }" },
    "DataSourceStore on a JDBC SQLite URL (bun:sqlite)": {
      resources:
        `  globalNamingResources:\n    resources:\n      - { name: jdbc/sessions, driverClassName: org.sqlite.JDBC, url: "jdbc:sqlite:work/sessions.db" }\n`,
      store: "{ className: DataSourceStore, dataSourceName: jdbc/sessions }",
    },
    "DataSourceStore on PostgreSQL": {
      resources: "", // filled in once the server runs
      store: "{ className: DataSourceStore, dataSourceName: jdbc/sessions }",
    },
    RedisStore: { resources: "", store: "" }, // filled in once the server runs
  };

  for (const [name, s] of Object.entries(stores)) {
    test(name, async () => {
      const resources = name.includes("PostgreSQL")
        ? `  globalNamingResources:\n    resources:\n      - { name: jdbc/sessions, url: "${pg!.url}" }\n`
        : s.resources;
      if (name.includes("PostgreSQL")) pg!.psql(`DROP TABLE IF EXISTS "tomcat$sessions"`);
      const store = name === "RedisStore" ? `{ className: RedisStore, url: "${redis!.url}" }` : s.store;
      const port = await freePort();
      const dir = site({
        "app.js": SESSION_APP,
        "conf/server.yaml": plainConfig(
          port,
          `              - path: ""
                handler: app.js
                manager:
                  className: PersistentManager
                  saveOnRestart: true
                  store: ${store}
`,
          resources,
        ),
      });
      const args = ["--config", "conf/server.yaml", "--base", "."];
      if (resources) {
        const init = await exe(dir, ["store", "init", ...args]);
        expect(init.output).toContain("table ready");
        expect(init.code).toBe(0);
      }
      const check = await exe(dir, ["check", ...args]);
      expect(check.output).not.toContain("problem");
      expect(check.code).toBe(0);

      let server = await serve(dir, args);
      let cookie: string;
      try {
        const first = await fetch(`http://127.0.0.1:${port}/`);
        cookie = first.headers.getSetCookie()[0]!.split(";")[0]!;
        expect(((await first.json()) as { n: number }).n).toBe(1);
      } finally {
        expect(await server.stop()).toBe(0);
      }
      expect(server.output()).toContain("bobcat stopped");
      server = await serve(dir, args);
      try {
        const again = await fetch(`http://127.0.0.1:${port}/`, { headers: { cookie } });
        const body = (await again.json()) as { n: number; id: string };
        expect(body.n).toBe(2);
        expect(`JSESSIONID=${body.id}`).toBe(cookie);
      } finally {
        expect(await server.stop()).toBe(0);
      }
    }, 60000);
  }

  test("an SQLite path bobcat cannot write is reported as such, not as a missing package", async () => {
    const port = await freePort();
    const dir = site({
      blocker: "a file where a directory should be",
      "app.js": SESSION_APP,
      "conf/server.yaml": plainConfig(
        port,
        `              - path: ""
                handler: app.js
                manager: { className: PersistentManager, store: { className: DataSourceStore, dataSourceName: jdbc/s } }
`,
        `  globalNamingResources:\n    resources:\n      - { name: jdbc/s, url: "sqlite:blocker/sessions.db" }\n`,
      ),
    });
    const r = await exe(dir, ["check", "--config", "conf/server.yaml", "--base", "."]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(
      `data source [jdbc/s]: cannot open the SQLite database [${join(dir, "blocker/sessions.db")}]`,
    );
    expect(r.output).toContain("fix: Point the url at a file in a directory bobcat may write to");
    expect(r.output).not.toMatch(/drizzle|Cannot find package/);
  });
});

test("Hono handler modules beside the executable get the bundled hono and bobcat, their own node_modules for the rest, and their tsconfig for JSX", async () => {
  const port = await freePort();
  const dir = site({
    "app.ts": `import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { BobcatError } from "bobcat";
import { greet } from "greeting";
const app = new Hono();
app.get("/", (c) => {
  setCookie(c, "seen", "yes");
  return c.json({ greeting: greet(getCookie(c, "name") ?? "world"), bobcatError: typeof BobcatError });
});
app.get("/teapot", () => { throw new HTTPException(418, { message: "short and stout" }); });
export default app;
`,
    // A package of its own, with its entry below the package root (resolved through its package.json).
    "node_modules/greeting/package.json": JSON.stringify({
      name: "greeting",
      type: "module",
      exports: { ".": "./dist/index.js" },
    }),
    "node_modules/greeting/dist/index.js": `export const greet = (name) => "hello " + name;`,
    // A hono of its own must not replace the one bobcat's apps and the handler share.
    "node_modules/hono/package.json": JSON.stringify({
      name: "hono",
      type: "module",
      exports: { ".": "./index.js", "./*": "./index.js" },
    }),
    "node_modules/hono/index.js": `throw new Error("the handler got node_modules/hono instead of the bundled hono");`,
    // TSX with hono/jsx, as the tsconfig.json beside it says.
    "tsconfig.json": JSON.stringify({ compilerOptions: { jsx: "react-jsx", jsxImportSource: "hono/jsx" } }),
    "page.tsx": `import { Hono } from "hono";
const app = new Hono();
app.get("/", (c) => c.html(<p>Hello {"jsx"}</p>));
export default app;
`,
    "conf/server.yaml": plainConfig(
      port,
      `              - path: ""
                handler: app.ts
              - path: /page
                handler: page.tsx
`,
    ),
  });
  const s = await serve(dir, ["--config", "conf/server.yaml", "--base", "."]);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { cookie: "name=bobcat" } });
    expect(await res.json()).toEqual({ greeting: "hello bobcat", bobcatError: "function" });
    expect(res.headers.getSetCookie()[0]).toContain("seen=yes");
    const teapot = await fetch(`http://127.0.0.1:${port}/teapot`);
    expect(teapot.status).toBe(418);
    expect(await teapot.text()).toBe("short and stout");
    expect(await (await fetch(`http://127.0.0.1:${port}/page/`)).text()).toBe("<p>Hello jsx</p>");
  } finally {
    expect(await s.stop()).toBe(0);
  }
});

test("keytool makes a PKCS12 keystore the executable then serves", async () => {
  const dir = site();
  const gen = await exe(dir, [
    "keytool",
    "-genkeypair",
    "-alias",
    "tomcat",
    "-keyalg",
    "EC",
    "-keystore",
    "made.p12",
    "-storetype",
    "PKCS12",
    "-storepass",
    "changeit",
    "-dname",
    "CN=localhost",
    "-ext",
    "SAN=dns:localhost",
    "-validity",
    "30",
  ]);
  expect(gen.output).toContain("Generating");
  expect(gen.code).toBe(0);
  const list = await exe(dir, ["keytool", "-list", "-keystore", "made.p12", "-storepass", "changeit"]);
  expect(list.code).toBe(0);
  expect(list.stdout).toContain("tomcat, ");
  expect(list.stdout).toContain("PrivateKeyEntry");
  const port = await freePort();
  writeFiles(dir, {
    "conf/server.yaml": `server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates: [{ certificateKeystoreFile: made.p12, certificateKeystorePassword: changeit }]
      engine:
        defaultHost: localhost
        hosts: [{ name: localhost, contexts: [{ path: "", handler: "bobcat:root" }] }]
`,
  });
  const s = await serve(dir, ["--config", "conf/server.yaml", "--base", "."]);
  try {
    const r = await opensslConnect(port, { servername: "localhost" });
    expect(r.stdout).toContain("subject=CN = localhost");
  } finally {
    expect(await s.stop()).toBe(0);
  }
});

test("convert turns a Tomcat server.xml into YAML that the executable then runs", async () => {
  const port = await freePort();
  const dir = site({
    "persistent.xml": readFileSync(join(ROOT, "tests/fixtures/tomcat/persistent-sessions.xml")),
    "conf/server.xml": `<Server port="8005" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="${port}" address="127.0.0.1" protocol="HTTP/1.1" />
    <Executor name="tomcatThreadPool" maxThreads="150" />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps">
        <Context path="" docBase="ROOT" />
      </Host>
    </Engine>
  </Service>
</Server>`,
    "webapps/ROOT/index.html": "<h1>converted</h1>",
  });
  const fixture = await exe(dir, ["convert", "persistent.xml"]);
  expect(fixture.code).toBe(0);
  expect(fixture.stdout).toContain("className: org.apache.catalina.session.PersistentManager");
  expect(fixture.stdout).toContain("url: jdbc:postgresql://db.internal:5432/sessions");

  const r = await exe(dir, ["convert", "conf/server.xml", "-o", "conf/server.yaml"]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("Executor");
  const s = await serve(dir, ["--config", "conf/server.yaml", "--base", "."]);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe("<h1>converted</h1>");
  } finally {
    expect(await s.stop()).toBe(0);
  }
});
