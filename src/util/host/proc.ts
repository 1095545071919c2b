/**
 * The running process: environment, working directory, exit, signals, standard output, resource
 * usage. On Deno through `Deno.*` (the `process` global would load Deno's Node compatibility
 * layer, ~27 ms of a start's CPU: src/util/host/deno.ts), elsewhere through `process`.
 */
import { DENO } from "./deno.ts";

/** An environment variable; undefined when unset, or on Deno without --allow-env. */
export function env(name: string): string | undefined {
  // Not every runtime has `process` (edge runtimes, src/runtime/worker-env.ts is loaded there too).
  if (!DENO) return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  try {
    return DENO.env.get(name);
  } catch {
    return undefined;
  }
}

/** The environment as a record to look names up in: on Deno each lookup reads the variable then. */
export function envRecord(): Readonly<Record<string, string | undefined>> {
  if (!DENO) return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  return new Proxy({}, { get: (_, name) => (typeof name === "string" ? env(name) : undefined) });
}

/** Removes an environment variable (so that child processes do not inherit it). */
export function deleteEnv(name: string): void {
  if (DENO) DENO.env.delete(name);
  else delete process.env[name];
}

/** The command-line arguments after the script. */
export function args(): string[] {
  return DENO ? DENO.args : process.argv.slice(2);
}

/** The working directory; "/" where there is none (an edge runtime without `process`). */
export function cwd(): string {
  if (DENO) return DENO.cwd();
  const proc = (globalThis as { process?: { cwd?: () => string } }).process;
  return proc?.cwd ? proc.cwd() : "/";
}

export function pid(): number {
  return DENO ? DENO.pid : process.pid;
}

/** The user's home directory, as node:os's homedir() (HOME, USERPROFILE on Windows). */
export function homedir(): string {
  if (!DENO || DENO.build.os === "windows") {
    return (process.getBuiltinModule("node:os") as typeof import("node:os")).homedir();
  }
  return env("HOME") ?? "/";
}

/** How many threads can run in parallel, as node:os's availableParallelism(). */
export function availableParallelism(): number {
  if (DENO) return navigator.hardwareConcurrency || 1;
  return (process.getBuiltinModule("node:os") as typeof import("node:os")).availableParallelism();
}

export function exit(code: number): never {
  return DENO ? DENO.exit(code) : process.exit(code);
}

export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP";

/** Calls `handler` on each `signal`; the returned function stops that. */
export function onSignal(signal: SignalName, handler: () => void): () => void {
  if (DENO) {
    try {
      DENO.addSignalListener(signal, handler);
    } catch {
      // Deno on Windows has SIGINT and SIGBREAK only: the others never come.
      return () => {};
    }
    return () => DENO!.removeSignalListener(signal, handler);
  }
  process.on(signal, handler);
  return () => process.off(signal, handler);
}

const encoder = new TextEncoder();

/** Writes `text` to standard output, synchronously on Deno, as process.stdout.write does elsewhere. */
export function writeStdout(text: string): void {
  if (!DENO) {
    process.stdout.write(text);
    return;
  }
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.length;) at += DENO.stdout.writeSync(bytes.subarray(at));
}

/** Resident memory and JavaScript heap in use, in bytes. */
export function memoryUsage(): { rss: number; heapUsed: number } {
  return DENO ? DENO.memoryUsage() : process.memoryUsage();
}

/**
 * User + system CPU time of this process so far, in ms. On Deno on Linux from /proc/self/stat
 * (clock ticks, 100 a second there); process.cpuUsage() elsewhere.
 */
export function cpuMs(): number {
  if (DENO && DENO.build.os === "linux") {
    try {
      const stat = DENO.readTextFileSync("/proc/self/stat");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch { /* no /proc: below */ }
  }
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
