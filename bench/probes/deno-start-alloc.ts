#!/usr/bin/env bun
/**
 * What a Deno start of bobcat allocates on V8's heap, and where: the start of bench/startup.ts
 * (the CLI build under `deno run`, HTTPS with a PEM certificate, a hello handler) up to its first
 * HTTPS 200, under `deno run --inspect-wait`, driven over the inspector (Chrome DevTools Protocol).
 *
 *   bun bench/probes/deno-start-alloc.ts [--entry dist-lib/cli.js | --source | --raw] [--young]
 *                                        [--interval 64] [--live] [--top 40] [--json out.json]
 *                                        [--deno-args "--v8-flags=..."] [--eval EXPR]
 *
 * --young: exact bytes, no sampling. The young generation is made large enough (16 MiB
 * semi-spaces) that the start runs no scavenge, and one is run at the first 200 (`--expose-gc`):
 * V8's trace of it gives what the whole start allocated in the young generation and what of it
 * was still alive — the figures that decide how many scavenges a start with the default 1 MiB
 * semi-spaces runs and whether the young generation grows (see docs/benchmark-history.md).
 *
 * Otherwise V8's sampling heap profiler, started before the program runs and read at the first
 * 200: each sample's stack mapped back to bobcat's sources through the build's source maps, the
 * bytes summed by source file, by the innermost frame in bobcat's (or a package's) code, by the
 * module top level on the stack, and by any frame. Every allocation counts, also what scavenges
 * freed (what the start allocates, in every space); --live counts only what is still alive at the
 * first 200. Sampling is statistical (one sample per `--interval` bytes on average). --source runs
 * the checkout's src/cli/main.ts instead of a build: each module is its own script there, so a
 * module's top level is told apart (in a build a chunk's modules share one top level, and a
 * sample names only the function it was taken in, at its start). --raw runs
 * bench/raw-deno-serve.ts, the baseline. --inspect-wait runs the program as soon as the inspector
 * connects, so sampling can begin a moment late (--inspect-brk's pause was not always announced,
 * and the probe hung): a profile without the CLI's argument parsing is taken again, but compare
 * totals across runs before trusting one.
 *
 * --eval EXPR evaluates EXPR in the server at the first 200 instead of profiling, lets it exit
 * (EXPR may end in Deno.exit(); else SIGTERM after a second) and prints its output, where V8's
 * trace flags write.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bin, freePort, option, ROOT } from "../lib.ts";

const raw = process.argv.includes("--raw");
const entry = process.argv.includes("--source")
  ? join(ROOT, "src/cli/main.ts")
  : resolve(option("--entry", join(ROOT, "dist-lib/cli.js")));
const interval = Number(option("--interval", "64"));
const live = process.argv.includes("--live");
const top = Number(option("--top", "40"));
const young = process.argv.includes("--young");
const denoArgs = [
  ...(young ? ["--v8-flags=--expose-gc,--trace-gc-nvp,--min-semi-space-size=16,--max-semi-space-size=16"] : []),
  ...option("--deno-args", "").split(" ").filter(Boolean),
];
const jsonOut = option("--json", "");
const evalAfter = young ? "gc({type:'minor'}); setTimeout(() => Deno.exit(0), 20)" : option("--eval", "");
const pki = join(ROOT, "tests/fixtures/pki");
const short = (p: string) => {
  const r = relative(ROOT, p);
  return r.startsWith("..") ? p : r;
};

const work = mkdtempSync(join(tmpdir(), "bobcat-start-alloc-"));
writeFileSync(
  join(work, "hello.ts"),
  `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
);
const port = await freePort();
const inspectPort = await freePort();
writeFileSync(
  join(work, "server.yaml"),
  `logging: { level: warn }
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${join(pki, "localhost-rsa.pem")}
                  certificateKeyFile: ${join(pki, "localhost-rsa-key.pem")}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: hello.ts
`,
);

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type Node = { callFrame: CallFrame; selfSize: number; id: number; children: Node[] };
type Sample = { size: number; nodeId: number; ordinal: number };
type Profile = { head: Node; samples: Sample[] };

const script = raw
  ? [
    join(ROOT, "bench/raw-deno-serve.ts"),
    String(port),
    join(pki, "localhost-rsa.pem"),
    join(pki, "localhost-rsa-key.pem"),
    "0",
  ]
  : [`--config=${join(ROOT, "deno.json")}`, entry, "run", "--config", join(work, "server.yaml")];
/**
 * One profiled start. --inspect-wait runs the program once a debugger connects, so sampling may
 * start a moment late; a profile without the start's first frames is taken again (below).
 */
async function profiledStart(): Promise<Profile> {
  const child = spawn(bin("deno"), [
    "run",
    "-A",
    `--inspect-wait=127.0.0.1:${inspectPort}`,
    ...denoArgs,
    ...script,
  ], { cwd: work, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" } });
  let log = "";
  child.stderr!.on("data", (d) => (log += d));
  child.stdout!.on("data", (d) => (log += d)); // V8's --trace-gc lines

  let profile!: Profile;
  try {
    const deadline = Date.now() + 60000;
    let wsUrl: string | undefined;
    while (!wsUrl) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no inspector:\n${log}`);
      wsUrl = /ws:\/\/\S+/.exec(log)?.[0];
      if (!wsUrl) await new Promise((r) => setTimeout(r, 20));
    }
    const ws = new WebSocket(wsUrl);
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    let nextId = 1;
    const pending = new Map<number, (v: unknown) => void>();
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg.id && pending.has(msg.id)) {
        pending.get(msg.id)!(msg.error ? Promise.reject(new Error(JSON.stringify(msg.error))) : msg.result);
        pending.delete(msg.id);
      }
    };
    const send = (method: string, params: object = {}) =>
      new Promise<any>((r) => {
        const id = nextId++;
        pending.set(id, r);
        ws.send(JSON.stringify({ id, method, params }));
      });
    if (!evalAfter) {
      await send("HeapProfiler.enable");
      await send("HeapProfiler.startSampling", {
        samplingInterval: interval,
        includeObjectsCollectedByMajorGC: !live,
        includeObjectsCollectedByMinorGC: !live,
      });
    }
    await send("Runtime.runIfWaitingForDebugger");
    for (;;) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no 200:\n${log}`);
      try {
        const r = await fetch(`https://127.0.0.1:${port}/`, { tls: { rejectUnauthorized: false } } as RequestInit);
        await r.arrayBuffer();
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    if (evalAfter) {
      const r = await send("Runtime.evaluate", { expression: evalAfter });
      if (r?.exceptionDetails) console.log(`--eval threw: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
      // V8's trace lines go to a piped stdout, buffered until the process exits: let it exit (an
      // EXPR may end in Deno.exit(); else SIGTERM, which bobcat takes as a stop, after a second).
      // Deno waits at exit for an attached debugger to go.
      ws.close();
      const exited = new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
      child.kill("SIGTERM");
      await exited;
      if (young) printYoung(log);
      else console.log(`after ${evalAfter}, the server's log:\n${log}`);
    }
    if (!evalAfter) profile = (await send("HeapProfiler.stopSampling")).profile;
    ws.close();
  } finally {
    child.kill("SIGKILL");
  }
  return profile;
}

/** The scavenge at the first 200, from V8's --trace-gc-nvp line: what the start allocated young and what lived. */
function printYoung(log: string): void {
  const line = log.split("\n").find((l) => l.includes('"gc":"s"'));
  if (!line) throw new Error(`no scavenge traced:\n${log}`);
  const field = (name: string) => Number(new RegExp(`"${name}":([0-9.]+)`).exec(line)?.[1]);
  const alive = field("promoted") + field("new_space_survived");
  const allocated = alive / field("new_space_survive_rate") * 100;
  console.log(
    `${raw ? "raw Deno.serve" : short(entry)}: allocated in the young generation up to the first 200 ${
      (allocated / 1024).toFixed(0)
    } KiB, alive then ${(alive / 1024).toFixed(0)} KiB; the whole heap's objects ${
      (field("start_object_size") / 1024).toFixed(0)
    } KiB`,
  );
}

/** Whether the profile saw the start from its beginning: the CLI's argument parsing (or the raw script's top level). */
function complete(p: Profile): boolean {
  const want = (f: CallFrame) =>
    raw ? f.functionName === "" && f.url.endsWith("raw-deno-serve.ts") : f.functionName === "parseCommand";
  const sampled = (n: Node): boolean => n.selfSize > 0 || n.children.some(sampled);
  const seen = (n: Node): boolean => (want(n.callFrame) && sampled(n)) || n.children.some(seen);
  return seen(p.head);
}

let profile = await profiledStart();
for (let tries = 1; !evalAfter && !complete(profile) && tries < 5; tries++) {
  console.error("the profile missed the start's first frames (sampling began late): again");
  profile = await profiledStart();
}
rmSync(work, { recursive: true, force: true });
if (evalAfter) process.exit(0);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(profile));

/** A build's source map, decoded to its segments (generated column, source, line) line by line. */
type Segment = { col: number; src: number; line: number };
const maps = new Map<string, { sources: string[]; lines: Segment[][] } | null>();
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function sourceMap(file: string) {
  if (maps.has(file)) return maps.get(file)!;
  let m = null;
  if (existsSync(`${file}.map`)) {
    const raw = JSON.parse(readFileSync(`${file}.map`, "utf8")) as { sources: string[]; mappings: string };
    const lines: Segment[][] = [];
    const state = [0, 0, 0, 0, 0];
    for (const genLine of raw.mappings.split(";")) {
      state[0] = 0;
      const segs: Segment[] = [];
      for (const seg of genLine.split(",")) {
        if (!seg) continue;
        const vals: number[] = [];
        let v = 0, shift = 0;
        for (const ch of seg) {
          const d = B64.indexOf(ch);
          v += (d & 31) << shift;
          if (d & 32) shift += 5;
          else {
            vals.push(v & 1 ? -(v >>> 1) : v >>> 1);
            v = 0;
            shift = 0;
          }
        }
        for (let i = 0; i < vals.length; i++) state[i]! += vals[i]!;
        if (vals.length >= 4) segs.push({ col: state[0]!, src: state[1]!, line: state[2]! });
      }
      lines.push(segs);
    }
    m = { sources: raw.sources.map((s) => resolve(dirname(file), s)), lines };
  }
  maps.set(file, m);
  return m;
}
/** The last segment at or before a generated position. */
function lookup(segs: Segment[] | undefined, col: number): Segment | undefined {
  if (!segs) return undefined;
  let found: Segment | undefined;
  for (const s of segs) {
    if (s.col > col) break;
    found = s;
  }
  return found ?? segs[0];
}
/** "function (src/x.ts:12)" for a frame, through the source map where there is one. */
function place(f: CallFrame): { file: string; label: string } {
  if (!f.url) return { file: `(${f.functionName || "native"})`, label: f.functionName || "(native)" };
  const file = f.url.startsWith("file:") ? fileURLToPath(f.url) : f.url;
  const m = sourceMap(file);
  const at = lookup(m?.lines[f.lineNumber], f.columnNumber);
  const src = at ? short(m!.sources[at.src]!) : short(file);
  const line = at ? at.line + 1 : f.lineNumber + 1;
  // A script's top level is the nameless function at its very start (arrow functions are nameless
  // too). A build's chunk runs all its modules in one top level: named by the chunk, not its first module.
  if (!f.functionName && f.lineNumber === 0 && f.columnNumber === 0) {
    const script = m ? short(file) : src;
    return { file: script, label: `(top level) ${script}` };
  }
  return { file: src, label: `${f.functionName || "(anonymous)"} ${src}:${line}` };
}
const ours = (file: string) => !file.startsWith("ext:") && !file.startsWith("(") && !file.startsWith("node:");

// Walk the tree: each node's self size to its innermost frame of ours, to its file, to the path.
const byFrame = new Map<string, number>();
const byFile = new Map<string, number>();
const byInnermost = new Map<string, number>();
const byTopLevel = new Map<string, number>();
let total = 0;
const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
function walk(node: Node, stack: { file: string; label: string }[]) {
  const here = place(node.callFrame);
  const s = [...stack, here];
  if (node.selfSize) {
    total += node.selfSize;
    add(byFrame, here.label, node.selfSize);
    const inner = [...s].reverse().find((p) => ours(p.file));
    add(byInnermost, inner ? inner.label : `(no frame of ours) ${here.label}`, node.selfSize);
    add(byFile, inner ? inner.file : "(no frame of ours)", node.selfSize);
    const tl = s.find((p) => p.label.startsWith("(top level)") && ours(p.file));
    add(byTopLevel, tl ? tl.file : "(not under a module top level)", node.selfSize);
  }
  for (const c of node.children) walk(c, s);
}
walk(profile.head, []);

const kib = (n: number) => (n / 1024).toFixed(0).padStart(6);
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kib(v)} KiB  ${k}`);
};
console.log(
  `${live ? "alive at" : "allocated up to"} the first 200: ${
    kib(total)
  } KiB sampled (interval ${interval} B), ${profile.samples.length} samples, ${raw ? "raw Deno.serve" : short(entry)}`,
);
show("by source file (innermost frame of ours)", byFile);
show("by innermost frame of ours", byInnermost);
show("by module top level on the stack (what loading a module builds)", byTopLevel);
show("by innermost frame (any)", byFrame);
