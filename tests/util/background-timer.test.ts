/**
 * Background timers (src/util/background-timer.ts): on Deno they wait with Atomics.waitAsync, so
 * a start touches no global timer (and loads none of Deno's Node layer); on Bun they are unref'd
 * setTimeout / setInterval. Either way: a timeout runs once, an interval runs until cancelled,
 * a cancelled timer never runs, and a pending one does not keep the process alive.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, DENO, ROOT, tempDir } from "../helpers/bobcat.ts";

const dir = tempDir("bobcat-background-timer-");
afterAll(() => cleanup(dir));

const script = `
import { backgroundInterval, backgroundTimeout } from ${JSON.stringify(join(ROOT, "src/util/background-timer.ts"))};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const runs = { once: 0, every: 0, cancelled: 0 };
const touched = [];
for (const name of ["setTimeout", "setInterval"]) {
  const d = Object.getOwnPropertyDescriptor(globalThis, name);
  Object.defineProperty(globalThis, name, { configurable: true, get() { touched.push(name); return d.get ? d.get.call(this) : d.value; } });
}
backgroundTimeout(() => runs.once++, 20);
const every = backgroundInterval(() => runs.every++, 20);
backgroundTimeout(() => runs.cancelled++, 20).cancel();
backgroundInterval(() => runs.cancelled++, 20).cancel();
const untouched = touched.length === 0;
await sleep(300);
every.cancel();
const afterCancel = runs.every;
await sleep(100);
console.log(JSON.stringify({ ...runs, untouched, afterCancel }));
// Pending, never cancelled: the process must still exit straight away.
backgroundTimeout(() => console.log("kept alive"), 60000);
backgroundInterval(() => console.log("kept alive"), 60000);
`;

function run(cmd: string[]): { out: Record<string, number | boolean>; ms: number } {
  const file = join(dir, `timers-${cmd[0]!.split("/").pop()}.mjs`);
  writeFileSync(file, script);
  const t0 = performance.now();
  const r = Bun.spawnSync([...cmd, file], { stdout: "pipe", stderr: "pipe", timeout: 30000 });
  const ms = performance.now() - t0;
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  return { out: JSON.parse(r.stdout.toString().trim()), ms };
}

test.each(
  [
    ["deno", [DENO, "run", "-A", "--quiet"], true],
    ["bun", [process.execPath], false],
  ] as const,
)(
  "on %s: a timeout runs once, an interval until cancelled, a cancelled timer never",
  (_name, cmd, leavesGlobalTimers) => {
    const { out, ms } = run([...cmd]);
    expect(out.once).toBe(1);
    expect(out.every).toBeGreaterThanOrEqual(3);
    expect(out.afterCancel).toBe(out.every);
    expect(out.cancelled).toBe(0);
    // On Deno the global timers are never touched (the script's own sleep touches them later).
    expect(out.untouched).toBe(leavesGlobalTimers);
    // The 60 s timers left pending did not hold the process.
    expect(ms).toBeLessThan(20000);
  },
);
