/**
 * StandardManager's lazy restore: the file is checked whole at start, but each session stays as
 * its record until something looks it up; at stop a record nobody read is copied back as it was.
 * These tests compare what a lazily restored session does with what the session did before the
 * restart, and the bytes written with the bytes read.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Serializer, StandardManager, type StandardManagerOptions } from "../../src/session/index.ts";
import { encodeSessionFile } from "../../src/session/record.ts";
import { captureLogs, FakeClock, recorder, scratchDir } from "./helpers.ts";

let clock: FakeClock;
let events: string[];
let logs: ReturnType<typeof captureLogs>;
let work: Awaited<ReturnType<typeof scratchDir>>;
let serializer: Serializer;

class Badge {
  constructor(public label: string) {}
  valueUnbound(e: { name: string }) {
    events.push(`unbound:${e.name}:${this.label}`);
  }
  sessionWillPassivate() {
    events.push(`passivate:${this.label}`);
  }
  sessionDidActivate() {
    events.push(`activate:${this.label}`);
  }
  toString() {
    return this.label;
  }
}

beforeEach(async () => {
  clock = new FakeClock();
  events = [];
  logs = captureLogs();
  work = await scratchDir();
  serializer = new Serializer();
  serializer.register("Badge", Badge);
});
afterEach(async () => {
  logs.restore();
  await work.cleanup();
});

function options(extra: StandardManagerOptions = {}): StandardManagerOptions {
  return { now: clock.now, workDir: work.dir, pathname: "SESSIONS.ser", serializer, name: "/app", ...extra };
}

/** A StandardManager whose next generated ids can be dictated (to make one collide). */
class Dictated extends StandardManager {
  readonly next: string[] = [];
  constructor(extra: StandardManagerOptions = {}) {
    super(options(extra));
    const generate = this.idGenerator.generate.bind(this.idGenerator);
    this.idGenerator.generate = () => this.next.shift() ?? generate();
  }
}

/** Whether the managers the tests start leave their records to be checked after start() (as a server's do). */
let background = false;

async function started(extra: StandardManagerOptions = {}): Promise<Dictated> {
  const m = new Dictated(extra);
  m.addListener(recorder(events));
  m.backgroundRestore = background;
  await m.start();
  return m;
}

const file = () => join(work.dir, "SESSIONS.ser");
const bytesOf = async () => new Uint8Array(await readFile(file()));

/** `n` sessions with different attributes, timeouts and access times, saved by a stop; returns their ids. */
async function saved(n: number, extra: StandardManagerOptions = {}): Promise<string[]> {
  const a = await started(extra);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = a.createSession();
    s.setAttribute("n", i);
    if (i % 2 === 0) s.setAttribute("badge", new Badge(`b${i}`));
    if (i % 3 === 0) s.setAttribute("list", [i, `x${i}`, { deep: new Map([[i, new Date(i)]]) }]);
    s.maxInactiveInterval = 600 + i * 60;
    s.principal = { name: `user${i}`, roles: ["r"] };
    s.authType = "FORM";
    if (i % 4 !== 0) {
      a.access(s);
      clock.advance(10);
      a.endAccess(s);
    }
    ids.push(s.id);
  }
  await a.stop();
  events.length = 0;
  return ids;
}

for (const mode of ["checked at start", "checked in the background (backgroundRestore)"]) {
  describe(`lazy restore, records ${mode}`, () => {
    beforeEach(() => {
      background = mode !== "checked at start";
    });

    test("counts, ids and statistics include the sessions not read yet; nothing is activated at start", async () => {
      const ids = await saved(20);
      const m = await started();
      expect(events).toEqual([]);
      expect(m.getStats()).toMatchObject({ activeSessions: 20, maxActive: 20, expiredSessions: 0 });
      expect(m.listSessionIds().sort()).toEqual([...ids].sort());
      for (const id of ids) expect(m.isLoaded(id)).toBe(true);
      expect(logs.matching(/Restored 20 session\(s\)/)).toHaveLength(1);
      // Reading one changes no count.
      expect(await m.findSession(ids[3])).not.toBeNull();
      expect(m.getStats().activeSessions).toBe(20);
      expect(m.listSessionIds()).toHaveLength(20);
    });

    test("a session read on first lookup is the session that was saved", async () => {
      const a = await started({ persistAuthentication: true });
      const s = a.createSession();
      s.setAttribute("badge", new Badge("B"));
      s.setAttribute("when", new Date(Date.UTC(2024, 1, 2)));
      s.setAttribute("nested", { a: [1, 2n, "3"], m: new Map([["k", new Set([1])]]) });
      s.maxInactiveInterval = 4321;
      s.principal = { name: "alice", roles: ["admin", "user"] };
      s.authType = "BASIC";
      a.access(s);
      clock.advance(500);
      a.endAccess(s);
      const untouched = a.createSession();
      const want = {
        id: s.id,
        created: s.creationTime,
        last: s.lastAccessedTime,
        names: s.getAttributeNames(),
      };
      await a.stop();
      clock.advanceSeconds(60);
      events.length = 0;

      const b = await started({ persistAuthentication: true });
      const r = b.findLoadedSession(want.id)!;
      expect(events).toEqual(["activate:B"]);
      expect(r.id).toBe(want.id);
      expect(r.creationTime).toBe(want.created);
      expect(r.lastAccessedTime).toBe(want.last);
      expect(r.maxInactiveInterval).toBe(4321);
      expect(r.isNew).toBe(false);
      expect(r.getAttributeNames()).toEqual(want.names);
      expect(r.getAttribute("badge")).toBeInstanceOf(Badge);
      expect(r.getAttribute<Date>("when")!.getTime()).toBe(Date.UTC(2024, 1, 2));
      expect(r.getAttribute("nested")).toEqual({ a: [1, 2n, "3"], m: new Map([["k", new Set([1])]]) });
      expect(r.principal).toEqual({ name: "alice", roles: ["admin", "user"] });
      expect(r.authType).toBe("BASIC");
      // The same object from then on, and it is used like any session.
      expect(await b.findSession(want.id)).toBe(r);
      b.access(r);
      clock.advance(100);
      b.endAccess(r);
      expect(r.lastAccessedTime).toBe(clock.t);
      // Never accessed before the stop: still new.
      expect((await b.findSession(untouched.id))!.isNew).toBe(true);
    });

    test("records that time out are expired by the sweep with notifications; the others stay unread", async () => {
      const ids = await saved(6); // timeouts 600, 660, ... 900 s
      const m = await started();
      clock.advanceSeconds(700); // past 600 and 660
      await m.processExpires();
      expect(events).toEqual([
        "activate:b0",
        `destroyed:${ids[0]}`,
        "removed:n=0",
        "unbound:badge:b0",
        "removed:badge=b0",
        "removed:list=0,x0,[object Object]",
        `destroyed:${ids[1]}`,
        "removed:n=1",
      ]);
      expect(m.getStats()).toMatchObject({ activeSessions: 4, expiredSessions: 2 });
      expect(m.isLoaded(ids[0]!)).toBe(false);
      expect(await m.findSession(ids[1])).toBeNull();
      expect(m.listSessionIds().sort()).toEqual(ids.slice(2).sort());
    });

    test("a lookup of a record that has timed out expires it instead of returning it", async () => {
      const ids = await saved(2);
      const m = await started();
      clock.advanceSeconds(601);
      expect(m.findLoadedSession(ids[0]!)).toBeNull();
      expect(events).toContain(`destroyed:${ids[0]}`);
      expect(m.getStats()).toMatchObject({ activeSessions: 1, expiredSessions: 1 });
    });

    test("a generated id that an unread session has is drawn again; a given one is refused", async () => {
      const ids = await saved(3);
      const m = await started();
      m.next.push(ids[1]!, "FRESH-ID");
      const s = m.createSession();
      expect(s.id).toBe("FRESH-ID");
      expect(m.getStats()).toMatchObject({ activeSessions: 4, duplicates: 1 });
      expect(() => m.createSession(ids[2])).toThrow(/already in use/);
      expect(() => m.changeSessionId(s, ids[2])).toThrow(/already in use/);
      m.next.push(ids[2]!, "OTHER-ID");
      expect(m.changeSessionId(s)).toBe("OTHER-ID");
      // The unread sessions are intact.
      expect((await m.findSession(ids[1]))!.getAttribute("n")).toBe(1);
      expect((await m.findSession(ids[2]))!.getAttribute("n")).toBe(2);
    });

    test("ids that are not ASCII, or not even UTF-8, are found as they were saved", async () => {
      const odd = ["caf\u00e9-\u4e2d", "lone-\ud800-surrogate", "x".repeat(200), "A"];
      const a = await started();
      for (const id of odd) a.createSession(id).setAttribute("id", id);
      await a.stop();
      const m = await started();
      expect(m.listSessionIds().sort()).toEqual([...odd].sort());
      expect(m.isLoaded("caf\u00e9-\u4e2e")).toBe(false);
      expect(m.isLoaded("x".repeat(199))).toBe(false);
      for (const id of odd) expect((await m.findSession(id))!.getAttribute("id")).toBe(id);
    });

    test("a session id twice in the file: the first copy is kept, with a warning", async () => {
      const record = (n: number) => ({
        id: "SAME",
        creationTime: clock.t,
        lastAccessedTime: clock.t,
        thisAccessedTime: clock.t,
        maxInactiveInterval: 1800,
        isNew: false,
        isValid: true,
        authType: null,
        principal: null,
        attributes: [{ name: "n", frame: serializer.serialize(n) }],
      });
      await writeFile(file(), encodeSessionFile([record(1), record(2)]));
      const m = await started();
      expect(m.getStats().activeSessions).toBe(1);
      expect(logs.matching(/Session \[SAME\] appears twice/)).toHaveLength(1);
      expect((await m.findSession("SAME"))!.getAttribute("n")).toBe(1);
    });

    test("maxActiveSessions counts the sessions not read yet", async () => {
      await saved(3);
      const m = await started({ maxActiveSessions: 3 });
      expect(() => m.createSession()).toThrow();
      expect(m.getStats().rejectedSessions).toBe(1);
    });

    test("a stop with nothing read writes back the same bytes, and nothing is passivated", async () => {
      await saved(25);
      const first = await bytesOf();
      const m = await started();
      expect(m.getStats().activeSessions).toBe(25);
      m.listSessionIds();
      await m.processExpires(); // nothing due
      await m.stop();
      expect(events).toEqual([]);
      expect(await bytesOf()).toEqual(first);
      // And once more.
      await (await started()).stop();
      expect(await bytesOf()).toEqual(first);
    });

    test("after a stop every session counts as expired, silently", async () => {
      const ids = await saved(5);
      const m = await started();
      const read = (await m.findSession(ids[0]))!;
      await m.stop();
      expect(events).toEqual(["activate:b0", "passivate:b0"]);
      expect(m.getStats()).toMatchObject({ activeSessions: 0, expiredSessions: 5 });
      expect(read.isValidInternal()).toBe(false);
      expect(() => read.getAttribute("n")).toThrow(/invalidated/);
      expect(m.findLoadedSession(ids[1]!)).toBeNull();
    });

    test("sessions read and changed are written anew; the others as they were", async () => {
      const ids = await saved(4);
      const m = await started();
      const s = (await m.findSession(ids[1]))!;
      s.setAttribute("n", 100);
      s.setAttribute("added", "yes");
      m.createSession().setAttribute("n", -1);
      await m.stop();
      const again = await started();
      expect(again.getStats().activeSessions).toBe(5);
      const r = (await again.findSession(ids[1]))!;
      expect(r.getAttribute("n")).toBe(100);
      expect(r.getAttribute("added")).toBe("yes");
      for (const i of [0, 2, 3]) expect((await again.findSession(ids[i]))!.getAttribute("n")).toBe(i);
    });

    test("records that timed out by the stop are expired with notifications and not written", async () => {
      const ids = await saved(3); // 600, 660, 720 s
      const m = await started();
      clock.advanceSeconds(650);
      await m.stop();
      expect(events).toEqual([
        "activate:b0",
        `destroyed:${ids[0]}`,
        "removed:n=0",
        "unbound:badge:b0",
        "removed:badge=b0",
        "removed:list=0,x0,[object Object]",
      ]);
      const again = await started();
      expect(again.listSessionIds().sort()).toEqual(ids.slice(1).sort());
    });

    test("changeSessionId and invalidate on a session read lazily", async () => {
      const ids = await saved(3);
      const m = await started();
      const s = (await m.findSession(ids[0]))!;
      const newId = m.changeSessionId(s);
      expect(events).toEqual(["activate:b0", `idChanged:${ids[0]}->${newId}`]);
      expect(m.isLoaded(ids[0]!)).toBe(false);
      expect(await m.findSession(ids[0])).toBeNull();
      expect(await m.findSession(newId)).toBe(s);
      expect(m.getStats().activeSessions).toBe(3);

      (await m.findSession(ids[1]))!.invalidate();
      expect(events).toContain(`destroyed:${ids[1]}`);
      expect(m.getStats()).toMatchObject({ activeSessions: 2, expiredSessions: 1 });

      await m.stop();
      const again = await started();
      expect(again.listSessionIds().sort()).toEqual([newId, ids[2]!].sort());
      expect((await again.findSession(newId))!.getAttribute("n")).toBe(0);
    });

    test("the manager app's listing (findSessions) and expireSession read the sessions they need", async () => {
      const ids = await saved(4);
      const m = await started();
      expect(m.expireSession(ids[3]!)).toBe(true);
      expect(events).toEqual([`destroyed:${ids[3]}`, "removed:n=3", "removed:list=3,x3,[object Object]"]);
      const all = m.findSessions();
      expect(all.map((s) => s.id).sort()).toEqual(ids.slice(0, 3).sort());
      expect(all.find((s) => s.id === ids[2])!.getAttribute("n")).toBe(2);
      expect(m.listSessionIds()).toHaveLength(3);
    });

    test("a record broken behind a good checksum is found at start: the file is kept aside, no session restored", async () => {
      const record = (id: string, names: string[]) => ({
        id,
        creationTime: clock.t,
        lastAccessedTime: clock.t,
        thisAccessedTime: clock.t,
        maxInactiveInterval: 1800,
        isNew: false,
        isValid: true,
        authType: null,
        principal: null,
        attributes: names.map((name) => ({ name, frame: serializer.serialize(1) })),
      });
      // The checksum is right; the second record names one attribute twice.
      await writeFile(file(), encodeSessionFile([record("GOOD", ["a", "b"]), record("BAD", ["a", "a"])]));
      const m = await started();
      expect(m.getStats().activeSessions).toBe(0);
      expect(m.listSessionIds()).toEqual([]);
      expect(events).toEqual([]);
      // In the background the file is moved aside after the check failed (whenIdle: once it is).
      await m.whenIdle();
      expect(logs.lines.find((l) => l.level === "error")?.line).toMatch(/appears twice.*kept as/);
    });
  });
}

describe("a restore in the background (backgroundRestore)", () => {
  beforeEach(() => {
    background = true;
  });

  /** `ids.length` records with attribute n = index, written as a stopped manager would have. */
  async function fileOf(ids: string[], broken = -1): Promise<void> {
    await writeFile(
      file(),
      encodeSessionFile(ids.map((id, i) => ({
        id,
        creationTime: clock.t,
        lastAccessedTime: clock.t,
        thisAccessedTime: clock.t,
        maxInactiveInterval: 1800,
        isNew: false,
        isValid: true,
        authType: null,
        principal: null,
        // Record `broken` names its attribute twice: the checksum holds, the structure does not.
        attributes: (i === broken ? ["n", "n"] : ["n"]).map((name) => ({ name, frame: serializer.serialize(i) })),
      }))),
    );
  }
  const many = (n: number) => Array.from({ length: n }, (_, i) => `ID-${i}`);
  const restoredLog = () => logs.matching(/Restored \d+ session\(s\)/);
  const exists = () => readFile(file()).then(() => true, () => false);

  test("start returns before the records are checked; they are, a part at a time, and the file is deleted", async () => {
    const ids = many(5000);
    await fileOf(ids);
    const m = await started();
    expect(restoredLog()).toHaveLength(0);
    expect(await exists()).toBe(true);
    // As a server does once its connectors listen: the parts run in turns of the event loop.
    m.serving();
    expect(restoredLog()).toHaveLength(0);
    for (let i = 0; i < 1000 && restoredLog().length === 0; i++) await Bun.sleep(2);
    await m.whenIdle();
    expect(restoredLog()).toHaveLength(1);
    expect(logs.matching(/Restored 5000 session\(s\)/)).toHaveLength(1);
    expect(await exists()).toBe(false);
    expect(m.getStats()).toMatchObject({ activeSessions: 5000, expiredSessions: 0 });
    expect(events).toEqual([]);
  });

  test("a lookup needs only its own record checked; the count, a new session and the listing need them all", async () => {
    const ids = many(5000);
    await fileOf(ids);
    const m = await started();
    expect(m.findLoadedSession("ID-1")!.getAttribute("n")).toBe(1);
    expect((await m.findSession("ID-4999"))!.getAttribute("n")).toBe(4999);
    expect(m.findLoadedSession("NOT-THERE")).toBeNull();
    expect(restoredLog()).toHaveLength(0);
    // The same sessions when looked up again, and after every record is checked.
    const last = m.findLoadedSession("ID-4999");
    expect(m.isLoaded("ID-2")).toBe(true);
    expect(restoredLog()).toHaveLength(1);
    // The two sessions read before the check ended are counted among those restored.
    expect(logs.matching(/Restored 5000 session\(s\)/)).toHaveLength(1);
    expect(m.sessionCount).toBe(5000);
    expect(m.findLoadedSession("ID-4999")).toBe(last);
    expect(m.listSessionIds()).toHaveLength(5000);
    // (Each manager's file is deleted once its check ended, before the next file is written.)
    await m.whenIdle();

    for (
      const need of [
        (x: Dictated) => x.sessionCount,
        (x: Dictated) => x.createSession().id,
        (x: Dictated) => x.listSessionIds(),
        (x: Dictated) => x.getStats(),
      ]
    ) {
      await fileOf(ids);
      const other = await started();
      const before = restoredLog().length;
      need(other);
      expect(restoredLog()).toHaveLength(before + 1);
      await other.whenIdle();
    }
  });

  test("a session looked up early that ends is not found again, though its record is checked later", async () => {
    const ids = many(5000);
    await fileOf(ids);
    const m = await started();
    m.findLoadedSession("ID-4000")!.invalidate();
    expect(m.findLoadedSession("ID-4000")).toBeNull();
    await m.whenIdle();
    expect(m.findLoadedSession("ID-4000")).toBeNull();
    expect(m.getStats()).toMatchObject({ activeSessions: 4999, expiredSessions: 1 });
    expect(logs.matching(/appears twice/)).toHaveLength(0);
  });

  test("records timed out while stopped are expired with notifications when the check ends", async () => {
    const ids = await saved(6); // timeouts 600, 660, ... 900 s
    clock.advanceSeconds(700);
    const m = await started();
    expect(events).toEqual([]);
    await m.whenIdle();
    expect(events).toContain(`destroyed:${ids[0]}`);
    expect(events).toContain(`destroyed:${ids[1]}`);
    expect(m.getStats()).toMatchObject({ activeSessions: 4, expiredSessions: 2 });
    expect(logs.matching(/Restored 4 session\(s\).*2 had expired while stopped/)).toHaveLength(1);
  });

  test("a record timed out while stopped that a request looks up before the check ends counts as expired", async () => {
    const ids = await saved(6); // timeouts 600, 660, ... 900 s
    clock.advanceSeconds(700);
    const m = await started();
    // Looked up while the records are still being checked: read, found timed out, expired.
    expect(m.findLoadedSession(ids[0]!)).toBeNull();
    expect(m.findLoadedSession(ids[5]!)!.getAttribute("n")).toBe(5);
    expect(restoredLog()).toHaveLength(0);
    await m.whenIdle();
    expect(events).toContain(`destroyed:${ids[0]}`);
    expect(events).toContain(`destroyed:${ids[1]}`);
    expect(m.getStats()).toMatchObject({ activeSessions: 4, expiredSessions: 2 });
    expect(logs.matching(/Restored 4 session\(s\).*2 had expired while stopped/)).toHaveLength(1);
  });

  test("a stop while records are still being checked writes every session, and the new file stays", async () => {
    const ids = many(5000);
    await fileOf(ids);
    const first = await bytesOf();
    const m = await started();
    m.findLoadedSession("ID-0")!.setAttribute("n", -1);
    await m.stop();
    expect(await exists()).toBe(true);
    const again = await started();
    expect(again.sessionCount).toBe(5000);
    expect(again.findLoadedSession("ID-0")!.getAttribute("n")).toBe(-1);
    expect(again.findLoadedSession("ID-4999")!.getAttribute("n")).toBe(4999);
    await again.whenIdle();
    // Nothing read and nothing changed: the same bytes back.
    await fileOf(ids);
    const untouched = await started();
    await untouched.stop();
    expect(await bytesOf()).toEqual(first);
  });

  test("an id twice: a lookup reads the first copy, and the later one is dropped with a warning", async () => {
    const ids = many(5000);
    ids[4000] = "ID-1";
    await fileOf(ids);
    const m = await started();
    expect(m.findLoadedSession("ID-1")!.getAttribute("n")).toBe(1);
    await m.whenIdle();
    expect(logs.matching(/Session \[ID-1\] appears twice/)).toHaveLength(1);
    expect(m.sessionCount).toBe(4999);
    expect(m.findLoadedSession("ID-1")!.getAttribute("n")).toBe(1);
  });

  test("a lookup whose own record is broken: nothing is read, the file is kept aside", async () => {
    const ids = many(5000);
    await fileOf(ids, 4500);
    const m = await started();
    expect(m.findLoadedSession("ID-4500")).toBeNull();
    await m.whenIdle();
    expect(logs.lines.find((l) => l.level === "error")?.line).toMatch(/appears twice.*kept as/);
    expect(m.sessionCount).toBe(0);
  });

  test("a record broken further on: the sessions read before it stay, the rest are dropped, the file is kept aside", async () => {
    const ids = many(5000);
    await fileOf(ids, 4500);
    const m = await started();
    const early = m.findLoadedSession("ID-3")!;
    expect(early.getAttribute("n")).toBe(3);
    expect(m.sessionCount).toBe(1);
    await m.whenIdle();
    expect(logs.lines.find((l) => l.level === "error")?.line).toMatch(/appears twice.*kept as/);
    expect(m.findLoadedSession("ID-4")).toBeNull();
    expect(m.findLoadedSession("ID-3")).toBe(early);
    expect(await exists()).toBe(false);
  });
});
