/**
 * What the bench scripts share: options, free ports, starting a server and waiting for its
 * "listening on" line, and the CPU time of a process tree (read from /proc, so the figures
 * stand even when other work shares the machine).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
export const bin = (name: string) => join(ROOT, "node_modules/.bin", name);

/** `--name value` from the command line, or the default. */
export function option(name: string, fallback: string, argv = process.argv.slice(2)): string {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

/** Starts a server, waits (bounded) until its log says `listening on` and returns it with that line. */
export async function startServer(
  cmd: string[],
  pattern = /listening on/,
  timeoutMs = 60000,
): Promise<{ p: ChildProcess; line: string }> {
  const p = spawn(cmd[0]!, cmd.slice(1), {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  });
  let log = "";
  p.stderr!.on("data", (d) => (log += d));
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(log)) {
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`server did not start: ${cmd.join(" ")}\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { p, line: log.split("\n").find((l) => pattern.test(l))! };
}

/** pid and all its descendants, from /proc. */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      parent.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]!.split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, pp] of parent) if (pp === out[i]) out.push(c);
  return out;
}

/** User + system CPU seconds of a process and its children (--runtime node runs one). */
export function cpuSeconds(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ");
      sum += (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
