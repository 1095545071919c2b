/**
 * `bobcat/edge` as users deploy it, from the packed and installed package: on a real workerd
 * (npm `workerd`, a generated capnp config, the worker bundled as a Workers bundler would, with
 * the workerd condition) and under `deno serve` with only --allow-net and --allow-read for the
 * config file. Routing, the CONFIDENTIAL redirect, in-memory sessions, and sessions in a real
 * PostgreSQL: three isolates (three workers, three Deno processes) each read back the update the
 * previous one made, so a write the platform dropped after the response would show.
 * One pack, one install, one workerd start.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTableSql } from "../../src/session/stores/session-table.ts";
import { BUN, DENO, freePort, ROOT } from "../helpers/bobcat.ts";
import { type InstalledPackage, packAndInstall } from "../helpers/package.ts";
import { type PostgresServer, startPostgres } from "../helpers/postgres.ts";

const WORKERD = join(ROOT, "node_modules", ".bin", "workerd");
const ISOLATES = ["a", "b", "c"] as const;
type Isolate = (typeof ISOLATES)[number];

let pkg: InstalledPackage;
let pg: PostgresServer;
const procs: Bun.Subprocess[] = [];
/** Base URL of each isolate, per platform. */
const bases: Record<string, Record<Isolate, string>> = {};
const logs: Record<string, () => string> = {};

const config = (pgUrl: string) => `
server:
  globalNamingResources:
    resources:
      - { name: jdbc/sessions, type: DataSource, url: "${pgUrl}" }
  services:
    - connectors:
        - { port: 8080, redirectPort: 8443 }
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: /app
                handler: "app:main"
                securityConstraints:
                  - { urlPatterns: ["/secure/*"], transportGuarantee: CONFIDENTIAL }
              - path: /pg
                handler: "app:main"
                manager:
                  className: PersistentManager
                  maxIdleBackup: 0
                  store: { className: DataSourceStore, dataSourceName: jdbc/sessions }
`;

const APP = `
export default {
  fetch(request, ctx) {
    const s = ctx.getSession();
    const n = (s.getAttribute("n") ?? 0) + 1;
    s.setAttribute("n", n);
    return Response.json({ n, id: s.id, path: new URL(request.url).pathname, contextPath: ctx.contextPath, secure: ctx.secure });
  },
};
`;

/** Collects a child's output (for failure messages) without blocking it. */
function capture(proc: Bun.Subprocess<"ignore", "pipe", "pipe">): () => string {
  let text = "";
  const decoder = new TextDecoder();
  for (const stream of [proc.stdout, proc.stderr]) {
    void (async () => {
      for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
    })();
  }
  return () => text.slice(-4000);
}

/** Waits until every URL answers (any status), within `ms`. */
async function answering(urls: string[], ms: number, log: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (const url of urls) {
    for (;;) {
      try {
        await fetch(url, { signal: AbortSignal.timeout(2000) });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms} ms:\n${log()}`);
        await Bun.sleep(200);
      }
    }
  }
}

beforeAll(async () => {
  pkg = packAndInstall();
  pg = await startPostgres();
  pg.psql(createTableSql("postgres", {}, true));
  const yaml = config(pg.url);
  writeFileSync(join(pkg.dir, "server.yaml"), yaml);
  writeFileSync(join(pkg.dir, "app.js"), APP);
  writeFileSync(join(pkg.dir, "config.js"), `export default ${JSON.stringify(yaml)};\n`);
  writeFileSync(
    join(pkg.dir, "worker-cf.js"),
    `import { createHandler } from "bobcat/edge";\nimport configText from "./config.js";\nimport app from "./app.js";\nexport default createHandler({ configText, handlers: { "app:main": app } });\n`,
  );
  writeFileSync(
    join(pkg.dir, "worker-deno.js"),
    `import { createHandler } from "bobcat/edge";\nimport app from "./app.js";\nconst configText = await Deno.readTextFile(new URL("./server.yaml", import.meta.url));\nexport default createHandler({ configText, handlers: { "app:main": app } });\n`,
  );

  // As a Workers bundler does: one ES module, workerd's package conditions, builtins left to workerd.
  const built = Bun.spawnSync(
    [
      BUN,
      "build",
      "worker-cf.js",
      "--target=browser",
      "--conditions=workerd",
      "--conditions=worker",
      "--external",
      "node:*",
      "--external",
      "cloudflare:*",
      "--outfile",
      "worker.bundle.js",
    ],
    { cwd: pkg.dir, stdout: "pipe", stderr: "pipe", timeout: 120000 },
  );
  if (built.exitCode !== 0) throw new Error(`bundling the worker failed:\n${built.stderr}`);

  // workerd: three workers (three isolates) from the same bundle, each on its own socket.
  const ports = { a: await freePort(), b: await freePort(), c: await freePort() };
  writeFileSync(
    join(pkg.dir, "workerd.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
${ISOLATES.map((i) => `    (name = "${i}", worker = .worker),`).join("\n")}
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
${
      ISOLATES.map((i) => `    (name = "${i}", address = "127.0.0.1:${ports[i]}", http = (), service = "${i}"),`).join(
        "\n",
      )
    }
  ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.bundle.js") ],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["nodejs_compat"],
  globalOutbound = "net",
);
`,
  );
  const wd = Bun.spawn([WORKERD, "serve", "workerd.capnp"], {
    cwd: pkg.dir,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  procs.push(wd);
  logs.workerd = capture(wd);
  bases.workerd = {
    a: `http://127.0.0.1:${ports.a}`,
    b: `http://127.0.0.1:${ports.b}`,
    c: `http://127.0.0.1:${ports.c}`,
  };

  // deno serve: three processes, network and the config file only.
  const denoBases = {} as Record<Isolate, string>;
  const denoLogs: (() => string)[] = [];
  for (const i of ISOLATES) {
    const port = await freePort();
    const p = Bun.spawn([
      DENO,
      "serve",
      "--allow-net",
      "--allow-read=server.yaml",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "worker-deno.js",
    ], {
      cwd: pkg.dir,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    procs.push(p);
    denoLogs.push(capture(p));
    denoBases[i] = `http://127.0.0.1:${port}`;
  }
  bases["deno serve"] = denoBases;
  logs["deno serve"] = () => denoLogs.map((l) => l()).join("\n---\n");

  await answering(Object.values(bases.workerd), 30000, logs.workerd);
  await answering(Object.values(bases["deno serve"]), 30000, logs["deno serve"]);
}, 600000);

afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  pg?.destroy();
  pkg?.cleanup();
});

describe("what a bundler takes from bobcat/edge", () => {
  test("neither the package's edge.js nor the worker bundle imports the file system, node:sqlite, node:http2, sockets or Bun", () => {
    const forbidden = /^(node:)?(fs|fs\/promises|sqlite|http2|http|https|net|tls|child_process|dgram)$|^bun:/;
    for (
      const file of [join(pkg.dir, "node_modules", "bobcat", "dist-lib", "edge.js"), join(pkg.dir, "worker.bundle.js")]
    ) {
      const text = readFileSync(file, "utf8");
      const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)].map((m) =>
        m[1]!
      );
      expect(specifiers.length).toBeGreaterThan(0);
      expect([file, specifiers.filter((s) => forbidden.test(s))]).toEqual([file, []]);
    }
  });
});

/** GET with an optional cookie; the response's body as JSON (or text) and its session cookie. */
async function get(url: string, cookie?: string) {
  const res = await fetch(url, {
    redirect: "manual",
    headers: cookie ? { cookie } : {},
    signal: AbortSignal.timeout(20000),
  });
  const text = await res.text();
  let body: Record<string, unknown> | string = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { res, body: body as Record<string, unknown>, cookie: res.headers.get("set-cookie")?.split(";")[0] };
}

/** The stored copy of a session, polled until `ready` says so (bounded). */
async function storedUntil(id: string, ready: (row: string) => boolean, label: string): Promise<string> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const row = pg.psql(`SELECT md5(data) || '/' || lastaccess FROM "tomcat$sessions" WHERE id = '${id}'`).trim();
    if (ready(row)) return row;
    if (Date.now() > deadline) {
      throw new Error(`${label}: the session store did not get the write (row: ${JSON.stringify(row)})`);
    }
    await Bun.sleep(100);
  }
}

describe.each(["workerd", "deno serve"])("bobcat/edge on %s", (platform) => {
  const base = (i: Isolate = "a") => bases[platform]![i];

  test("routing: contexts by path, 404 outside them; the handler sees its context path", async () => {
    const app = await get(`${base()}/app/hello`);
    expect([app.res.status, app.body.path, app.body.contextPath, app.body.secure]).toEqual([
      200,
      "/hello",
      "/app",
      false,
    ]);
    const pgCtx = await get(`${base()}/pg/x`);
    expect([pgCtx.res.status, pgCtx.body.contextPath]).toEqual([200, "/pg"]);
    const none = await get(`${base()}/nowhere`);
    expect(none.res.status).toBe(404);
  });

  test("CONFIDENTIAL: plain HTTP is redirected (302) to the redirectPort over HTTPS", async () => {
    const r = await get(`${base()}/app/secure/page?q=1`);
    expect(r.res.status).toBe(302);
    expect(r.res.headers.get("location")).toBe("https://127.0.0.1:8443/app/secure/page?q=1");
    expect((await get(`${base()}/app/open`)).res.status).toBe(200);
  });

  test("in-memory sessions: the cookie brings the same session back", async () => {
    const first = await get(`${base()}/app/`);
    expect(first.body.n).toBe(1);
    expect(first.res.headers.get("set-cookie")).toMatch(
      /^JSESSIONID=[0-9A-F]{32}; Path=\/app; HttpOnly; SameSite=Lax$/,
    );
    const second = await get(`${base()}/app/`, first.cookie);
    expect([second.body.n, second.body.id]).toEqual([2, first.body.id]);
    const third = await get(`${base()}/app/`, first.cookie);
    expect(third.body.n).toBe(3);
  });

  test("sessions in PostgreSQL: each isolate reads back the update the previous one stored", async () => {
    const a = await get(`${base("a")}/pg/`);
    expect(a.res.status).toBe(200);
    expect(a.body.n).toBe(1);
    const id = a.body.id as string;
    const afterA = await storedUntil(id, (row) => row !== "", `${platform} a`);
    // Another isolate has nothing in memory: the session comes from the store, as a wrote it.
    const b = await get(`${base("b")}/pg/`, a.cookie);
    expect([b.body.n, b.body.id]).toEqual([2, id]);
    await storedUntil(id, (row) => row !== afterA, `${platform} b`);
    const c = await get(`${base("c")}/pg/`, a.cookie);
    expect([c.body.n, c.body.id]).toEqual([3, id]);
    expect(pg.psql(`SELECT count(*) FROM "tomcat$sessions" WHERE id = '${id}'`).trim()).toBe("1");
  }, 60000);
});
