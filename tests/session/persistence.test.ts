/**
 * StandardManager persistence across restart (pathname), and the per-session records a Store will
 * keep: round trips, expiry during downtime, passivation events, corrupt files kept aside,
 * unserializable attributes, filters, persistAuthentication and atomic writes.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  Serializer,
  StandardManager,
  type StandardManagerOptions,
  type StandardSession,
} from "../../src/session/index.ts";
import { encodeSessionFile } from "../../src/session/record.ts";
import { crc32js } from "../../src/session/wire.ts";
import { captureLogs, FakeClock, recorder, scratchDir } from "./helpers.ts";

let clock: FakeClock;
let events: string[];
let logs: ReturnType<typeof captureLogs>;
let work: Awaited<ReturnType<typeof scratchDir>>;
let serializer: Serializer;

/** A persistable value that reports binding and activation events to the current test. */
class Badge {
  constructor(public label: string) {}
  valueBound(e: { name: string }) {
    events.push(`bound:${e.name}:${this.label}`);
  }
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

class Cart {
  items: { sku: string; qty: number }[] = [];
  total = 0n;
}

beforeEach(async () => {
  clock = new FakeClock();
  events = [];
  logs = captureLogs();
  work = await scratchDir();
  serializer = new Serializer();
  serializer.register("Badge", Badge);
  serializer.register("Cart", Cart);
});
afterEach(async () => {
  logs.restore();
  await work.cleanup();
});

function options(extra: StandardManagerOptions = {}): StandardManagerOptions {
  return {
    now: clock.now,
    workDir: work.dir,
    pathname: "SESSIONS.ser",
    serializer,
    name: "/Catalina/localhost/app",
    ...extra,
  };
}

async function started(extra: StandardManagerOptions = {}): Promise<StandardManager> {
  const m = new StandardManager(options(extra));
  m.addListener(recorder(events));
  await m.start();
  return m;
}

const file = () => join(work.dir, "SESSIONS.ser");
const exists = (p: string) => stat(p).then(() => true, () => false);

describe("persistence across restart", () => {
  test("a graceful stop writes every session; the next start restores them and removes the file", async () => {
    const a = await started();
    const s1 = a.createSession();
    const cart = new Cart();
    cart.items.push({ sku: "A-1", qty: 2 });
    cart.total = 1999n;
    s1.setAttribute("cart", cart);
    s1.setAttribute("when", new Date(Date.UTC(2024, 0, 1)));
    s1.setAttribute("tags", new Set(["x", "y"]));
    s1.setAttribute("count", 3);
    s1.setAttribute("badge", new Badge("B1"));
    s1.maxInactiveInterval = 7200;
    a.access(s1);
    clock.advance(250);
    a.endAccess(s1);
    const s2 = a.createSession();
    s2.setAttribute("user", "bob");
    const before = { id: s1.id, created: s1.creationTime, last: s1.lastAccessedTime };
    events.length = 0;

    await a.stop();
    // Passivation, but no sessionDestroyed and no valueUnbound: the sessions live on in the file.
    expect(events).toEqual(["passivate:B1"]);
    const info = await stat(file());
    expect(info.mode & 0o777).toBe(0o600);

    clock.advanceSeconds(30);
    events.length = 0;
    const b = await started();
    // A restored session stays a record until something looks it up: it is activated then.
    expect(events).toEqual([]);
    expect(await exists(file())).toBe(false);
    expect(b.listSessionIds().sort()).toEqual([s1.id, s2.id].sort());

    const r1 = (await b.findSession(before.id))!;
    expect(events).toEqual(["activate:B1"]);
    expect(r1.creationTime).toBe(before.created);
    expect(r1.lastAccessedTime).toBe(before.last);
    expect(r1.maxInactiveInterval).toBe(7200);
    expect(r1.isNew).toBe(false);
    const restored = r1.getAttribute<Cart>("cart")!;
    expect(restored).toBeInstanceOf(Cart);
    expect(restored.items).toEqual([{ sku: "A-1", qty: 2 }]);
    expect(restored.total).toBe(1999n);
    expect(r1.getAttribute<Date>("when")!.getTime()).toBe(Date.UTC(2024, 0, 1));
    expect([...r1.getAttribute<Set<string>>("tags")!]).toEqual(["x", "y"]);
    expect(r1.getAttribute("count")).toBe(3);
    expect(r1.getAttribute("badge")).toBeInstanceOf(Badge);
    const r2 = (await b.findSession(s2.id))!;
    expect(r2.isNew).toBe(true);
    expect(r2.getAttribute("user")).toBe("bob");
    expect(b.getStats()).toMatchObject({ activeSessions: 2, expiredSessions: 0 });
  });

  test("sessions that timed out while stopped are dropped at start, with notifications", async () => {
    const a = await started();
    const shortLived = a.createSession();
    shortLived.maxInactiveInterval = 60;
    shortLived.setAttribute("badge", new Badge("short"));
    const longLived = a.createSession();
    longLived.maxInactiveInterval = 3600;
    const ids = { short: shortLived.id, long: longLived.id };
    await a.stop();

    clock.advanceSeconds(120);
    events.length = 0;
    const b = await started();
    expect(events).toEqual([
      "activate:short",
      `destroyed:${ids.short}`,
      "unbound:badge:short",
      "removed:badge=short",
    ]);
    expect(b.listSessionIds()).toEqual([ids.long]);
    // The expired session's alive time includes the downtime (verified on Tomcat).
    expect(b.getStats()).toMatchObject({ activeSessions: 1, expiredSessions: 1, sessionMaxAliveTime: 120 });
    expect(logs.matching(/Restored 1 session\(s\) .*; 1 had expired while stopped/)).toHaveLength(1);
  });

  test("with no sessions nothing is written", async () => {
    const a = await started();
    await a.stop();
    expect(await exists(file())).toBe(false);
    expect(logs.matching(/No persisted sessions to unload/)).toHaveLength(1);
  });

  test("a missing file is a normal first start", async () => {
    const a = await started();
    expect(a.listSessionIds()).toEqual([]);
    expect(logs.matching(/Persisted data file \[.*SESSIONS.ser\] was not found/)[0]?.level).toBe("debug");
  });

  test("sessions already timed out at stop are expired with notifications instead of written", async () => {
    const a = await started({ sessionTimeoutMinutes: 1 });
    const stale = a.createSession();
    const fresh = a.createSession();
    clock.advanceSeconds(50);
    a.access(fresh);
    a.endAccess(fresh);
    clock.advanceSeconds(20);
    events.length = 0;
    await a.stop();
    expect(events).toEqual([`destroyed:${stale.id}`]);
    const b = await started();
    expect(b.listSessionIds()).toEqual([fresh.id]);
  });

  test("an absolute pathname ignores workDir; the directory is created", async () => {
    const target = join(work.dir, "nested", "deeper", "sessions.bin");
    const a = await started({ pathname: target, workDir: undefined });
    a.createSession();
    await a.stop();
    expect(await exists(target)).toBe(true);
  });

  test("several restarts in a row keep accumulating state", async () => {
    let id = "";
    for (let round = 1; round <= 3; round++) {
      const m = await started();
      const s = id ? (await m.findSession(id))! : m.createSession();
      id = s.id;
      m.access(s);
      s.setAttribute("visits", (s.getAttribute<number>("visits") ?? 0) + 1);
      m.endAccess(s);
      await m.stop();
    }
    const last = await started();
    expect((await last.findSession(id))!.getAttribute("visits")).toBe(3);
  });

  test("persistence off: stop writes nothing and destroys sessions with notifications", async () => {
    const a = await started({ pathname: "" });
    const s = a.createSession();
    events.length = 0;
    await a.stop();
    expect(events).toEqual([`destroyed:${s.id}`]);
    expect(await readdir(work.dir)).toEqual([]);
  });
});

describe("a corrupt or foreign file is kept aside and start continues with no sessions", () => {
  async function validFile(): Promise<Uint8Array> {
    const a = await started();
    a.createSession().setAttribute("x", "y");
    a.createSession();
    await a.stop();
    return new Uint8Array(await readFile(file()));
  }

  const cases: [string, (good: Uint8Array) => Uint8Array, RegExp][] = [
    [
      "random garbage",
      () => Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff),
      /not a bobcat session file/,
    ],
    ["an empty file", () => new Uint8Array(0), /not a bobcat session file/],
    ["a truncated file", (good) => good.slice(0, good.length - 9), /checksum mismatch|truncated/],
    ["one flipped bit", (good) => {
      const b = good.slice();
      b[b.length >> 1]! ^= 0x10;
      return b;
    }, /checksum mismatch/],
    [
      "Tomcat's own SESSIONS.ser",
      () => Uint8Array.of(0xac, 0xed, 0x00, 0x05, 0x73, 0x72, 0x00, 0x11),
      /Java serialization stream/,
    ],
    ["a third session announced behind a good checksum (found after two were read)", (good) => {
      const b = good.slice();
      expect(b[10]).toBe(2); // the session count, after the signature, version and kind
      b[10] = 3;
      new DataView(b.buffer).setUint32(b.length - 4, crc32js(b.subarray(0, b.length - 4)));
      return b;
    }, /needs 1 more byte/],
    ["a newer format version", (good) => {
      const b = good.slice();
      b[8] = 9;
      return b;
    }, /format version 9 is not supported/],
  ];
  for (const [what, make, reason] of cases) {
    test(what, async () => {
      const bytes = make(await validFile());
      await writeFile(file(), bytes);
      events.length = 0;
      const m = await started();
      expect(m.state).toBe("started");
      expect(m.listSessionIds()).toEqual([]);
      expect(events).toEqual([]);
      const names = await readdir(work.dir);
      const aside = names.find((n) => n.startsWith("SESSIONS.ser.corrupt-"));
      expect(aside).toMatch(/^SESSIONS\.ser\.corrupt-\d{8}T\d{9}Z$/);
      expect(names).not.toContain("SESSIONS.ser");
      expect(new Uint8Array(await readFile(join(work.dir, aside!)))).toEqual(new Uint8Array(bytes));
      const error = logs.lines.find((l) => l.level === "error");
      expect(error?.line).toContain("Exception loading sessions from persistent storage");
      expect(error?.line).toContain(file());
      expect(error?.line).toMatch(reason);
      expect(error?.line).toContain(`kept as [${join(work.dir, aside!)}]`);
      // The manager works normally afterwards, and the next stop writes a good file.
      m.createSession();
      await m.stop();
      expect((await started()).listSessionIds()).toHaveLength(1);
    });
  }

  test("a structurally broken file with a valid checksum is also kept aside", async () => {
    const good = encodeSessionFile([]);
    // Body claims 5 sessions but holds none; reseal with a correct CRC so only the structure is wrong.
    const body = Uint8Array.of(...good.slice(0, 10), 5);
    const { crc32 } = await import("../../src/session/wire.ts");
    const crc = crc32(body);
    const bytes = Uint8Array.of(...body, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff);
    await writeFile(file(), bytes);
    const m = await started();
    expect(m.listSessionIds()).toEqual([]);
    expect(logs.lines.find((l) => l.level === "error")?.line).toMatch(/count 5 exceeds/);
  });

  test("a leftover temporary file from an interrupted write is discarded and the real file loaded", async () => {
    await validFile();
    await writeFile(`${file()}.tmp`, "half-written");
    const m = await started();
    expect(m.listSessionIds()).toHaveLength(2);
    expect(await exists(`${file()}.tmp`)).toBe(false);
  });
});

describe("never crashing the application", () => {
  test("a session saved as invalid is expired with notifications when loaded (Tomcat's load())", async () => {
    const frame = serializer.serialize(new Badge("old"));
    await writeFile(
      file(),
      encodeSessionFile([{
        id: "DEAD",
        creationTime: clock.t,
        lastAccessedTime: clock.t,
        thisAccessedTime: clock.t,
        maxInactiveInterval: 1800,
        isNew: false,
        isValid: false,
        authType: null,
        principal: null,
        attributes: [{ name: "badge", frame }],
      }]),
    );
    const m = await started();
    expect(events).toEqual(["activate:old", "destroyed:DEAD", "unbound:badge:old", "removed:badge=old"]);
    expect(m.listSessionIds()).toEqual([]);
    expect(m.getStats().expiredSessions).toBe(1);
  });

  test("a directory where the file should be: start and stop log errors and carry on", async () => {
    await mkdir(file());
    const m = await started();
    expect(m.state).toBe("started");
    expect(logs.lines.filter((l) => l.level === "error")[0]?.line).toMatch(
      /Exception loading sessions from persistent storage .*EISDIR|illegal operation on a directory|is a directory, not a regular file/i,
    );
    m.createSession();
    await m.stop();
    expect(m.state).toBe("stopped");
    expect(logs.lines.filter((l) => l.level === "error")).toHaveLength(2);
  });
});

describe("atomic write", () => {
  test("a failed write leaves the previous file byte-for-byte intact and expires sessions with notifications", async () => {
    const m = await started();
    const s = m.createSession();
    s.setAttribute("k", "v");
    const previous = Uint8Array.of(1, 2, 3, 4, 5);
    await writeFile(file(), previous);
    // A directory where the temporary file must go makes the write fail before the rename.
    await mkdir(`${file()}.tmp`);
    events.length = 0;
    await m.stop();
    expect(new Uint8Array(await readFile(file()))).toEqual(previous);
    expect(logs.lines.find((l) => l.level === "error")?.line).toContain(
      "Exception unloading sessions to persistent storage",
    );
    expect(events).toEqual([`destroyed:${s.id}`, "removed:k=v"]);
    expect(m.state).toBe("stopped");
  });
});

describe("attributes that cannot be written", () => {
  test("are skipped with a log line naming session and attribute; everything else survives", async () => {
    const a = await started();
    const bad = a.createSession();
    bad.setAttribute("callback", () => 1);
    bad.setAttribute("nested", { list: [1, Symbol("s")] });
    bad.setAttribute("stranger", new (class Stranger {})());
    bad.setAttribute("ok", "fine");
    const good = a.createSession();
    good.setAttribute("ok", "also fine");
    const ids = { bad: bad.id, good: good.id };
    events.length = 0;
    await a.stop();

    const warnings = logs.lines.filter((l) => l.level === "warn").map((l) => l.line);
    expect(
      warnings.some((l) =>
        l.includes(`Cannot serialize session attribute [callback] for session [${ids.bad}]: a function`) &&
        l.includes("removed")
      ),
    ).toBe(true);
    expect(
      warnings.some((l) =>
        l.includes(`[nested] for session [${ids.bad}]: at .list[1]: a symbol`) && l.includes("skipped")
      ),
    ).toBe(true);
    expect(warnings.some((l) => l.includes(`[stranger] for session [${ids.bad}]: an instance of [Stranger]`))).toBe(
      true,
    );
    // As Tomcat does, a value that is not serializable itself is removed from the live session, with events.
    expect(events).toContain("removed:callback=() => 1");
    expect(events.filter((e) => e.startsWith("removed:nested"))).toEqual([]);

    const b = await started();
    expect((await b.findSession(ids.bad))!.attributeNames).toEqual(["ok"]);
    expect((await b.findSession(ids.good))!.getAttribute("ok")).toBe("also fine");
  });

  test("a class not registered when reading is skipped with a warning; the session and its other attributes load", async () => {
    const a = await started();
    const s = a.createSession();
    s.setAttribute("cart", new Cart());
    s.setAttribute("name", "kept");
    await a.stop();
    serializer = new Serializer();
    const b = await started();
    const r = (await b.findSession(s.id))!;
    expect(r.attributeNames).toEqual(["name"]);
    expect(
      logs.matching(
        new RegExp(
          `Cannot deserialize session attribute \\[cart\\] for session \\[${s.id}\\]: class \\[Cart\\] is not registered`,
        ),
      )[0]?.level,
    ).toBe("warn");
  });
});

describe("sessionAttributeNameFilter / sessionAttributeValueClassNameFilter", () => {
  test("the name filter is anchored; rejections are DEBUG by default", async () => {
    const a = await started({ sessionAttributeNameFilter: "userName|sessionHistory" });
    const s = a.createSession();
    s.setAttribute("userName", "alice");
    s.setAttribute("sessionHistory", ["/a"]);
    s.setAttribute("userNameX", "no");
    s.setAttribute("cache", { big: true });
    await a.stop();
    const line = logs.matching(
      /Skipped session attribute named \[cache\] because it did not match the name filter \[userName\|sessionHistory\]/,
    );
    expect(line).toHaveLength(1);
    expect(line[0]!.level).toBe("debug");
    const b = await started({ sessionAttributeNameFilter: "userName|sessionHistory" });
    expect((await b.findSession(s.id))!.attributeNames.sort()).toEqual(["sessionHistory", "userName"]);
  });

  test("warnOnSessionAttributeFilterFailure raises the rejection to WARN", async () => {
    const a = await started({ sessionAttributeNameFilter: "keep", warnOnSessionAttributeFilterFailure: true });
    a.createSession().setAttribute("drop", 1);
    await a.stop();
    expect(logs.matching(/Skipped session attribute named \[drop\]/)[0]?.level).toBe("warn");
  });

  test("the value filter sees the top-level type name only, so numbers are never blocked by surprise", async () => {
    const filter = "String|Number|Cart";
    const a = await started({
      sessionAttributeValueClassNameFilter: filter,
      warnOnSessionAttributeFilterFailure: true,
    });
    const s = a.createSession();
    s.setAttribute("n", 42);
    s.setAttribute("str", "text");
    const cart = new Cart();
    cart.items.push({ sku: "nested objects and numbers are fine", qty: 1 });
    s.setAttribute("cart", cart);
    s.setAttribute("map", new Map([[1, 2]]));
    await a.stop();
    expect(
      logs.matching(
        /Skipped session attribute named \[map\] because the value type \[Map\] did not match the filter \[String\|Number\|Cart\]/,
      )[0]?.level,
    ).toBe("warn");
    const b = await started({ sessionAttributeValueClassNameFilter: filter });
    const r = (await b.findSession(s.id))!;
    expect(r.attributeNames.sort()).toEqual(["cart", "n", "str"]);
    expect(r.getAttribute<Cart>("cart")!.items[0]!.qty).toBe(1);
  });

  test("a filter tightened while stopped applies when reading, like Tomcat's exclude on read", async () => {
    const a = await started();
    const s = a.createSession();
    s.setAttribute("a", 1);
    s.setAttribute("b", 2);
    await a.stop();
    const b = await started({ sessionAttributeNameFilter: "a" });
    expect((await b.findSession(s.id))!.attributeNames).toEqual(["a"]);
  });
});

describe("persistAuthentication", () => {
  async function roundTrip(extra: StandardManagerOptions): Promise<StandardSession> {
    const a = await started(extra);
    const s = a.createSession();
    s.principal = { name: "alice", roles: ["admin", "user"] };
    s.authType = "FORM";
    await a.stop();
    return (await (await started(extra)).findSession(s.id))!;
  }

  test("off (default): the session comes back unauthenticated", async () => {
    const r = await roundTrip({});
    expect(r.principal).toBeNull();
    expect(r.authType).toBeNull();
  });

  test("on: principal, roles and authType come back", async () => {
    const r = await roundTrip({ persistAuthentication: true });
    expect(r.principal).toEqual({ name: "alice", roles: ["admin", "user"] });
    expect(r.authType).toBe("FORM");
  });

  test("on, with a value filter that does not admit Principal: dropped with the filter's log line (as the seed says)", async () => {
    const r = await roundTrip({ persistAuthentication: true, sessionAttributeValueClassNameFilter: "String" });
    expect(r.principal).toBeNull();
    expect(logs.matching(/Skipped the principal of session .* did not match the filter \[String\]/)).toHaveLength(1);
    const admitted = await roundTrip({
      persistAuthentication: true,
      sessionAttributeValueClassNameFilter: "String|Principal",
    });
    expect(admitted.principal?.name).toBe("alice");
  });
});

describe("serializeSession / deserializeSession (TestStandardSession)", () => {
  async function copy(fill: (s: StandardSession) => void): Promise<{ source: StandardSession; dest: StandardSession }> {
    const m = await started();
    const source = m.createSession();
    fill(source);
    return { source, dest: m.deserializeSession(m.serializeSession(source)) };
  }

  test("empty", async () => {
    const { source, dest } = await copy(() => {});
    expect(dest.id).toBe(source.id);
    dest.setValid(true);
    expect(dest.attributeNames).toEqual([]);
  });

  test("simple", async () => {
    const { dest } = await copy((s) => s.setAttribute("attr01", "value01"));
    expect(dest.getAttribute("attr01")).toBe("value01");
  });

  test("a value that is not serializable: 0 attributes in the source and in the copy", async () => {
    const { source, dest } = await copy((s) => s.setAttribute("attr01", new (class NonSerializable {})()));
    expect(source.attributeNames).toEqual([]);
    expect(dest.attributeNames).toEqual([]);
  });

  test("mixed, and a non-serializable value nested in a map (bug 58284)", async () => {
    const { dest } = await copy((s) => {
      s.setAttribute("nestedNonSerializable", new Map([["key", new (class NonSerializable {})()]]));
      s.setAttribute("serializable", "foo");
      s.setAttribute("nonSerializable", new (class NonSerializable {})());
    });
    expect(dest.getAttribute("nestedNonSerializable")).toBeUndefined();
    expect(dest.getAttribute("nonSerializable")).toBeUndefined();
    expect(dest.getAttribute("serializable")).toBe("foo");
  });

  test("the copy is not added to the manager", async () => {
    const m = await started();
    const s = m.createSession();
    const bytes = m.serializeSession(s);
    s.invalidate();
    const back = m.deserializeSession(bytes);
    expect(back.id).toBe(s.id);
    expect(m.isLoaded(back.id)).toBe(false);
  });
});

describe("prefetch (the server begins reading the file before TLS and handlers load)", () => {
  test("a prefetched file restores as one read at start, and is deleted as then", async () => {
    const first = await started();
    const s = first.createSession();
    s.setAttribute("badge", new Badge("pre"));
    const id = s.id;
    await first.stop();
    const m = new StandardManager(options());
    m.prefetch();
    m.prefetch(); // a second call changes nothing
    await m.start();
    expect((await m.findSession(id))?.getAttribute("badge")?.toString()).toBe("pre");
    expect(await readdir(work.dir)).toEqual([]);
    await m.stop();
    // A start without prefetch reads the file itself.
    const again = await started();
    expect((await again.findSession(id))?.getAttribute("badge")?.toString()).toBe("pre");
  });

  test("a prefetch finding no file, or a damaged one, ends as a start without it does", async () => {
    const none = new StandardManager(options());
    none.prefetch();
    await none.start();
    expect(none.sessionCount).toBe(0);
    await writeFile(join(work.dir, "SESSIONS.ser"), "not a sessions file");
    const damaged = new StandardManager(options());
    damaged.prefetch();
    await damaged.start();
    expect(damaged.sessionCount).toBe(0);
    expect(logs.matching(/wrong signature/).length).toBe(1);
    expect((await readdir(work.dir)).filter((f) => f.includes(".corrupt-"))).toHaveLength(1);
  });

  test("without pathname, prefetch reads nothing", async () => {
    const m = new StandardManager({ now: clock.now, name: "/none" });
    m.prefetch();
    await m.start();
    expect(m.sessionCount).toBe(0);
  });
});
