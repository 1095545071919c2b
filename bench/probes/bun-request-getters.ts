#!/usr/bin/env bun
/**
 * Probe: what the first read of a Bun.serve request's getters costs, timed inside the handler
 * while wrk (keep-alive, Host as its only header, or --tls) drives it. The first `req.headers`
 * copies every request header into a Headers object and the first `req.url` builds the string;
 * later reads return what was made. bobcat's boundary reads both on every request (the Host
 * header and the path, src/core/request-target.ts), and on Bun the Connection header (bun.ts);
 * a raw hello-world handler reads neither, bench/raw-sessions.ts's /create reads only the URL.
 * Prints ns per read, with the cost of the timing itself (an empty timed call) subtracted.
 *
 *   bun bench/probes/bun-request-getters.ts [--seconds 6] [--tls] [--order host-first|url-first]
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, option, ROOT } from "../lib.ts";

const seconds = Number(option("--seconds", "6"));
const tls = process.argv.includes("--tls");
const order = option("--order", "host-first");
const pki = join(ROOT, "tests/fixtures/pki");

const totals: Record<string, number> = {};
let n = 0;
const time = (k: string, f: () => unknown) => {
  const a = performance.now();
  f();
  totals[k] = (totals[k] ?? 0) + performance.now() - a;
};
const port = await freePort();
const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  ...(tls
    ? {
      tls: {
        cert: readFileSync(join(pki, "localhost-rsa.pem"), "utf8"),
        key: readFileSync(join(pki, "localhost-rsa-key.pem"), "utf8"),
      },
    }
    : {}),
  fetch(req) {
    time("(empty timed call)", () => 0);
    if (order === "host-first") {
      time("first req.headers.get(host)", () => req.headers.get("host"));
      time("first req.url", () => req.url);
    } else {
      time("first req.url", () => req.url);
      time("first req.headers.get(host)", () => req.headers.get("host"));
    }
    time("then req.headers.get(connection)", () => req.headers.get("connection"));
    time("req.url again", () => req.url);
    n++;
    return new Response("Hello, world");
  },
});
// wrk runs in a child while this process serves; spawnSync would block the event loop.
const wrk = Bun.spawn(
  ["wrk", "-t1", "-c16", `-d${seconds}s`, `${tls ? "https" : "http"}://127.0.0.1:${port}/a/b?c=1`],
  {
    stdout: "ignore",
  },
);
await wrk.exited;
server.stop(true);
if (spawnSync("wrk", ["--version"]).error || n === 0) {
  console.error("no requests served (is wrk installed?)");
  process.exit(2);
}
const base = totals["(empty timed call)"]! / n;
console.log(`Bun ${Bun.version}, ${tls ? "HTTPS" : "plain HTTP"}, ${n} requests from wrk, order ${order}`);
for (const [k, v] of Object.entries(totals)) {
  if (k === "(empty timed call)") continue;
  console.log(`${k.padEnd(34)} ${Math.max(0, (v / n - base) * 1e6).toFixed(0).padStart(6)} ns`);
}
