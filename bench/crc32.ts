#!/usr/bin/env bun
/**
 * CRC-32 of a sessions file (100,000 sessions: 8.8 MB) on Bun, Deno and Node, each candidate in
 * a fresh process per round (bench/probes/crc32-child.ts), rounds interleaved: its first call
 * (cold, as at a server's start or stop: the WebAssembly module instantiated by it; wall and
 * CPU time of the process, all threads), a warm
 * call, and 300 bytes (a single session's file). Candidates: `crc32` (what src/session/crc32.ts
 * uses on that runtime: Bun's own there, the WebAssembly module elsewhere), `wasm`, `js` (the
 * slicing-by-8 table loop) and `slicing16` (slicing-by-16 over 32-bit words, the JavaScript
 * alternative). Node runs a bundle of the child (`bun build --target node`, node has no
 * TypeScript before 22.6). Medians in ms (small: µs).
 *
 *   bun bench/crc32.ts [--rounds 7] [--mb 8.8] [--runtimes bun,deno,node]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, median, option, ROOT } from "./lib.ts";

const rounds = Number(option("--rounds", "7"));
const mb = option("--mb", "8.8");
const runtimes = option("--runtimes", "bun,deno,node").split(",");
const impls = ["crc32", "wasm", "js", "slicing16"];
const child = join(ROOT, "bench/probes/crc32-child.ts");
const scratch = mkdtempSync(join(tmpdir(), "bobcat-crc32-"));
const bundle = join(scratch, "crc32-child.mjs");
if (runtimes.includes("node")) {
  const b = spawnSync(bin("bun"), ["build", "--target", "node", "--outfile", bundle, child], { encoding: "utf8" });
  if (b.status !== 0) throw new Error(b.stderr);
}
const command = (rt: string): string[] =>
  rt === "bun" ? [bin("bun"), child] : rt === "deno" ? [bin("deno"), "run", child] : ["node", bundle];

type Sample = { cold: number; coldCpu: number; warm: number; smallUs: number; ok: boolean };
const samples = new Map<string, Sample[]>();
for (let r = 0; r < rounds; r++) {
  for (const rt of runtimes) {
    for (const impl of impls) {
      const [exe, ...args] = command(rt);
      const p = spawnSync(exe!, [...args, "--impl", impl, "--mb", mb], { encoding: "utf8" });
      if (p.status !== 0) throw new Error(`${rt} ${impl}: ${p.stderr}`);
      const s = JSON.parse(p.stdout.trim().split("\n").pop()!) as Sample;
      if (!s.ok) throw new Error(`${rt} ${impl}: wrong CRC`);
      const key = `${rt} ${impl}`;
      samples.set(key, [...(samples.get(key) ?? []), s]);
    }
  }
}
rmSync(scratch, { recursive: true, force: true });
console.log(`CRC-32 of ${mb} MB, medians of ${rounds} fresh processes per row`);
console.log("runtime impl        cold ms  its CPU ms  warm ms  300 B µs");
for (const [key, s] of samples) {
  const [rt, impl] = key.split(" ");
  console.log(
    `${rt!.padEnd(8)}${impl!.padEnd(12)}${median(s.map((x) => x.cold)).toFixed(1).padStart(7)}` +
      `${median(s.map((x) => x.coldCpu)).toFixed(1).padStart(12)}` +
      `${median(s.map((x) => x.warm)).toFixed(1).padStart(9)}${
        median(s.map((x) => x.smallUs)).toFixed(2).padStart(10)
      }`,
  );
}
