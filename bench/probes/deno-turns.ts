#!/usr/bin/env bun
/**
 * How a job cut into parts can wait between them on Deno so that requests get in: a `deno run`
 * serving HTTP (Deno.serve) runs PARTS parts of ~2 ms each, chained by one way of continuing,
 * and this process sends it one request while the chain runs. Printed per way (medians of
 * --rounds): after how many parts the request was served (PARTS: only once the chain ended) and
 * the wall time the chain took beyond its busy parts, per part (the wait's own cost).
 * src/util/background-timer.ts's backgroundTurn is the "Atomics.waitAsync 1 ms" row.
 *
 *   bun bench/probes/deno-turns.ts [--rounds 3] [--parts 100]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, median, option } from "../lib.ts";

const rounds = Number(option("--rounds", "3"));
const parts = Number(option("--parts", "100"));

/** name → a function `(f) => ...` that runs f in a later turn. */
const WAYS: Record<string, string> = {
  "setImmediate": "(f) => setImmediate(f)",
  // Its port is unref'd, so that it does not hold the process once the chain has ended.
  "MessageChannel":
    "(() => { const c = new MessageChannel(); let g; c.port1.onmessage = () => g(); c.port1.unref?.(); " +
    "return (f) => { g = f; c.port2.postMessage(0); }; })()",
  "async Deno.stat": `(f) => void Deno.stat("/").then(f)`,
  "setTimeout 0": "(f) => setTimeout(f, 0)",
  "Atomics.waitAsync 1 ms": "(() => { const cell = new Int32Array(new SharedArrayBuffer(4)); " +
    "return (f) => void Atomics.waitAsync(cell, 0, 0, 1).value.then(f); })()",
};

const dir = mkdtempSync(join(tmpdir(), "bobcat-deno-turns-"));
const script = join(dir, "chain.ts");
writeFileSync(
  script,
  `const later = eval(Deno.args[0]);
const PARTS = ${parts};
let done = 0;
let servedAt = -1;
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen({ port }) { console.log("port " + port); } }, () => {
  if (servedAt < 0) servedAt = done;
  return new Response("ok");
});
await new Promise((r) => setTimeout(r, 100));
const busy = (ms) => { const end = performance.now() + ms; while (performance.now() < end); };
console.log("chain");
const t0 = performance.now();
await new Promise((resolve) => {
  const part = () => { busy(2); done++; if (done < PARTS) later(part); else resolve(); };
  later(part);
});
const ms = performance.now() - t0;
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ servedAt: servedAt < 0 ? PARTS : servedAt, overhead: (ms - 2 * PARTS) / PARTS }));
Deno.exit(0);
`,
);

async function once(way: string): Promise<{ servedAt: number; overhead: number }> {
  const p = spawn(bin("deno"), ["run", "-A", "--quiet", script, WAYS[way]!], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let port = 0;
  let asked = false;
  await new Promise<void>((resolve) => {
    p.stdout!.on("data", (d) => {
      out += d;
      port ||= Number(/port (\d+)/.exec(out)?.[1] ?? 0);
      if (!asked && out.includes("chain")) {
        asked = true;
        // A few parts into the chain.
        setTimeout(() => void fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()), 10);
      }
    });
    p.on("exit", () => resolve());
  });
  return JSON.parse(out.trim().split("\n").pop()!);
}

try {
  const results = new Map<string, Array<{ servedAt: number; overhead: number }>>();
  for (let i = 0; i < rounds; i++) {
    for (const way of Object.keys(WAYS)) {
      if (!results.has(way)) results.set(way, []);
      results.get(way)!.push(await once(way));
    }
  }
  console.log(`| way | request served after part (of ${parts}) | wait per part, ms |`);
  console.log("|---|---:|---:|");
  for (const [way, xs] of results) {
    console.log(
      `| ${way} | ${median(xs.map((x) => x.servedAt))} | ${median(xs.map((x) => x.overhead)).toFixed(2)} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
