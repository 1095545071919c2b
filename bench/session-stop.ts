#!/usr/bin/env bun
/**
 * StandardManager.stop() with N sessions made at run time (live objects, not records restored
 * from the file), in a process of its own per round: the sessions are made as a request would
 * make them (createSession, two attributes: `user` a 5-character string, `n` the number 1,
 * endAccess), then stop() passivates them and writes them to the pathname file. Printed, medians
 * of the rounds: wall and CPU of building the file (stop() → "sessions file built", from the
 * BOBCAT_TIMING marks; the file is written in pieces as it is made, so this includes writing all
 * but the last) and of the whole stop() (fsync, rename and directory fsync included); CPU of the
 * whole process and of its main thread alone (without the JIT compiler and collector threads).
 *
 * `--objects` gives each session attributes holding objects instead, written by the general
 * serializer: `user` { name: a 5-character string, roles: ["a", "b"] }, `cart` [1, 2, 3], `n` 1.
 *
 * `--before REF` runs the StandardManager of git REF (its src/ exported to a temporary directory)
 * too, rounds interleaved, so before/after come from one run; `--runtime deno` runs the children
 * on Deno.
 *
 *   bun bench/session-stop.ts [--runtime bun|deno] [--rounds 5] [--sessions 100000] [--before REF]
 *                               [--objects]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
/**
 * CPU time of this process's main thread (the JavaScript one; its id is the process id), from
 * /proc: without the compiler and collector threads, and with nanosecond resolution.
 */
const mainCpuMs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;

interface Sample {
  buildWall: number;
  buildCpu: number;
  buildMain: number;
  stopWall: number;
  stopCpu: number;
  stopMain: number;
  bytes: number;
}

/** One round, in this process: the StandardManager of checkout `root`, `count` live sessions. */
async function child(root: string, count: number, file: string, objects: boolean): Promise<void> {
  process.env.BOBCAT_TIMING = "1";
  let built: { wall: number; cpu: number; main: number } | null = null;
  const error = console.error;
  console.error = (...args: unknown[]) => {
    const line = String(args[0]);
    if (line.includes("sessions file built")) {
      built = { wall: performance.now(), cpu: cpuMs(), main: mainCpuMs() };
    } else if (!line.startsWith("[timing]")) error(...args);
  };
  const { StandardManager } = await import(join(root, "src/session/standard-manager.ts"));
  const m = new StandardManager({ name: "/", pathname: file });
  await m.start();
  for (let i = 0; i < count; i++) {
    const s = m.createSession();
    if (objects) {
      s.setAttribute("user", { name: "u" + s.id.slice(0, 4), roles: ["a", "b"] });
      s.setAttribute("cart", [1, 2, 3]);
    } else {
      s.setAttribute("user", "u" + s.id.slice(0, 4));
    }
    s.setAttribute("n", 1);
    s.endAccess();
  }
  const wall0 = performance.now();
  const cpu0 = cpuMs();
  const main0 = mainCpuMs();
  await m.stop();
  const wall1 = performance.now();
  const cpu1 = cpuMs();
  const main1 = mainCpuMs();
  const b = built as { wall: number; cpu: number; main: number } | null;
  if (!b) throw new Error("no [timing] sessions file built mark: was anything written?");
  const sample: Sample = {
    buildWall: b.wall - wall0,
    buildCpu: b.cpu - cpu0,
    buildMain: b.main - main0,
    stopWall: wall1 - wall0,
    stopCpu: cpu1 - cpu0,
    stopMain: main1 - main0,
    bytes: statSync(file).size,
  };
  console.log(JSON.stringify(sample));
}

if (process.argv.includes("--child")) {
  await child(
    option("--child", ROOT),
    Number(option("--sessions", "100000")),
    option("--file", ""),
    process.argv.includes("--objects"),
  );
} else {
  const runtime = option("--runtime", "bun");
  const rounds = Number(option("--rounds", "5"));
  const count = Number(option("--sessions", "100000"));
  const before = option("--before", "");
  const objects = process.argv.includes("--objects");
  const work = mkdtempSync(join(tmpdir(), "bobcat-bench-stop-"));
  const bin = (name: string) => join(ROOT, "node_modules/.bin", name);
  const targets: { name: string; root: string }[] = [{ name: "this checkout", root: ROOT }];
  if (before) {
    const dir = join(work, "before");
    mkdirSync(dir);
    const tar = spawnSync("git", ["-C", ROOT, "archive", before, "src", "package.json", "deno.json", "tsconfig.json"], {
      maxBuffer: 1 << 30,
    });
    if (tar.status !== 0) throw new Error(`git archive ${before}: ${tar.stderr}`);
    spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    targets.push({ name: before, root: dir });
  }
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const t of r % 2 ? [...targets].reverse() : targets) {
        const file = join(work, `SESSIONS-${r}.ser`);
        const args = ["--child", t.root, "--sessions", String(count), "--file", file];
        if (objects) args.push("--objects");
        const script = join(HERE, "session-stop.ts");
        const cmd = runtime === "deno"
          ? [bin("deno"), "run", "-A", `--config=${join(ROOT, "deno.json")}`, script, ...args]
          : [bin("bun"), script, ...args];
        const p = spawnSync(cmd[0]!, cmd.slice(1), {
          encoding: "utf8",
          env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
          maxBuffer: 1 << 24,
        });
        rmSync(file, { force: true });
        if (p.status !== 0) throw new Error(`${t.name}: exit ${p.status}\n${p.stderr}`);
        samples.get(t.name)!.push(JSON.parse(p.stdout.trim().split("\n").pop()!) as Sample);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const kind = objects ? "live sessions holding objects" : "live sessions";
  console.log(`\nStandardManager.stop() with ${count} ${kind} on ${runtime}, medians of ${rounds} rounds`);
  console.log(
    "| code | build wall, ms | build CPU, ms | build CPU main thread, ms | stop wall, ms | stop CPU, ms | stop CPU main thread, ms | file, MB |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  const rows = new Map<string, Sample>();
  for (const t of targets) {
    const s = samples.get(t.name)!;
    const m: Sample = {
      buildWall: median(s.map((x) => x.buildWall)),
      buildCpu: median(s.map((x) => x.buildCpu)),
      buildMain: median(s.map((x) => x.buildMain)),
      stopWall: median(s.map((x) => x.stopWall)),
      stopCpu: median(s.map((x) => x.stopCpu)),
      stopMain: median(s.map((x) => x.stopMain)),
      bytes: median(s.map((x) => x.bytes)),
    };
    rows.set(t.name, m);
    console.log(
      `| ${t.name} | ${m.buildWall.toFixed(0)} | ${m.buildCpu.toFixed(0)} | ${m.buildMain.toFixed(0)} | ${
        m.stopWall.toFixed(0)
      } | ${m.stopCpu.toFixed(0)} | ${m.stopMain.toFixed(0)} | ${(m.bytes / 1e6).toFixed(2)} |`,
    );
  }
  if (before) {
    const a = rows.get("this checkout")!;
    const b = rows.get(before)!;
    console.log(
      `\n${before} / this: build CPU ${(b.buildCpu / a.buildCpu).toFixed(2)}×, main thread ${
        (b.buildMain / a.buildMain).toFixed(2)
      }×; stop CPU ${(b.stopCpu / a.stopCpu).toFixed(2)}×, main thread ${(b.stopMain / a.stopMain).toFixed(2)}×`,
    );
  }
}
