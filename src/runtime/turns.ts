/**
 * Session turns across worker processes, kept by the primary (workers.ts): requests of one
 * session (consistency: shared) on different workers run one at a time, in the order they asked.
 * A worker asks once per request that names a session, over its channel to the primary, and gets
 * one answer; it gives the turn back when the request's writes are done:
 *
 *   worker → primary  `turn <seq> <wait ms> <key>`   (key: the manager and the session id)
 *   primary → worker  `turn <seq> ok`                (the turn is this request's)
 *   primary → worker  `turn <seq> no`                (waited `wait` ms: go ahead without it)
 *   worker → primary  `done <seq>`                   (given back, or no longer wanted)
 *
 * Per key the turns are granted first come, first served. No request waits longer than its
 * `wait` (sessionLockWait) for a turn, and a turn lasts at most `wait`: past it the next one gets
 * it, whatever the holder does (the store's conditional writes still guard the data). A worker
 * that exits loses its turns and its place in the queues at once, so no session stays locked.
 * Nothing is stored: a key is kept only while a request holds or waits for it.
 */

interface Entry {
  worker: number;
  seq: string;
  key: string;
  wait: number;
  timer?: ReturnType<typeof setTimeout>;
}

interface Line {
  holder: Entry | null;
  queue: Entry[];
}

export class TurnService {
  private readonly lines = new Map<string, Line>();
  /** Every entry held or queued, by worker then seq. */
  private readonly entries = new Map<number, Map<string, Entry>>();
  /** Turns granted, refused (waited too long), expired (held too long): for the log and tests. */
  readonly counts = { granted: 0, refused: 0, expired: 0 };

  /** `send(worker, line)` answers a worker (the line without its newline). */
  constructor(private readonly send: (worker: number, line: string) => void) {}

  /** One line from worker `worker`; true when it was a turn message. */
  message(worker: number, line: string): boolean {
    if (line.startsWith("turn ")) {
      const first = line.indexOf(" ", 5);
      const second = first < 0 ? -1 : line.indexOf(" ", first + 1);
      if (second < 0) return true;
      const seq = line.slice(5, first);
      const wait = Number(line.slice(first + 1, second));
      this.ask(worker, seq, Number.isFinite(wait) && wait > 0 ? wait : 0, line.slice(second + 1));
      return true;
    }
    if (line.startsWith("done ")) {
      this.done(worker, line.slice(5));
      return true;
    }
    return false;
  }

  /**
   * Worker `worker` exited: its turns pass to the next in line, its places in the queues go.
   * The number of turns it held.
   */
  gone(worker: number): number {
    const mine = this.entries.get(worker);
    if (!mine) return 0;
    this.entries.delete(worker);
    let held = 0;
    for (const e of mine.values()) {
      if (this.lines.get(e.key)?.holder === e) held++;
      this.drop(e);
    }
    return held;
  }

  /** Sessions held or waited for now. */
  get size(): number {
    return this.lines.size;
  }

  private ask(worker: number, seq: string, wait: number, key: string): void {
    const e: Entry = { worker, seq, key, wait };
    let mine = this.entries.get(worker);
    if (!mine) this.entries.set(worker, mine = new Map());
    mine.set(seq, e);
    const line = this.lines.get(key);
    if (!line) {
      this.lines.set(key, { holder: null, queue: [] });
      this.grant(e);
      return;
    }
    if (wait <= 0) {
      this.refuse(e);
      return;
    }
    line.queue.push(e);
    e.timer = setTimeout(() => {
      const i = line.queue.indexOf(e);
      if (i < 0) return;
      line.queue.splice(i, 1);
      this.refuse(e);
    }, wait);
  }

  private done(worker: number, seq: string): void {
    const e = this.entries.get(worker)?.get(seq);
    if (e) {
      this.forget(e);
      this.drop(e);
    }
  }

  private grant(e: Entry): void {
    const line = this.lines.get(e.key)!;
    line.holder = e;
    this.counts.granted++;
    if (e.wait > 0) {
      e.timer = setTimeout(() => {
        if (line.holder !== e) return;
        this.counts.expired++;
        this.forget(e);
        this.next(e.key, line);
      }, e.wait);
    }
    this.send(e.worker, `turn ${e.seq} ok`);
  }

  private refuse(e: Entry): void {
    this.counts.refused++;
    this.forget(e);
    this.send(e.worker, `turn ${e.seq} no`);
  }

  private forget(e: Entry): void {
    if (e.timer !== undefined) clearTimeout(e.timer);
    const mine = this.entries.get(e.worker);
    mine?.delete(e.seq);
    if (mine?.size === 0) this.entries.delete(e.worker);
  }

  /** Takes `e` out of its line (holder or queued), granting the next turn when it held this one. */
  private drop(e: Entry): void {
    if (e.timer !== undefined) clearTimeout(e.timer);
    const line = this.lines.get(e.key);
    if (!line) return;
    if (line.holder === e) this.next(e.key, line);
    else {
      const i = line.queue.indexOf(e);
      if (i >= 0) line.queue.splice(i, 1);
    }
  }

  private next(key: string, line: Line): void {
    line.holder = null;
    for (let e = line.queue.shift(); e; e = line.queue.shift()) {
      if (e.timer !== undefined) clearTimeout(e.timer);
      // Still wanted (not of a worker that exited meanwhile).
      if (this.entries.get(e.worker)?.get(e.seq) !== e) continue;
      this.grant(e);
      return;
    }
    this.lines.delete(key);
  }
}
