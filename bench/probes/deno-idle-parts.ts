#!/usr/bin/env bun
/**
 * What each Deno API a bobcat start touches leaves resident for the life of a server: a raw
 * `Deno.serve` over HTTPS (bench/raw-deno-serve.ts's, the same certificate), and the same server
 * with one more thing done at start, each answering one HTTPS request and then idle for a second;
 * the idle RSS by kind (bench/smaps.ts: Deno's machine code, read-only data, glibc's main heap,
 * other anonymous memory, which is mostly V8's heap). Deno's binary is dropped from the page cache
 * first, as bench/startup.ts does; rounds interleaved, medians.
 *
 *   bun bench/probes/deno-idle-parts.ts [--rounds 5] [--only raw,ffi,...] [--modules FILE.js]
 *
 * Rows (each on top of the raw server):
 *   ffi             bobcat's TCP_NODELAY on the listener before the change: libc's getsockname and
 *                   setsockopt through Deno.dlopen with int results (Deno compiles a fast-call
 *                   trampoline with Cranelift for each)
 *   ffi-struct      the same symbols returning a struct of one int (libffi's generic path, no
 *                   Cranelift), as src/runtime/deno-nodelay.ts does now
 *   ffi-struct-one  setsockopt alone, the listener found through /proc/net/tcp and the links in
 *                   /proc/self/fd instead of getsockname and getsockopt
 *   accept          Deno.listenTls with bobcat's own accept loop and serveHttpOnConnection
 *                   instead of Deno.serve (src/runtime/deno.ts)
 *   structuredClone one structuredClone of a small object (config defaults were copied with it)
 *   file-async      Deno.stat, Deno.open, stat and read on the handle (src/util/files.ts on Deno)
 *   file-sync       the same with the synchronous calls
 *   stat            Deno.statSync alone
 *   open-read       Deno.openSync and readSync on the handle, no stat
 *   open-fstat-read the same with statSync on the handle
 *   waitAsync       one Atomics.waitAsync with a timeout (src/util/background-timer.ts on Deno)
 *   signal          Deno.addSignalListener("SIGINT")
 *   subtle          crypto.subtle.digest (the manager app's CSP hash)
 *   regexps         45 of the 48 regular expressions a start of the build ran on a plain config
 *                   (config reading, PEM parsing, names; found by wrapping RegExp.prototype.exec,
 *                   which missed src/util/ip.ts's three; V8's code log names all 48), each run
 *                   on a few lines as the start ran them (most more than once: V8 compiles a
 *                   regular expression to machine code at its second run). On this raw server they
 *                   cost +1.5 MiB, yet a build with all 48 written as string code idled only 0.1
 *                   MiB lower than the same build with them: what bobcat's start does otherwise
 *                   pages in most of that code already (docs/benchmark-history.md)
 *   start-modules   the modules a start of the CLI build loads (dist-lib/cli.js's static chunk,
 *                   `bun scripts/build-lib.ts`; the row is left out without it) imported, nothing
 *                   of them run: what loading them and running their top level costs, the most
 *                   that loading fewer of them could save; --modules FILE.js imports that module
 *                   instead (e.g. one source file bundled with `bun build`), to weigh a part of them
 *   import-one      the control for it: a dynamic import of a one-line JavaScript module
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bin, freePort, median, option, ROOT } from "../lib.ts";
import { smapsBreakdown } from "../smaps.ts";

/** The regular expressions a start of the build ran (RegExp.prototype.exec wrapped at its top). */
const START_REGEXPS = [
  /(?=[+-](?:TLS|SSL|all))|[,\s]+/iy,
  /([ ]$)/,
  /([,+"\\<>;])/g,
  /([\r\n\t])/,
  /(^|[\s[{,])[&*!?@`%]/,
  /(^|[\s[{,])[-+]?0[xXoO]/,
  /: | #|:$/,
  /:| #/,
  /ENCRYPTED/,
  /[?#]/g,
  /[\t\r\ufeff]/,
  /\.toml$/i,
  /\.ya?ml$/i,
  /\r?\n|\r/y,
  /^(""|[^\s[\]{},:"'#][^:]*?) *:(?= |$)/,
  /^(---|\.\.\.)(\s|$)/,
  /^(---|\.\.\.)(\s|$)|^%/,
  /^(.*?) \(os error \d+\)(?:: (.*))?$/,
  /^(?:[Ff]alse|FALSE)$/,
  /^(?:[Tt]rue|TRUE)$/,
  /^(?:~|[Nn]ull|NULL)$/,
  /^([ #])/,
  /^([A-Za-z-]+):\s*(.*)$/,
  /^([A-Za-z_][A-Za-z0-9_.-]*) *:(?= |$)/,
  /^([A-Za-z_][A-Za-z0-9_.-]*) *:(?=[ ,}]|$)/,
  /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/,
  /^(null|Null|NULL)$/,
  /^-( +|$)/,
  /^-----BEGIN ([A-Z0-9 ]+)-----\s*$/,
  /^-----END ([A-Z0-9 ]+)-----\s*$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/,
  /^[-+]?0[xXoO]/,
  /^[-+]?[0-9]+$/,
  /^[-+]?\.(?:inf|Inf|INF)$/,
  /^[-:] |^[-:]$/,
  /^[-:]( |$)/,
  /^[A-Za-z0-9+/]*={0,2}$/,
  /^[A-Za-z_][A-Za-z0-9_.-]*$/,
  /^[\s,}\]]?$/,
  /^[^,[\]{}]*/,
  /^[a-z][a-z0-9+.-]*:/i,
  /^[|>][0-9+-]*$/,
  /^\.(?:nan|NaN|NAN)$/,
  /^\d+$/,
  /keystore/i,
];
const rounds = Number(option("--rounds", "5"));
const only = option("--only", "").split(",").filter(Boolean);
const cert = join(ROOT, "tests/fixtures/pki/localhost-rsa.pem");
const key = join(ROOT, "tests/fixtures/pki/localhost-rsa-key.pem");
/** The chunk dist-lib/cli.js imports statically (every module a start loads), if the build is there. */
const startChunk = option("--modules", "") ? resolve(option("--modules", "")) : (() => {
  const cli = join(ROOT, "dist-lib/cli.js");
  const chunk = existsSync(cli)
    ? /from\s*"(\.\/cli\/chunk-[\w-]+\.js)"/.exec(readFileSync(cli, "utf8"))?.[1]
    : undefined;
  return chunk ? join(ROOT, "dist-lib", chunk) : undefined;
})();

/** The server: the variant's name, port, certificate and key as arguments. */
const SCRIPT = `
const [variant, port, certFile, keyFile] = Deno.args;
const p = Number(port);
const cert = Deno.readTextFileSync(certFile), key = Deno.readTextFileSync(keyFile);
const handler = (_req) => new Response("Hello, world", { headers: { "content-type": "text/plain" } });
function noDelay(struct) {
  const result = struct ? { struct: ["i32"] } : "i32";
  const ok = (r) => (struct ? r.every((b) => b === 0) : r === 0);
  const lib = Deno.dlopen("libc.so.6", {
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result },
    getsockname: { parameters: ["i32", "buffer", "buffer"], result },
  });
  const sa = new Uint8Array(128);
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    const fd = Number(e.name);
    if (fd < 3 || !ok(lib.symbols.getsockname(fd, sa, new Uint32Array([128])))) continue;
    if (((sa[2] << 8) | sa[3]) === p) lib.symbols.setsockopt(fd, 6, 1, new Int32Array([1]), 4);
  }
  lib.close();
}
/** setsockopt alone (a struct result), on every socket of this process listening on the port (/proc/net/tcp). */
function noDelayOne() {
  const lib = Deno.dlopen("libc.so.6", {
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: { struct: ["i32"] } },
  });
  const hexPort = p.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(table).split("\\n").slice(1)) {
      const f = line.trim().split(" ").filter(Boolean);
      if (f[3] === "0A" && f[1] && f[1].endsWith(":" + hexPort)) inodes.add(f[9]);
    }
  }
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    let target = "";
    try { target = Deno.readLinkSync("/proc/self/fd/" + e.name); } catch { continue; }
    if (inodes.has(target.slice(8, -1))) lib.symbols.setsockopt(Number(e.name), 6, 1, new Int32Array([1]), 4);
  }
  lib.close();
}
const onListen = () => {
  if (variant === "ffi") noDelay(false);
  if (variant === "ffi-struct") noDelay(true);
  if (variant === "ffi-struct-one") noDelayOne();
};
if (variant === "structuredClone") structuredClone({ a: [1, 2, { b: "x" }] });
if (variant === "file-async") {
  await Deno.stat(certFile);
  const f = await Deno.open(certFile, { read: true });
  await f.stat();
  await f.read(new Uint8Array(65536));
  f.close();
}
if (variant === "file-sync") {
  Deno.statSync(certFile);
  const f = Deno.openSync(certFile, { read: true });
  f.statSync();
  f.readSync(new Uint8Array(65536));
  f.close();
}
if (variant === "stat") Deno.statSync(certFile);
if (variant === "open-read" || variant === "open-fstat-read") {
  const f = Deno.openSync(certFile, { read: true });
  if (variant === "open-fstat-read") f.statSync();
  f.readSync(new Uint8Array(65536));
  f.close();
}
if (variant === "waitAsync") Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10000);
if (variant === "signal") Deno.addSignalListener("SIGINT", () => {});
if (variant === "regexps") {
  const lines = [...cert.split("\\n"), "server:", "  - port: 8443", "logging: { level: warn }", "true", "1.5"];
  for (const [source, flags] of ${JSON.stringify(START_REGEXPS.map((r) => [r.source, r.flags]))}) {
    const re = new RegExp(source, flags);
    for (const line of lines.slice(0, 4).concat(lines.slice(-5))) re.lastIndex = 0, re.test(line);
  }
}
if (variant === "start-modules") await import(Deno.env.get("START_CHUNK"));
if (variant === "import-one") await import(new URL("./one.js", import.meta.url).href);
if (variant === "subtle") await crypto.subtle.digest("SHA-256", new TextEncoder().encode("x"));
if (variant === "accept") {
  const serve = Deno[Deno.internal].serveHttpOnConnection;
  const l = Deno.listenTls({ hostname: "127.0.0.1", port: p, cert, key, alpnProtocols: ["http/1.1"] });
  (async () => {
    for (;;) serve(await l.accept(), new AbortController().signal, handler, () => new Response("", { status: 500 }), () => {});
  })();
} else {
  Deno.serve({ port: p, hostname: "127.0.0.1", cert, key, onListen }, handler);
}
`;
const VARIANTS = [
  "raw",
  "ffi",
  "ffi-struct",
  "ffi-struct-one",
  "accept",
  "structuredClone",
  "file-async",
  "file-sync",
  "stat",
  "open-read",
  "open-fstat-read",
  "waitAsync",
  "signal",
  "subtle",
  "regexps",
  "import-one",
  ...(startChunk ? ["start-modules"] : []),
].filter((v) => v === "raw" || only.length === 0 || only.includes(v));
const ROWS: [string, string][] = [
  ["total (VmRSS)", "total"],
  ["runtime machine code (.text)", "machine code"],
  ["runtime read-only data (.rodata)", "read-only data"],
  ["brk heap (glibc malloc)", "malloc"],
  ["other anonymous (Deno: the V8 heap; stacks, small mmaps, .bss)", "other anonymous"],
];

const dir = mkdtempSync(join(tmpdir(), "bobcat-deno-idle-parts-"));
const script = join(dir, "server.js");
writeFileSync(script, SCRIPT);
writeFileSync(join(dir, "one.js"), "export const one = 1;\n");
spawnSync("dd", [`if=${realpathSync(bin("deno"))}`, "iflag=nocache", "count=0", "status=none"]);

async function once(variant: string): Promise<Map<string, number>> {
  const port = await freePort();
  const p = spawn(bin("deno"), ["run", "-A", "--no-config", script, variant, String(port), cert, key], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", START_CHUNK: startChunk ?? "" },
  });
  try {
    for (let i = 0;; i++) {
      if (i === 4000 || p.exitCode !== null) throw new Error(`${variant}: no answer`);
      try {
        const r = await fetch(`https://127.0.0.1:${port}/`, { tls: { rejectUnauthorized: false }, keepalive: false });
        await r.arrayBuffer();
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      await Bun.sleep(3);
    }
    await Bun.sleep(1000);
    return smapsBreakdown(p.pid!);
  } finally {
    p.kill("SIGKILL");
    await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once("exit", r)));
  }
}

const samples = new Map(VARIANTS.map((v) => [v, [] as Map<string, number>[]]));
try {
  for (let i = 0; i < rounds; i++) for (const v of VARIANTS) samples.get(v)!.push(await once(v));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const mib = (v: string, row: string) => median(samples.get(v)!.map((m) => m.get(row) ?? 0)) / 1024;
console.log(`idle RSS after one HTTPS request, MiB, medians of ${rounds} interleaved rounds (+ against raw)`);
console.log(`| | ${ROWS.map(([, label]) => label).join(" | ")} |`);
console.log(`|---|${ROWS.map(() => "---:").join("|")}|`);
for (const v of VARIANTS) {
  const cells = ROWS.map(([row]) => {
    const x = mib(v, row), d = x - mib("raw", row);
    return v === "raw" ? x.toFixed(1) : `${x.toFixed(1)} (${d >= 0 ? "+" : ""}${d.toFixed(1)})`;
  });
  console.log(`| ${v} | ${cells.join(" | ")} |`);
}
