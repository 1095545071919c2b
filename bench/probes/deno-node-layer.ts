#!/usr/bin/env bun
/**
 * What Deno's Node compatibility layer costs a start: `deno run` of a one-line script that
 * touches one `node:` module or Node global (process, Buffer, setTimeout...), against an empty
 * script, in CPU (user + system, from the child's rusage) and peak RSS; rounds interleaved,
 * medians. Each row also says how many of Deno's `ext:deno_node/` modules the line made V8
 * compile (tests/helpers/deno-node-trace.ts reads V8's log for that).
 *
 *   bun bench/probes/deno-node-layer.ts [--rounds 9] [--only process,node:fs,...]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, median, option } from "../lib.ts";
import { nodeLayerModules, traceFlags } from "../../tests/helpers/deno-node-trace.ts";

const rounds = Number(option("--rounds", "9"));
const only = option("--only", "").split(",").filter(Boolean);

/** name → the script's text. The empty script is the baseline every other row is compared with. */
const PROBES: Record<string, string> = {
  "empty": "",
  "Deno.env, Deno.readTextFile, crypto.getRandomValues":
    `Deno.env.get("HOME"); await Deno.readTextFile("/etc/hostname").catch(() => {});
crypto.getRandomValues(new Uint8Array(16)); await crypto.subtle.digest("SHA-256", new Uint8Array(8));`,
  "globalThis.process": "globalThis.process;",
  "process.env.HOME": "process.env.HOME;",
  "Buffer": "globalThis.Buffer;",
  "setTimeout": "clearTimeout(setTimeout(() => {}, 1000));",
  "node:path": `import "node:path";`,
  "node:fs": `import "node:fs";`,
  "node:fs/promises": `import "node:fs/promises";`,
  "node:os": `import "node:os";`,
  "node:buffer": `import "node:buffer";`,
  "node:timers": `import "node:timers";`,
  "node:url": `import "node:url";`,
  "node:util": `import "node:util";`,
  "node:events": `import "node:events";`,
  "node:crypto": `import "node:crypto";`,
  "node:module": `import "node:module";`,
  "node:net": `import "node:net";`,
  "node:tls": `import "node:tls";`,
  "node:child_process": `import "node:child_process";`,
  "node:stream": `import "node:stream";`,
};

const dir = mkdtempSync(join(tmpdir(), "bobcat-deno-node-layer-"));
const names = Object.keys(PROBES).filter((n) => n === "empty" || only.length === 0 || only.includes(n));
const files = new Map(names.map((n, i) => {
  const f = join(dir, `probe-${i}.mjs`);
  writeFileSync(f, PROBES[n]! + "\n");
  return [n, f];
}));

type Sample = { cpuMs: number; rssMiB: number };
const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
try {
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      const p = Bun.spawnSync([bin("deno"), "run", "-A", files.get(n)!], {
        env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
        stdout: "ignore",
        stderr: "pipe",
      });
      if (p.exitCode !== 0) throw new Error(`${n}: deno exited ${p.exitCode}: ${p.stderr.toString()}`);
      samples.get(n)!.push({
        cpuMs: Number(p.resourceUsage.cpuTime.total) / 1000,
        rssMiB: p.resourceUsage.maxRSS / 1024 / 1024,
      });
    }
  }
  const counts = new Map<string, number>();
  for (const n of names) {
    const log = join(dir, `trace-${names.indexOf(n)}.log`);
    Bun.spawnSync([bin("deno"), "run", "-A", traceFlags(log), files.get(n)!], { stdout: "ignore", stderr: "ignore" });
    counts.set(n, nodeLayerModules(log).length);
  }
  const base = (k: keyof Sample) => median(samples.get("empty")!.map((s) => s[k]));
  console.log(`deno run of one line, ${rounds} rounds interleaved, medians; load average ${loadavg()}`);
  console.log("| script | CPU ms | + over empty | peak RSS MiB | + over empty | ext:deno_node modules |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const n of names) {
    const cpu = median(samples.get(n)!.map((s) => s.cpuMs)), rss = median(samples.get(n)!.map((s) => s.rssMiB));
    console.log(
      `| ${n} | ${cpu.toFixed(0)} | ${(cpu - base("cpuMs")).toFixed(0)} | ${rss.toFixed(1)} | ${
        (rss - base("rssMiB")).toFixed(1)
      } | ${counts.get(n)} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function loadavg(): string {
  try {
    return (require("node:fs").readFileSync("/proc/loadavg", "utf8") as string).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}
