/** Shared test fixtures: a fake clock, a log recorder, scratch directories, an event recorder. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureLogging, type Level } from "../../src/util/log.ts";
import type { SessionListener } from "../../src/session/index.ts";

export class FakeClock {
  t = Date.UTC(2025, 0, 1, 12, 0, 0);
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
  advanceSeconds(s: number): void {
    this.t += s * 1000;
  }
}

export interface LogLine {
  level: Level;
  line: string;
}

/** Records the session component's log lines (at debug and above) until restore(). */
export function captureLogs(): { lines: LogLine[]; restore(): void; matching(re: RegExp): LogLine[] } {
  const lines: LogLine[] = [];
  configureLogging({
    components: { session: "debug" },
    sink: {
      write(line, level) {
        if (line.includes("[session]")) lines.push({ level, line });
        else console.error(line);
      },
    },
  });
  return {
    lines,
    matching: (re) => lines.filter((l) => re.test(l.line)),
    restore() {
      configureLogging({ components: {}, sink: { write: (line) => console.error(line) } });
    },
  };
}

export async function scratchDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "bobcat-session-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A listener that writes every event it sees as a string, in order. */
export function recorder(events: string[], tag = ""): SessionListener {
  return {
    sessionCreated: (e) => events.push(`${tag}created:${e.session.id}`),
    sessionDestroyed: (e) => events.push(`${tag}destroyed:${e.session.id}`),
    attributeAdded: (e) => events.push(`${tag}added:${e.name}=${String(e.value)}`),
    attributeReplaced: (e) => events.push(`${tag}replaced:${e.name}=${String(e.value)}`),
    attributeRemoved: (e) => events.push(`${tag}removed:${e.name}=${String(e.value)}`),
    sessionIdChanged: (e, oldId) => events.push(`${tag}idChanged:${oldId}->${e.session.id}`),
  };
}

/** An attribute value implementing HttpSessionBindingListener and HttpSessionActivationListener. */
export class Watched {
  constructor(public label: string, private readonly events: string[]) {}
  valueBound(e: { name: string }): void {
    this.events.push(`bound:${e.name}:${this.label}`);
  }
  valueUnbound(e: { name: string }): void {
    this.events.push(`unbound:${e.name}:${this.label}`);
  }
  sessionWillPassivate(): void {
    this.events.push(`passivate:${this.label}`);
  }
  sessionDidActivate(): void {
    this.events.push(`activate:${this.label}`);
  }
  toString(): string {
    return this.label;
  }
}
