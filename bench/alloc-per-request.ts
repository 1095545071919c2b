#!/usr/bin/env bun
/**
 * Bytes of JavaScript heap allocated per request (Bun only): bench/side-by-side.ts's
 * application through bobcat's `Engine.handleSync` (a server's engine, request metrics on) and
 * bench/raw-serve.ts's handler, in-process, each case and side in a process of its own under
 * `BUN_JSC_logGC=1`: the bytes JavaScriptCore reports as allocated at each collection the
 * requests set off, summed, after a full collection and a warm-up, over `--requests` requests;
 * the cycle still open at the end is closed with objects of a known size (bun:jsc
 * `estimateShallowMemoryUsageOf`), a marker line after every 2,000 of them, and the first
 * collection after the requests counted less the fillers before it (± 1,000 fillers).
 *
 *   bun bench/alloc-per-request.ts [--requests 2000000] [--before REF] [--src DIR]
 *                                  [--only hello,new,existing] [--rounds 1]
 *
 * `--before REF` adds the bobcat of git REF as a third side (rounds interleaved).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, option, ROOT, SIDE_BY_SIDE_APP } from "./lib.ts";

const CASES = ["hello", "new", "existing"] as const;
/** Fillers per marker when closing the last cycle. */
const FILL = 2000;
type Case = (typeof CASES)[number];
const PATHS: Record<Case, string> = { hello: "/", new: "/create", existing: "/read" };

const YAML = `server:
  services:
    - connectors: [{ port: 8443 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.ts
                manager: { pathname: "" }
`;

if (process.argv[2] === "--child") await child(process.argv[3] as Case, process.argv[4]!, process.argv[5]!);
else await parent();

/** One side and case: warm up, collect, mark, run, mark. */
async function child(which: Case, side: string, base: string): Promise<void> {
  const n = Number(process.env.REQUESTS);
  const origin = "https://localhost:8443";
  const BATCH = 1000;
  const batch = (path: string, headers: Record<string, string> = {}) =>
    Array.from(
      { length: BATCH },
      () => new Request(origin + path, { headers: { host: "localhost:8443", ...headers } }),
    );
  let handle: (req: Request) => Response;
  if (side === "raw") {
    const { rawServeApp } = await import(join(ROOT, "bench/raw-serve.ts"));
    handle = rawServeApp().handle;
  } else {
    const dir = side;
    await import(join(dir, "config/yaml-reader.ts"));
    const { loadConfigText } = await import(join(dir, "config/load.ts"));
    const { Engine } = await import(join(dir, "core/engine.ts"));
    const { SERVER_PLATFORM } = await import(join(dir, "runtime/server-platform.ts"));
    const { RequestMetrics } = await import(join(dir, "core/metrics.ts"));
    const engine = new Engine(
      loadConfigText(join(base, "server.yaml"), YAML, { baseDir: base, env: {} }).server.services[0],
      {
        strictServletCompliance: false,
        baseDir: base,
        platform: SERVER_PLATFORM,
        requestMetrics: new RequestMetrics(),
      },
    );
    await engine.start({ timer: false });
    const connector = { name: "c", port: 8443, scheme: "https", secure: true, redirectPort: 8443 };
    const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };
    handle = (req) => engine.handleSync(req, connector, conn) as Response;
  }
  let reqs = batch(PATHS[which]);
  if (which === "existing") {
    const cookie = handle(batch("/create")[0]!).headers.get("set-cookie")!.split(";")[0]!;
    reqs = batch("/read", { cookie });
  }
  const check = (res: Response) => {
    if (res.status !== 200 || (which === "new") !== res.headers.has("set-cookie")) {
      throw new Error(`unexpected response ${res.status}`);
    }
  };
  for (let i = 0; i < 200_000; i++) handle(reqs[i % BATCH]!);
  Bun.gc(true);
  const { estimateShallowMemoryUsageOf } = await import("bun:jsc");
  const say = (line: string) => writeSync(2, line + "\n");
  say("@@start");
  for (let i = 0; i < n; i++) {
    const res = handle(reqs[i % BATCH]!);
    if (i % BATCH === 0) check(res);
  }
  // Closes the cycle the requests left open: fillers of a known size, a marker after each
  // FILL of them, until the collector asks for a collection (the parent takes the fillers out).
  // (Stored in a ring: an object nothing keeps could be optimised away.)
  const ring = new Array<unknown>(1024).fill(null);
  say(`@@end ${estimateShallowMemoryUsageOf({ a: 1, b: 2, c: 3, d: 4 })}`);
  for (let k = 1; k <= 5_000; k++) {
    for (let i = 0; i < FILL; i++) ring[i & 1023] = { a: i, b: k, c: i, d: k };
    say(`@@fill ${k}`);
  }
}

async function parent(): Promise<void> {
  const requests = Number(option("--requests", "2000000"));
  const rounds = Number(option("--rounds", "1"));
  const before = option("--before", "");
  const only = option("--only", "").split(",").filter(Boolean) as Case[];
  const src = resolve(option("--src", join(ROOT, "src")));
  const base = mkdtempSync(join(tmpdir(), "bobcat-bench-alloc-"));
  writeFileSync(join(base, "app.ts"), SIDE_BY_SIDE_APP);
  const sides: Array<[string, string]> = [["raw", "raw"], ["bobcat", src]];
  if (before) {
    const dir = join(base, "before");
    const tar = spawnSync("git", ["-C", ROOT, "archive", before, "src", "package.json"], { maxBuffer: 1 << 30 });
    if (tar.status !== 0) throw new Error(`git archive ${before}: ${tar.stderr}`);
    spawnSync("mkdir", ["-p", dir]);
    spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    sides.push([before, join(dir, "src")]);
  }
  const cases = only.length > 0 ? only : [...CASES];
  const results = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      for (const [name, dir] of sides) {
        const p = spawnSync(process.execPath, [import.meta.path, "--child", c, dir, base], {
          env: { ...process.env, BUN_JSC_logGC: "1", REQUESTS: String(requests) },
          maxBuffer: 1 << 30,
          encoding: "utf8",
        });
        const err = p.stderr;
        const a = err.indexOf("@@start");
        const b = err.indexOf("@@end");
        if (p.status !== 0 || a < 0 || b < 0) throw new Error(`${name} ${c}: exit ${p.status}\n${err.slice(-2000)}`);
        let bytes = 0;
        for (const m of err.slice(a, b).matchAll(/bytes allocated this cycle: (\d+)/g)) bytes += Number(m[1]);
        // The open cycle: the first collection after the end counts the requests' rest and the fillers.
        const filler = Number(/^@@end (\d+)/m.exec(err.slice(b))![1]);
        const closing = /bytes allocated this cycle: (\d+)/.exec(err.slice(b));
        if (!closing) throw new Error(`${name} ${c}: no collection after the requests`);
        const fills = [...err.slice(b, b + closing.index).matchAll(/@@fill (\d+)/g)];
        const chunks = fills.length > 0 ? Number(fills[fills.length - 1]![1]) + 0.5 : 0.5;
        bytes += Number(closing[1]) - chunks * FILL * filler;
        const key = `${c}|${name}`;
        results.set(key, [...(results.get(key) ?? []), bytes / requests]);
      }
    }
  }
  console.log(`${requests} requests per side and case, ${rounds} round(s); bytes allocated per request (median)`);
  console.log(`| case | ${sides.map(([n]) => n).join(" | ")} |`);
  console.log(`|---|${sides.map(() => "---:").join("|")}|`);
  for (const c of cases) {
    console.log(`| ${c} | ${sides.map(([n]) => median(results.get(`${c}|${n}`)!).toFixed(0)).join(" | ")} |`);
  }
  rmSync(base, { recursive: true, force: true });
}
