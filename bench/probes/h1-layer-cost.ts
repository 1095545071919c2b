#!/usr/bin/env bun
/**
 * Probe: the CPU bobcat's HTTP/1.1 layer (src/runtime/h1-server.ts) spends per keep-alive
 * request, without TLS, sockets or the engine: a fake transport that takes every write, the
 * request head Bun's fetch sends, a hello handler (`new Response("Hello, world", …)`), one
 * request at a time on one connection. What is left of a request on Bun.listen beyond the
 * socket write and the engine (bench/mtls.ts measures the whole server).
 *
 *   bun bench/probes/h1-layer-cost.ts [--baseline DIR] [--requests 200000] [--rounds 5]
 *
 * --baseline: another checkout of bobcat whose layer is measured in the same run, rounds
 * alternating (each round in its own process, so neither warms the other's JIT).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { bin, median, option, ROOT } from "../lib.ts";

if (process.argv[2] === "--child") {
  const [root, requests] = [process.argv[3]!, Number(process.argv[4])];
  const { serveH1On } = await import(join(root, "src/runtime/h1-server.ts"));
  const head = Buffer.from(
    "GET / HTTP/1.1\r\nhost: localhost:8443\r\nconnection: keep-alive\r\nuser-agent: Bun/1.4.5\r\naccept: */*\r\naccept-encoding: gzip, deflate, br, zstd\r\n\r\n",
    "latin1",
  );
  let writes = 0;
  let ended: (() => void) | undefined;
  const transport = {
    remoteAddress: "127.0.0.1",
    remotePort: 40000,
    destroyed: false,
    write: () => (writes++, true),
    cork() {},
    uncork() {},
    end() {},
    destroy() {},
    pause() {},
    resume() {},
  };
  const headers = { headers: { "content-type": "text/plain" } };
  const conn = serveH1On(transport, {
    scheme: "https",
    handle: () => new Response("Hello, world", headers),
    readTimeoutMs: 0,
    maxHeadSize: 16384,
    started() {},
    ended: () => ended?.(),
    tls: () => undefined,
  });
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      let done = false;
      ended = () => (done = true);
      conn.data(head);
      // A response that is not written at once (a body read through its stream) ends later.
      if (!done) await new Promise<void>((r) => (ended = r));
    }
  };
  await run(20000);
  writes = 0;
  const c0 = process.cpuUsage();
  await run(requests);
  const c = process.cpuUsage(c0);
  if (writes !== requests) throw new Error(`${writes} responses for ${requests} requests`);
  console.log(JSON.stringify({ usPerRequest: (c.user + c.system) / requests }));
  process.exit(0);
}

const baseline = option("--baseline", "");
const requests = Number(option("--requests", "200000"));
const rounds = Number(option("--rounds", "5"));
const roots: Array<[string, string]> = [
  ["this checkout", ROOT],
  ...(baseline ? [[baseline, baseline] as [string, string]] : []),
];
const results = new Map<string, number[]>(roots.map(([label]) => [label, []]));
for (let round = 0; round < rounds; round++) {
  for (const [label, root] of round % 2 ? [...roots].reverse() : roots) {
    const r = spawnSync(bin("bun"), [import.meta.path, "--child", root, String(requests)], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${label}: ${r.stderr}`);
    results.get(label)!.push(JSON.parse(r.stdout.trim().split("\n").pop()!).usPerRequest);
  }
}
console.log(
  `${requests} keep-alive hello requests per round, ${rounds} rounds, CPU µs per request (median; min–max)\n`,
);
console.log("| layer | µs per request | rounds |");
console.log("|---|---:|---:|");
for (const [label] of roots) {
  const xs = results.get(label)!;
  console.log(`| ${label} | ${median(xs).toFixed(2)} | ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)} |`);
}
