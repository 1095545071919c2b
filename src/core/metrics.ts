/**
 * Prometheus metrics of one server, rendered in the text exposition format (version 0.0.4) by
 * the manager app's /metrics. Request counters and latency histograms are kept here as the
 * engine reports requests; everything else (connections, TLS, certificates, sessions, stores,
 * WebSockets, process) is read from its owner when scraped, so nothing is counted twice.
 *
 * Cardinality is bounded by construction: hosts and contexts are the configured ones (a request
 * for an unknown Host counts under the default host, one the boundary refused under host=""),
 * methods are folded into a fixed set, status codes outside a fixed set into their class
 * ("4xx"); no path, session id or client address is ever a label.
 */
import { backgroundInterval, type BackgroundTimer } from "../util/background-timer.ts";

/**
 * The clock of the request latency histogram, in milliseconds, read when the engine takes a
 * request and when it has the response. On Deno each `performance.now()` is a call into the
 * runtime (~0.15 µs on this machine, against ~0.05 µs for V8's own `Date.now()`), twice a
 * request: there the histogram counts whole milliseconds, as Tomcat's processing times do (its
 * first bucket is 5 ms; the difference of two readings is a request's time rounded up or down,
 * so a sum over many requests stays right on average). On Bun both cost the same (~0.04 µs), and
 * `performance.now()` keeps the fraction.
 */
export const latencyClock: () => number = "Deno" in globalThis ? Date.now : () => performance.now();

/** Seconds; the upper bounds of the latency histogram's buckets. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
const CODES = new Set([
  101,
  200,
  201,
  202,
  204,
  206,
  301,
  302,
  303,
  304,
  307,
  308,
  400,
  401,
  403,
  404,
  405,
  406,
  408,
  409,
  410,
  411,
  412,
  413,
  414,
  415,
  416,
  421,
  426,
  429,
  431,
  500,
  501,
  502,
  503,
  504,
]);

export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : "OTHER";
}

export function codeLabel(status: number): string {
  return CODES.has(status) ? String(status) : `${Math.floor(status / 100)}xx`;
}

/** One host, context and method: latency per bucket (not cumulative; the last is +Inf) and counts by status. */
interface Series {
  readonly host: string;
  readonly context: string;
  readonly method: string;
  readonly counts: number[];
  sum: number;
  count: number;
  /** 200s, the usual answer, counted without a Map. */
  ok: number;
  /** Every other status. */
  readonly statuses: Map<number, number>;
}

/**
 * Requests by host, context, method and code, and their latency; filled by the engine. A request
 * for the same host, context and method as the one before (the usual case under load) costs
 * three string comparisons, otherwise three Map lookups by strings the engine already holds (no
 * key is built); then one status count (a field for 200, a Map entry for the rest) and one
 * bucket: the first bucket that fits, usually the first. Cumulative bucket counts
 * and the folding of status codes into labels happen when /metrics is read.
 */
export class RequestMetrics {
  private readonly byHost = new Map<string, Map<string, Map<string, Series>>>();
  /** In the order first seen, for the output. */
  private readonly series: Series[] = [];

  /** The series of the previous request: a server under load sees the same one over and over. */
  private last?: Series;
  private lastMethod = "";

  record(host: string, context: string, method: string, status: number, seconds: number): void {
    let s = this.last;
    if (s === undefined || s.host !== host || s.context !== context || this.lastMethod !== method) {
      s = this.seriesOf(host, context, method);
      this.last = s;
      this.lastMethod = method;
    }
    if (status === 200) s.ok++;
    else s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  private seriesOf(host: string, context: string, method: string): Series {
    let byContext = this.byHost.get(host);
    if (!byContext) this.byHost.set(host, byContext = new Map());
    let byMethod = byContext.get(context);
    if (!byMethod) byContext.set(context, byMethod = new Map());
    const m = METHODS.has(method) ? method : "OTHER";
    let s = byMethod.get(m);
    if (!s) {
      s = {
        host,
        context,
        method: m,
        counts: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
        ok: 0,
        statuses: new Map(),
      };
      byMethod.set(m, s);
      this.series.push(s);
    }
    return s;
  }

  write(out: MetricsWriter): void {
    out.family("bobcat_http_requests_total", "counter", "HTTP requests answered, by host, context, method and status.");
    for (const s of this.series) {
      const byCode = new Map<string, number>();
      if (s.ok > 0) byCode.set("200", s.ok);
      for (const [status, n] of s.statuses) {
        const code = codeLabel(status);
        byCode.set(code, (byCode.get(code) ?? 0) + n);
      }
      for (const [code, n] of byCode) {
        out.sample("bobcat_http_requests_total", { host: s.host, context: s.context, method: s.method, code }, n);
      }
    }
    out.family(
      "bobcat_http_request_duration_seconds",
      "histogram",
      "Time from the request reaching the engine to its response headers, by host, context and method.",
    );
    for (const s of this.series) {
      const labels = { host: s.host, context: s.context, method: s.method };
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((b, i) => {
        cumulative += s.counts[i]!;
        out.sample("bobcat_http_request_duration_seconds_bucket", { ...labels, le: String(b) }, cumulative);
      });
      out.sample("bobcat_http_request_duration_seconds_bucket", { ...labels, le: "+Inf" }, s.count);
      out.sample("bobcat_http_request_duration_seconds_sum", labels, s.sum);
      out.sample("bobcat_http_request_duration_seconds_count", labels, s.count);
    }
  }
}

/** Event-loop lag: how late a 100 ms timer fires, the worst over the last scrape interval. */
export class LoopLag {
  private worst = 0;
  private last = 0;
  private timer?: BackgroundTimer;

  start(): void {
    if (this.timer) return;
    let expected = performance.now() + 100;
    this.timer = backgroundInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - expected);
      if (lag > this.worst) this.worst = lag;
      this.last = lag;
      expected = now + 100;
    }, 100);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Seconds: the last sample and the worst since the previous call. */
  take(): { last: number; max: number } {
    const r = { last: this.last / 1000, max: this.worst / 1000 };
    this.worst = this.last;
    return r;
  }
}

type Labels = Record<string, string | undefined>;

/** Builds the text exposition: one HELP/TYPE per family, then its samples. */
export class MetricsWriter {
  private readonly lines: string[] = [];
  private readonly seen = new Set<string>();

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    if (this.seen.has(name)) return;
    this.seen.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Labels, value: number): void {
    const parts = Object.entries(labels)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}="${v!.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`);
    const v = Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN";
    this.lines.push(parts.length ? `${name}{${parts.join(",")}} ${v}` : `${name} ${v}`);
  }

  /** A family with one sample per entry. */
  gauge(name: string, help: string, samples: Array<[Labels, number]>, type: "gauge" | "counter" = "gauge"): void {
    this.family(name, type, help);
    for (const [l, v] of samples) this.sample(name, l, v);
  }

  text(): string {
    return this.lines.join("\n") + "\n";
  }
}

/** Content-Type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
