/**
 * ConnectionGate's connectionTimeout for connections whose requests are answered whole in one
 * call (served(): Deno's usual request, which reads no clock): such a connection is idle from
 * its last request, stamped by the gate's next sweep, and is closed no sooner than the timeout
 * after it and at most two sweep intervals later; one that keeps carrying requests stays open.
 */
import { describe, expect, test } from "bun:test";
import { ConnectionGate, type GatedConnection } from "../../src/core/limiter.ts";

const TIMEOUT = 300;
/** The gate's sweep interval for TIMEOUT (a tenth, at least 50 ms). */
const TICK = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ConnectionGate: connectionTimeout after requests served whole", () => {
  test("not closed while requests keep coming; closed between the timeout and two sweeps after the last", async () => {
    let killedAt: number | null = null;
    let g: GatedConnection<string> | undefined;
    const gate = new ConnectionGate<string>({
      maxConnections: 0,
      acceptCount: 0,
      timeoutMs: TIMEOUT,
      start: (c) => (g = c),
      kill: () => (killedAt = Date.now()),
      refuse: () => {},
    });
    try {
      gate.accept("conn");
      // Twice the timeout of requests, one every 40 ms: never idle for long.
      let last = Date.now();
      for (let i = 0; i < 15; i++) {
        await sleep(40);
        gate.served(g!);
        last = Date.now();
      }
      expect(killedAt).toBeNull();
      expect(g!.requests).toBe(15);
      for (let i = 0; i < 40 && killedAt === null; i++) await sleep(25);
      expect(killedAt).not.toBeNull();
      const idle = killedAt! - last;
      expect(idle).toBeGreaterThanOrEqual(TIMEOUT);
      // Timers fire late on a loaded machine: a generous upper bound.
      expect(idle).toBeLessThan(TIMEOUT + 2 * TICK + 400);
      expect(gate.timedOut).toBe(1);
    } finally {
      gate.closeAll();
    }
  });
});
