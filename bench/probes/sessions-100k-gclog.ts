#!/usr/bin/env bun
/**
 * The collections of the 100k row's burst (Bun): each server (raw Bun.serve from
 * bench/raw-serve.ts, bobcat from one or more source trees, bench/side-by-side.ts's application
 * and config) runs under `BUN_JSC_logGC=1` with its stderr in a file; after the row's 3 s wrk
 * warm-up on `/`, --sessions `/create` requests (wrk -c32, the row's Lua script), then its RSS
 * every 0.5 s for 2.5 s. Printed per server: each collection of the burst as JavaScriptCore logs
 * it (E eden / F full: heap size at its start → after it, kB), the largest start (the heap's
 * high-water of the burst) and the last full collection, beside the RSS readings. Sides run
 * interleaved, --rounds times.
 *
 *   bun bench/probes/sessions-100k-gclog.ts [--sessions 100000] [--rounds 1] [--src DIR,DIR]
 *
 * --src: bobcat source trees (a checkout's root, e.g. `git archive REF | tar -x -C DIR` with
 * node_modules linked), each its own side; default this checkout.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bin, firstOk, freePort, option, ROOT, rssKiB, SIDE_BY_SIDE_APP, stopTree, wrk } from "../lib.ts";

const count = Number(option("--sessions", "100000"));
const rounds = Number(option("--rounds", "1"));
const srcs = option("--src", ROOT).split(",").map((s) => resolve(s));
const PKI = join(ROOT, "tests/fixtures/pki");
const CERT = join(PKI, "localhost-rsa.pem");
const KEY = join(PKI, "localhost-rsa-key.pem");
const work = mkdtempSync(join(tmpdir(), "bobcat-100k-gclog-"));

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

function command(side: number, https: number, http: number): string[] {
  if (side < 0) return [bin("bun"), join(ROOT, "bench/raw-serve.ts"), `${https}`, `${http}`, CERT, KEY];
  const base = join(work, `bobcat-${side}-${https}`);
  spawnSync("mkdir", ["-p", base]);
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
    join(srcs[side]!, "src/cli/main.ts"),
    "run",
    "--config",
    join(base, "server.yaml"),
    "--base",
    base,
  ];
}

/**
 * Each collection logged in `text`: JavaScriptCore's `START M <kb> => <kind>Collection … => <kb>, p=`,
 * whose parts a concurrent collection spreads over several lines.
 */
function collections(text: string): Array<{ kind: string; from: number; to: number }> {
  return [...text.matchAll(/START \S+ (\d+)kb => (Eden|Full)Collection(?:(?!START)[\s\S])*?=> (\d+)kb, p=/g)].map((
    m,
  ) => ({
    kind: m[2] === "Eden" ? "E" : "F",
    from: Number(m[1]),
    to: Number(m[3]),
  }));
}

const sides = [-1, ...srcs.map((_, i) => i)];
const name = (s: number) => (s < 0 ? "raw Bun.serve" : `bobcat ${srcs[s]}`);
try {
  for (let r = 0; r < rounds; r++) {
    for (const side of [...sides.slice(r % sides.length), ...sides.slice(0, r % sides.length)]) {
      const [https, http] = [await freePort(), await freePort()];
      const logFile = join(work, `gc-${side}-${r}.log`);
      // A file, not a pipe: the log is long, and wrk runs synchronously below (a pipe nobody reads
      // would fill and stop the server).
      const cmd = command(side, https, http);
      const p = spawn(cmd[0]!, cmd.slice(1), {
        stdio: ["ignore", "ignore", openSync(logFile, "w")],
        env: { ...process.env, BUN_JSC_logGC: "1" },
      });
      const log = () => readFileSync(logFile, "utf8");
      try {
        const deadline = Date.now() + 60000;
        while (!/listening on/.test(log())) {
          if (Date.now() > deadline || p.exitCode !== null) throw new Error(`${name(side)} did not start:\n${log()}`);
          await new Promise((res) => setTimeout(res, 50));
        }
        await firstOk(https);
        wrk(`https://127.0.0.1:${https}/`, p.pid!, { connections: 8, seconds: 3 });
        const from = log().length;
        const w = spawnSync("wrk", ["-t1", "-c32", "-d600s", "-s", LUA, `https://127.0.0.1:${https}/create`], {
          encoding: "utf8",
          timeout: 660000,
        });
        if (!/responses/.test(w.stdout)) throw new Error(`wrk: ${w.stdout}${w.stderr}`);
        const rss: number[] = [];
        for (let i = 0; i < 6; i++) {
          rss.push(rssKiB(p.pid!) / 1024);
          await new Promise((res) => setTimeout(res, 500));
        }
        const gcs = collections(log().slice(from));
        const peak = Math.max(...gcs.map((g) => g.from));
        const lastFull = gcs.filter((g) => g.kind === "F").at(-1);
        console.log(
          `${name(side)}, round ${r + 1}: RSS at 0 / 0.5 / … / 2.5 s ${rss.map((x) => x.toFixed(1)).join(" / ")} MiB`,
        );
        console.log(
          `  ${gcs.length} collections, largest heap at a start ${peak} kB, last full ${
            lastFull ? `${lastFull.from} → ${lastFull.to}` : "none"
          } kB`,
        );
        console.log(`  ${gcs.map((g) => `${g.kind} ${g.from}→${g.to}`).join(", ")}`);
      } finally {
        await stopTree(p.pid!, "SIGKILL");
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`load average ${readFileSync("/proc/loadavg", "utf8").trim()}`);
