/**
 * The server's /metrics: what the engine counted (requests, latency) plus what each owner knows
 * when scraped — connectors (in flight, queued, rejected; open/refused/timed-out connections and
 * TLS handshakes where the back-end sees them), certificates, session managers and their stores,
 * WebSockets, the process.
 */
import type { ContextView } from "../core/admin.ts";
import { WORKER } from "./worker-env.ts";
import { type LoopLag, type MetricsWriter, type RequestMetrics } from "../core/metrics.ts";
import type { ConnectorPipeline } from "./connector.ts";
import type { ConnectorTls } from "./tls-material.ts";
import type { StoreCounters } from "../session/stores/versioned.ts";
import { STORE_LATENCY_BUCKETS, storeMetricsOf, type StoreOpStats } from "../session/stores/metered.ts";
import { memoryUsage, pid } from "../util/host/proc.ts";

export interface MetricsSources {
  version: string;
  runtime: string;
  requests: RequestMetrics;
  lag: LoopLag;
  connectors: () => Array<{ name: string; backend: string; pipeline: ConnectorPipeline; tls?: ConnectorTls }>;
  contexts: () => ContextView[];
}

const startTime = Date.now() / 1000;

export function writeMetrics(out: MetricsWriter, s: MetricsSources): void {
  // server.workers > 1: each worker answers a scrape with its own figures; this says which one.
  const worker = WORKER !== undefined ? { worker: String(WORKER), pid: String(pid()) } : {};
  out.gauge("bobcat_info", "bobcat version and runtime (and the worker that answered).", [[
    { version: s.version, runtime: s.runtime, ...worker },
    1,
  ]]);
  s.requests.write(out);
  const connectors = s.connectors();
  const per = <T>(f: (c: (typeof connectors)[number]) => T | undefined) =>
    connectors.flatMap((c) => {
      const v = f(c);
      return v === undefined ? [] : [[{ connector: c.name }, v] as [Record<string, string>, T]];
    });
  out.gauge("bobcat_requests_in_flight", "Requests being processed per connector.", per((c) => c.pipeline.active));
  out.gauge(
    "bobcat_requests_queued",
    "Requests waiting for a slot (maxThreads) per connector.",
    per((c) => c.pipeline.limiter.queued),
  );
  out.gauge(
    "bobcat_requests_rejected_total",
    "Requests answered 503 because maxThreads and acceptCount were full.",
    per((c) => c.pipeline.limiter.rejected),
    "counter",
  );
  // Connection counts come from back-ends that accept connections themselves (node-compat, Deno
  // native); Bun.serve does not tell, so its connectors have no sample here.
  const stats = connectors.map((c) => ({ c, st: c.pipeline.backendStats?.() }));
  const withStats = stats.filter((x) => x.st);
  out.gauge(
    "bobcat_connections_open",
    "Open TCP connections per connector (not reported by the native Bun back-end).",
    withStats.map(({ c, st }) => [{ connector: c.name }, st!.open]),
  );
  out.gauge(
    "bobcat_connections_rejected_total",
    "Connections closed at accept because maxConnections and acceptCount were full.",
    withStats.map(({ c, st }) => [{ connector: c.name }, st!.refused]),
    "counter",
  );
  out.gauge(
    "bobcat_connections_timed_out_total",
    "Connections closed by connectionTimeout.",
    withStats.map(({ c, st }) => [{ connector: c.name }, st!.timedOut]),
    "counter",
  );
  // Only node:tls reports handshakes and their failures; native back-ends never see a failed one.
  const hs = withStats.filter(({ st }) => st!.handshakes !== undefined);
  out.gauge(
    "bobcat_tls_handshakes_total",
    "Completed TLS handshakes (node-compat back-end only).",
    hs.map(({ c, st }) => [{ connector: c.name }, st!.handshakes!]),
    "counter",
  );
  out.family(
    "bobcat_tls_handshake_failures_total",
    "counter",
    "Failed TLS handshakes by reason: protocol, cipher, certificate, client_closed, other (node-compat back-end only).",
  );
  for (const { c, st } of hs) {
    for (const [reason, n] of Object.entries(st!.handshakeFailures ?? {})) {
      out.sample("bobcat_tls_handshake_failures_total", { connector: c.name, reason }, n);
    }
  }
  const now = Date.now();
  const certs = connectors.flatMap((c) =>
    (c.tls?.hosts ?? []).flatMap((h) =>
      h.certs.map((cert) => ({ c, h, cert, leaf: cert.chain[0] })).filter((x) => x.leaf)
    )
  );
  out.gauge(
    "bobcat_tls_certificate_expiry_days",
    "Days until each served certificate expires (negative: expired).",
    certs.map((
      x,
    ) => [
      { connector: x.c.name, host: x.h.hostName, type: x.cert.keyType, subject: x.leaf!.subject },
      Math.floor((x.leaf!.notAfter.getTime() - now) / 86400000),
    ]),
  );
  out.gauge(
    "bobcat_tls_certificate_not_after_timestamp_seconds",
    "When each served certificate expires (Unix time).",
    certs.map((
      x,
    ) => [
      { connector: x.c.name, host: x.h.hostName, type: x.cert.keyType, subject: x.leaf!.subject },
      Math.floor(x.leaf!.notAfter.getTime() / 1000),
    ]),
  );
  const hubs = connectors.filter((c) => c.pipeline.webSockets);
  out.gauge(
    "bobcat_websocket_connections",
    "Open WebSocket connections per connector.",
    hubs.map((c) => [{ connector: c.name }, c.pipeline.webSockets!.open.size]),
  );
  out.gauge(
    "bobcat_websocket_opened_total",
    "WebSocket connections opened.",
    hubs.map((c) => [{ connector: c.name }, c.pipeline.webSockets!.opened]),
    "counter",
  );
  out.gauge(
    "bobcat_websocket_refused_total",
    "WebSocket upgrades refused because maxWebSocketConnections was reached.",
    hubs.map((c) => [{ connector: c.name }, c.pipeline.webSockets!.refused]),
    "counter",
  );

  const ctxs = s.contexts().map((x) => ({
    l: { host: x.host, context: x.path || "/" },
    m: x.manager,
    st: x.manager.getStats(),
  }));
  out.gauge("bobcat_sessions_active", "Sessions in memory per context.", ctxs.map((x) => [x.l, x.st.activeSessions]));
  out.gauge(
    "bobcat_sessions_active_max",
    "Most sessions in memory at once since start.",
    ctxs.map((x) => [x.l, x.st.maxActive]),
  );
  out.gauge(
    "bobcat_sessions_created_total",
    "Sessions created (Tomcat's sessionCounter).",
    ctxs.map((x) => [x.l, x.st.sessionCounter]),
    "counter",
  );
  out.gauge(
    "bobcat_sessions_expired_total",
    "Sessions that expired or were invalidated.",
    ctxs.map((x) => [x.l, x.st.expiredSessions]),
    "counter",
  );
  out.gauge(
    "bobcat_sessions_rejected_total",
    "Session creations refused by maxActiveSessions.",
    ctxs.map((x) => [x.l, x.st.rejectedSessions]),
    "counter",
  );
  const stores = ctxs.filter((x) => typeof (x.m as { pendingWrites?: number }).pendingWrites === "number");
  out.gauge(
    "bobcat_session_store_backlog",
    "Session writes waiting for the store (PersistentManager's backlog).",
    stores.map((x) => [x.l, (x.m as unknown as { pendingWrites: number }).pendingWrites]),
  );
  // Every store a manager metered (PersistentManager's Store, SharedManager's versioned store):
  // operations, failures and latency per operation.
  const metered = ctxs.flatMap((x) => {
    let store: unknown;
    try {
      store = (x.m as unknown as { store?: unknown }).store;
    } catch {
      store = undefined; // a shared manager before its start
    }
    const m = storeMetricsOf(store);
    return m ? [{ l: { ...x.l, store: m.store }, m }] : [];
  });
  const perOp = <T>(f: (s: StoreOpStats) => T) =>
    metered.flatMap((x) => [...x.m.ops].map(([op, st]) => [{ ...x.l, op }, f(st)] as [Record<string, string>, T]));
  out.gauge(
    "bobcat_session_store_operations_total",
    "Store operations that settled, by store class and operation (load, save, remove, keys, size, clear, expire; shared: fetch, create, replace, rename, touch, remove, expire, size).",
    perOp((st) => st.count),
    "counter",
  );
  out.gauge(
    "bobcat_session_store_operation_errors_total",
    "Store operations that failed, by store class and operation.",
    perOp((st) => st.errors),
    "counter",
  );
  out.gauge(
    "bobcat_session_store_errors_total",
    "Store operations that failed, per store.",
    metered.map((x) => [x.l, [...x.m.ops.values()].reduce((a, st) => a + st.errors, 0)]),
    "counter",
  );
  out.family(
    "bobcat_session_store_operation_duration_seconds",
    "histogram",
    "Time a store operation took, by store class and operation.",
  );
  for (const [labels, st] of perOp((st) => st)) {
    STORE_LATENCY_BUCKETS.forEach((b, i) =>
      out.sample("bobcat_session_store_operation_duration_seconds_bucket", { ...labels, le: String(b) }, st.buckets[i]!)
    );
    out.sample("bobcat_session_store_operation_duration_seconds_bucket", { ...labels, le: "+Inf" }, st.count);
    out.sample("bobcat_session_store_operation_duration_seconds_sum", labels, st.sum);
    out.sample("bobcat_session_store_operation_duration_seconds_count", labels, st.count);
  }
  // consistency: shared (SharedManager): conditional writes refused, and merges.
  type Shared = { storeMetrics?: { counters: StoreCounters; conflictsResolved: number } | null };
  const shared = ctxs.flatMap((x) => {
    const m = (x.m as unknown as Shared).storeMetrics;
    return m ? [{ l: x.l, c: m.counters, merged: m.conflictsResolved }] : [];
  });
  out.gauge(
    "bobcat_session_store_conflicts_total",
    "Conditional writes refused because another instance wrote first (consistency: shared).",
    shared.map((x) => [x.l, x.c.conflicts]),
    "counter",
  );
  out.gauge(
    "bobcat_session_store_conflicts_resolved_total",
    "Changes re-applied onto a newer stored version (consistency: shared).",
    shared.map((x) => [x.l, x.merged]),
    "counter",
  );

  const mem = memoryUsage();
  out.gauge("process_resident_memory_bytes", "Resident memory of the process.", [[{}, mem.rss]]);
  out.gauge("bobcat_heap_used_bytes", "JavaScript heap in use.", [[{}, mem.heapUsed]]);
  out.gauge("process_start_time_seconds", "When the process started (Unix time).", [[{}, Math.floor(startTime)]]);
  const lag = s.lag.take();
  out.gauge("bobcat_event_loop_lag_seconds", "How late a 100 ms timer fired, last sample.", [[{}, lag.last]]);
  out.gauge(
    "bobcat_event_loop_lag_max_seconds",
    "How late a 100 ms timer fired, the worst since the previous scrape.",
    [[{}, lag.max]],
  );
}
