/**
 * Leveled logging per component, the counterpart of Tomcat's logging.properties:
 * `logging.level` sets the default, `logging.components.<name>` overrides one component
 * (`tls`, `session`, `connector`, `config`, `core`, `access`, ...).
 */
export type Level = "trace" | "debug" | "info" | "warn" | "error" | "off";
const ORDER: Record<Level, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, off: 5 };
export const LEVELS = Object.keys(ORDER) as Level[];

export interface LogSink {
  write(line: string, level: Level): void;
}

const stderrSink: LogSink = {
  write(line) {
    // console.error is synchronous enough on all three runtimes and never throws on a closed pipe.
    console.error(line);
  },
};

interface LogSettings {
  level: Level;
  components: Record<string, Level>;
  sink: LogSink;
  /** `json`: one object per line (time, level, component, message, fields). */
  format: "text" | "json";
}

const settings: LogSettings = { level: "info", components: {}, sink: stderrSink, format: "text" };

/** Which worker process writes (server.workers > 1): in every line, so logs say which one. */
let worker: number | undefined;
export function setLogWorker(n: number | undefined): void {
  worker = n;
}

export function configureLogging(opts: Partial<LogSettings>): void {
  if (opts.level) settings.level = opts.level;
  if (opts.components) settings.components = { ...opts.components };
  if (opts.sink) settings.sink = opts.sink;
  if (opts.format) settings.format = opts.format;
}

/** The configured log format (the access log's `json` pattern writes the same shape). */
export function logFormat(): "text" | "json" {
  return settings.format;
}

/** One JSON log line: time, level, component, message, and fields when there are any. */
export function jsonLine(level: Level, component: string, message: string, fields?: Record<string, unknown>): string {
  return JSON.stringify({
    time: new Date().toISOString(),
    level,
    component,
    ...(worker !== undefined ? { worker } : {}),
    message,
    ...(fields && Object.keys(fields).length > 0 ? { fields } : {}),
  });
}

export class Logger {
  constructor(readonly component: string) {}

  enabled(level: Level): boolean {
    const threshold = settings.components[this.component] ?? settings.level;
    return ORDER[level] >= ORDER[threshold] && level !== "off";
  }

  private emit(level: Level, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    if (settings.format === "json") {
      settings.sink.write(jsonLine(level, this.component, msg, fields), level);
      return;
    }
    const ts = new Date().toISOString();
    const who = worker !== undefined ? `[worker ${worker}] ` : "";
    settings.sink.write(`${ts} ${level.toUpperCase().padEnd(5)} ${who}[${this.component}] ${msg}`, level);
  }

  // `fields`: structured data for the JSON format (the text format shows the message only).
  trace(msg: string, fields?: Record<string, unknown>): void {
    this.emit("trace", msg, fields);
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.emit("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.emit("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.emit("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.emit("error", msg, fields);
  }
}

const loggers = new Map<string, Logger>();
export function logger(component: string): Logger {
  let l = loggers.get(component);
  if (!l) loggers.set(component, l = new Logger(component));
  return l;
}
