#!/usr/bin/env bun
/**
 * Which start-up phase first touches the runtime's machine code that a raw Bun.serve never runs:
 * `perf record` of page faults (with their addresses) and of stderr writes, for a raw Bun.serve
 * compiled with `bun build --compile --bytecode` and for a bobcat executable run with
 * BOBCAT_TIMING=1 (each phase's mark is one write to stderr), both serving the hello handler of
 * bench/startup.ts over HTTPS until their first 200 and one idle second. A fault in `.text` maps
 * up to 64 KiB around it (fault-around), so the table counts 64 KiB windows of `.text` that
 * bobcat faults in and the raw server does not, by the phase in which each was first touched.
 * Each binary is dropped from the page cache first, as in bench/startup.ts. Needs perf (root or
 * perf_event_paranoid ≤ 1 for the tracepoints) and x86-64 or arm64 Linux.
 *
 *   bun bench/probes/startup-faults.ts [--exe dist/bobcat]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bin, freePort, option, ROOT } from "../lib.ts";
import { elfSections } from "../smaps.ts";

const exe = resolve(option("--exe", join(ROOT, "dist/bobcat")));
const pki = join(ROOT, "tests/fixtures/pki");
const work = mkdtempSync(join(tmpdir(), "bobcat-startup-faults-"));
writeFileSync(
  join(work, "hello.ts"),
  `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
);
const rawExe = join(work, "raw-bun-serve");
const built = spawnSync(
  bin("bun"),
  [
    "build",
    "--compile",
    "--bytecode",
    "--format=esm",
    "--minify",
    join(ROOT, "bench/raw-bun-serve.ts"),
    "--outfile",
    rawExe,
  ],
  { encoding: "utf8" },
);
if (built.status !== 0) throw new Error(`bun build --compile of the raw Bun.serve failed:\n${built.stderr}`);

/** The perf script lines of one start: page faults (address) and writes (fd), in time order. */
async function trace(name: string, cmd: (port: number) => string[]): Promise<{ lines: string[]; marks: string[] }> {
  const port = await freePort();
  const data = join(work, `${name}.data`);
  const argv = cmd(port);
  // Synced first: the raw server's binary was just written, and dirty pages stay in the page cache.
  spawnSync("sync", [argv[0]!]);
  spawnSync("dd", [`if=${argv[0]}`, "iflag=nocache", "count=0", "status=none"]);
  const p = spawn(
    "perf",
    ["record", "-q", "-e", "page-faults", "-c", "1", "-d", "-e", "syscalls:sys_enter_write", "-o", data, "--", ...argv],
    { cwd: work, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, BOBCAT_TIMING: "1" } },
  );
  let err = "";
  p.stderr!.on("data", (d) => (err += d));
  const t0 = Date.now();
  for (;;) {
    if (p.exitCode !== null) throw new Error(`${name} exited: ${err}`);
    if (Date.now() - t0 > 20000) throw new Error(`${name}: no 200 within 20 s`);
    try {
      const r = await fetch(
        `https://127.0.0.1:${port}/`,
        { tls: { rejectUnauthorized: false }, keepalive: false } as RequestInit,
      );
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 1000));
  // The traced server is perf's child: ending it ends the recording.
  const child = Number(readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, "utf8").trim().split(" ")[0]);
  process.kill(child, "SIGKILL");
  await new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r)));
  const out = spawnSync("perf", ["script", "-i", data, "-F", "event,addr,trace"], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const marks = err.split("\n").filter((l) => l.startsWith("[timing]")).map((l) =>
    l.replace(/^\[timing\] /, "").replace(/: [\d.]+ ms since.*$/, "")
  );
  return { lines: out.stdout.split("\n"), marks };
}

try {
  const text = elfSections(rawExe).find((s) => s.name === ".text")!;
  const exeText = elfSections(exe).find((s) => s.name === ".text")!;
  if (text.size !== exeText.size) console.error("note: the two binaries' .text differ in size (another Bun version?)");
  // Both are non-PIE copies of the same Bun: .text sits at the same virtual address in both.
  const sections = spawnSync("readelf", ["-SW", rawExe], { encoding: "utf8" }).stdout;
  const vaddr = parseInt(/ \.text\s+PROGBITS\s+([0-9a-f]+)/.exec(sections)![1]!, 16);
  const inText = (a: number) => a >= vaddr && a < vaddr + text.size;
  const windows = (lines: string[], phaseOf?: (w: number, phase: number) => void) => {
    const seen = new Set<number>();
    let phase = 0;
    for (const l of lines) {
      if (l.includes("sys_enter_write")) {
        if (/fd: 0x0*2,/.test(l)) phase++;
        continue;
      }
      const m = /page-faults:\s+([0-9a-f]+)/.exec(l);
      if (!m) continue;
      const a = parseInt(m[1]!, 16);
      if (!inText(a)) continue;
      const w = Math.floor(a / 65536);
      if (seen.has(w)) continue;
      seen.add(w);
      phaseOf?.(w, phase);
    }
    return seen;
  };
  const raw = windows(
    (await trace(
      "raw",
      (p) => [rawExe, String(p), join(pki, "localhost-rsa.pem"), join(pki, "localhost-rsa-key.pem"), "0"],
    )).lines,
  );
  const conf = (p: number) => {
    const f = join(work, `server-${p}.yaml`);
    writeFileSync(
      f,
      `logging: { level: warn }\nserver:\n  services:\n    - connectors:\n        - port: ${p}\n          address: 127.0.0.1\n          SSLEnabled: true\n          sslHostConfigs:\n            - certificates:\n                - certificateFile: ${
        join(pki, "localhost-rsa.pem")
      }\n                  certificateKeyFile: ${
        join(pki, "localhost-rsa-key.pem")
      }\n      engine:\n        defaultHost: localhost\n        hosts:\n          - name: localhost\n            contexts:\n              - path: ""\n                handler: hello.ts\n`,
    );
    return f;
  };
  const bobcat = await trace("bobcat", (p) => [exe, "run", "--config", conf(p)]);
  // Phase i runs from mark i - 1 to mark i (the marks name the phase that just ended).
  const names = [...bobcat.marks, "idle"].map((m, i) => `${i === 0 ? "process start" : bobcat.marks[i - 1]} → ${m}`);
  const fresh = names.map(() => 0);
  const all = windows(bobcat.lines, (w, phase) => {
    if (!raw.has(w)) fresh[Math.min(phase, names.length - 1)]!++;
  });
  console.log(
    `64 KiB windows of .text faulted in: raw ${raw.size}, bobcat ${all.size}, bobcat only ${
      [...all].filter((w) => !raw.has(w)).length
    }`,
  );
  console.log("| phase (from the mark before to the next) | windows bobcat only | ≈ MiB |");
  console.log("|---|---:|---:|");
  names.forEach((n, i) => console.log(`| ${n} | ${fresh[i]} | ${(fresh[i]! / 16).toFixed(1)} |`));
} finally {
  rmSync(work, { recursive: true, force: true });
}
