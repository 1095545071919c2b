#!/usr/bin/env bun
/**
 * The cells one request leaves in JavaScriptCore's heap, by kind, in-process (Bun): the requests
 * of bench/side-by-side.ts's application through a ConnectorPipeline's synchronous path (as
 * Bun.serve's fetch calls it, without sockets), after a warm-up and a full collection, then
 * --requests more with none in between (too few to set one off), and bun:jsc heapStats'
 * objectTypeCounts before and after them divided by their number — garbage and what is kept
 * alike (a new session keeps one Object). Per request, this probe's own Request (with its
 * Headers and init objects: 2 Objects) and connection object (1 Object) are in the figures.
 * What size class each object lands in decides whether it shares the blocks of the sessions
 * (80 bytes): see tests/core/request-sessions.test.ts.
 *
 *   bun bench/probes/request-cells.ts [--path /create] [--requests 1000] [--src DIR]
 *
 * --src: another checkout's src/ (git archive REF src | tar -x -C DIR).
 */
import { heapStats } from "bun:jsc";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { option, ROOT, SIDE_BY_SIDE_APP } from "../lib.ts";

const path = option("--path", "/create");
const requests = Number(option("--requests", "1000"));
const src = resolve(option("--src", join(ROOT, "src")));

const { loadConfigText } = await import(join(src, "config/load.ts"));
const { Engine } = await import(join(src, "core/engine.ts"));
const { ConnectorPipeline } = await import(join(src, "runtime/connector.ts"));
const { SERVER_PLATFORM } = await import(join(src, "runtime/server-platform.ts"));

const base = mkdtempSync(join(tmpdir(), "bobcat-request-cells-"));
try {
  writeFileSync(join(base, "app.js"), SIDE_BY_SIDE_APP);
  const config = loadConfigText(
    join(base, "server.yaml"),
    `server:
  services:
    - connectors: [{ port: 8443, SSLEnabled: false, scheme: https, secure: true }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.js
                manager: { pathname: "" }
`,
    { baseDir: base, env: {} },
  );
  const service = config.server.services[0]!;
  const engine = new Engine(service, { strictServletCompliance: false, baseDir: base, platform: SERVER_PLATFORM });
  await engine.start();
  const pipeline = new ConnectorPipeline(service.connectors[0]!, engine);
  const handleSync = pipeline.handleSync;
  /** What the Bun back-end passes: the peer address looked up on demand. */
  class Connection {
    private ip: undefined = undefined;
    constructor(readonly server: null, readonly req: Request, readonly tls?: undefined) {}
    get remoteAddr(): string {
      return "127.0.0.1";
    }
    get remotePort(): number {
      return 50000;
    }
  }
  const request = (p: string) => {
    const req = new Request(`https://127.0.0.1:8443${p}`, { headers: { host: "127.0.0.1:8443" } });
    const res = handleSync(req, new Connection(null, req, undefined));
    if (!(res instanceof Response)) throw new Error(`${p}: not answered synchronously`);
    return res;
  };
  for (let i = 0; i < 20000; i++) request("/");
  for (let i = 0; i < 20000; i++) request(path);
  Bun.gc(true);
  const before = heapStats().objectTypeCounts;
  for (let i = 0; i < requests; i++) request(path);
  const after = heapStats().objectTypeCounts;
  const rows = Object.keys(after)
    .map((k) => [k, ((after[k] ?? 0) - (before[k] ?? 0)) / requests] as const)
    .filter(([, d]) => Math.abs(d) >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  console.log(`${path}, ${requests} requests, src ${src}: cells per request by kind`);
  console.log(rows.map(([k, d]) => `${k} ${d.toFixed(2)}`).join(", "));
  await engine.stop();
} finally {
  rmSync(base, { recursive: true, force: true });
}
