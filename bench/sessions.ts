#!/usr/bin/env bun
/**
 * Sessions, measured side by side in one run:
 *  1. HTTPS keep-alive requests per second (wrk) on one bobcat: a handler that uses no
 *     session, one that creates a new session per request, one that reads an existing session.
 *  2. Memory per idle session with 100,000 sessions (two attributes each), in process.
 *  3. Time to persist and reload 100,000 sessions (StandardManager pathname).
 *
 *   bun bench/sessions.ts [--duration 5] [--sessions 100000]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StandardManager } from "../src/session/index.ts";
import { freePort, option, ROOT } from "./lib.ts";

const root = ROOT;
const opt = option;
const duration = Number(opt("--duration", "5"));
const count = Number(opt("--sessions", "100000"));
const pki = join(root, "tests/fixtures/pki");
const work = mkdtempSync(join(tmpdir(), "bobcat-bench-sessions-"));

// 1. Throughput.
const port = await freePort();
writeFileSync(
  join(work, "app.ts"),
  `export default { fetch(req, ctx) {
  const path = new URL(req.url).pathname;
  if (path === "/none") return new Response("no session");
  const s = ctx.getSession(path === "/create");
  if (path === "/create") { s.setAttribute("user", "u" + s.id.slice(0, 4)); s.setAttribute("n", 1); }
  return new Response(s ? String(s.getAttribute("user")) : "none");
} };\n`,
);
writeFileSync(
  join(work, "server.yaml"),
  `logging: { level: warn, components: { connector: info } }
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${join(pki, "localhost-rsa.pem")}
                  certificateKeyFile: ${join(pki, "localhost-rsa-key.pem")}
                  certificateChainFile: ${join(pki, "intermediate.pem")}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.ts
                manager: { pathname: "" }
`,
);
const server = spawn(join(root, "node_modules/.bin/bun"), [
  join(root, "src/cli/main.ts"),
  "run",
  "--config",
  join(work, "server.yaml"),
], { stdio: ["ignore", "ignore", "pipe"] });
let log = "";
server.stderr!.on("data", (d) => (log += d));
for (let i = 0; i < 200 && !log.includes("listening on"); i++) await Bun.sleep(50);
const first = await fetch(
  `https://localhost:${port}/create`,
  { tls: { ca: await Bun.file(join(pki, "ca.pem")).text() } } as RequestInit,
);
const cookie = first.headers.getSetCookie()[0]!.split(";")[0]!;
const wrk = (path: string, extra: string[] = []) => {
  spawnSync("wrk", ["-t1", "-c8", "-d1s", ...extra, `https://127.0.0.1:${port}${path}`]);
  const r = spawnSync("wrk", ["-t1", "-c32", `-d${duration}s`, ...extra, `https://127.0.0.1:${port}${path}`], {
    encoding: "utf8",
  });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
};
const rows: Array<[string, number]> = [];
try {
  rows.push(["no session", wrk("/none")]);
  rows.push(["existing session (cookie)", wrk("/read", ["-H", `Cookie: ${cookie}`])]);
  rows.push(["new session per request", wrk("/create")]);
} finally {
  server.kill("SIGKILL");
}
console.log(`1. HTTPS keep-alive, wrk -t1 -c32 -d${duration}s, Bun`);
console.log("| requests | req/s | ratio to no session |\n|---|---|---|");
for (const [name, rps] of rows) console.log(`| ${name} | ${rps.toFixed(0)} | ${(rps / rows[0]![1]).toFixed(2)} |`);

// 2. Memory per idle session.
const gc = () => {
  Bun.gc(true);
  return process.memoryUsage().heapUsed;
};
const manager = new StandardManager({ pathname: "SESSIONS.ser", workDir: work, name: "/Catalina/localhost/bench" });
await manager.start();
const before = gc();
for (let i = 0; i < count; i++) {
  const s = manager.createSession();
  s.setAttribute("user", `user${i}`);
  s.setAttribute("cart", { items: [i, i + 1], total: i * 1.5 });
}
const perSession = (gc() - before) / count;
console.log(`\n2. Memory: ${count} idle sessions with 2 attributes: ${perSession.toFixed(0)} bytes per session (heap)`);

// 3. Persist and reload.
let t = performance.now();
await manager.stop();
const persistMs = performance.now() - t;
const size = statSync(join(work, "SESSIONS.ser")).size;
const again = new StandardManager({ pathname: "SESSIONS.ser", workDir: work, name: "/Catalina/localhost/bench" });
t = performance.now();
await again.start();
const reloadMs = performance.now() - t;
console.log(
  `\n3. Persist ${count} sessions: ${persistMs.toFixed(0)} ms (${(size / 1e6).toFixed(1)} MB); reload: ${
    reloadMs.toFixed(0)
  } ms; sessions back: ${again.listSessionIds().length}`,
);
await again.stop();
rmSync(work, { recursive: true, force: true });
