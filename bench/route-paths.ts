#!/usr/bin/env bun
/**
 * What the request boundary (Host check, path decoding and normalisation) costs per request:
 * Engine.handle in-process, no sockets, for a handler in the ROOT context and in a sub-context,
 * with a plain path, a path with escapes and dot segments, and a static file. Rounds are
 * interleaved and the median is printed, in requests per second of one core.
 *
 *   bun bench/route-paths.ts [--rounds 5] [--iterations 200000] [--src DIR]
 *
 * --src runs the same requests against another checkout's src/ (e.g. the commit before the
 * boundary existed: `git archive <commit> | tar -x -C /tmp/old`, then --src /tmp/old/src).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, option, ROOT } from "./lib.ts";

const rounds = Number(option("--rounds", "5"));
const iterations = Number(option("--iterations", "200000"));
const src = resolve(option("--src", join(ROOT, "src")));

const { loadConfigText } = await import(join(src, "config/load.ts"));
const boundary = await import(join(src, "core/request-target.ts")).catch(() => null);
const { Engine } = await import(join(src, "core/engine.ts"));

const base = mkdtempSync(join(tmpdir(), "bobcat-bench-paths-"));
mkdirSync(join(base, "site"));
writeFileSync(join(base, "site", "a.txt"), "A");
writeFileSync(join(base, "app.ts"), `export default { fetch(req) { return new Response("ok"); } };`);
const config = loadConfigText(
  join(base, "server.yaml"),
  `server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.ts
              - path: /sub
                handler: app.ts
              - path: /static
                docBase: ${join(base, "site")}
`,
  { baseDir: base, env: {} },
);
const engine = new Engine(config.server.services[0]);
await engine.start();
const connector = { name: "http", port: 8080, scheme: "http", secure: false, redirectPort: 8443 };
const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };

const cases: Array<[string, string, number]> = [
  ["ROOT handler, plain path", "http://localhost:8080/hello/world", iterations],
  ["sub-context handler", "http://localhost:8080/sub/hello", iterations],
  ["escapes, params and dot segments", "http://localhost:8080/a/%62/./c;x=1/../d%20e", iterations],
  ["static file", "http://localhost:8080/static/a.txt", Math.max(1000, Math.round(iterations / 20))],
];

async function once(url: string, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const req = new Request(url, { headers: { host: "localhost:8080" } });
    const res = engine.handle(req, connector, conn);
    const r = res instanceof Response ? res : await res;
    if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
    if (r.body) await r.arrayBuffer();
  }
  return n / ((performance.now() - t0) / 1000);
}

const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (const [, url, n] of cases) await once(url, Math.min(n, 5000)); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [name, url, n] of cases) results.get(name)!.push(await once(url, n));
}
console.log(`src: ${src}`);
if (boundary) {
  // The boundary alone (Host check, target split, path normalisation), without Request objects.
  const req = new Request("http://localhost:8080/hello/world/index.html?x=1", { headers: { host: "localhost:8080" } });
  const href = req.url;
  const per = (f: () => unknown) => {
    const n = 1_000_000;
    for (let i = 0; i < 100_000; i++) f();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    return ((performance.now() - t0) * 1e6) / n;
  };
  const plain = median(Array.from({ length: rounds }, () =>
    per(() => {
      const t = boundary.readTarget(href, req.headers, conn);
      if (t.ok) boundary.normalizePath(t.rawPath);
    })));
  const messy = median(
    Array.from({ length: rounds }, () => per(() => boundary.normalizePath("/a/%62/./c;x=1/../d%20e"))),
  );
  console.log(`${"boundary alone, plain path".padEnd(36)} ${plain.toFixed(0).padStart(10)} ns/request`);
  console.log(`${"normalizePath, escapes and dots".padEnd(36)} ${messy.toFixed(0).padStart(10)} ns/request`);
}
for (const [name, values] of results) {
  console.log(
    `${name.padEnd(36)} ${Math.round(median(values)).toLocaleString("en").padStart(10)} req/s (median of ${rounds})`,
  );
}
await engine.stop();
rmSync(base, { recursive: true, force: true });
