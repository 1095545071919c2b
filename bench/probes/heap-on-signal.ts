/**
 * A preload for a Bun server under study: on SIGUSR2 it prints bun:jsc's heapStats (live heap,
 * capacity, external memory, object counts by kind) and RSS to stderr, runs a full collection
 * (Bun.gc(true)) and prints them again, so what a full GC would free is seen beside what is kept.
 * For measuring only: a server never forces a collection otherwise.
 *
 *   bun --preload ./bench/probes/heap-on-signal.ts src/cli/main.ts run --config …   then kill -USR2 PID
 *   BUN_OPTIONS="--preload /abs/bench/probes/heap-on-signal.ts" dist/bobcat run --config …
 */
import { heapStats } from "bun:jsc";

function show(label: string): void {
  const s = heapStats();
  const mib = (n: number) => +(n / 1048576).toFixed(2);
  const kinds = Object.entries(s.objectTypeCounts).sort((a, b) => b[1] - a[1]).slice(0, 12);
  console.error(
    `${label}: heap ${mib(s.heapSize)} MiB live, capacity ${mib(s.heapCapacity)} MiB, external ${
      mib(s.extraMemorySize)
    } MiB, ${s.objectCount} objects, RSS ${mib(process.memoryUsage().rss)} MiB`,
  );
  console.error(`  ${kinds.map(([k, v]) => `${k} ${v}`).join(", ")}`);
}

process.on("SIGUSR2", () => {
  show("before a full GC");
  Bun.gc(true);
  show("after a full GC");
});
