/**
 * `server.workers: N|auto` (bobcat's own; Tomcat has one JVM with a thread pool): N worker
 * processes, each a whole bobcat (engines, connectors, sessions), all listening on the same ports
 * with SO_REUSEPORT, so the kernel spreads new connections over them. Processes, not threads: a
 * crash, a runaway handler or an out-of-memory in one worker leaves the others serving, and every
 * back-end (Bun.serve, Deno's listeners, node:net) can share a port between processes.
 *
 * The primary (the process `bobcat run` started) loads the config, checks that workers can share
 * it (sessions in a shared store, fixed ports free), then starts the workers with its own command
 * line and supervises them:
 * - a worker that crashes is started again after a bounded, growing delay (0.1 s doubling to
 *   10 s; back to 0.1 s once a worker has served for a minute); if the first start of any worker
 *   fails, or a worker fails 10 times in a row before it is ready, everything stops with status 1;
 * - SIGTERM/SIGINT reach every worker, which stops gracefully within gracefulStopTimeout; a
 *   worker still running 10 s after that is killed; status 0 when every worker stopped cleanly;
 * - SIGHUP reaches every worker (each reloads its TLS material and logs it under its number), and
 *   so does a reload from the manager app (the worker that got it asks the primary to tell the others).
 * - requests of one session on different workers take turns (consistency: shared,
 *   sessionLockWait): the primary keeps the turns (turns.ts), and a worker that exits loses its own.
 * A worker knows it is one from BOBCAT_WORKER (its number, 1..N); it watches the primary through
 * the descriptor of parent-watch.ts (so it stops if the primary dies, even by SIGKILL) and says
 * "ready" back over it once it listens.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BobcatConfig } from "../config/model.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { configureLogging, logger } from "../util/log.ts";
import { RUNTIME } from "../util/runtime.ts";
import { listenError } from "./listener.ts";
import { PARENT_FD_ENV, whenParentExits } from "./parent-watch.ts";
import { TurnService } from "./turns.ts";
import { WORKER_ENV, workerProblems } from "./worker-env.ts";

const log = logger("workers");

/** The command line that runs this same bobcat again (the runtime, its flags, the entry, the arguments). */
function selfCommand(): string[] {
  if (RUNTIME === "deno") {
    const d = (globalThis as unknown as {
      Deno: { execPath(): string; mainModule: string; args: string[]; build: { standalone?: boolean } };
    }).Deno;
    const args = d.args;
    const main = d.mainModule;
    // `deno compile`: the executable is the program.
    if (d.build.standalone || /deno-compile-/.test(main) || !main.startsWith("file:")) return [d.execPath(), ...args];
    const path = fileURLToPath(main);
    const config = findUp(dirname(path), "deno.json");
    return [
      d.execPath(),
      "run",
      "-A",
      "--unstable-net",
      "--unstable-no-legacy-abort",
      "--quiet",
      ...(config ? [`--config=${config}`] : []),
      path,
      ...args,
    ];
  }
  const args = process.argv.slice(2);
  const entry = process.argv[1] ?? "";
  // `bun build --compile`: the entry lives in the executable's own file system.
  if (entry.startsWith("/$bunfs/") || /^[A-Z]:[\\/]~BUN[\\/]/.test(entry)) return [process.execPath, ...args];
  return [process.execPath, ...process.execArgv, entry, ...args];
}

function findUp(dir: string, name: string): string | undefined {
  for (let d = dir, i = 0; i < 20; i++) {
    if (existsSync(join(d, name))) return join(d, name);
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
  return undefined;
}

/** The fixed ports must be free: checked once here, since listeners sharing a port cannot tell another server's holder apart. */
async function checkPortsFree(config: BobcatConfig): Promise<void> {
  const errors: BobcatError[] = [];
  for (const service of config.server.services) {
    for (const c of service.connectors) {
      await new Promise<void>((resolve) => {
        const s = createServer();
        s.once("error", (e) => {
          const err = listenError(e, c);
          errors.push(err instanceof BobcatError ? err : new BobcatError("listen.failed", String(e)));
          resolve();
        });
        s.listen({ port: c.port, host: c.address ?? "0.0.0.0", exclusive: true }, () => s.close(() => resolve()));
      });
    }
  }
  if (errors.length) throw new BobcatErrors(errors, `${errors.length} problem(s) stop bobcat from starting`);
}

interface Slot {
  index: number;
  child?: ChildProcess;
  pid?: number;
  ready: boolean;
  /** Failed starts in a row (exits before "ready"). */
  failures: number;
  delayMs: number;
  readyAt: number;
  timer?: ReturnType<typeof setTimeout>;
  /** A SIGHUP came while the worker was starting (before its handlers were there): sent once it is ready. */
  reloadPending?: boolean;
  /** This start of the worker, as the session turns name it (a restarted worker is another one). */
  run: number;
  /** Writes one line to the worker. */
  tell?: (line: string) => void;
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;
const STABLE_MS = 60_000;
const MAX_FAILURES = 10;
const SAME_SIGNAL_MS = 100;

/** process.kill by pid: Deno's ChildProcess.kill sends nothing once it has sent one signal. */
function sendSignal(slot: Slot, sig: NodeJS.Signals): void {
  if (!slot.child || slot.pid === undefined) return;
  try {
    process.kill(slot.pid, sig);
  } catch {
    // already gone
  }
}

/**
 * The primary: starts `n` workers, supervises them and passes signals on. Resolves to the exit
 * status (0: every worker stopped cleanly; 1: start-up failed, a worker kept failing or did not
 * stop cleanly).
 */
export async function runPrimary(config: BobcatConfig, n: number): Promise<number> {
  configureLogging(config.logging);
  for (const note of config.notes) logger("config").info(note);
  for (const warning of config.warnings ?? []) logger("config").warn(warning);
  const problems = workerProblems(config, n);
  if (problems.length) throw new BobcatErrors(problems, `${problems.length} problem(s) stop bobcat from starting`);
  await checkPortsFree(config);
  const command = selfCommand();
  log.info(
    `primary ${process.pid}: starting ${n} workers (server.workers: ${config.server.workers}) sharing ${
      config.server.services.flatMap((s) => s.connectors.map((c) => `${c.address ?? "0.0.0.0"}:${c.port}`)).join(", ")
    }`,
  );
  const slots: Slot[] = Array.from(
    { length: n },
    (_, i) => ({ index: i + 1, ready: false, failures: 0, delayMs: FIRST_DELAY_MS, readyAt: 0, run: 0 }),
  );
  // Session turns across the workers: the requests of one session take turns here.
  const byRun = new Map<number, Slot>();
  const turns = new TurnService((run, line) => byRun.get(run)?.tell?.(line));
  let runs = 0;
  let stopping = false;
  let status = 0;
  let allReady = false;
  let end!: (code: number) => void;
  const done = new Promise<number>((r) => end = r);
  let finished = false;
  const finish = (code: number) => {
    if (finished) return;
    finished = true;
    const c = turns.counts;
    if (c.granted || c.refused) {
      log.info(
        `session turns: ${c.granted} granted, ${c.refused} went ahead without one (waited sessionLockWait), ${c.expired} held past sessionLockWait`,
      );
    }
    end(code);
  };
  const alive = () => slots.filter((s) => s.child);

  let stopSignal: NodeJS.Signals | undefined;
  const stopAll = (signal: NodeJS.Signals, why: string) => {
    if (!stopping) {
      stopping = true;
      stopSignal = signal;
      log.info(`${why}: stopping ${alive().length} worker(s)`);
      for (const s of slots) if (s.timer) clearTimeout(s.timer);
      // Each worker has gracefulStopTimeout; one that outlives it by 10 s is killed.
      const grace = (config.server.gracefulStopTimeout + 10) * 1000;
      setTimeout(() => {
        for (const s of alive()) {
          log.error(`worker ${s.index} (pid ${s.pid}) still running ${grace / 1000}s after ${signal}: killing it`);
          sendSignal(s, "SIGKILL");
          status = 1;
        }
      }, grace).unref?.();
    }
    for (const s of alive()) sendSignal(s, signal);
    if (alive().length === 0) finish(status);
  };

  const start = (slot: Slot) => {
    slot.timer = undefined;
    if (stopping) return;
    slot.ready = false;
    const child = spawn(command[0]!, command.slice(1), {
      stdio: ["inherit", "inherit", "inherit", "pipe"],
      env: { ...process.env, [WORKER_ENV]: String(slot.index), [PARENT_FD_ENV]: "3" },
    });
    slot.child = child;
    slot.pid = child.pid;
    const run = slot.run = ++runs;
    byRun.set(run, slot);
    const channel = child.stdio[3] as NodeJS.ReadWriteStream | null;
    // The lines of one turn of the event loop go out in one write (the answers to a chunk of asks).
    let outbox = "";
    const flush = () => {
      const text = outbox;
      outbox = "";
      try {
        if (slot.child === child) channel?.write(text);
      } catch {
        // gone: its exit releases what it held
      }
    };
    slot.tell = (line) => {
      if (!outbox) queueMicrotask(flush);
      outbox += `${line}\n`;
    };
    let buffered = "";
    channel?.on("data", (chunk: Buffer | string) => {
      buffered += typeof chunk === "string" ? chunk : chunk.toString("latin1");
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (turns.message(run, line)) continue;
        if (line === "reload-others") {
          log.info(`worker ${slot.index} reloads its TLS certificates (manager app): passing SIGHUP to the others`);
          for (const s of slots) {
            if (s === slot || !s.child) continue;
            if (s.ready) sendSignal(s, "SIGHUP");
            else s.reloadPending = true;
          }
        }
        if (line === "ready" && !slot.ready) {
          slot.ready = true;
          slot.readyAt = Date.now();
          slot.failures = 0;
          log.info(`worker ${slot.index} (pid ${slot.pid}) ready`);
          if (slot.reloadPending) {
            slot.reloadPending = false;
            sendSignal(slot, "SIGHUP");
          }
          if (!allReady && slots.every((s) => s.ready)) {
            allReady = true;
            log.info(`all ${n} workers ready (primary ${process.pid})`);
          }
        }
      }
    });
    channel?.on("error", () => {});
    child.on("error", (e) => log.error(`worker ${slot.index}: cannot start ${command[0]}: ${e.message}`));
    child.on("exit", (code, signal) => {
      slot.child = undefined;
      slot.tell = undefined;
      // No session stays locked by a worker that is gone.
      byRun.delete(run);
      const held = turns.gone(run);
      if (held) {
        log.info(`worker ${slot.index} (pid ${slot.pid}) held ${held} session turn(s): passed on to the next in line`);
      }
      const how = signal ? `by ${signal}` : `with status ${code}`;
      if (stopping) {
        // A worker still starting has no handler for the signal yet: ended by it, it stopped cleanly.
        if (code !== 0 && !(signal && !slot.ready && signal === stopSignal)) status = 1;
        log.info(`worker ${slot.index} (pid ${slot.pid}) stopped ${how}`);
        if (alive().length === 0) finish(status);
        return;
      }
      if (!slot.ready && !allReady) {
        // A first start that fails is a configuration or environment problem: the worker said why.
        log.error(`worker ${slot.index} (pid ${slot.pid}) exited ${how} before it was ready: stopping`);
        status = 1;
        stopAll("SIGTERM", "start-up failed");
        return;
      }
      if (!slot.ready) slot.failures++;
      if (slot.failures >= MAX_FAILURES) {
        log.error(`worker ${slot.index} failed ${slot.failures} times in a row before it was ready: stopping`);
        status = 1;
        stopAll("SIGTERM", "a worker keeps failing");
        return;
      }
      if (slot.ready && Date.now() - slot.readyAt >= STABLE_MS) slot.delayMs = FIRST_DELAY_MS;
      log.error(
        `worker ${slot.index} (pid ${slot.pid}) exited ${how}; starting it again in ${slot.delayMs} ms`,
      );
      slot.timer = setTimeout(() => start(slot), slot.delayMs);
      slot.delayMs = Math.min(MAX_DELAY_MS, slot.delayMs * 2);
    });
  };

  let last = { sig: "", at: 0 };
  const onSignal = (sig: NodeJS.Signals) => {
    // A terminal's Ctrl-C reaches the whole group (and the launcher forwards its copy): count once.
    const now = Date.now();
    if (sig === last.sig && now - last.at < SAME_SIGNAL_MS) return;
    last = { sig, at: now };
    stopAll(sig, `${sig} received`);
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGHUP", () => {
    log.info(`SIGHUP received: passing it to ${alive().length} worker(s) (each reloads its TLS certificates)`);
    for (const s of alive()) {
      if (s.ready) sendSignal(s, "SIGHUP");
      else s.reloadPending = true;
    }
  });
  whenParentExits(() => stopAll("SIGTERM", "the process that started bobcat exited"));
  for (const s of slots) start(s);
  return await done;
}
