/**
 * The part of a CATALINA_BASE's conf/logging.properties that has a bobcat counterpart: the SSL
 * how-to's troubleshooting step, `org.apache.tomcat.util.net.NioEndpoint.handshake.level=FINE`
 * (or Nio2Endpoint), which becomes `logging.components.handshake`. java.util.logging's other
 * settings (handlers, files, formats) describe Tomcat's own log files and are not applied.
 */
import type { Level } from "../util/log.ts";

/** java.util.logging levels as bobcat's. */
const JUL_LEVELS: Record<string, Level> = {
  OFF: "off",
  SEVERE: "error",
  WARNING: "warn",
  INFO: "info",
  CONFIG: "info",
  FINE: "debug",
  FINER: "debug",
  FINEST: "trace",
  ALL: "trace",
};

const HANDSHAKE_LOGGER = /^org\.apache\.tomcat\.util\.net\.(Nio|Nio2|Apr)Endpoint\.handshake\.level$/;

export interface LoggingProperties {
  /** The handshake logger's level, and the line that set it. */
  handshake?: { level: Level; line: number; key: string };
  /** Lines naming a level bobcat does not know: `key=value` at its line. */
  problems: string[];
}

/** Reads the `key=value` / `key: value` / `key value` lines of a Java properties file. */
export function readLoggingProperties(text: string): LoggingProperties {
  const out: LoggingProperties = { problems: [] };
  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("!")) return;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!m || !HANDSHAKE_LOGGER.test(m[1]!)) return;
    const level = JUL_LEVELS[m[2]!.trim().toUpperCase()];
    if (!level) {
      out.problems.push(`${m[1]}=${m[2]} at line ${i + 1} is not a java.util.logging level (FINE, INFO, ...)`);
      return;
    }
    // Of several handshake loggers (Nio and Nio2), the most verbose wins: bobcat has one.
    const order = ["trace", "debug", "info", "warn", "error", "off"];
    if (!out.handshake || order.indexOf(level) < order.indexOf(out.handshake.level)) {
      out.handshake = { level, line: i + 1, key: m[1]! };
    }
  });
  return out;
}
