/**
 * A worker's side of the session turns the primary keeps (turns.ts): one line asks for the turn
 * of a session, one line answers, one line gives it back. Only in a worker process (BOBCAT_WORKER,
 * with its channel to the primary); elsewhere `workerTurns()` is null and a SharedManager uses
 * its store's lease, if any. The turn of `key` comes within `wait` ms or not at all (null: the
 * request goes ahead without it, or the primary cannot be asked).
 */
import type { SessionTurns } from "../session/turns.ts";
import { hasParent, onParentLine, tellParent } from "./parent-watch.ts";
import { env } from "../util/host/proc.ts";

/** Gives a turn back (idempotent). */
export type ReleaseTurn = () => void;

/** Past the wait, how long a worker still waits for the primary's answer before going ahead. */
const ANSWER_MARGIN_MS = 1000;

class TurnClient implements SessionTurns {
  private seq = 0;
  /** Lines not yet written: those of one turn of the event loop go out in one write. */
  private outbox = "";
  private readonly pending = new Map<string, { resolve: (r: ReleaseTurn | null) => void; timer: unknown }>();

  constructor() {
    onParentLine((line) => this.answer(line));
  }

  acquire(key: string, wait: number): Promise<ReleaseTurn | null> {
    if (/[\r\n]/.test(key)) return Promise.resolve(null);
    const seq = (++this.seq).toString(36);
    if (!this.tell(`turn ${seq} ${Math.max(0, Math.floor(wait))} ${key}\n`)) return Promise.resolve(null);
    return new Promise((resolve) => {
      // The primary answers within `wait`; this only covers a primary that cannot.
      const timer = setTimeout(() => {
        if (!this.pending.delete(seq)) return;
        this.tell(`done ${seq}\n`);
        resolve(null);
      }, wait + ANSWER_MARGIN_MS);
      unref(timer);
      this.pending.set(seq, { resolve, timer });
    });
  }

  /** Queues a line for the primary; false when there is none to hear it. */
  private tell(line: string): boolean {
    if (!hasParent()) return false;
    if (!this.outbox) {
      queueMicrotask(() => {
        const text = this.outbox;
        this.outbox = "";
        // A failed write loses asks and gives-back: the primary's waits and the turn's end bound them.
        tellParent(text);
      });
    }
    this.outbox += line;
    return true;
  }

  private answer(line: string): void {
    if (!line.startsWith("turn ")) return;
    const sp = line.indexOf(" ", 5);
    if (sp < 0) return;
    const seq = line.slice(5, sp);
    const ok = line.slice(sp + 1) === "ok";
    const p = this.pending.get(seq);
    if (!p) {
      // Granted after this worker stopped waiting: given back at once.
      if (ok) this.tell(`done ${seq}\n`);
      return;
    }
    this.pending.delete(seq);
    clearTimeout(p.timer as ReturnType<typeof setTimeout>);
    if (!ok) {
      p.resolve(null);
      return;
    }
    let released = false;
    p.resolve(() => {
      if (released) return;
      released = true;
      this.tell(`done ${seq}\n`);
    });
  }
}

function unref(timer: ReturnType<typeof setTimeout>): void {
  const t = timer as unknown as { unref?: () => void };
  if (typeof t.unref === "function") t.unref();
  else if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer);
  }
}

let client: SessionTurns | null | undefined;

/** The primary's session turns, in a worker process; null elsewhere. */
export function workerTurns(): SessionTurns | null {
  if (client === undefined) {
    const worker = Number(env("BOBCAT_WORKER"));
    client = Number.isInteger(worker) && worker > 0 && hasParent() ? new TurnClient() : null;
  }
  return client;
}
