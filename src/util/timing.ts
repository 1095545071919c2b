/**
 * BOBCAT_TIMING=1: start-up and stop phases written to stderr as they end, each with the time
 * since the process started and the process's CPU time so far (bench/sessions.ts --timing shows
 * them). Off by default: then a mark does nothing.
 */
function enabled(): boolean {
  try {
    return process.env.BOBCAT_TIMING === "1";
  } catch {
    // Deno without --allow-env.
    return false;
  }
}

export const TIMING: boolean = enabled();

/** Logs `phase` (a phase that just ended) when BOBCAT_TIMING=1. */
export function mark(phase: string): void {
  if (!TIMING) return;
  const { user, system } = process.cpuUsage();
  console.error(
    `[timing] ${phase}: ${performance.now().toFixed(1)} ms since start, CPU ${((user + system) / 1000).toFixed(1)} ms`,
  );
}
