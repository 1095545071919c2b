/**
 * The primary's session turns (src/runtime/turns.ts) without processes: first come, first served
 * per session, bounded waits and holds, and a worker that exits loses its turns and its places.
 * The answers are collected as the workers would read them; waits end by the service's own
 * timers, awaited through its answers (no timing assertions).
 */
import { describe, expect, test } from "bun:test";
import { TurnService } from "../../src/runtime/turns.ts";

function service() {
  const sent: string[] = [];
  let notify: (() => void) | undefined;
  const turns = new TurnService((worker, line) => {
    sent.push(`${worker}: ${line}`);
    notify?.();
  });
  /** Resolves once `n` answers were sent in all. */
  const answers = (n: number) =>
    new Promise<void>((resolve) => {
      if (sent.length >= n) return resolve();
      notify = () => {
        if (sent.length >= n) resolve();
      };
    });
  return { turns, sent, answers };
}

describe("session turns kept by the primary", () => {
  test("one holder per session, the others granted in the order they asked; other sessions never wait", () => {
    const { turns, sent } = service();
    expect(turns.message(1, "turn a 60000 ctx S1")).toBe(true);
    expect(turns.message(2, "turn b 60000 ctx S1")).toBe(true);
    expect(turns.message(3, "turn c 60000 ctx S1")).toBe(true);
    turns.message(2, "turn d 60000 ctx S2");
    expect(sent).toEqual(["1: turn a ok", "2: turn d ok"]);
    turns.message(1, "done a");
    expect(sent.slice(2)).toEqual(["2: turn b ok"]);
    // A give-back that is not the holder's (late, repeated) changes nothing.
    turns.message(1, "done a");
    turns.message(3, "done zz");
    expect(sent.length).toBe(3);
    turns.message(2, "done b");
    expect(sent.slice(3)).toEqual(["3: turn c ok"]);
    turns.message(3, "done c");
    turns.message(2, "done d");
    expect(turns.size).toBe(0);
    expect(turns.counts).toEqual({ granted: 4, refused: 0, expired: 0 });
  });

  test("a queued request that gives up leaves the queue; lines that are not turns are not taken", () => {
    const { turns, sent } = service();
    turns.message(1, "turn a 60000 k");
    turns.message(2, "turn b 60000 k");
    turns.message(3, "turn c 60000 k");
    turns.message(2, "done b");
    turns.message(1, "done a");
    expect(sent).toEqual(["1: turn a ok", "3: turn c ok"]);
    expect(turns.message(1, "ready")).toBe(false);
    expect(turns.message(1, "reload-others")).toBe(false);
    turns.message(3, "done c");
    expect(turns.size).toBe(0);
  });

  test("a worker that exits passes its turns on and leaves the queues", () => {
    const { turns, sent } = service();
    turns.message(1, "turn a 60000 k1");
    turns.message(1, "turn b 60000 k2");
    turns.message(2, "turn c 60000 k1");
    turns.message(1, "turn d 60000 k3");
    turns.message(2, "turn e 60000 k3");
    turns.message(1, "turn f 60000 k3"); // queued behind worker 2
    expect(sent).toEqual(["1: turn a ok", "1: turn b ok", "1: turn d ok"]);
    expect(turns.gone(1)).toBe(3);
    // k1 and k3 go to worker 2, which waited; k2 is free; worker 1's queued ask is gone.
    expect(sent.slice(3).sort()).toEqual(["2: turn c ok", "2: turn e ok"]);
    turns.message(2, "done e");
    expect(sent.length).toBe(5);
    turns.message(2, "done c");
    expect(turns.size).toBe(0);
    expect(turns.gone(1)).toBe(0);
  });

  test("a request waits at most its wait, and a turn lasts at most that long", async () => {
    const { turns, sent, answers } = service();
    turns.message(1, "turn a 30 k");
    turns.message(2, "turn b 20000 k");
    turns.message(3, "turn c 10 k");
    turns.message(4, "turn d 0 k");
    // No wait: refused at once while the session is held.
    expect(sent).toEqual(["1: turn a ok", "4: turn d no"]);
    await answers(3);
    // c waited its 10 ms and goes ahead without the turn; b still waits.
    expect(sent[2]).toBe("3: turn c no");
    await answers(4);
    // a held it for its 30 ms: b gets it without a give-back from worker 1.
    expect(sent[3]).toBe("2: turn b ok");
    expect(turns.counts).toEqual({ granted: 2, refused: 2, expired: 1 });
    // The late give-back of the expired turn does not take b's turn away.
    turns.message(1, "done a");
    turns.message(5, "turn e 20000 k");
    expect(sent.length).toBe(4);
    turns.message(2, "done b");
    expect(sent[4]).toBe("5: turn e ok");
    turns.message(5, "done e");
    expect(turns.size).toBe(0);
  });
});
