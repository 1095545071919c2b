/**
 * BOBCAT_TIMING=1: start-up and stop phases written to stderr as they end, each with the time
 * since the process started and the process's CPU time so far (bench/sessions.ts --timing shows
 * them). Off by default: then a mark does nothing. On Deno on Linux the CPU time is read from
 * /proc/self/stat (10 ms steps), so that timing a start does not load the Node layer it measures.
 */
import { cpuMs, env } from "./host/proc.ts";

function enabled(): boolean {
  // undefined on Deno without --allow-env.
  return env("BOBCAT_TIMING") === "1";
}

export const TIMING: boolean = enabled();

/** Logs `phase` (a phase that just ended) when BOBCAT_TIMING=1. */
export function mark(phase: string): void {
  if (!TIMING) return;
  console.error(
    `[timing] ${phase}: ${performance.now().toFixed(1)} ms since start, CPU ${cpuMs().toFixed(1)} ms`,
  );
}
