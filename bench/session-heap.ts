#!/usr/bin/env bun
/**
 * What one session costs in heap, in-process under Bun: N sessions with two attributes (user,
 * n) made by each side, a full GC (Bun.gc(true)) before and after, and the growth of
 * bun:jsc's heapSize (live cells), heapCapacity (what the heap holds for them: live cells and the
 * free cells of the blocks they share with garbage), RSS and object counts divided by N. Each side runs in a fresh process.
 *
 *   raw Map, data object   bench/raw-sessions.ts's layout: id → { created, lastAccessed, data: { user, n } }
 *   raw Map, one object    bench/raw-serve.ts's layout: id → { user, n, created, lastAccessed }
 *   bobcat manager         StandardManager.createSession + setAttribute × 2 + endAccess
 *   raw handler            bench/raw-sessions.ts's handler, a /create Request per session, in-process
 *   bobcat handler         an Engine's handleSync, a /create Request per session (the request path
 *                          of a server, without sockets), bench/sessions.ts's application
 *
 *   bun bench/session-heap.ts [--sessions 100000] [--rounds 3] [--src DIR]
 *
 * --src measures the bobcat of another checkout's src/ (git archive REF src | tar -x -C DIR).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, option, ROOT } from "./lib.ts";

const count = Number(option("--sessions", "100000"));
const rounds = Number(option("--rounds", "3"));
const src = resolve(option("--src", join(ROOT, "src")));
const side = option("--side", "");

const SIDES = ["raw Map, data object", "raw Map, one object", "bobcat manager", "raw handler", "bobcat handler"];

interface Heap {
  heapSize: number;
  heapCapacity: number;
  objectCount: number;
  objectTypeCounts: Record<string, number>;
}

type Measured = { bytes: number; capacity: number; rss: number; objects: number; types: Record<string, number> };

async function measure(name: string): Promise<Measured> {
  const { heapStats } = (await import("bun:jsc")) as unknown as { heapStats(): Heap };
  const make = await maker(name);
  // Warm the code path (a few sessions, kept: they count in neither snapshot).
  make(1000);
  Bun.gc(true);
  const a = heapStats();
  const rssA = process.memoryUsage().rss;
  const keep = make(count);
  Bun.gc(true);
  const b = heapStats();
  const rssB = process.memoryUsage().rss;
  if (keep() !== count + 1000) throw new Error(`${name}: ${keep()} sessions, expected ${count + 1000}`);
  const types: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.objectTypeCounts)) {
    const d = v - (a.objectTypeCounts[k] ?? 0);
    if (Math.abs(d) >= count / 10) types[k] = Math.round((d / count) * 100) / 100;
  }
  return {
    bytes: (b.heapSize - a.heapSize) / count,
    // What the heap keeps for them after the GC: live cells plus the free cells of the blocks they
    // share with the garbage made alongside them (JavaScriptCore does not move objects), and RSS.
    capacity: (b.heapCapacity - a.heapCapacity) / count,
    rss: (rssB - rssA) / count,
    objects: (b.objectCount - a.objectCount) / count,
    types,
  };
}

/** A function making `n` sessions on `name`'s side; it returns one telling how many that side holds. */
async function maker(name: string): Promise<(n: number) => () => number> {
  const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, "0"));
  const newId = () => {
    let id = "";
    for (const b of crypto.getRandomValues(new Uint8Array(16))) id += HEX[b];
    return id;
  };
  if (name === "raw Map, data object" || name === "raw Map, one object") {
    const map = new Map<string, unknown>();
    const nested = name === "raw Map, data object";
    return (n) => {
      for (let i = 0; i < n; i++) {
        const id = newId();
        const now = Date.now();
        const user = "u" + id.slice(0, 4);
        map.set(
          id,
          nested ? { created: now, lastAccessed: now, data: { user, n: 1 } } : {
            user,
            n: 1,
            created: now,
            lastAccessed: now,
          },
        );
      }
      return () => map.size;
    };
  }
  if (name === "bobcat manager") {
    const { StandardManager } = await import(join(src, "session/standard-manager.ts"));
    const m = new StandardManager({ name: "/" });
    await m.start();
    return (n) => {
      for (let i = 0; i < n; i++) {
        const s = m.createSession();
        s.setAttribute("user", "u" + s.id.slice(0, 4));
        s.setAttribute("n", 1);
        s.endAccess();
      }
      return () => m.sessionCount;
    };
  }
  const create = () => new Request("http://localhost:8080/create", { headers: { host: "localhost:8080" } });
  if (name === "raw handler") {
    const { rawSessionApp } = await import("./raw-sessions.ts");
    const app = rawSessionApp(false);
    return (n) => {
      for (let i = 0; i < n; i++) app.handle(create());
      return () => app.sessions.size;
    };
  }
  const base = mkdtempSync(join(tmpdir(), "bobcat-bench-session-heap-"));
  process.on("exit", () => rmSync(base, { recursive: true, force: true }));
  writeFileSync(
    join(base, "app.ts"),
    `export default { fetch(req, ctx) {
  const s = ctx.getSession(true);
  s.setAttribute("user", "u" + s.id.slice(0, 4));
  s.setAttribute("n", 1);
  return new Response(String(s.getAttribute("user")));
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
  const { loadConfigText } = await import(join(src, "config/load.ts"));
  const { Engine } = await import(join(src, "core/engine.ts"));
  const { SERVER_PLATFORM } = await import(join(src, "runtime/server-platform.ts"));
  const { RequestMetrics } = await import(join(src, "core/metrics.ts"));
  const engine = new Engine(
    loadConfigText(join(base, "server.yaml"), yaml, { baseDir: base, env: {} }).server.services[0],
    {
      strictServletCompliance: false,
      baseDir: base,
      platform: SERVER_PLATFORM,
      requestMetrics: new RequestMetrics(),
    },
  );
  await engine.start({ timer: false });
  const connector = { name: "c", port: 8080, scheme: "http", secure: false, redirectPort: 8443 };
  const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };
  const manager = engine.contexts[0].sessions.manager;
  return (n) => {
    for (let i = 0; i < n; i++) {
      const res = engine.handleSync(create(), connector, conn) as Response;
      if (i === 0 && !res.headers.has("set-cookie")) throw new Error(`no Set-Cookie (status ${res.status})`);
    }
    return () => manager.sessionCount;
  };
}

if (side) {
  console.log(JSON.stringify(await measure(side)));
} else {
  const results = new Map<string, Measured[]>();
  for (let r = 0; r < rounds; r++) {
    for (const s of SIDES) {
      const out = spawnSync(process.execPath, [
        import.meta.path,
        "--side",
        s,
        "--sessions",
        String(count),
        "--src",
        src,
      ], {
        encoding: "utf8",
      });
      if (out.status !== 0) throw new Error(`${s}: ${out.stderr}`);
      results.set(s, [...(results.get(s) ?? []), JSON.parse(out.stdout.trim().split("\n").pop()!)]);
    }
  }
  console.log(
    `${count} sessions with two attributes, in-process, Bun ${Bun.version}; src ${src}; medians of ${rounds}`,
  );
  console.log(
    "| side | heap per session, bytes | heap capacity per session | RSS per session | objects per session | object kinds per session |",
  );
  console.log("|---|---:|---:|---:|---:|---|");
  for (const s of SIDES) {
    const rs = results.get(s)!;
    const types = Object.entries(rs[rs.length - 1]!.types).map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(
      `| ${s} | ${median(rs.map((x) => x.bytes)).toFixed(1)} | ${median(rs.map((x) => x.capacity)).toFixed(1)} | ${
        median(rs.map((x) => x.rss)).toFixed(1)
      } | ${median(rs.map((x) => x.objects)).toFixed(2)} | ${types} |`,
    );
  }
}
