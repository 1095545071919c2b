#!/usr/bin/env bun
/**
 * The expiry sweep (ManagerBase.processExpires, every processExpiresFrequency-th background tick:
 * once a minute by default) over N live sessions, none of them timed out — what a server that
 * keeps making sessions (bench/side-by-side.ts's new-session row) pays for its sessions once a
 * minute. The sessions are made as a request would make them (createSession, `user` a
 * 5-character string, `n` the number 1, endAccess). Prints the median wall and main-thread CPU
 * time of a sweep.
 *
 * `--before REF` also runs the StandardManager of git REF (its src/ exported to a temporary
 * directory) in the same process, with its own N sessions, the sweeps of the two interleaved.
 *
 *   bun bench/session-sweep.ts [--sessions 500000] [--rounds 7] [--before REF]
 *   deno run -A bench/session-sweep.ts ...
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, option, ROOT } from "./lib.ts";

const count = Number(option("--sessions", "500000"));
const rounds = Number(option("--rounds", "7"));
const before = option("--before", "");

/** CPU time of the main (JavaScript) thread, without the collector's and compiler's threads. */
function mainCpuMs(): number {
  const pid = (globalThis as { Deno?: { pid: number } }).Deno?.pid ?? process.pid;
  return Number(readFileSync(`/proc/self/task/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
}

interface Manager {
  start(): Promise<void>;
  createSession(): { id: string; setAttribute(n: string, v: unknown): void; endAccess(): void };
  processExpires(): Promise<void>;
  readonly sessionCount: number;
}

async function managerOf(root: string): Promise<Manager> {
  const { StandardManager } = await import(join(root, "src/session/standard-manager.ts"));
  const m = new StandardManager({ name: "/sweep", pathname: "" }) as Manager;
  await m.start();
  for (let i = 0; i < count; i++) {
    const s = m.createSession();
    s.setAttribute("user", "u" + s.id.slice(0, 4));
    s.setAttribute("n", 1);
    s.endAccess();
  }
  return m;
}

const work = mkdtempSync(join(tmpdir(), "bobcat-bench-sweep-"));
try {
  const sides: { name: string; manager: Manager; wall: number[]; cpu: number[] }[] = [
    { name: "this checkout", manager: await managerOf(ROOT), wall: [], cpu: [] },
  ];
  if (before) {
    const dir = join(work, "before");
    const tar = spawnSync("git", ["-C", ROOT, "archive", before, "src", "package.json"], { maxBuffer: 1 << 30 });
    if (tar.status !== 0) throw new Error(`git archive ${before}: ${tar.stderr}`);
    spawnSync("mkdir", ["-p", dir]);
    spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    sides.push({ name: before, manager: await managerOf(dir), wall: [], cpu: [] });
  }
  // One sweep each first (not counted): the code is compiled and the heap settled.
  for (const s of sides) await s.manager.processExpires();
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      const w0 = performance.now();
      const c0 = mainCpuMs();
      await s.manager.processExpires();
      s.cpu.push(mainCpuMs() - c0);
      s.wall.push(performance.now() - w0);
      if (s.manager.sessionCount !== count) throw new Error(`${s.name}: ${s.manager.sessionCount} sessions left`);
    }
  }
  console.log(`processExpires over ${count} live sessions, medians of ${rounds} sweeps each, interleaved`);
  console.log("| code | wall, ms | main-thread CPU, ms | rounds (wall) |");
  console.log("|---|---:|---:|---|");
  for (const s of sides) {
    console.log(
      `| ${s.name} | ${median(s.wall).toFixed(1)} | ${median(s.cpu).toFixed(1)} | ${
        s.wall.map((x) => x.toFixed(0)).join(" / ")
      } |`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
