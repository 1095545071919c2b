/**
 * Which modules of Deno's Node compatibility layer a `deno run` loaded. Deno compiles those
 * polyfills (`ext:deno_node/...`) from its embedded sources the first time a `node:` module, or a
 * Node global such as `process`, `Buffer` or `setTimeout`, is touched; V8's function-event log
 * names every script it compiles, so it is a module-load trace of the Node layer. V8 writes the
 * log as it goes: it can be read while the process still runs (after its first response).
 */
import { existsSync, readFileSync } from "node:fs";

/** Deno's own bootstrap compiles this one in every process, an empty script's included. */
const ALWAYS_LOADED = new Set(["ext:deno_node/02_register_cloneable.js"]);

/** The `deno run` flag that makes V8 log every script it compiles to `logFile`. */
export function traceFlags(logFile: string): string {
  return `--v8-flags=--log-function-events,--logfile=${logFile},--no-logfile-per-isolate`;
}

/** The `ext:deno_node/` modules named in the V8 log at `logFile`, sorted, bootstrap's left out. */
export function nodeLayerModules(logFile: string): string[] {
  if (!existsSync(logFile)) throw new Error(`no V8 log at ${logFile}: was deno run given traceFlags()?`);
  const found = new Set<string>();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.startsWith("script-details,")) continue;
    const url = line.split(",")[2] ?? "";
    if (url.startsWith("ext:deno_node/") && !ALWAYS_LOADED.has(url)) found.add(url);
  }
  return [...found].sort();
}

/** Every script URL in the V8 log at `logFile` (a `deno run --no-code-cache` logs each module it compiles). */
export function scriptsInLog(logFile: string): string[] {
  const found = new Set<string>();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (line.startsWith("script-details,")) found.add(line.split(",")[2] ?? "");
  }
  found.delete("");
  return [...found].sort();
}
