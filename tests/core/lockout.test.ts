import { describe, expect, test } from "bun:test";
import { LockOut, loggableName } from "../../src/core/lockout.ts";
import { Logger } from "../../src/util/log.ts";

const TOMCAT = { failureCount: 5, lockOutTime: 300, cacheSize: 1000, cacheRemovalWarningTime: 3600 };

function setup(settings = TOMCAT) {
  let now = 1_000_000;
  const warnings: string[] = [];
  const log = { warn: (m: string) => warnings.push(m) } as unknown as Logger;
  const lock = new LockOut(settings, log, () => now);
  return { lock, warnings, advance: (ms: number) => (now += ms) };
}
const OK = { name: "alice" };

describe("LockOutRealm", () => {
  test("5 failures lock the name for 300 s, even with the right password; a success before that resets the count", () => {
    const { lock, warnings, advance } = setup();
    for (let i = 0; i < 4; i++) expect(lock.filter("alice", null)).toBeNull();
    expect(lock.filter("alice", OK)).toBe(OK); // 4 failures: not locked; the success clears them
    for (let i = 0; i < 4; i++) lock.filter("alice", null);
    expect(lock.filter("alice", OK)).toBe(OK);
    expect(warnings).toEqual([]);
    for (let i = 0; i < 5; i++) lock.filter("alice", null);
    expect(warnings).toEqual(["An attempt was made to authenticate the locked user [alice]"]);
    expect(lock.filter("alice", OK)).toBeNull();
    expect(warnings.length).toBe(2);
    // Other names are not affected.
    expect(lock.filter("bob", OK)).toBe(OK);
    // Counted from the last failed attempt (Tomcat's lastFailureTime), in whole seconds.
    advance(299_999);
    expect(lock.filter("alice", OK)).toBeNull();
    advance(1);
    expect(lock.isLocked("alice")).toBe(false);
    expect(lock.filter("alice", OK)).toBe(OK);
    expect(lock.size).toBe(0);
  });

  test("a failed attempt while locked extends the lock; after it runs out the count starts afresh", () => {
    const { lock, advance } = setup();
    for (let i = 0; i < 5; i++) lock.filter("alice", null);
    advance(200_000);
    lock.filter("alice", null); // locked, and now locked from here
    advance(200_000);
    expect(lock.isLocked("alice")).toBe(true);
    advance(101_000);
    expect(lock.isLocked("alice")).toBe(false);
    // One more failure after the lock ran out: counting starts again at 1, so no lock.
    lock.filter("alice", null);
    expect(lock.isLocked("alice")).toBe(false);
    for (let i = 0; i < 3; i++) lock.filter("alice", null);
    expect(lock.isLocked("alice")).toBe(false);
    lock.filter("alice", null);
    expect(lock.isLocked("alice")).toBe(true);
  });

  test("failureCount 0 turns it off", () => {
    const { lock, warnings } = setup({ ...TOMCAT, failureCount: 0 });
    for (let i = 0; i < 50; i++) lock.filter("alice", null);
    expect(lock.filter("alice", OK)).toBe(OK);
    expect(lock.size).toBe(0);
    expect(warnings).toEqual([]);
  });

  test("the cache of failed names is bounded (LRU), with Tomcat's warning when a name is dropped early", () => {
    const { lock, warnings, advance } = setup({ ...TOMCAT, cacheSize: 3 });
    for (let i = 0; i < 5; i++) lock.filter("alice", null);
    lock.filter("u1", null);
    lock.filter("u2", null);
    expect(lock.isLocked("alice")).toBe(true); // a use: alice is now the most recent
    advance(10_000);
    lock.filter("u3", null); // u1 is the least recently used
    expect(lock.size).toBe(3);
    expect(warnings.filter((w) => w.includes("removed"))).toEqual([
      "User [u1] was removed from the failed users cache after [10] seconds to keep the cache size within the limit set",
    ]);
    expect(lock.isLocked("alice")).toBe(true);
    for (let i = 0; i < 5000; i++) lock.filter(`guess${i}`, null);
    expect(lock.size).toBe(3);
  });

  test("names are logged without control characters", () => {
    expect(loggableName("a\nFAKE LOG LINE\r")).toBe("a\\u000aFAKE LOG LINE\\u000d");
    expect(loggableName("x".repeat(500)).length).toBe(103);
  });
});
