#!/usr/bin/env node
// `npx bobcat ...` / `npm exec bobcat`: runs the CLI under the Bun that npm installed with it
// (set BOBCAT_RUNTIME=deno to use Deno instead).
//
// The runtime's own binary is started, never a wrapper (npm's `deno/bin.cjs` is a Node script
// that neither passes signals on nor dies with its parent). SIGINT, SIGTERM and SIGHUP sent to
// this process are passed on; it exits with the child's status, or by the child's signal. The
// child gets the read end of a pipe as fd 3 (BOBCAT_PARENT_FD): if this process dies, SIGKILL
// included, the child reads end-of-file and stops as on SIGTERM.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const runtime = process.env.BOBCAT_RUNTIME === "deno" ? "deno" : "bun";
// Deno refuses to strip types from .ts files under node_modules: installed from npm, Deno runs the
// CLI's JavaScript build (dist-lib/cli.js, made when the package is packed). It also starts
// faster than the sources (fewer, smaller modules; README "Figures measured here"), so a checkout
// runs it under Deno too while it is newer than every source file (`bun scripts/build-lib.ts`
// makes it), and the sources otherwise. Bun runs the sources everywhere.
const installed = here.split(/[\\/]/).includes("node_modules");
const root = join(here, "..");
const build = join(root, "dist-lib", "cli.js");
const cli = runtime === "deno" && (installed || buildIsCurrent()) ? build : join(root, "src", "cli", "main.ts");
const exe = process.platform === "win32" ? ".exe" : "";

/** dist-lib/cli.js exists and nothing it was built from (src/, mod.ts, edge.ts, package.json) is newer. */
function buildIsCurrent() {
  let built;
  try {
    built = statSync(build).mtimeMs;
  } catch {
    return false;
  }
  const newer = (path) => {
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs > built;
    return readdirSync(path).some((name) => newer(join(path, name)));
  };
  try {
    return ![join(root, "src"), join(root, "mod.ts"), join(root, "edge.ts"), join(root, "package.json")].some(newer);
  } catch {
    return false;
  }
}

/** A native executable (ELF, Mach-O, PE), not a script or a placeholder. */
function isNativeBinary(path) {
  if (!existsSync(path)) return false;
  const head = Buffer.alloc(4);
  let fd;
  try {
    fd = openSync(path, "r");
    if (readSync(fd, head, 0, 4, 0) < 4) return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const magic = head.readUInt32BE(0);
  return (
    magic === 0x7f454c46 || // ELF
    [0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(magic) || // Mach-O
    head.subarray(0, 2).toString("latin1") === "MZ" // PE
  );
}

function packageDir(name) {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/**
 * Where npm put the runtime's binary: the main package's copy (its postinstall puts the binary
 * there), else the platform package it came from.
 */
function runtimeBinary(name) {
  const candidates = name === "bun"
    ? [
      // bun's package names its binary bun.exe on every platform.
      [packageDir("bun"), "bin/bun.exe"],
      ...["", "-baseline", "-musl", "-musl-baseline"].map((v) => {
        const platform = process.platform === "win32" ? "windows" : process.platform;
        const arch = process.arch === "arm64" ? "aarch64" : process.arch;
        return [packageDir(`@oven/bun-${platform}-${arch}${v}`), `bin/bun${exe}`];
      }),
    ]
    : [
      [packageDir("deno"), `deno${exe}`],
      ...["", "-glibc", "-musl"].map((
        v,
      ) => [packageDir(`@deno/${process.platform}-${process.arch}${v}`), `deno${exe}`]),
    ];
  const tried = [];
  for (const [dir, rel] of candidates) {
    if (!dir) continue;
    const path = join(dir, rel);
    tried.push(path);
    if (isNativeBinary(path)) return path;
  }
  console.error(
    `bobcat: cannot find the ${name} binary that npm installs with bobcat (looked at: ${
      tried.join(", ") || "no package found"
    }).\n` +
      `    fix: reinstall bobcat with install scripts allowed (npm install, not --ignore-scripts)` +
      (name === "bun" ? ", or set BOBCAT_RUNTIME=deno" : ""),
  );
  process.exit(1);
}

const binary = runtimeBinary(runtime);
const args = runtime === "deno"
  ? ["run", "-A", `--config=${join(root, "deno.json")}`, cli, ...process.argv.slice(2)]
  : [cli, ...process.argv.slice(2)];
const child = spawn(binary, args, {
  stdio: ["inherit", "inherit", "inherit", "pipe"],
  // A server should not ask the internet for a newer Deno at each start (nor spend the start's
  // time on the check's cache file); a user's own setting wins.
  env: runtime === "deno" && process.env.DENO_NO_UPDATE_CHECK === undefined
    ? { ...process.env, BOBCAT_PARENT_FD: "3", DENO_NO_UPDATE_CHECK: "1" }
    : { ...process.env, BOBCAT_PARENT_FD: "3" },
});
child.on("error", (err) => {
  console.error(`bobcat: cannot start ${binary}: ${err.message}`);
  process.exit(1);
});

const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
// Set once a signal reached this process itself: a terminal's Ctrl-C reaches the whole job, the
// shell npm started included, and must not be passed on a second time (below).
let signalled = false;
const forward = (sig) => {
  signalled = true;
  child.kill(sig);
};
for (const sig of forwarded) process.on(sig, forward);

// Under `npx bobcat` / `npm exec` / an npm script, npm runs this file through `sh -c` and passes
// a SIGTERM or SIGINT it receives to that shell only. A SIGTERM kills the shell, npm exits, and
// this process would be left running with the server: its parent going away is then the only
// sign of the stop, and it is passed on as SIGTERM (a graceful stop: sessions saved). A SIGKILL
// of npm leaves the shell alive (it waits for this process), so npm itself is watched too: the
// shell's parent. A SIGINT the shell catches and holds until this process ends (dash and bash
// both wait for their child first), so the only sign of it is that the shell ran: blocked in its
// wait for us, it is scheduled only for a signal — that SIGINT, or a SIGCHLD when this process is
// stopped and continued (Ctrl-Z, then fg) — so its context-switch count moving while this process
// ran on time, and no signal reached this process itself, is passed on as SIGINT. Started any other way (a shell, nohup, a service manager)
// nothing is watched.
if (process.env.npm_command !== undefined || process.env.npm_lifecycle_event !== undefined) {
  const TICK_MS = 200;
  const parent = process.ppid;
  const shell = isShell(parent);
  const npm = shell ? parentOf(parent) : undefined;
  let shellRuns = shell ? switchesOf(parent) : undefined;
  // Armed once the count has held still for a tick: not before the shell has settled into its
  // wait, nor after this process was stopped, until the SIGCHLDs of the stop and continue are in.
  let armed = false;
  let lastTick = Date.now();
  const watch = setInterval(() => {
    const now = Date.now();
    const late = now - lastTick > 3 * TICK_MS;
    lastTick = now;
    if (process.ppid !== parent || (npm !== undefined && !alive(npm))) {
      clearInterval(watch);
      child.kill("SIGTERM");
      return;
    }
    if (shellRuns === undefined || signalled) return;
    const runs = switchesOf(parent);
    if (late) armed = false;
    else if (runs !== shellRuns && armed) child.kill("SIGINT");
    else if (runs === shellRuns) armed = true;
    shellRuns = runs;
  }, TICK_MS);
  watch.unref();
  child.on("exit", () => clearInterval(watch));
}

/** How often `pid` has been scheduled (its voluntary and involuntary context switches, Linux), or undefined. */
function switchesOf(pid) {
  try {
    let n = 0;
    for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
      if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
        n += Number(line.slice(line.indexOf(":") + 1));
      }
    }
    return n;
  } catch {
    return undefined;
  }
}

/** A process's command name and parent, from /proc (Linux) or ps (elsewhere); undefined if unknown. */
function procInfo(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    return { comm: stat.slice(stat.indexOf("(") + 1, close), ppid: Number(stat.slice(close + 2).split(" ")[1]) };
  } catch { /* not Linux */ }
  const ps = spawnSync("ps", ["-o", "ppid=,comm=", "-p", String(pid)], { encoding: "utf8", timeout: 5000 });
  const m = /^\s*(\d+)\s+(.*)$/.exec(ps.stdout ?? "");
  return m ? { comm: m[2].trim().split("/").pop(), ppid: Number(m[1]) } : undefined;
}

function isShell(pid) {
  const comm = procInfo(pid)?.comm;
  return comm !== undefined && /^-?(sh|dash|bash|zsh|ksh|ash|busybox)$/.test(comm);
}

/** The parent of `pid` when it is a real process to watch (not init or a subreaper of last resort). */
function parentOf(pid) {
  const ppid = procInfo(pid)?.ppid;
  return ppid !== undefined && ppid > 1 ? ppid : undefined;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

child.on("exit", (code, signal) => {
  if (code !== null) process.exit(code);
  // Die the way the child died, so a shell or service manager sees the same signal.
  for (const sig of forwarded) process.off(sig, forward);
  process.kill(process.pid, signal);
  // A signal whose default action does not end a process.
  setTimeout(() => process.exit(1), 1000).unref();
});
