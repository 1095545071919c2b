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

/**
 * backgroundTurn: a job cut into parts lets a request in between them. The server and its
 * client are in the same process, so both need the loop to look at their sockets between parts;
 * the chain of parts (~1 ms each) stops as soon as the request has been served. With
 * backgroundTurn that takes a few parts on both runtimes; on Deno a chain of setImmediate held
 * the request for ~110 parts (Deno looks at its sockets only now and then while immediates keep
 * coming), i.e. for the whole of a restore of 100,000 sessions (~60 parts).
 */
const turns = `
import { backgroundTurn } from ${JSON.stringify(join(ROOT, "src/util/background-timer.ts"))};
const PARTS = 2000;
const busy = (ms) => { const end = performance.now() + ms; while (performance.now() < end); };
let parts = 0;
let servedAfter = -1;
const handler = () => { servedAfter = parts; return new Response("ok"); };
const server = globalThis.Deno
  ? Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler)
  : Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler });
const port = globalThis.Deno ? server.addr.port : server.port;
const chain = new Promise((resolve) => {
  const part = () => {
    busy(1);
    parts++;
    if (servedAfter >= 0 || parts >= PARTS) resolve();
    else backgroundTurn(part);
  };
  backgroundTurn(part);
});
const answer = fetch("http://127.0.0.1:" + port + "/").then((r) => r.text());
await chain;
const servedDuringChain = servedAfter >= 0;
console.log(JSON.stringify({ servedDuringChain, servedAfter, parts, answer: await answer }));
await (globalThis.Deno ? server.shutdown() : server.stop(true));
`;

test.each(
  [
    ["deno", [DENO, "run", "-A", "--quiet"]],
    ["bun", [process.execPath]],
  ] as const,
)("on %s: a request is served between the parts of a job chained with backgroundTurn", (name, cmd) => {
  const file = join(dir, `turns-${name}.mjs`);
  writeFileSync(file, turns);
  const r = Bun.spawnSync([...cmd, file], { stdout: "pipe", stderr: "pipe", timeout: 60000 });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout.toString().trim());
  expect(out.answer).toBe("ok");
  expect(out.servedDuringChain).toBe(true);
  expect(out.parts).toBeLessThanOrEqual(40);
});
