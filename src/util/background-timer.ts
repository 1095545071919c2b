/**
 * Timers for background work that must not keep the process alive (the engine's background
 * processor, the auto-deployer's scan), started while the server starts.
 *
 * On Deno 2.9 the first touch of the global setTimeout or setInterval loads Node's timers and,
 * with them, Node's error, inspection and async-hooks modules: some 10 ms of CPU that a raw
 * Deno.serve never spends, in the middle of bobcat's start. There these timers wait with
 * Atomics.waitAsync instead: V8's own timeout, which does not keep the event loop alive (like an
 * unref'd timer) and is cancelled by a notify on its cell. Bun and Node use setTimeout.
 */

/** A pending background timer; cancel() stops it (and every later run of an interval). */
export interface BackgroundTimer {
  cancel(): void;
}

type WaitAsync = (cell: Int32Array, index: number, value: number, timeoutMs: number) => {
  async: boolean;
  value: Promise<string> | string;
};

const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
const USE_WAIT_ASYNC = (globalThis as { Deno?: unknown }).Deno !== undefined && typeof waitAsync === "function" &&
  typeof SharedArrayBuffer === "function";

/**
 * Runs `fn` in a later turn of the event loop, after pending I/O has been looked at: what a job
 * cut into parts waits for between them (a restore in the background), so that connections and
 * requests are served meanwhile. Bun and Node poll I/O before their immediates: setImmediate. On
 * Deno 2.9 a chain of setImmediate (or of MessageChannel messages, or of async file calls) runs
 * to its end before Deno polls sockets again, so a request would wait for the whole job; a
 * timeout lets it in, at ~1–2 ms of idle per part (bench/probes/deno-turns.ts). Like the timers
 * above, on Deno it does not keep the process alive.
 */
export function backgroundTurn(fn: () => void): void {
  if (USE_WAIT_ASYNC) waitTimer(fn, 1, false);
  else setImmediate(fn);
}

/** Runs `fn` once after `ms`, without keeping the process alive. */
export function backgroundTimeout(fn: () => void, ms: number): BackgroundTimer {
  return USE_WAIT_ASYNC ? waitTimer(fn, ms, false) : nodeTimer(fn, ms, false);
}

/** Runs `fn` every `ms`, without keeping the process alive. */
export function backgroundInterval(fn: () => void, ms: number): BackgroundTimer {
  return USE_WAIT_ASYNC ? waitTimer(fn, ms, true) : nodeTimer(fn, ms, true);
}

function nodeTimer(fn: () => void, ms: number, repeat: boolean): BackgroundTimer {
  const t = repeat ? setInterval(fn, ms) : setTimeout(fn, ms);
  (t as { unref?: () => void }).unref?.();
  return { cancel: () => (repeat ? clearInterval(t) : clearTimeout(t)) };
}

function waitTimer(fn: () => void, ms: number, repeat: boolean): BackgroundTimer {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let cancelled = false;
  const arm = (): void => {
    const r = waitAsync!(cell, 0, 0, Math.max(0, ms));
    const done = (outcome: string): void => {
      if (cancelled || outcome !== "timed-out") return;
      if (repeat) arm();
      fn();
    };
    if (r.async) void (r.value as Promise<string>).then(done);
    else queueMicrotask(() => done(r.value as string));
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      Atomics.store(cell, 0, 1);
      Atomics.notify(cell, 0);
    },
  };
}
