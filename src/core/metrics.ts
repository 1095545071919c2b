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

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** Requests by host, context, method and code, and their latency; filled by the engine. */
export class RequestMetrics {
  private readonly counters = new Map<string, number>();
  private readonly histograms = new Map<string, Histogram>();

  record(host: string, context: string, method: string, status: number, seconds: number): void {
    const m = methodLabel(method);
    const key = `${host}\u0000${context}\u0000${m}`;
    const ckey = `${key}\u0000${codeLabel(status)}`;
    this.counters.set(ckey, (this.counters.get(ckey) ?? 0) + 1);
    let h = this.histograms.get(key);
    if (!h) this.histograms.set(key, h = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 });
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  write(out: MetricsWriter): void {
    out.family("bobcat_http_requests_total", "counter", "HTTP requests answered, by host, context, method and status.");
    for (const [k, v] of this.counters) {
      const [host, context, method, code] = k.split("\u0000");
      out.sample("bobcat_http_requests_total", { host, context, method, code }, v);
    }
    out.family(
      "bobcat_http_request_duration_seconds",
      "histogram",
      "Time from the request reaching the engine to its response headers, by host, context and method.",
    );
    for (const [k, h] of this.histograms) {
      const [host, context, method] = k.split("\u0000");
      const labels = { host, context, method };
      LATENCY_BUCKETS.forEach((b, i) =>
        out.sample("bobcat_http_request_duration_seconds_bucket", { ...labels, le: String(b) }, h.counts[i]!)
      );
      out.sample("bobcat_http_request_duration_seconds_bucket", { ...labels, le: "+Inf" }, h.count);
      out.sample("bobcat_http_request_duration_seconds_sum", labels, h.sum);
      out.sample("bobcat_http_request_duration_seconds_count", labels, h.count);
    }
  }
}

/** Event-loop lag: how late a 100 ms timer fires, the worst over the last scrape interval. */
export class LoopLag {
  private worst = 0;
  private last = 0;
  private timer?: ReturnType<typeof setInterval>;

  start(): void {
    if (this.timer) return;
    let expected = performance.now() + 100;
    this.timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - expected);
      if (lag > this.worst) this.worst = lag;
      this.last = lag;
      expected = now + 100;
    }, 100);
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
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
