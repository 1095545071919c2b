#!/usr/bin/env bun
/**
 * Probe: what bobcat's whole Bun back-end path costs per request in JavaScript, in-process: the
 * `fetch` function bobcat hands Bun.serve (src/runtime/bun.ts: the connection object, the
 * Connection: close check, the connector pipeline, the engine's boundary, mapping and metrics,
 * the handler and its Response) called in a loop with ready-made requests, against a raw
 * handler that makes the same Response, and one that also reads what bobcat's boundary must
 * (the URL, the Host and Connection headers, the method, two clock readings). The requests are
 * built once (`new Request` with a Host header), so the runtime's first reads of `req.url` and
 * `req.headers` on a request Bun.serve hands over (a URL parse and a copy of the headers,
 * bench/probes/bun-request-getters.ts) are not in these figures: only the JavaScript, its calls
 * into the runtime and its garbage. Rounds interleaved; CPU ns per request (the thread's CPU
 * time, which other work on the machine does not inflate as it does wall time), the median and
 * the least of the rounds.
 *
 *   bun bench/probes/bun-fetch-path.ts [--rounds 7] [--iterations 200000] [--before REF]
 *
 * bobcat is started from this checkout (a plain HTTP connector and the hello handler of
 * bench/https-hello.ts) with Bun.serve wrapped to keep the options it was given; the server
 * listens, but nothing connects. --before REF adds the bobcat of git REF (its src/ exported next
 * to this checkout's node_modules) the same way, so before and after come from one run.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, median, option, ROOT } from "../lib.ts";

const rounds = Number(option("--rounds", "7"));
const iterations = Number(option("--iterations", "200000"));
const before = option("--before", "");

type Fetch = (req: Request, srv: unknown) => Response | Promise<Response>;
const work = mkdtempSync(join(tmpdir(), "bobcat-fetch-path-"));
writeFileSync(
  join(work, "hello.ts"),
  `const body = "Hello, world";\nexport default { fetch: () => new Response(body, { headers: { "content-type": "text/plain" } }) };\n`,
);

/** The fetch functions Bun.serve is given from now on. */
const captured: Fetch[] = [];
const bun = globalThis.Bun as unknown as { serve: (o: Record<string, unknown>) => unknown };
const realServe = bun.serve.bind(bun);
bun.serve = (o) => {
  captured.push(o.fetch as Fetch);
  return realServe(o);
};

/** A bobcat from the src/ of `dir`, listening on `port`; its fetch function. */
async function bobcatFetch(dir: string, port: number): Promise<{ fetch: Fetch; stop: () => Promise<void> }> {
  await import(join(dir, "src/config/yaml-reader.ts")); // (the CLI loads it)
  const { loadConfigText } = await import(join(dir, "src/config/load.ts"));
  const { BobcatServer } = await import(join(dir, "src/runtime/server.ts"));
  const file = join(work, `server-${port}.yaml`);
  writeFileSync(
    file,
    `logging: { level: warn }
server:
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: hello.ts
`,
  );
  const n = captured.length;
  const server = await new BobcatServer(loadConfigText(file, readFileSync(file, "utf8"), { baseDir: work })).start();
  if (captured.length !== n + 1) throw new Error("bobcat did not call Bun.serve once");
  return { fetch: captured[n]!, stop: () => server.stop() };
}

function exportRef(ref: string): string {
  const dir = join(work, "before");
  const tar = spawnSync("git", ["-C", ROOT, "archive", ref, "src", "package.json"], { maxBuffer: 1 << 30 });
  if (tar.status !== 0) throw new Error(`git archive ${ref}: ${tar.stderr}`);
  spawnSync("mkdir", ["-p", dir]);
  spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

const sides: Array<{ name: string; port: number; fetch: Fetch; stop?: () => Promise<void> }> = [];
const body = "Hello, world";
sides.push({
  name: "raw",
  port: 8080,
  fetch: (_req) => new Response(body, { headers: { "content-type": "text/plain" } }),
});
sides.push({
  name: "raw + the boundary's reads",
  port: 8080,
  fetch: (req) => {
    if (req.url.length === 0 || req.headers.get("host") === "") throw new Error();
    if (req.headers.get("connection") === "-" || req.method === "TRACE") throw new Error();
    if (performance.now() > performance.now()) throw new Error();
    return new Response(body, { headers: { "content-type": "text/plain" } });
  },
});
{
  const port = await freePort();
  sides.push({ name: "bobcat", port, ...(await bobcatFetch(ROOT, port)) });
}
if (before) {
  const port = await freePort();
  sides.push({ name: `bobcat ${before}`, port, ...(await bobcatFetch(exportRef(before), port)) });
}

// What Bun.serve passes as the second argument: bobcat asks it for the peer address only on demand.
const srv = { requestIP: () => ({ address: "127.0.0.1", port: 50000 }) };
const BATCH = 1000;
const requests = (port: number) =>
  Array.from(
    { length: BATCH },
    () => new Request(`http://localhost:${port}/`, { headers: { host: `localhost:${port}` } }),
  );

/** CPU ns per request (this thread's CPU time, not wall time: other work on the machine preempts it). */
function once(f: Fetch, reqs: Request[]): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) {
    const res = f(reqs[i % BATCH]!, srv);
    if (i % BATCH === 0 && (res as Response).status !== 200) throw new Error(`status ${(res as Response).status}`);
  }
  const used = process.cpuUsage(t0);
  return ((used.user + used.system) * 1e3) / iterations;
}

const results = new Map<string, number[]>();
try {
  const reqs = sides.map((s) => requests(s.port));
  for (let r = -1; r < rounds; r++) {
    sides.forEach((s, i) => {
      const ns = once(s.fetch, reqs[i]!);
      if (r >= 0) results.set(s.name, [...(results.get(s.name) ?? []), ns]);
    });
  }
} finally {
  for (const s of sides) await s.stop?.();
  rmSync(work, { recursive: true, force: true });
}
console.log(`${iterations} requests per round, ${rounds} rounds, load ${readFileSync("/proc/loadavg", "utf8").trim()}`);
// The least of the rounds as well as the median: interference from other work only adds.
console.log("| fetch | CPU ns per request (median) | − raw | least | − raw | per round |");
console.log("|---|---:|---:|---:|---:|---|");
const raw = results.get("raw")!;
for (const s of sides) {
  const rs = results.get(s.name)!;
  console.log(
    `| ${s.name} | ${median(rs).toFixed(0)} | ${(median(rs) - median(raw)).toFixed(0)} | ${
      Math.min(...rs).toFixed(0)
    } | ${(Math.min(...rs) - Math.min(...raw)).toFixed(0)} | ${rs.map((x) => x.toFixed(0)).join(" / ")} |`,
  );
}
process.exit(0);
