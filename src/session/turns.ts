/**
 * Turns of sessions across processes kept outside the store: in a worker process, its primary
 * keeps them (runtime/turns.ts, asked through runtime/worker-turns.ts). A SharedManager uses them
 * instead of its store's lease; a module of its own, so setting them loads no session manager.
 */

export interface SessionTurns {
  /** The turn of `key`, waiting at most `wait` ms: a function that gives it back, or null when it did not come. */
  acquire(key: string, wait: number): Promise<(() => void) | null>;
}

let turns: SessionTurns | null = null;

/** Set by a worker process before its managers start. */
export function useSessionTurns(t: SessionTurns | null): void {
  turns = t;
}

/** The turns this process uses across processes; null: the store's lease, if it has one. */
export function processTurns(): SessionTurns | null {
  return turns;
}
