/**
 * The library as users receive it: the checkout packed with `npm pack`, installed into an empty
 * project outside the checkout, then `import { createServer } from "bobcat"` and
 * `import { createHandler } from "bobcat/edge"` from Bun, Deno and Node. Two HTTPS servers in one
 * process keep their own handlers, sessions and manager views, and stop. One pack, one install.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { BUN, DENO, freePort, httpsConfig, ROOT, tfetch } from "../helpers/bobcat.ts";
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
