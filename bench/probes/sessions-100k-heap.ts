#!/usr/bin/env bun
/**
 * The 100k row of bench/side-by-side.ts (Bun), taken apart: each server (raw Bun.serve from
 * bench/raw-serve.ts, bobcat from one or more source trees) starts with
 * bench/probes/heap-on-signal.ts preloaded, gets the row's 3 s wrk warm-up on `/`, then
 * --sessions `/create` requests (wrk -c32, the row's Lua script); 2 s later its RSS is read (what
 * the row reports), then SIGUSR2 prints bun:jsc's heapStats before and after a full collection
 * and the RSS after it (and the heap's capacity after it: what the blocks hold, live or free).
 * Sides run interleaved, --rounds times; medians.
 *
 *   bun bench/probes/sessions-100k-heap.ts [--sessions 100000] [--rounds 3] [--src DIR,DIR] [--idle]
 *
 * --src: bobcat source trees (a checkout's root, e.g. from `git worktree` or `git archive REF |
 * tar -x -C DIR` with node_modules linked), each its own side; default this checkout.
 * --idle: also the same figures at idle, before the warm-up.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  bin,
  firstOk,
  freePort,
  median,
  option,
  ROOT,
  rssKiB,
  SIDE_BY_SIDE_APP,
  startServer,
  stopTree,
  wrk,
} from "../lib.ts";

const count = Number(option("--sessions", "100000"));
const rounds = Number(option("--rounds", "3"));
const srcs = option("--src", ROOT).split(",").map((s) => resolve(s));
const idle = process.argv.includes("--idle");
const PKI = join(ROOT, "tests/fixtures/pki");
const CERT = join(PKI, "localhost-rsa.pem");
const KEY = join(PKI, "localhost-rsa-key.pem");
const PRELOAD = join(ROOT, "bench/probes/heap-on-signal.ts");
const work = mkdtempSync(join(tmpdir(), "bobcat-100k-heap-"));

const LUA = join(work, "create.lua");
writeFileSync(
  LUA,
  `local n = 0
function response(status, headers, body)
  n = n + 1
  if n >= ${count} then
    io.write("responses " .. n .. "\\n")
    io.flush()
    os.exit(0)
  end
end
`,
);

async function command(side: number, https: number, http: number): Promise<string[]> {
  if (side < 0) {
    return [bin("bun"), "--preload", PRELOAD, join(ROOT, "bench/raw-serve.ts"), `${https}`, `${http}`, CERT, KEY];
  }
  const base = join(work, `bobcat-${side}-${https}`);
  spawnSync("mkdir", ["-p", base]);
  // bench/side-by-side.ts's bobcat: its application and config.
  writeFileSync(join(base, "app.js"), SIDE_BY_SIDE_APP);
  writeFileSync(
    join(base, "server.yaml"),
    `logging: { level: warn, components: { connector: info } }
server:
  services:
    - connectors:
        - port: ${https}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${CERT}
                  certificateKeyFile: ${KEY}
        - port: ${http}
          address: 127.0.0.1
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.js
                manager: { pathname: SESSIONS.ser }
              - path: /manager
                handler: "bobcat:manager"
`,
  );
  return [
    bin("bun"),
    "--preload",
    PRELOAD,
    join(srcs[side]!, "src/cli/main.ts"),
    "run",
    "--config",
    join(base, "server.yaml"),
    "--base",
    base,
  ];
}

interface Shot {
  rss: number;
  heapBefore: number;
  extBefore: number;
  heapAfter: number;
  /** The heap's capacity after the full collection: live cells and the free cells of their blocks. */
  capacityAfter: number;
  objectsAfter: number;
  rssAfter: number;
}

/** Sends SIGUSR2 and parses heap-on-signal's two reports. */
async function shot(p: { p: import("node:child_process").ChildProcess; log: () => string }): Promise<Shot> {
  const rss = rssKiB(p.p.pid!) / 1024;
  const from = p.log().length;
  process.kill(p.p.pid!, "SIGUSR2");
  const deadline = Date.now() + 20000;
  let text = "";
  while (Date.now() < deadline) {
    text = p.log().slice(from);
    if (/after a full GC.*\n.*\n/.test(text)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const nums = [
    ...text.matchAll(
      /heap ([\d.]+) MiB live, capacity ([\d.]+) MiB, external ([\d.]+) MiB, (\d+) objects, RSS ([\d.]+)/g,
    ),
  ];
  if (nums.length < 2) throw new Error(`no heap report: ${text}`);
  const [b, a] = nums;
  process.stderr.write(text.split("\n").map((l) => `    ${l}`).join("\n"));
  return {
    rss,
    heapBefore: Number(b![1]),
    extBefore: Number(b![3]),
    heapAfter: Number(a![1]),
    capacityAfter: Number(a![2]),
    objectsAfter: Number(a![4]),
    rssAfter: Number(a![5]),
  };
}

const sides = [-1, ...srcs.map((_, i) => i)];
const name = (s: number) => (s < 0 ? "raw Bun.serve" : `bobcat ${srcs[s]}`);
const results = new Map<number, { idle?: Shot; full: Shot }[]>(sides.map((s) => [s, []]));
try {
  for (let r = 0; r < rounds; r++) {
    for (const side of [...sides.slice(r % sides.length), ...sides.slice(0, r % sides.length)]) {
      const [https, http] = [await freePort(), await freePort()];
      const server = await startServer(await command(side, https, http), /listening on/);
      try {
        await firstOk(https);
        process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${name(side)} round ${r + 1}\n`);
        let idleShot: Shot | undefined;
        if (idle) {
          await new Promise((res) => setTimeout(res, 1000));
          idleShot = await shot(server);
        }
        wrk(`https://127.0.0.1:${https}/`, server.p.pid!, { connections: 8, seconds: 3 });
        const w = spawnSync("wrk", ["-t1", "-c32", "-d600s", "-s", LUA, `https://127.0.0.1:${https}/create`], {
          encoding: "utf8",
          timeout: 660000,
        });
        if (!/responses/.test(w.stdout)) throw new Error(`wrk: ${w.stdout}${w.stderr}`);
        await new Promise((res) => setTimeout(res, 2000));
        results.get(side)!.push({ idle: idleShot, full: await shot(server) });
      } finally {
        await stopTree(server.p.pid!, "SIGKILL");
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const m = (xs: number[]) => median(xs).toFixed(1);
console.log(
  `${count} sessions, Bun, medians of ${rounds}; MiB (load average ${
    spawnSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).stdout.trim()
  })`,
);
console.log(
  `| side | ${
    idle ? "idle RSS | idle heap after GC | " : ""
  }RSS | heap live | external | heap after full GC | capacity after | objects after | RSS after full GC |`,
);
console.log(`|---|${idle ? "---:|---:|" : ""}---:|---:|---:|---:|---:|---:|---:|`);
for (const side of sides) {
  const xs = results.get(side)!;
  const f = xs.map((x) => x.full);
  const idleCols = idle ? `${m(xs.map((x) => x.idle!.rss))} | ${m(xs.map((x) => x.idle!.heapAfter))} | ` : "";
  console.log(
    `| ${name(side)} | ${idleCols}${m(f.map((x) => x.rss))} | ${m(f.map((x) => x.heapBefore))} | ${
      m(f.map((x) => x.extBefore))
    } | ${m(f.map((x) => x.heapAfter))} | ${m(f.map((x) => x.capacityAfter))} | ${
      median(f.map((x) => x.objectsAfter))
    } | ${m(f.map((x) => x.rssAfter))} |`,
  );
}
