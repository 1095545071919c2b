/**
 * Tomcat's AccessLogValve: one line per request in `common`, `combined` or a custom pattern,
 * to a dated file in `directory` (rotated when the date changes) or to stdout (`directory: -`).
 */
import { type AppendFile, existsSync, mkdirSync, openAppend, statSync } from "../util/host/fs.ts";
import { join } from "../util/host/path.ts";
import { writeStdout } from "../util/host/proc.ts";
import { fileKind } from "../util/files.ts";
import { logger } from "../util/log.ts";
import type { AccessLogValveConfig } from "../config/model.ts";
import type { RequestContext } from "./context.ts";

const PATTERNS: Record<string, string> = {
  common: '%h %l %u %t "%r" %s %b',
  combined: '%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"',
};
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export interface AccessEntry {
  request: Request;
  url: URL;
  ctx: RequestContext | null;
  remoteAddr: string;
  status: number;
  /** Bytes of the body sent, when known (the engine's bodySent), otherwise undefined → "-". */
  bytes?: number;
  responseHeaders: Headers;
  startMs: number;
  endMs: number;
  localPort: number;
  localAddr?: string;
  protocol: string;
}

type Part = (e: AccessEntry) => string;

/** The `json` pattern: one JSON object per request, in the server log's shape (component "access"). */
function jsonEntry(e: AccessEntry): string {
  const message = `${e.request.method} ${e.url.pathname}${e.url.search} ${e.protocol} ${e.status}`;
  return JSON.stringify({
    time: new Date(e.startMs).toISOString(),
    level: "info",
    component: "access",
    message,
    fields: {
      remoteAddr: e.remoteAddr,
      user: e.ctx?.principal?.name ?? null,
      method: e.request.method,
      path: e.url.pathname,
      query: e.url.search || null,
      protocol: e.protocol,
      status: e.status,
      bytes: e.bytes ?? null,
      durationMs: Math.round((e.endMs - e.startMs) * 1000) / 1000,
      host: e.ctx?.serverName ?? e.url.hostname,
      referer: e.request.headers.get("referer"),
      userAgent: e.request.headers.get("user-agent"),
    },
  });
}

export function compilePattern(pattern: string): Part {
  if (pattern === "json") return jsonEntry;
  const src = PATTERNS[pattern] ?? pattern;
  const parts: Part[] = [];
  const re = /%(\{([^}]*)\})?([a-zA-Z%])/g;
  let last = 0;
  for (let m; (m = re.exec(src));) {
    if (m.index > last) {
      const lit = src.slice(last, m.index);
      parts.push(() => lit);
    }
    parts.push(token(m[3]!, m[2]));
    last = re.lastIndex;
  }
  if (last < src.length) {
    const lit = src.slice(last);
    parts.push(() => lit);
  }
  return (e) => parts.map((p) => p(e)).join("");
}

function token(t: string, arg?: string): Part {
  switch (t) {
    case "a":
    case "h":
      return (e) => e.remoteAddr;
    case "A":
      // The back-ends do not report the local address of a connection: the bound one, or "-".
      return (e) => e.localAddr ?? "-";
    case "b":
      return (e) => (e.bytes === undefined || e.bytes === 0 ? "-" : String(e.bytes));
    case "B":
      return (e) => String(e.bytes ?? 0);
    case "D":
      return (e) => String(Math.round(e.endMs - e.startMs));
    case "T":
      return (e) => ((e.endMs - e.startMs) / 1000).toFixed(3);
    case "H":
      return (e) => e.protocol;
    case "l":
      return () => "-";
    case "m":
      return (e) => e.request.method;
    case "p":
      return (e) => String(e.localPort);
    case "q":
      return (e) => e.url.search;
    case "r":
      return (e) => `${e.request.method} ${e.url.pathname}${e.url.search} ${e.protocol}`;
    case "s":
      return (e) => String(e.status);
    case "S":
      return (e) => safeSessionId(e);
    case "t":
      return (e) => `[${clf(new Date(e.startMs))}]`;
    case "u":
      return (e) => e.ctx?.principal?.name ?? "-";
    case "U":
      return (e) => e.url.pathname;
    case "v":
      return (e) => e.ctx?.serverName ?? e.url.hostname;
    case "i":
      return (e) => e.request.headers.get(arg ?? "") ?? "-";
    case "o":
      return (e) => e.responseHeaders.get(arg ?? "") ?? "-";
    case "%":
      return () => "%";
    default:
      return () => `%${t}`;
  }
}

function safeSessionId(e: AccessEntry): string {
  try {
    return e.ctx?.getSession(false)?.id ?? "-";
  } catch {
    return "-";
  }
}

/** Common Log Format time: `10/Oct/2000:13:55:36 +0000` in local time, as Tomcat writes it. */
export function clf(d: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${
    pad(d.getSeconds())
  } ${sign}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
}

/** Java SimpleDateFormat subset for file names: yyyy, MM, dd, HH, mm. */
export function formatFileDate(fmt: string, d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return fmt
    .replace(/yyyy/g, String(d.getFullYear()))
    .replace(/MM/g, pad(d.getMonth() + 1))
    .replace(/dd/g, pad(d.getDate()))
    .replace(/HH/g, pad(d.getHours()))
    .replace(/mm/g, pad(d.getMinutes()));
}

export class AccessLog {
  private readonly format: Part;
  private stream?: AppendFile;
  private currentDate = "";
  private refusedFile?: string;
  private buffer: string[] = [];
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly cfg: AccessLogValveConfig) {
    this.format = compilePattern(cfg.pattern);
    if (cfg.buffered && !this.toStdout) {
      this.timer = setInterval(() => this.flush(), 1000);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  private get toStdout(): boolean {
    return this.cfg.directory === "-" || this.cfg.directory.endsWith("/-");
  }

  log(e: AccessEntry): void {
    if (!this.cfg.enabled) return;
    const line = this.format(e) + "\n";
    if (this.toStdout) {
      writeStdout(line);
      return;
    }
    this.buffer.push(line);
    if (!this.cfg.buffered || this.buffer.length >= 256) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    const date = this.cfg.rotatable ? formatFileDate(this.cfg.fileDateFormat, new Date()) : "";
    if (!this.stream || date !== this.currentDate) {
      void this.stream?.end();
      this.stream = undefined;
      mkdirSync(this.cfg.directory, { recursive: true });
      this.currentDate = date;
      const file = join(this.cfg.directory, `${this.cfg.prefix}${date}${this.cfg.suffix}`);
      // Opening a FIFO for writing waits for a reader, and would hold up every later write and the stop.
      const st = existsSync(file) ? statSync(file) : undefined;
      if (st && (st.isFIFO || st.isSocket || st.isDirectory)) {
        if (this.refusedFile !== file) {
          this.refusedFile = file;
          logger("access").error(
            `AccessLogValve: [${file}] is ${
              fileKind(st)
            }, not a file; access log lines are dropped (fix: move it away, or set directory: "-" to log to stdout)`,
          );
        }
        this.buffer = [];
        return;
      }
      this.stream = openAppend(
        file,
        (e) => logger("access").error(`AccessLogValve: writing [${file}] failed: ${e.message}`),
      );
    }
    this.stream.write(this.buffer.join(""));
    this.buffer = [];
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.flush();
    const s = this.stream;
    this.stream = undefined;
    if (s) await s.end();
  }
}
