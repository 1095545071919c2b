#!/usr/bin/env bun
/**
 * What a request that makes a new session (and one that reads it) costs bobcat beyond a raw
 * handler keeping sessions in a Map (bench/raw-sessions.ts's), in-process: no sockets, no TLS,
 * the same Request objects handed to both (as Bun.serve would), rounds interleaved. Prints ns
 * per request and the difference, so `bun --cpu-prof` on this script shows where bobcat's extra
 * time goes without wrk and the network in the profile.
 *
 *   bun bench/session-path.ts [--rounds 5] [--iterations 100000] [--src DIR] [--secure]
 *                             [--only "new session"|"existing session"|"no session"] [--who raw|bobcat]
 *                             [--baseline sessions|serve]
 *
 * --src runs bobcat from another checkout's src/ (git archive REF src | tar -x -C DIR); --before REF
 * adds the bobcat of git REF as a third side, so before/after come from the same run.
 * `--baseline serve` measures what bench/side-by-side.ts does instead: bench/raw-serve.ts's
 * handler against bobcat with side-by-side's application (the path cut out of the URL string,
 * not `new URL`; Content-Type on every response); the default is bench/raw-sessions.ts with
 * bench/sessions.ts's application.
 * Each case runs all its rounds before the next, the new-session case last: sessions made by
 * the new-session rounds pile up in every side (as they do under wrk), and would otherwise be in
 * the heap while the other cases are measured.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, option, ROOT, SIDE_BY_SIDE_APP } from "./lib.ts";
import { rawServeApp } from "./raw-serve.ts";
import { rawSessionApp } from "./raw-sessions.ts";

const rounds = Number(option("--rounds", "5"));
const iterations = Number(option("--iterations", "100000"));
const src = resolve(option("--src", join(ROOT, "src")));
const secure = process.argv.includes("--secure");
const only = option("--only", "");
const who = option("--who", "");
const before = option("--before", "");
const baseline = option("--baseline", "sessions");
if (baseline !== "sessions" && baseline !== "serve") {
  console.error(`--baseline: "sessions" or "serve", not "${baseline}"`);
  process.exit(2);
}

const base = mkdtempSync(join(tmpdir(), "bobcat-bench-session-path-"));
/** REF's src/, exported next to the application (node_modules linked). */
function exportRef(ref: string): string {
  const dir = join(base, "before");
  const tar = spawnSync("git", ["-C", ROOT, "archive", ref, "src", "package.json"], { maxBuffer: 1 << 30 });
  if (tar.status !== 0) throw new Error(`git archive ${ref}: ${tar.stderr}`);
  spawnSync("mkdir", ["-p", dir]);
  spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return join(dir, "src");
}
// bench/sessions.ts's application, or (--baseline serve) bench/side-by-side.ts's.
writeFileSync(
  join(base, "app.ts"),
  baseline === "serve" ? SIDE_BY_SIDE_APP : `export default { fetch(req, ctx) {
  const path = new URL(req.url).pathname;
  if (path === "/none") return new Response("no session");
  const s = ctx.getSession(path === "/create");
  if (path === "/create") { s.setAttribute("user", "u" + s.id.slice(0, 4)); s.setAttribute("n", 1); }
  return new Response(s ? String(s.getAttribute("user")) : "none");
} };\n`,
);
const yaml = `server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.ts
                manager: { pathname: "" }
`;
const scheme = secure ? "https" : "http";
const connector = { name: "c", port: 8080, scheme, secure, redirectPort: 8443 };
const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };

// The raw baseline: bench/raw-sessions.ts's (or raw-serve.ts's) handler and Map, called in-process.
const { handle: raw } = baseline === "serve" ? rawServeApp() : rawSessionApp(secure);

// Requests are made ahead (Bun.serve hands the handler a ready one), a batch reused across rounds.
const origin = `${scheme}://localhost:8080`;
const BATCH = 1000;
const batch = (path: string, headers: Record<string, string> = {}) =>
  Array.from({ length: BATCH }, () => new Request(origin + path, { headers: { host: "localhost:8080", ...headers } }));

/** An engine of the checkout at `dir` (its src/), built as a server builds it: with the request metrics /metrics reads. */
async function engineOf(dir: string) {
  await import(join(dir, "config/yaml-reader.ts")); // (the CLI loads it; so must a script under Deno)
  const { loadConfigText } = await import(join(dir, "config/load.ts"));
  const { Engine } = await import(join(dir, "core/engine.ts"));
  const { SERVER_PLATFORM } = await import(join(dir, "runtime/server-platform.ts"));
  const { RequestMetrics } = await import(join(dir, "core/metrics.ts"));
  const engine = new Engine(
    loadConfigText(join(base, "server.yaml"), yaml, { baseDir: base, env: {} }).server.services[0],
    {
      strictServletCompliance: false,
      baseDir: base,
      platform: SERVER_PLATFORM,
      requestMetrics: new RequestMetrics(),
    },
  );
  await engine.start();
  return engine as {
    handleSync(req: Request, c: unknown, k: unknown): Response | Promise<Response>;
    stop(): Promise<void>;
  };
}
const engines = [await engineOf(src), ...(before ? [await engineOf(exportRef(before))] : [])];
const [bob, bobBefore] = engines.map((e) => (req: Request) => e.handleSync(req, connector, conn) as Response);

function cookieOf(res: Response): string {
  const c = res.headers.get("set-cookie");
  if (!c) throw new Error(`no Set-Cookie (status ${res.status})`);
  return c.split(";")[0]!;
}
type Side = "raw" | "bobcat" | "before";
const handlers: Array<[Side, (req: Request) => Response]> = [["raw", raw], ["bobcat", bob!]];
if (bobBefore) handlers.push(["before", bobBefore]);
const reads: Record<string, Request[]> = {};
for (const [w, f] of handlers) reads[w] = batch("/read", { cookie: cookieOf(f(batch("/create")[0]!)) });

// In the order they run: the new-session case last (see above). raw-serve.ts answers /none with its hello.
const cases = [
  { name: "existing session", reqs: (w: Side) => reads[w]!, check: (r: Response) => r.status === 200 },
  { name: "no session", reqs: () => batch("/none"), check: (r: Response) => r.status === 200 },
  { name: "new session", reqs: () => batch("/create"), check: (r: Response) => r.headers.has("set-cookie") },
];

function once(f: (req: Request) => Response, reqs: Request[], check: (r: Response) => boolean): number {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const res = f(reqs[i % BATCH]!);
    if (i % BATCH === 0 && !check(res)) throw new Error(`unexpected response ${res.status}`);
  }
  return ((performance.now() - t0) * 1e6) / iterations;
}

const results = new Map<string, number[]>();
const chosen = cases.filter((c) => !only || c.name === only);
const sides = handlers.filter(([w]) => !who || w === who);
for (const c of chosen) {
  for (let r = -1; r < rounds; r++) {
    for (const [w, f] of sides) {
      const ns = once(f, c.reqs(w), c.check);
      if (r >= 0) results.set(`${c.name}|${w}`, [...(results.get(`${c.name}|${w}`) ?? []), ns]);
    }
  }
}
console.log(
  `src: ${src}; ${iterations} requests per round, ${rounds} rounds, ${secure ? "secure" : "plain"} connector; ` +
    `baseline bench/raw-${baseline}.ts`,
);
console.log(
  `| case | raw ns/request | bobcat ns/request | bobcat − raw | raw / bobcat |${
    before ? ` bobcat ${before} ns/request | ${before} − raw |` : ""
  }`,
);
console.log(`|---|---:|---:|---:|---:|${before ? "---:|---:|" : ""}`);
for (const c of chosen) {
  const a = median(results.get(`${c.name}|raw`) ?? [NaN]);
  const b = median(results.get(`${c.name}|bobcat`) ?? [NaN]);
  const p = median(results.get(`${c.name}|before`) ?? [NaN]);
  console.log(
    `| ${c.name} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b - a).toFixed(0)} | ${(a / b).toFixed(3)} |${
      before ? ` ${p.toFixed(0)} | ${(p - a).toFixed(0)} |` : ""
    }`,
  );
}
for (const e of engines) await e.stop();
rmSync(base, { recursive: true, force: true });
