/**
 * Starts a bobcat CLI under Deno with V8's script log on, waits for its first HTTPS 200, and
 * returns which modules of Deno's Node layer had loaded by then (tests/helpers/deno-node-trace.ts).
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DENO, ROOT } from "./bobcat.ts";
import { nodeLayerModules, traceFlags } from "./deno-node-trace.ts";

/** The Node-layer modules that `deno run` loads for the global setTimeout alone (Deno 2's timers are Node's). */
export function timerModules(dir: string): Set<string> {
  const script = join(dir, "timers-only.mjs");
  const log = join(dir, "timers-only.log");
  writeFileSync(script, "clearTimeout(setTimeout(() => {}, 1000));\n");
  const r = Bun.spawnSync([DENO, "run", "-A", traceFlags(log), script], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`deno run of ${script}: ${r.stderr.toString()}`);
  return new Set(nodeLayerModules(log));
}

/**
 * `deno run -A <entry> ...args` in `cwd`, until `url` answers 200 (30 s at most); then the
 * Node-layer modules loaded so far. The process is killed before this returns.
 */
export function nodeLayerAtFirstRequest(
  entry: string,
  args: string[],
  url: string,
  /** `config`: the deno.json to run with (the checkout's by default). */
  opts: { cwd: string; env?: Record<string, string>; log: string; config?: string; after?: () => Promise<void> },
): Promise<string[]> {
  const cmd = [
    DENO,
    "run",
    "-A",
    "--quiet",
    `--config=${opts.config ?? join(ROOT, "deno.json")}`,
    traceFlags(opts.log),
  ];
  return nodeLayerOfCommand([...cmd, entry, ...args], url, opts);
}

/**
 * As nodeLayerAtFirstRequest for any command that ends up running Deno (the npm launcher): V8's
 * log is asked for through DENO_V8_FLAGS.
 */
export async function nodeLayerOfCommand(
  cmd: string[],
  url: string,
  /** `after`: what to wait for once the 200 came, before the trace is read. */
  opts: { cwd: string; env?: Record<string, string>; log: string; after?: () => Promise<void> },
): Promise<string[]> {
  const v8Flags = traceFlags(opts.log).slice("--v8-flags=".length);
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_V8_FLAGS: v8Flags, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  let exited = false;
  proc.on("exit", () => (exited = true));
  try {
    const deadline = Date.now() + 30000;
    for (;;) {
      if (exited) throw new Error(`${cmd.join(" ")} exited before answering:\n${out}`);
      if (Date.now() > deadline) throw new Error(`${cmd.join(" ")}: no 200 from ${url} within 30 s:\n${out}`);
      const status = await fetch(url, { tls: { rejectUnauthorized: false }, keepalive: false } as RequestInit).then(
        (r) => r.arrayBuffer().then(() => r.status),
        () => 0,
      );
      if (status === 200) break;
      await Bun.sleep(25);
    }
    await opts.after?.();
    return nodeLayerModules(opts.log);
  } finally {
    // SIGTERM: a launcher passes it on to its child (a SIGKILL would leave the child to notice alone).
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), 10000);
    await new Promise((r) => (exited ? r(null) : proc.on("exit", r)));
    clearTimeout(t);
  }
}
