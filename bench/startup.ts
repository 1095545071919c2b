#!/usr/bin/env bun
/**
 * Start-up and idle memory: spawn → first HTTPS 200 (polled every few ms, bounded), then the
 * idle RSS (VmRSS from /proc) a moment later, for a raw Bun.serve, bobcat from the checkout
 * (`bun src/cli/main.ts run`) and the single executable (dist/bobcat, `bun build.ts`), each
 * serving the same hello handler over HTTPS with the same certificate. Rounds are interleaved;
 * medians and the ratios to raw Bun are printed. Targets (issue 15): executable start ≤ 2× raw
 * Bun, idle RSS ≤ 1.3× raw Bun.
 *
 *   bun bench/startup.ts [--rounds 7] [--exe dist/bobcat[,OTHER...]] [--idle-ms 1000] [--runtime bun|deno]
 *                        [--entry dist-lib/cli.js[,OTHER...]] [--smaps] [--smol] [--before REF] [--keep-page-cache]
 *                        [--deno-args "ARGS|ARGS..."]
 *
 * Several executables (comma-separated) compare builds, e.g. before and after a change.
 * The raw Bun.serve also runs compiled with `bun build --compile` (built into a scratch
 * directory first): that is the fair baseline for the executable, which carries the same
 * runtime and its own embedded code; the last column gives the ratio to it.
 * --runtime deno compares `deno run` of bobcat with a raw Deno.serve instead (no executable): the
 * checkout's sources, and each --entry, a JavaScript build of the CLI run the same way, by default
 * dist-lib/cli.js when it exists (`bun scripts/build-lib.ts`: what `BOBCAT_RUNTIME=deno npx bobcat`
 * runs). An entry outside the checkout resolves its packages from the checkout's node_modules.
 * --smaps adds a table of where the idle RSS is (bench/smaps.ts: the runtime binary's pages by
 * ELF section — machine code, read-only data, the executable's embedded app — and anonymous
 * memory by kind), medians per row. --smol adds every Bun candidate again under Bun's --smol
 * (`bun --smol`; the executables with BUN_OPTIONS=--smol). --before REF adds bobcat from git REF's
 * src/ (exported to the scratch directory, with this checkout's node_modules), run like the
 * checkout: before and after in one run, on either runtime. --deno-args 'A|B' (with --runtime deno)
 * runs each entry again with each set of `deno run` arguments (split on spaces), e.g.
 * `--deno-args '--v8-flags=--regexp-interpret-all|--no-code-cache'`: a flag's cost and gain in one run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { bin, cpuSeconds, freePort, median, option, ROOT, rssKiB } from "./lib.ts";
import { SMAPS_ROWS, smapsBreakdown } from "./smaps.ts";

const rounds = Number(option("--rounds", "7"));
const idleMs = Number(option("--idle-ms", "1000"));
const runtime = option("--runtime", "bun");
const withSmaps = process.argv.includes("--smaps");
const withSmol = process.argv.includes("--smol");
const before = option("--before", "");
const exes = option("--exe", join(ROOT, "dist/bobcat")).split(",").map((e) => resolve(e));
const entries = option("--entry", join(ROOT, "dist-lib/cli.js")).split(",").map((e) => resolve(e));
const denoArgSets = option("--deno-args", "").split("|").filter(Boolean).map((a) => a.split(" ").filter(Boolean));
const pki = join(ROOT, "tests/fixtures/pki");
const cert = join(pki, "localhost-rsa.pem");
const key = join(pki, "localhost-rsa-key.pem");

const work = mkdtempSync(join(tmpdir(), "bobcat-startup-"));
writeFileSync(
  join(work, "hello.ts"),
  `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
);
const yaml = (port: number) =>
  `logging: { level: warn }
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${cert}
                  certificateKeyFile: ${key}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: hello.ts
`;

type Cmd = (port: number) => string[];
type Candidate = { name: string; cmd: Cmd; env?: Record<string, string> };
const conf = (port: number) => {
  const f = join(work, `server-${port}.yaml`);
  writeFileSync(f, yaml(port));
  return f;
};
/** The raw Bun.serve as a single executable (bun build --compile), or undefined when the build fails. */
function compiledRaw(): string | undefined {
  if (runtime === "deno") return undefined;
  const out = join(work, "raw-bun-serve");
  const r = spawnSync(bin("bun"), ["build", "--compile", join(import.meta.dir, "raw-bun-serve.ts"), "--outfile", out], {
    encoding: "utf8",
  });
  if (r.status === 0) return out;
  console.error(`bun build --compile of the raw Bun.serve failed, it is left out:\n${r.stderr}`);
  return undefined;
}
const rawExe = compiledRaw();
/** A copy of REF's code, runnable from the scratch directory (node_modules linked). */
function exportRef(ref: string): string {
  const dir = join(work, "before");
  mkdirSync(dir);
  const tar = spawnSync("git", ["-C", ROOT, "archive", ref, "src", "package.json", "deno.json", "tsconfig.json"], {
    maxBuffer: 1 << 30,
  });
  if (tar.status !== 0) throw new Error(`git archive ${ref}: ${tar.stderr}`);
  spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}
const beforeDir = before ? exportRef(before) : undefined;
/** bobcat from a source tree, the way the checkout runs. */
const fromSource = (dir: string): Cmd => (p) =>
  runtime === "deno"
    ? [
      bin("deno"),
      "run",
      "-A",
      `--config=${join(dir, "deno.json")}`,
      join(dir, "src/cli/main.ts"),
      "run",
      "--config",
      conf(p),
    ]
    : [bin("bun"), join(dir, "src/cli/main.ts"), "run", "--config", conf(p)];
const baseCandidates: Candidate[] = runtime === "deno"
  ? [
    {
      name: "raw Deno.serve",
      cmd: (p) => [bin("deno"), "run", "-A", join(import.meta.dir, "raw-deno-serve.ts"), String(p), cert, key, "0"],
    },
    { name: "bobcat (deno run)", cmd: fromSource(ROOT) },
    ...(beforeDir ? [{ name: `bobcat ${before} (deno run)`, cmd: fromSource(beforeDir) }] : []),
    ...entries.filter((e) => existsSync(e)).flatMap((e) =>
      [[], ...denoArgSets].map((extra) => ({
        name: `bobcat (deno run ${[...extra, e.startsWith(ROOT) ? e.slice(ROOT.length + 1) : e].join(" ")})`,
        cmd: (
          p: number,
        ) => [bin("deno"), "run", "-A", ...extra, `--config=${join(ROOT, "deno.json")}`, e, "run", "--config", conf(p)],
      }))
    ),
  ]
  : [
    {
      name: "raw Bun.serve",
      cmd: (p) => [bin("bun"), join(import.meta.dir, "raw-bun-serve.ts"), String(p), cert, key, "0"],
    },
    ...(rawExe
      ? [{ name: "raw Bun.serve (bun build --compile)", cmd: (p: number) => [rawExe, String(p), cert, key, "0"] }]
      : []),
    { name: "bobcat (checkout)", cmd: fromSource(ROOT) },
    ...(beforeDir ? [{ name: `bobcat ${before} (checkout)`, cmd: fromSource(beforeDir) }] : []),
    ...exes.filter((exe) => existsSync(exe)).map((exe) => ({
      name: `bobcat (${exe.startsWith(ROOT) ? exe.slice(ROOT.length + 1) : exe})`,
      cmd: (p: number) => [exe, "run", "--config", conf(p)],
    })),
  ];
/** With --smol, each Bun candidate again: `bun --smol …`, or an executable with BUN_OPTIONS=--smol. */
const candidates: Candidate[] = withSmol && runtime !== "deno"
  ? [
    ...baseCandidates,
    ...baseCandidates.map((c): Candidate => ({
      name: `${c.name} --smol`,
      cmd: (p) => {
        const [first, ...rest] = c.cmd(p);
        return first === bin("bun") ? [first, "--smol", ...rest] : [first!, ...rest];
      },
      env: c.cmd(0)[0] === bin("bun") ? undefined : { BUN_OPTIONS: "--smol" },
    })),
  ]
  : baseCandidates;
for (const exe of exes) {
  if (runtime !== "deno" && !existsSync(exe)) {
    console.error(`${exe} not found (bun build.ts): the executable is left out`);
  }
}
for (const entry of entries) {
  if (runtime === "deno" && !existsSync(entry)) {
    console.error(`${entry} not found (bun scripts/build-lib.ts): it is left out`);
  }
}

/** MiB, from bench/lib.ts's process-tree VmRSS. */
const rss = (pid: number) => rssKiB(pid) / 1024;

type Sample = { ms: number; cpu: number; rss: number; smaps?: Map<string, number> };

async function once(cmd: string[], port: number, extraEnv: Record<string, string> = {}): Promise<Sample> {
  const t0 = performance.now();
  const p: ChildProcess = spawn(cmd[0]!, cmd.slice(1), {
    cwd: work,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...extraEnv },
  });
  let log = "";
  p.stderr!.on("data", (d) => (log += d));
  try {
    const deadline = t0 + 20000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`${cmd.join(" ")} exited: ${log}`);
      if (performance.now() > deadline) throw new Error(`${cmd.join(" ")}: no 200 within 20 s\n${log}`);
      try {
        const r = await fetch(`https://127.0.0.1:${port}/`, {
          tls: { rejectUnauthorized: false },
          keepalive: false,
        } as RequestInit);
        await r.arrayBuffer();
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const ms = performance.now() - t0;
    const cpu = cpuSeconds(p.pid!) * 1000;
    await new Promise((r) => setTimeout(r, idleMs));
    return { ms, cpu, rss: rss(p.pid!), ...(withSmaps ? { smaps: smapsBreakdown(p.pid!) } : {}) };
  } finally {
    p.kill("SIGKILL");
    await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once("exit", r)));
  }
}

/**
 * How much of a binary's machine code a start leaves resident depends on how its file sits in the
 * page cache: a fault maps the whole cached folio around it, and folio sizes follow how the file
 * got there (written by the compiler, copied, or read in by readahead). The same executable
 * measured 27.4 or 32.3 MiB of machine code depending on that. So every binary here is dropped
 * from the page cache first (dd iflag=nocache; clean pages, only re-read), and all start from
 * what a first run after boot sees. A binary just written (the compiled raw server, an executable
 * built a moment ago) is synced first: its pages are dirty until written back, and dirty pages
 * stay in the page cache. --keep-page-cache skips this.
 */
if (!process.argv.includes("--keep-page-cache")) {
  const binaries = new Set(candidates.map((c) => c.cmd(0)[0]!));
  for (const b of binaries) {
    spawnSync("sync", [b]);
    spawnSync("dd", [`if=${b}`, "iflag=nocache", "count=0", "status=none"]);
  }
}
const results = new Map(candidates.map((c) => [c.name, [] as Sample[]]));
try {
  for (let i = 0; i < rounds; i++) {
    for (const c of candidates) {
      const port = await freePort();
      results.get(c.name)!.push(await once(c.cmd(port), port, c.env));
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(`start → first HTTPS 200 and idle RSS (${idleMs} ms after it), ${rounds} interleaved rounds, medians`);
// CPU time until the first 200 (user + system, 10 ms ticks) is the steadier figure on a busy machine.
const rawCompiled = "raw Bun.serve (bun build --compile)";
const medians = new Map(
  [...results].map((
    [name, rs],
  ) => [name, {
    ms: median(rs.map((r) => r.ms)),
    cpu: median(rs.map((r) => r.cpu)),
    rss: median(rs.map((r) => r.rss)),
  }]),
);
const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : "–");
console.log(
  "| server | start ms | ratio | CPU ms to first 200 | ratio | idle RSS MiB | ratio | RSS ratio to the compiled raw |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
const base = [...medians.values()][0]!;
for (const [name, m] of medians) {
  console.log(
    `| ${name} | ${m.ms.toFixed(0)} | ${ratio(m.ms, base.ms)} | ${m.cpu.toFixed(0)} | ${ratio(m.cpu, base.cpu)} | ${
      m.rss.toFixed(1)
    } | ${ratio(m.rss, base.rss)} | ${ratio(m.rss, medians.get(rawCompiled)?.rss)} |`,
  );
}
console.log("targets: the executable ≤ 2× raw start, ≤ 1.3× raw idle RSS");
if (withSmaps) {
  // Each cell the median over the rounds (a row a sample lacks counts 0).
  const rows = SMAPS_ROWS;
  const names = [...results.keys()];
  console.log(
    "\nwhere the idle RSS is (MiB, medians; /proc/<pid>/smaps, the runtime binary by ELF section via pagemap)",
  );
  console.log(`| | ${names.join(" | ")} |`);
  console.log(`|---|${names.map(() => "---:").join("|")}|`);
  for (const row of rows) {
    const cells = names.map((n) => (median(results.get(n)!.map((r) => r.smaps!.get(row) ?? 0)) / 1024).toFixed(1));
    console.log(`| ${row} | ${cells.join(" | ")} |`);
  }
}
