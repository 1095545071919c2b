import { backgroundInterval, type BackgroundTimer } from "../util/background-timer.ts";

/**
 * maxThreads / acceptCount for one connector: at most `maxThreads` requests are processed at
 * once, up to `acceptCount` more wait in line, and beyond that a request is answered 503
 * straight away — what a Tomcat connector does when its pool and accept queue are full.
 */
export class RequestLimiter {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  rejected = 0;

  constructor(
    readonly maxThreads: number,
    readonly acceptCount: number,
  ) {}

  get active(): number {
    return this.inFlight;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /** true: go ahead now; a Promise: wait for a slot; false: the queue is full (answer 503). */
  acquire(): true | false | Promise<void> {
    if (this.inFlight < this.maxThreads) {
      this.inFlight++;
      return true;
    }
    if (this.waiting.length >= this.acceptCount) {
      this.rejected++;
      return false;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    // The slot passes straight to the next waiter, so inFlight stays the same. (No shift() on
    // the empty queue of almost every request.)
    if (this.waiting.length > 0) this.waiting.shift()!();
    else this.inFlight--;
  }
}

/** One open connection as the gate sees it. */
export interface GatedConnection<C> {
  readonly conn: C;
  /** Requests being processed or answered on it. */
  inflight: number;
  /** Requests it has carried so far. */
  requests: number;
  /**
   * When it last became idle (accepted, or its last response finished); IDLE_SINCE_NEXT_SWEEP
   * after a response handed over whole, which the next sweep stamps.
   */
  idleSince: number;
  closed: boolean;
}

export interface GateOptions<C> {
  /** Open connections at once (Tomcat's maxConnections; <= 0: no limit). */
  maxConnections: number;
  /** Further connections held unread until a slot frees (Tomcat's acceptCount); more are closed. */
  acceptCount: number;
  /**
   * Milliseconds a connection may go without a request in progress: from accept (TLS handshake
   * and request headers included) and after each response (idle keep-alive). <= 0: no limit.
   */
  timeoutMs: number;
  /** Begin reading and serving an admitted connection. */
  start(g: GatedConnection<C>): void;
  /** Close a connection now (timed out, or the server stops). */
  kill(g: GatedConnection<C>, why: "timeout" | "stop"): void;
  /** Close a connection that found the queue full (never started). */
  refuse(conn: C): void;
  /** Called (once per episode) when maxConnections is reached / when a connection is refused. */
  onFull?(held: number): void;
  onRefused?(conn: C): void;
  onTimeout?(g: GatedConnection<C>, idleMs: number): void;
}

/** GatedConnection.idleSince of a connection whose last response ended since the last sweep. */
const IDLE_SINCE_NEXT_SWEEP = -1;

/**
 * Tomcat's connection limits for back-ends that see every TCP connection: at most
 * maxConnections open (counted from accept, before TLS), acceptCount more held unread in
 * line, the rest closed; and connectionTimeout for connections that are not carrying a request
 * (never sent a ClientHello, are dripping their headers, or sit idle between requests). One
 * timer per gate checks every connection, so requests pay no timer cost.
 */
export class ConnectionGate<C> {
  private readonly open = new Set<GatedConnection<C>>();
  private readonly held: C[] = [];
  private sweeper?: BackgroundTimer;
  private full = false;
  private stopped = false;
  refused = 0;
  timedOut = 0;

  constructor(private readonly o: GateOptions<C>) {
    if (o.timeoutMs > 0) {
      const tick = Math.min(1000, Math.max(50, Math.floor(o.timeoutMs / 10)));
      this.sweeper = backgroundInterval(() => this.sweep(), tick);
    }
  }

  get size(): number {
    return this.open.size;
  }
  get queued(): number {
    return this.held.length;
  }
  connections(): Iterable<GatedConnection<C>> {
    return this.open;
  }

  /** A freshly accepted connection: start it, hold it, or refuse it. */
  accept(conn: C): void {
    if (this.stopped) return this.o.refuse(conn);
    if (this.o.maxConnections <= 0 || this.open.size < this.o.maxConnections) return this.admit(conn);
    if (!this.full) {
      this.full = true;
      this.o.onFull?.(this.held.length);
    }
    if (this.held.length < this.o.acceptCount) {
      this.held.push(conn);
      return;
    }
    this.refused++;
    this.o.onRefused?.(conn);
    this.o.refuse(conn);
  }

  private admit(conn: C): void {
    const g: GatedConnection<C> = { conn, inflight: 0, requests: 0, idleSince: Date.now(), closed: false };
    this.open.add(g);
    try {
      this.o.start(g);
    } catch {
      // The client left while it was held (or the runtime refused the socket): free the slot.
      this.closed(g);
      this.o.refuse(conn);
    }
  }

  /** The back-end saw the connection end. */
  closed(g: GatedConnection<C>): void {
    if (g.closed) return;
    g.closed = true;
    this.open.delete(g);
    const next = this.held.shift();
    if (next !== undefined && !this.stopped) this.admit(next);
    if (this.held.length === 0 && (this.o.maxConnections <= 0 || this.open.size < this.o.maxConnections)) {
      this.full = false;
    }
  }

  /** A request started on the connection; call the returned function once its response is done. */
  busy(g: GatedConnection<C>): () => void {
    g.inflight++;
    g.requests++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--g.inflight === 0) g.idleSince = Date.now();
    };
  }

  /**
   * The same as busy() without a function per request, for a back-end that learns of each
   * response's end exactly once (Deno's `completed`): call ended(g) then.
   */
  started(g: GatedConnection<C>): void {
    g.inflight++;
    g.requests++;
  }

  ended(g: GatedConnection<C>): void {
    if (--g.inflight === 0) g.idleSince = Date.now();
  }

  /**
   * A request that started and finished in one call (its response handed over whole): started()
   * and ended() at once, without reading the clock (most requests of a keep-alive connection
   * are these): the next sweep takes its own time as the moment the connection became idle,
   * which is at most one sweep interval late, so an idle connection is closed at most one
   * interval later than connectionTimeout, never sooner (the sweep itself is up to one late).
   */
  served(g: GatedConnection<C>): void {
    g.requests++;
    if (g.inflight === 0) g.idleSince = IDLE_SINCE_NEXT_SWEEP;
  }

  private sweep(): void {
    const now = Date.now();
    for (const g of this.open) {
      if (g.inflight > 0 || g.closed) continue;
      if (g.idleSince === IDLE_SINCE_NEXT_SWEEP) {
        g.idleSince = now;
        continue;
      }
      const idle = now - g.idleSince;
      if (idle < this.o.timeoutMs) continue;
      this.timedOut++;
      this.o.onTimeout?.(g, idle);
      this.o.kill(g, "timeout");
      this.closed(g);
    }
  }

  /** Stop admitting: held connections are closed; open ones stay until the back-end ends them. */
  stopAccepting(): void {
    this.stopped = true;
    for (const c of this.held.splice(0)) this.o.refuse(c);
  }

  /** Close everything and stop the timer. */
  closeAll(): void {
    this.stopAccepting();
    this.sweeper?.cancel();
    for (const g of [...this.open]) {
      this.o.kill(g, "stop");
      this.closed(g);
    }
  }
}
