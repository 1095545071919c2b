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
}

const settings: LogSettings = { level: "info", components: {}, sink: stderrSink };

export function configureLogging(opts: Partial<LogSettings>): void {
  if (opts.level) settings.level = opts.level;
  if (opts.components) settings.components = { ...opts.components };
  if (opts.sink) settings.sink = opts.sink;
}

export class Logger {
  constructor(readonly component: string) {}

  enabled(level: Level): boolean {
    const threshold = settings.components[this.component] ?? settings.level;
    return ORDER[level] >= ORDER[threshold] && level !== "off";
  }

  private emit(level: Level, msg: string): void {
    if (!this.enabled(level)) return;
    const ts = new Date().toISOString();
    settings.sink.write(`${ts} ${level.toUpperCase().padEnd(5)} [${this.component}] ${msg}`, level);
  }

  trace(msg: string): void {
    this.emit("trace", msg);
  }
  debug(msg: string): void {
    this.emit("debug", msg);
  }
  info(msg: string): void {
    this.emit("info", msg);
  }
  warn(msg: string): void {
    this.emit("warn", msg);
  }
  error(msg: string): void {
    this.emit("error", msg);
  }
}

const loggers = new Map<string, Logger>();
export function logger(component: string): Logger {
  let l = loggers.get(component);
  if (!l) loggers.set(component, l = new Logger(component));
  return l;
}
