#!/usr/bin/env bun
/**
 * What each maxIdleBackup setting costs, over HTTP and side by side in one run: requests per
 * second on one bobcat for a context with StandardManager (memory only), and contexts with
 * PersistentManager in background mode (maxIdleBackup 1 on a 1-second background tick, the
 * sweep writes) and in write-before-response mode (maxIdleBackup 0, each change durable before
 * its response), each with FileStore and with DataSourceStore on SQLite. Two kinds of request:
 * one that changes its session (a new attribute value each time) and one that only reads it.
 * `--clients` clients, each with its own session, keep-alive HTTP/1.1 from this process.
 *
 *   bun bench/session-durability.ts [--duration 3] [--clients 32] [--runtime bun|deno]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, freePort, option, ROOT, startServer } from "./lib.ts";

const duration = Number(option("--duration", "3"));
const clients = Number(option("--clients", "32"));
const runtime = option("--runtime", "bun");
const work = mkdtempSync(join(tmpdir(), "bobcat-bench-durability-"));
const port = await freePort();

writeFileSync(
  join(work, "app.ts"),
  `export default { fetch(req, ctx) {
  const url = new URL(req.url);
  const s = ctx.getSession();
  if (url.pathname === "/write") s.setAttribute("v", Number(url.searchParams.get("v")));
  return new Response(String(s.getAttribute("v") ?? 0));
} };\n`,
);

const CONTEXTS: Array<[path: string, label: string, manager: string]> = [
  ["/mem", "StandardManager (memory only)", `{ pathname: "" }`],
  [
    "/file-bg",
    "FileStore, background (maxIdleBackup 1)",
    `{ className: PersistentManager, maxIdleBackup: 1, processExpiresFrequency: 1, store: { className: FileStore, directory: bg } }`,
  ],
  [
    "/file-durable",
    "FileStore, write-before-response (0)",
    `{ className: PersistentManager, maxIdleBackup: 0, store: { className: FileStore, directory: durable } }`,
  ],
  [
    "/sqlite-bg",
    "SQLite, background (maxIdleBackup 1)",
    `{ className: PersistentManager, maxIdleBackup: 1, processExpiresFrequency: 1, store: { className: DataSourceStore, dataSourceName: jdbc/sessions } }`,
  ],
  [
    "/sqlite-durable",
    "SQLite, write-before-response (0)",
    `{ className: PersistentManager, maxIdleBackup: 0, store: { className: DataSourceStore, dataSourceName: jdbc/sessions } }`,
  ],
];

const config = join(work, "server.yaml");
writeFileSync(
  config,
  `logging: { level: warn, components: { connector: info } }
server:
  globalNamingResources:
    resources:
      - { name: jdbc/sessions, url: "sqlite:${join(work, "sessions.db")}" }
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        backgroundProcessorDelay: 1
        hosts:
          - name: localhost
            contexts:
${
    CONTEXTS.map(([path, , manager]) => `              - { path: ${path}, handler: app.ts, manager: ${manager} }`).join(
      "\n",
    )
  }
`,
);

const cli = (args: string[]) =>
  runtime === "deno"
    ? [
      bin("deno"),
      "run",
      "-A",
      "--quiet",
      `--config=${join(ROOT, "deno.json")}`,
      join(ROOT, "src/cli/main.ts"),
      ...args,
    ]
    : [bin("bun"), join(ROOT, "src/cli/main.ts"), ...args];

const init = spawnSync(
  cli(["store", "init", "--config", config])[0]!,
  cli(["store", "init", "--config", config]).slice(1),
  { encoding: "utf8" },
);
if (init.status !== 0) throw new Error(`bobcat store init failed:\n${init.stdout}${init.stderr}`);

/** Requests per second of `clients` clients, each on its own session, for `duration` seconds. */
async function load(path: string, write: boolean): Promise<number> {
  const base = `http://127.0.0.1:${port}${path}`;
  const cookies = await Promise.all(Array.from({ length: clients }, async () => {
    const res = await fetch(`${base}/write?v=0`);
    await res.arrayBuffer();
    return res.headers.getSetCookie()[0]!.split(";")[0]!;
  }));
  let done = 0;
  let v = 0;
  const end = performance.now() + duration * 1000;
  const started = performance.now();
  await Promise.all(cookies.map(async (cookie) => {
    while (performance.now() < end) {
      const res = await fetch(write ? `${base}/write?v=${++v}` : `${base}/read`, { headers: { cookie } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
      done++;
    }
  }));
  return done / ((performance.now() - started) / 1000);
}

const { p: server } = await startServer(cli(["run", "--config", config, "--base", work]));
const rows: Array<[string, number, number]> = [];
try {
  for (const [path, label] of CONTEXTS) {
    await load(path, true); // warm-up
    rows.push([label, await load(path, true), await load(path, false)]);
  }
} finally {
  server.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}

const cores = navigator.hardwareConcurrency;
console.log(
  `\nsession durability, bobcat on ${runtime}, ${clients} clients (one session each), keep-alive HTTP/1.1, ${duration} s per figure, ${cores} cores shared with the client\n`,
);
console.log("| manager | changing requests/s | reading requests/s |\n|---|---:|---:|");
for (const [label, writes, reads] of rows) {
  console.log(
    `| ${label} | ${Math.round(writes).toLocaleString("en-US")} | ${Math.round(reads).toLocaleString("en-US")} |`,
  );
}
