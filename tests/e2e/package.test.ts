/**
 * The library as users receive it: the checkout packed with `npm pack`, installed into an empty
 * project outside the checkout, then `import { createServer } from "bobcat"` and
 * `import { createHandler } from "bobcat/edge"` from Bun, Deno and Node. Two HTTPS servers in one
 * process keep their own handlers, sessions and manager views, and stop. One pack, one install.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import {
  BUN,
  configSyntaxFiles,
  DENO,
  freePort,
  httpsConfig,
  PKI,
  plainConfig,
  ROOT,
  run,
  sslHostConfig,
  tfetch,
  tlsAppConfig,
} from "../helpers/bobcat.ts";
import { nodeLayerAtFirstRequest, timerModules } from "../helpers/deno-first-request.ts";
import { type InstalledPackage, packAndInstall } from "../helpers/package.ts";

let pkg: InstalledPackage;

// A script as a user would write it: plain JavaScript, so Bun, Deno and Node run it as it is.
const SCRIPT = `
import { createServer, BobcatServer } from "bobcat";
import { createHandler } from "bobcat/edge";
import { readFileSync } from "node:fs";

const app = (name) => ({
  fetch(req, ctx) {
    const s = ctx.getSession();
    const n = (s.getAttribute("n") ?? 0) + 1;
    s.setAttribute("n", n);
    return Response.json({ server: name, n, id: s.id, secure: ctx.secure });
  },
});
const servers = [];
for (const name of ["a", "b"]) {
  servers.push(await createServer({ configFile: name + ".yaml", handlers: { "app:main": app(name) }, configureLogging: false }));
}
const edge = createHandler({ configText: readFileSync("a.yaml", "utf8"), handlers: { "app:main": app("edge") } });
const res = await edge.fetch(new Request("http://localhost/app/"));
console.log("RESULT " + JSON.stringify({
  urls: servers.map((s) => s.urls),
  server: servers.every((s) => s instanceof BobcatServer),
  edge: { status: res.status, body: await res.json() },
}));
process.stdin.once("data", async () => {
  for (const s of servers) await s.stop();
  await edge.close();
  console.log("STOPPED");
  process.exit(0);
});
`;

const ports: Record<"a" | "b", { http: number; https: number }> = {
  a: { http: 0, https: 0 },
  b: { http: 0, https: 0 },
};

beforeAll(async () => {
  pkg = packAndInstall();
  for (const name of ["a", "b"] as const) ports[name] = { http: await freePort(), https: await freePort() };
  for (const name of ["a", "b"] as const) {
    writeFileSync(
      join(pkg.dir, `${name}.yaml`),
      httpsConfig(ports[name].http, ports[name].https, {
        // No persistence file: the runtimes run one after another in this directory.
        contexts: `              - { path: /app, handler: "app:main", manager: { pathname: "" } }
              - { path: /manager, handler: "bobcat:manager" }`,
      }),
    );
  }
  writeFileSync(join(pkg.dir, "lib-check.mjs"), SCRIPT);
}, 600000);

afterAll(() => pkg?.cleanup());

describe("the packed tarball", () => {
  test("carries the built library with its types, the CLI's sources, and no tests or fixtures", () => {
    for (
      const f of [
        "dist-lib/mod.js",
        "dist-lib/edge.js",
        "dist-lib/types/mod.d.ts",
        "dist-lib/types/edge.d.ts",
        "bin/bobcat.mjs",
        "dist-lib/cli.js",
        "src/cli/main.ts",
        "config/server.yaml",
        "package.json",
      ]
    ) {
      expect(pkg.files).toContain(f);
    }
    const unwanted = pkg.files.filter((f) =>
      /^(tests|bench|scripts|node_modules|dist)\//.test(f) || f.includes(".test.") || f.endsWith(".tgz")
    );
    expect(unwanted).toEqual([]);
    // Installed outside the checkout, where nothing of the checkout can be found by resolution.
    expect(pkg.dir.startsWith(ROOT)).toBe(false);
  });

  test("the CLI build's chunks stay out of Deno's module graph until imported, and load when they are", () => {
    // Run from outside node_modules, as a checkout runs dist-lib/cli.js: there Deno builds the
    // module graph before starting, and a chunk imported with a literal specifier would be in it.
    const copy = join(pkg.dir, "cli-outside-node-modules");
    cpSync(join(pkg.dir, "node_modules", "bobcat", "dist-lib"), copy, { recursive: true });
    cpSync(join(pkg.dir, "node_modules", "bobcat", "deno.json"), join(copy, "deno.json"));
    const env = { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };
    const info = spawnSync(DENO, ["info", "--json", `--config=${join(copy, "deno.json")}`, join(copy, "cli.js")], {
      encoding: "utf8",
      timeout: 60000,
      env,
    });
    expect(info.status).toBe(0);
    const graph = JSON.parse(info.stdout) as {
      modules: Array<{ specifier: string; dependencies?: Array<{ specifier: string; isDynamic?: boolean }> }>;
    };
    // Nor the packages and node: modules that only some configs import (drizzle-orm, fast-xml-parser,
    // node:tls, ...): Deno would resolve each one at every start.
    const listedOnDemand = graph.modules.flatMap((m) =>
      (m.dependencies ?? []).filter((d) => d.isDynamic).map((d) => d.specifier)
    );
    expect(listedOnDemand).toEqual([]);
    // (Type declarations may be listed: `deno run` does not read them.)
    const packagesListed = graph.modules.map((m) => m.specifier)
      .filter((s) => (!s.startsWith("file:") || s.includes("/node_modules/")) && !s.endsWith(".d.ts"));
    expect(packagesListed).toEqual([]);
    const chunks = readdirSync(join(copy, "cli")).filter((f) => f.endsWith(".js"));
    const listedChunks = graph.modules.filter((m) => m.specifier.includes("/cli/chunk-")).length;
    expect(listedChunks).toBeGreaterThan(0);
    expect(listedChunks).toBeLessThan(chunks.length);
    // What only Bun reaches synchronously (require of the stores and the YAML and TOML readers) is
    // not in the start-up graph either: those are dynamic imports in the build.
    const staticSources = graph.modules.filter((m) => m.specifier.startsWith("file:")).flatMap((m) => {
      const map = Bun.fileURLToPath(m.specifier) + ".map";
      return existsSync(map) ? (JSON.parse(readFileSync(map, "utf8")) as { sources: string[] }).sources : [];
    });
    expect(staticSources.length).toBeGreaterThan(20);
    expect(staticSources.filter((f) => /persistent-manager|source-yaml|source-toml|node_modules\/yaml\//.test(f)))
      .toEqual([]);
    // `check` of a YAML config imports chunks on demand (the YAML parser, the config's handler).
    writeFileSync(
      join(pkg.dir, "outside.yaml"),
      `server:
  services:
    - connectors: [{ port: ${ports.a.http}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts: [{ name: localhost, contexts: [{ path: "", handler: "bobcat:root" }] }]
`,
    );
    const check = spawnSync(
      DENO,
      ["run", "-A", `--config=${join(copy, "deno.json")}`, join(copy, "cli.js"), "check", "--config", "outside.yaml"],
      { cwd: pkg.dir, encoding: "utf8", timeout: 60000, env },
    );
    expect(check.stderr).not.toContain("Module not found");
    expect(check.status).toBe(0);
    expect(check.stdout).toContain("bobcat:root");
  });

  test("the CLI build's source maps name the package's src/ files and carry no copy of their text", () => {
    // Deno reads some of these maps at every start and keeps them (scripts/build-lib.ts): the
    // sources' text would stay in its memory for the life of the server.
    const dist = join(pkg.dir, "node_modules", "bobcat", "dist-lib");
    const maps = [
      "cli.js.map",
      ...readdirSync(join(dist, "cli")).filter((f) => f.endsWith(".js.map")).map((f) => join("cli", f)),
    ];
    expect(maps.length).toBeGreaterThan(20);
    let named = 0, mapped = 0;
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(dist, m), "utf8")) as {
        sources: string[];
        sourcesContent?: unknown;
        mappings: string;
      };
      expect(map.sourcesContent).toBeUndefined();
      if (map.mappings.length > 0) mapped++;
      for (const source of map.sources.filter((f) => f.includes("src/"))) {
        expect(existsSync(join(dist, dirname(m), source))).toBe(true);
        named++;
      }
    }
    expect(named).toBeGreaterThan(100);
    expect(mapped).toBeGreaterThan(maps.length / 2);
  });

  test("the installed CLI build serves its first HTTPS request on Deno without loading Deno's Node layer", async () => {
    // As `BOBCAT_RUNTIME=deno npx bobcat` runs it (tests/cli/deno-start.test.ts checks the sources).
    const installed = join(pkg.dir, "node_modules", "bobcat");
    const port = await freePort();
    writeFileSync(join(pkg.dir, "hello.mjs"), `export default { fetch: () => new Response("hello") };\n`);
    writeFileSync(
      join(pkg.dir, "first-request.yaml"),
      `logging: { level: warn }\n` +
        tlsAppConfig(port, sslHostConfig(), {
          contexts: `              - { path: "", handler: hello.mjs, manager: { pathname: "" } }\n`,
        }),
    );
    const loaded = await nodeLayerAtFirstRequest(
      join(installed, "dist-lib", "cli.js"),
      ["run", "--config", "first-request.yaml"],
      `https://127.0.0.1:${port}/`,
      { cwd: pkg.dir, log: join(pkg.dir, "first-request.log"), config: join(installed, "deno.json") },
    );
    const timers = timerModules(pkg.dir);
    expect(loaded.filter((m) => !timers.has(m))).toEqual([]);
  });

  test("TypeScript sees the types of bobcat and bobcat/edge", async () => {
    writeFileSync(
      join(pkg.dir, "types-check.ts"),
      `import { createServer, loadConfigText, type BobcatServer, type ServerOptions } from "bobcat";
import { createHandler, type BobcatContext, type EdgeHandler } from "bobcat/edge";
const options: ServerOptions = { configText: "", handlers: {} };
const started: Promise<BobcatServer> = createServer(options);
void started.then(async (s) => { const urls: string[] = s.urls; await s.reloadTls(); await s.stop(); return urls; });
const h: EdgeHandler = createHandler({ configText: "", handlers: { "app:main": (_r: Request, ctx: BobcatContext) => new Response(ctx.getSession()?.id ?? "") } });
const r: Promise<Response> = h.fetch(new Request("http://localhost/"));
void r; void loadConfigText;
// @ts-expect-error urls is a list of strings
const n: number = (null as unknown as BobcatServer).urls;
void n;
`,
    );
    for (const resolution of ["bundler", "nodenext"]) {
      writeFileSync(
        join(pkg.dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: resolution === "bundler" ? "ESNext" : "nodenext",
            moduleResolution: resolution,
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            lib: ["ES2022", "DOM"],
            types: [],
          },
          files: ["types-check.ts"],
        }),
      );
      const r = Bun.spawnSync([join(ROOT, "node_modules", ".bin", "tsc"), "-p", "."], {
        cwd: pkg.dir,
        stdout: "pipe",
        stderr: "pipe",
        timeout: 120000,
      });
      expect([resolution, r.exitCode, r.stdout.toString() + r.stderr.toString()]).toEqual([resolution, 0, ""]);
    }
  }, 240000);
});

/** Reads a child's stdout line by line until `want` matches, within `ms`. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  seen: { text: string },
  want: RegExp,
  ms: number,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  const decoder = new TextDecoder();
  for (;;) {
    const m = seen.text.match(want);
    if (m) return m;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no ${want} within ${ms} ms; output so far:\n${seen.text}`);
    const chunk = await Promise.race([reader.read(), Bun.sleep(left).then(() => null)]);
    if (!chunk) continue;
    if (chunk.done) throw new Error(`the script ended before ${want}; output:\n${seen.text}`);
    seen.text += decoder.decode(chunk.value, { stream: true });
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", () => resolve(true));
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

// A server with a PersistentManager and FileStore from a script: the session stores are loaded on
// demand, from the installed package. Start, make a session, stop (saved), start again, read it.
const STORE_SCRIPT = `
import { createServer } from "bobcat";
import { createHandler } from "bobcat/edge";
const app = { fetch(req, ctx) {
  const s = ctx.getSession();
  const n = (s.getAttribute("n") ?? 0) + 1;
  s.setAttribute("n", n);
  return Response.json({ n, id: s.id });
} };
const start = () => createServer({ configFile: process.argv[2], handlers: { "app:main": app }, configureLogging: false });
let server = await start();
const first = await fetch(server.urls[0]);
const cookie = first.headers.get("set-cookie").split(";")[0];
const a = await first.json();
await server.stop();
server = await start();
const b = await (await fetch(server.urls[0], { headers: { cookie } })).json();
await server.stop();
// bobcat/edge reads YAML with the yaml package everywhere: a merge key (host "other" is "localhost" renamed).
const edge = createHandler({ handlers: { "app:main": app }, configText: [
  "server:",
  "  services:",
  "    - connectors: [{ port: 8080 }]",
  "      engine:",
  "        defaultHost: localhost",
  "        hosts:",
  "          - &host { name: localhost, contexts: [{ path: /app, handler: app:main }] }",
  "          - <<: *host",
  "            name: other",
].join("\\n") });
const other = await edge.fetch(new Request("http://other/app/"));
const edgeResult = { status: other.status, body: await other.text() };
await edge.close();
console.log("RESULT " + JSON.stringify({ cookie, a, b, edge: edgeResult }));
process.exit(0);
`;

const RUNNERS: Record<string, string[]> = {
  bun: [BUN, "lib-check.mjs"],
  deno: [DENO, "run", "-A", "lib-check.mjs"],
  node: ["node", "lib-check.mjs"],
};

describe.each(Object.keys(RUNNERS))("import from the installed package on %s", (runtime) => {
  test(
    "createServer serves HTTPS from a config; two servers keep their own handlers, sessions and manager views; both stop",
    async () => {
      const proc = Bun.spawn(RUNNERS[runtime]!, { cwd: pkg.dir, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const killer = setTimeout(() => proc.kill("SIGKILL"), 90000);
      const seen = { text: "" };
      const reader = proc.stdout.getReader();
      try {
        const m = await readUntil(reader, seen, /^RESULT (.*)$/m, 60000).catch(async (e) => {
          proc.kill();
          throw new Error(`${(e as Error).message}\nstderr:\n${await new Response(proc.stderr).text()}`);
        });
        const result = JSON.parse(m[1]!);
        const url = (name: "a" | "b", scheme: "http" | "https") => `${scheme}://127.0.0.1:${ports[name][scheme]}/`;
        expect(result.urls).toEqual([
          [url("a", "http"), url("a", "https")],
          [url("b", "http"), url("b", "https")],
        ]);
        expect(result.server).toBe(true);
        // bobcat/edge in the same process: its own engine, lazily started by the first request.
        expect(result.edge.status).toBe(200);
        expect(result.edge.body).toMatchObject({ server: "edge", n: 1, secure: false });

        // HTTPS with the test PKI, verified against its CA.
        const first = await tfetch(`${url("a", "https")}app/`);
        expect(first.status).toBe(200);
        const a1 = await first.json();
        expect(a1).toMatchObject({ server: "a", n: 1, secure: true });
        const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
        expect(await (await tfetch(`${url("a", "https")}app/`, { headers: { cookie } })).json()).toMatchObject({
          server: "a",
          n: 2,
          id: a1.id,
        });
        // Server b has its own handler and sessions: a's cookie names no session there.
        const b1 = await (await tfetch(`${url("b", "https")}app/`, { headers: { cookie } })).json();
        expect(b1).toMatchObject({ server: "b", n: 1 });
        expect(b1.id).not.toBe(a1.id);

        // Each server's manager shows that server only.
        for (const name of ["a", "b"] as const) {
          const j = await (await tfetch(`${url(name, "https")}manager/json`)).json();
          expect(j.connectors.map((c: { url: string }) => c.url)).toEqual([url(name, "http"), url(name, "https")]);
          const app = j.contexts.find((c: { path: string }) => c.path === "/app");
          expect([name, app.stats.activeSessions]).toEqual([name, 1]);
        }

        proc.stdin.write("stop\n");
        await proc.stdin.flush();
        await readUntil(reader, seen, /^STOPPED$/m, 30000).catch(async (e) => {
          throw new Error(`${(e as Error).message}\nstderr:\n${await new Response(proc.stderr).text()}`);
        });
        expect(await proc.exited).toBe(0);
        for (const name of ["a", "b"] as const) {
          for (const port of [ports[name].http, ports[name].https]) {
            expect([port, await refused(port)]).toEqual([port, true]);
          }
        }
      } finally {
        clearTimeout(killer);
        proc.kill("SIGKILL");
        await proc.exited;
      }
    },
    120000,
  );
});

describe.each(Object.keys(RUNNERS))("import from the installed package on %s", (runtime) => {
  test(
    "createServer with a PersistentManager and FileStore: the session survives a stop and start; bobcat/edge reads merge keys",
    async () => {
      const dir = join(pkg.dir, `store-${runtime}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      const port = await freePort();
      writeFileSync(
        join(dir, "store.yaml"),
        plainConfig(
          port,
          `              - path: ""
                handler: "app:main"
                manager: { className: PersistentManager, saveOnRestart: true, store: { className: FileStore, directory: sessions } }
`,
        ),
      );
      writeFileSync(join(pkg.dir, "store-check.mjs"), STORE_SCRIPT);
      const [cmd, ...args] = RUNNERS[runtime]!;
      const { stdout: out, stderr: err, code } = await run(
        [cmd!, ...args.slice(0, -1), "store-check.mjs", join(dir, "store.yaml")],
        { cwd: pkg.dir, timeoutMs: 60000 },
      );
      const m = /^RESULT (.*)$/m.exec(out);
      expect([code, m ? "" : out + err]).toEqual([0, ""]);
      const { cookie, a, b, edge } = JSON.parse(m![1]!);
      expect(edge.status).toBe(200);
      expect(JSON.parse(edge.body)).toMatchObject({ n: 1 });
      expect(a.n).toBe(1);
      expect(b).toEqual({ n: 2, id: a.id });
      expect(cookie).toBe(`JSESSIONID=${a.id}`);
    },
    90000,
  );
});

// `npx bobcat` in the installed project, as a user runs it: npm exec → sh -c → bin/bobcat.mjs
// (Node) → Bun or Deno. The lazily loaded readers and stores must be found from node_modules.
const SESSION_APP = `export default { fetch(req, ctx) {
  const s = ctx.getSession();
  const n = (s.getAttribute("n") ?? 0) + 1;
  s.setAttribute("n", n);
  return Response.json({ n, id: s.id });
} };`;

/** Every process below `pid` (one ps snapshot). */
function descendants(pid: number): number[] {
  const ps = spawnSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8", timeout: 10000 });
  const children = new Map<number, number[]>();
  for (const line of ps.stdout.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    children.set(pp!, [...(children.get(pp!) ?? []), p!]);
  }
  const out: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (out.push(c), walk(c)));
  walk(pid);
  return out;
}

/** `npx bobcat <args>` in `cwd`; resolves once `ready` is printed (or the command ends). */
function npx(cwd: string, runtime: string, args: string[], ready?: RegExp) {
  const proc = spawn("npx", ["--no-install", "bobcat", ...args], {
    cwd,
    env: {
      ...process.env,
      npm_config_update_notifier: "false",
      NO_COLOR: "1",
      ...(runtime === "deno" ? { BOBCAT_RUNTIME: "deno" } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
    // A process group of its own, as a terminal gives a job: stop(..., "job") signals all of it.
    detached: true,
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  // Both pipes close when the last process holding them (the server, under npm) is gone.
  const closed = Promise.all([
    new Promise((r) => proc.stdout!.on("close", r)),
    new Promise((r) => proc.stderr!.on("close", r)),
  ]);
  const exited = new Promise<number | null>((r) => proc.on("exit", (code, signal) => r(code ?? (signal ? -1 : null))));
  let ended = false;
  void closed.then(() => (ended = true));
  // npm, its shell, the launcher and the server: all killed if the test gives up on them.
  let tree: number[] = [];
  const killAll = () => {
    for (const p of [proc.pid!, ...tree]) {
      try {
        process.kill(p, "SIGKILL");
      } catch { /* gone */ }
    }
  };
  const killer = setTimeout(killAll, 90000);
  return {
    output: () => out,
    async ready(): Promise<void> {
      const deadline = Date.now() + 60000;
      while (!ready!.test(out)) {
        if (ended || Date.now() > deadline) {
          killAll();
          throw new Error(`npx bobcat ${args.join(" ")} did not start:\n${out}`);
        }
        await Bun.sleep(50);
      }
      tree = descendants(proc.pid!);
    },
    /** Everything has ended (bounded); npx's exit status. */
    async done(): Promise<number | null> {
      await Promise.race([closed, Bun.sleep(30000)]);
      clearTimeout(killer);
      if (!ended) {
        tree = descendants(proc.pid!);
        killAll();
        throw new Error(`npx bobcat ${args.join(" ")}: a process still holds its output:\n${out}`);
      }
      return exited;
    },
    /**
     * A signal to the npx process only, as a service manager, a test harness or `kill <pid>` sends
     * it; or to every process of the job, as a terminal's Ctrl-C does.
     */
    async stop(signal: "SIGTERM" | "SIGKILL" | "SIGINT" = "SIGTERM", to: "npx" | "job" = "npx"): Promise<void> {
      if (to === "job") process.kill(-proc.pid!, signal);
      else proc.kill(signal);
      await Promise.race([closed, Bun.sleep(20000)]);
      clearTimeout(killer);
      if (!ended) {
        killAll();
        throw new Error(`${signal} to npx did not stop bobcat within 20 s:\n${out}`);
      }
    },
  };
}

describe.each(["bun", "deno"])("npx bobcat from the installed package on %s", (runtime) => {
  const site = (name: string, files: Record<string, string>) => {
    const dir = join(pkg.dir, `${runtime}-${name}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    // npx finds bobcat in the project's node_modules from a directory below it.
    return dir;
  };

  test("YAML with anchors and merge keys, a TOML config, and a YAML error with its file:line:column", async () => {
    const yamlPort = await freePort();
    const tomlPort = await freePort();
    // The merged connector shares the TOML one's port: the two configs run one after the other.
    const dir = site("configs", configSyntaxFiles({ yaml: yamlPort, merged: tomlPort, toml: tomlPort }));
    const bad = npx(dir, runtime, ["check", "--config", "bad.yaml"]);
    expect(await bad.done()).toBe(1);
    expect(bad.output()).toContain(`${join(dir, "bad.yaml")}:4:7: YAML syntax error`);

    for (const [config, ports] of [["merge.yaml", [yamlPort, tomlPort]], ["server.toml", [tomlPort]]] as const) {
      const s = npx(dir, runtime, ["run", "--config", config], /listening on/);
      try {
        await s.ready();
        for (const port of ports) {
          for (let i = 0; i < 100 && !s.output().includes(`:${port}/`); i++) await Bun.sleep(50);
          const res = await fetch(`http://127.0.0.1:${port}/`);
          expect([config, port, res.status]).toEqual([config, port, 200]);
          expect(await res.text()).toContain("bobcat 0.1.0 is running");
        }
      } finally {
        await s.stop();
      }
      expect(s.output()).toContain("bobcat stopped");
    }
  }, 120000);

  test("SIGKILL to npx stops bobcat gracefully: the shell npm left behind does not keep it running", async () => {
    const port = await freePort();
    const dir = site("sigkill", {
      "server.yaml": plainConfig(port, `              - { path: "", handler: "bobcat:root" }\n`),
    });
    const s = npx(dir, runtime, ["run", "--config", "server.yaml"], /listening on/);
    await s.ready();
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    await s.stop("SIGKILL");
    expect(s.output()).toContain("bobcat stopped");
    expect(await refused(port)).toBe(true);
  }, 90000);

  test.each(["npx", "job"] as const)(
    "SIGINT to %s stops bobcat once, gracefully (npm's shell holds a SIGINT until its child ends)",
    async (to) => {
      const port = await freePort();
      const dir = site(`sigint-${to}`, {
        "server.yaml": plainConfig(port, `              - { path: "", handler: "bobcat:root" }\n`),
      });
      const s = npx(dir, runtime, ["run", "--config", "server.yaml"], /listening on/);
      await s.ready();
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
      await Bun.sleep(500); // the launcher's watch arms once npm's shell has settled into its wait
      await s.stop("SIGINT", to);
      expect(s.output()).toContain("SIGINT received: stopping");
      expect(s.output()).toContain("bobcat stopped");
      // A Ctrl-C reaches the launcher, the server and npm's shell: one graceful stop, not a forced one.
      expect(s.output()).not.toContain("again: exiting without waiting");
      expect(await refused(port)).toBe(true);
    },
    90000,
  );

  for (
    const [store, resources, storeYaml] of [
      ["FileStore", "", "{ className: FileStore, directory: sessions }"],
      [
        "DataSourceStore on a JDBC SQLite URL",
        `  globalNamingResources:\n    resources:\n      - { name: jdbc/sessions, driverClassName: org.sqlite.JDBC, url: "jdbc:sqlite:work/sessions.db" }\n`,
        "{ className: DataSourceStore, dataSourceName: jdbc/sessions }",
      ],
    ] as const
  ) {
    test(
      `PersistentManager with a ${store}: SIGTERM to npx stops bobcat gracefully, the session survives`,
      async () => {
        const port = await freePort();
        const dir = site(store.replace(/\W+/g, "-"), {
          "app.js": SESSION_APP,
          "server.yaml": plainConfig(
            port,
            `              - path: ""
                handler: app.js
                manager: { className: PersistentManager, saveOnRestart: true, store: ${storeYaml} }
`,
            resources,
          ),
        });
        const args = ["--config", "server.yaml"];
        if (resources) {
          const init = npx(dir, runtime, ["store", "init", ...args]);
          expect(await init.done()).toBe(0);
          expect(init.output()).toContain("table ready");
        }
        let s = npx(dir, runtime, ["run", ...args], /listening on/);
        let cookie = "";
        try {
          await s.ready();
          const first = await fetch(`http://127.0.0.1:${port}/`);
          cookie = first.headers.getSetCookie()[0]!.split(";")[0]!;
          expect(((await first.json()) as { n: number }).n).toBe(1);
        } finally {
          await s.stop();
        }
        expect(s.output()).toContain("bobcat stopped");
        expect(await refused(port)).toBe(true);
        s = npx(dir, runtime, ["run", ...args], /listening on/);
        try {
          await s.ready();
          const again = await fetch(`http://127.0.0.1:${port}/`, { headers: { cookie } });
          const body = (await again.json()) as { n: number; id: string };
          expect(`JSESSIONID=${body.id}`).toBe(cookie);
          expect(body.n).toBe(2);
        } finally {
          await s.stop();
        }
      },
      120000,
    );
  }
});
