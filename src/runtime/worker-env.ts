/**
 * server.workers without the supervisor (workers.ts, loaded only by a primary): the value and
 * its checks, and what a worker process needs to know about itself, so the listeners, the
 * request path and `bobcat check` import nothing more.
 */
import { availableParallelism, env } from "../util/host/proc.ts";
import type { BobcatConfig } from "../config/model.ts";
import { sourceOf } from "../config/validate.ts";
import { BobcatError } from "../util/errors.ts";
import { setLogWorker } from "../util/log.ts";
import { tellParent } from "./parent-watch.ts";

export const WORKER_ENV = "BOBCAT_WORKER";

/** This process's worker number (1..N), or undefined in a single process or the primary. */
export const WORKER: number | undefined = (() => {
  const v = Number(env(WORKER_ENV));
  return Number.isInteger(v) && v > 0 ? v : undefined;
})();

/** Listeners set SO_REUSEPORT in a worker (and only there: a lone server keeps "port in use" errors). */
export function sharesPorts(): boolean {
  return WORKER !== undefined;
}

/** A worker, once its server listens: the primary hears "ready". */
export function workerStarted(): void {
  if (WORKER !== undefined) tellParent("ready");
}

/** A worker asked to reload its TLS material (the manager app): the primary sends SIGHUP to the others. */
export function reloadOtherWorkers(): void {
  if (WORKER !== undefined) tellParent("reload-others");
}

/** Sets the log prefix of a worker before anything is logged. */
export function markWorkerLogs(): void {
  if (WORKER !== undefined) setLogWorker(WORKER);
}

/** `server.workers` as a number: `auto` is the cores this process may use. */
export function workerCount(config: BobcatConfig): number {
  const raw = String(config.server.workers ?? "1").trim().toLowerCase();
  if (raw === "auto") return Math.max(1, availableParallelism());
  if (/^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 1024) return Number(raw);
  throw new BobcatError("config.workers", `server.workers is [${config.server.workers}]: not a number of processes`, {
    where: sourceOf(config.server).attr("workers"),
    fix: "write a whole number from 1 to 1024, or auto (one worker per available core)",
  });
}

/** A context can hold sessions when a handler module (not a built-in app) or a FORM login can create them. */
function holdsSessions(ctx: BobcatConfig["server"]["services"][number]["engine"]["hosts"][number]["contexts"][number]) {
  const handler = (ctx as { handler?: string }).handler;
  const form = (ctx as { loginConfig?: { authMethod?: string } }).loginConfig?.authMethod === "FORM";
  // No tracking mode: no request can come back to a session, so there is none to lose.
  if (ctx.sessionTrackingModes.length === 0) return false;
  return form || (!!handler && !handler.startsWith("bobcat:"));
}

/**
 * What stops this config from running in `n` workers: a context whose sessions live in one
 * process's memory (each worker would have its own, and a session would be lost or forked
 * whenever the kernel gives a user's next connection to another worker), and a connector on
 * port 0 (each worker would get a different port).
 */
export function workerProblems(config: BobcatConfig, n = workerCount(config)): BobcatError[] {
  if (n <= 1) return [];
  const where = sourceOf(config.server).attr("workers");
  const out: BobcatError[] = [];
  for (const service of config.server.services) {
    for (const c of service.connectors) {
      if (c.port === 0) {
        out.push(
          new BobcatError(
            "config.workersPort0",
            `server.workers is ${n}, but connector ${c.name} listens on port 0 (any free port): each worker would get another port`,
            { where: sourceOf(c).attr("port"), fix: "give the connector a fixed port, or set server.workers: 1" },
          ),
        );
      }
    }
    for (const host of service.engine.hosts) {
      for (const ctx of host.contexts) {
        if (!holdsSessions(ctx)) continue;
        const m = ctx.manager;
        if (m.className === "PersistentManager" && m.consistency === "shared") continue;
        const kind = m.className === "PersistentManager"
          ? "in each process's memory (PersistentManager with consistency: sticky)"
          : "in one process's memory (StandardManager)";
        out.push(
          new BobcatError(
            "config.workersSessions",
            `server.workers is ${n}, but context ${host.name}${
              ctx.path || "/"
            } keeps its sessions ${kind}: each worker would have its own, and a session would be lost whenever another worker gets the user's next connection`,
            {
              where,
              fix:
                `keep the sessions where every worker sees them: on the context, manager: { className: PersistentManager, consistency: shared, store: { className: DataSourceStore, dataSourceName: jdbc/sessions } } with the resource { name: jdbc/sessions, type: DataSource, url: "sqlite:work/sessions.db" } (one machine; postgres:// or a RedisStore for several); for a context that uses no sessions, sessionTrackingModes: []; or set server.workers: 1`,
            },
          ),
        );
      }
    }
  }
  return out;
}
