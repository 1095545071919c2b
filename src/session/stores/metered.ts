/**
 * Operation metrics of a session store, for /metrics: per operation a count, the failures and a
 * latency histogram. A manager meters its store once (`meterStore`), which replaces the store
 * object's own operation methods with timed ones, so calls a store makes to itself (the expiry
 * sweep loading and removing sessions) are counted as well. The labels are bounded: the store's
 * class name and a fixed set of operation names.
 */

/** Seconds; the upper bounds of the store latency histogram's buckets. */
export const STORE_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface StoreOpStats {
  /** Operations that settled (succeeded or failed). */
  count: number;
  errors: number;
  /** Cumulative counts per bucket of STORE_LATENCY_BUCKETS. */
  buckets: number[];
  sum: number;
}

export class StoreMetrics {
  readonly ops = new Map<string, StoreOpStats>();

  constructor(readonly store: string, ops: readonly string[]) {
    for (const op of ops) {
      this.ops.set(op, {
        count: 0,
        errors: 0,
        buckets: STORE_LATENCY_BUCKETS.map(() => 0),
        sum: 0,
      });
    }
  }

  record(op: string, seconds: number, ok: boolean): void {
    const s = this.ops.get(op);
    if (!s) return;
    s.count++;
    if (!ok) s.errors++;
    s.sum += seconds;
    for (let i = 0; i < STORE_LATENCY_BUCKETS.length; i++) if (seconds <= STORE_LATENCY_BUCKETS[i]!) s.buckets[i]!++;
  }
}

/** The operations of a PersistentManager's Store (method → operation label). */
export const STORE_OPS: Record<string, string> = {
  load: "load",
  saveSnapshot: "save",
  remove: "remove",
  keys: "keys",
  getSize: "size",
  clear: "clear",
  processExpires: "expire",
};

/** The operations of a versioned store (consistency: shared). */
export const VERSIONED_STORE_OPS: Record<string, string> = {
  fetch: "fetch",
  create: "create",
  replace: "replace",
  rename: "rename",
  touch: "touch",
  remove: "remove",
  claimExpired: "expire",
  count: "size",
};

const METRICS = new WeakMap<object, StoreMetrics>();

/** The metrics of a metered store; undefined for one no manager metered. */
export function storeMetricsOf(store: unknown): StoreMetrics | undefined {
  return store && typeof store === "object" ? METRICS.get(store) : undefined;
}

/**
 * Times the store's operations (`ops`: method name → label). A store without `saveSnapshot` has
 * its `save` timed instead. Metering a store twice keeps the first meter.
 */
export function meterStore<S extends object>(store: S, ops: Record<string, string> = STORE_OPS): S {
  if (METRICS.has(store)) return store;
  const methods = { ...ops };
  const target = store as Record<string, unknown>;
  if (ops === STORE_OPS && typeof target.saveSnapshot !== "function") {
    delete methods.saveSnapshot;
    methods.save = "save";
  }
  const name = store.constructor?.name && store.constructor.name !== "Object" ? store.constructor.name : "Store";
  const metrics = new StoreMetrics(name, [...new Set(Object.values(methods))]);
  for (const [method, op] of Object.entries(methods)) {
    const f = target[method];
    if (typeof f !== "function") continue;
    const timed = function (this: unknown, ...args: unknown[]): unknown {
      const t0 = performance.now();
      let r: unknown;
      try {
        r = f.apply(this, args);
      } catch (e) {
        metrics.record(op, (performance.now() - t0) / 1000, false);
        throw e;
      }
      if (r instanceof Promise) {
        return r.then(
          (v) => {
            metrics.record(op, (performance.now() - t0) / 1000, true);
            return v;
          },
          (e) => {
            metrics.record(op, (performance.now() - t0) / 1000, false);
            throw e;
          },
        );
      }
      metrics.record(op, (performance.now() - t0) / 1000, true);
      return r;
    };
    try {
      Object.defineProperty(store, method, { value: timed, configurable: true, writable: true, enumerable: false });
    } catch {
      // A frozen store keeps its methods unmetered.
    }
  }
  METRICS.set(store, metrics);
  return store;
}
