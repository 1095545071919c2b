/**
 * The file StandardManager's stop writes for sessions made at run time: byte for byte what the
 * general record encoding gives (SessionFileBuilder.quickRecord writes most sessions without it),
 * what an encoder written from FORMAT.md alone gives, and read back equal.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Serializer, StandardManager, type StandardSession } from "../../src/session/index.ts";
import { encodeSessionFile, SessionFileBuilder, type SessionRecord } from "../../src/session/record.ts";
import { crc32js } from "../../src/session/wire.ts";
import { captureLogs, FakeClock, scratchDir } from "./helpers.ts";

let clock: FakeClock;
let logs: ReturnType<typeof captureLogs>;
let work: Awaited<ReturnType<typeof scratchDir>>;
let serializer: Serializer;

/** The Badges told sessionWillPassivate, in order (not a field: that would be written too). */
let passivated: Badge[] = [];

class Badge {
  constructor(public label: string) {}
  sessionWillPassivate() {
    passivated.push(this);
  }
}

beforeEach(async () => {
  clock = new FakeClock();
  logs = captureLogs();
  work = await scratchDir();
  serializer = new Serializer();
  serializer.register("Badge", Badge);
  passivated = [];
});
afterEach(async () => {
  logs.restore();
  await work.cleanup();
});

/** A small deterministic generator (xorshift32), so a failure can be reproduced. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const ascii = (n: number, r: () => number) => {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(32 + Math.floor(r() * 95));
  return s;
};

const STRINGS = (r: () => number): string[] => [
  "",
  "a",
  "u" + ascii(4, r),
  ascii(62, r),
  ascii(63, r),
  ascii(64, r),
  ascii(65, r),
  ascii(127, r),
  ascii(300, r),
  "\x7f\x00",
  "é",
  "naïve",
  "日本語",
  "😀",
  "lone \uD800",
  "\uDC00x",
  "x\uD83D",
  ascii(63, r) + "é",
  "é".repeat(70),
];

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  63,
  64,
  -64,
  -65,
  0x7fffffff,
  -0x80000000,
  0x80000000,
  -0x80000001,
  1.5,
  -2.25,
  NaN,
  Infinity,
  -Infinity,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
  1.7e308,
  123456789012,
];

const NAMES = (r: () => number): string[] => [
  "user",
  "n",
  "",
  "k" + ascii(5, r),
  ascii(63, r),
  ascii(64, r),
  ascii(90, r),
  "naïve",
  "名前",
  "bad \uD800 name",
];

function value(r: () => number): unknown {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  switch (Math.floor(r() * 10)) {
    case 0:
    case 1:
    case 2:
      return pick(STRINGS(r));
    case 3:
    case 4:
      return pick(NUMBERS);
    case 5:
      return r() < 0.5;
    case 6:
      return Math.floor(r() * 1e6) * (r() < 0.5 ? -1 : 1);
    case 7:
      return pick<unknown>([
        { a: 1, b: "x", c: [1, "é", null] },
        [1, "two", 3.5, -0],
        new Map<unknown, unknown>([[1, "a"], ["b", { c: 2 }]]),
        new Set(["x", 2]),
        new Date(1735732800123),
        new Date(NaN),
        10n ** 30n,
        Uint8Array.of(1, 2, 3),
        new Badge("b" + Math.floor(r() * 100)),
      ]);
    case 8:
      return pick(STRINGS(r)) + pick(STRINGS(r));
    default:
      return r() * 1e12;
  }
}

/**
 * The manager file from FORMAT.md alone (not the code under test): for sessions whose values
 * are strings, numbers or booleans; the other values' frames come from `frameOf`.
 */
function referenceFile(records: SessionRecord[], values: unknown[][], frameOf: (v: unknown) => Uint8Array): Uint8Array {
  const out: number[] = [];
  const varint = (a: number[], v: number) => {
    while (v >= 0x80) {
      a.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    a.push(v);
  };
  const f64 = (a: number[], v: number) => {
    const b = new DataView(new ArrayBuffer(8));
    if (Number.isNaN(v)) b.setUint32(0, 0x7ff80000);
    else b.setFloat64(0, v);
    for (let i = 0; i < 8; i++) a.push(b.getUint8(i));
  };
  const str = (a: number[], s: string) => {
    // A lone surrogate (UTF-8 cannot carry it): UTF-16LE.
    if (/\p{Surrogate}/u.test(s)) {
      varint(a, s.length * 2 + 1);
      for (let i = 0; i < s.length; i++) a.push(s.charCodeAt(i) & 0xff, s.charCodeAt(i) >> 8);
      return;
    }
    const bytes = new TextEncoder().encode(s);
    varint(a, bytes.length * 2);
    a.push(...bytes);
  };
  const frame = (v: unknown): number[] => {
    const a = [1];
    if (typeof v === "string") {
      a.push(0x06);
      str(a, v);
    } else if (typeof v === "boolean") {
      a.push(v ? 0x03 : 0x02);
    } else if (typeof v === "number" && (v | 0) === v && !Object.is(v, -0)) {
      a.push(0x04);
      varint(a, ((v << 1) ^ (v >> 31)) >>> 0);
    } else if (typeof v === "number") {
      a.push(0x05);
      f64(a, v);
    } else {
      return [...frameOf(v)];
    }
    return a;
  };
  out.push(0x89, 0x42, 0x43, 0x53, 0x45, 0x53, 0x0d, 0x0a, 1, 1);
  varint(out, records.length);
  records.forEach((rec, k) => {
    const a: number[] = [];
    str(a, rec.id);
    f64(a, rec.creationTime);
    f64(a, rec.lastAccessedTime);
    f64(a, rec.thisAccessedTime);
    varint(a, ((rec.maxInactiveInterval << 1) ^ (rec.maxInactiveInterval >> 31)) >>> 0);
    a.push((rec.isNew ? 1 : 0) | (rec.isValid ? 2 : 0) | (rec.authType !== null ? 4 : 0) | (rec.principal ? 8 : 0));
    if (rec.authType !== null) str(a, rec.authType);
    if (rec.principal) {
      str(a, rec.principal.name);
      varint(a, rec.principal.roles.length);
      for (const role of rec.principal.roles) str(a, role);
    }
    varint(a, rec.attributes.length);
    rec.attributes.forEach((attr, i) => {
      str(a, attr.name);
      const f = frame(values[k]![i]);
      varint(a, f.length);
      a.push(...f);
    });
    varint(out, a.length);
    out.push(...a);
  });
  const bytes = Uint8Array.from(out);
  const sum = new Uint8Array(4);
  new DataView(sum.buffer).setUint32(0, crc32js(bytes));
  const file = new Uint8Array(bytes.length + 4);
  file.set(bytes);
  file.set(sum, bytes.length);
  return file;
}

/** `count` sessions with varied ids, times, timeouts, authentication and attributes. */
function populate(m: StandardManager, seed: number, count: number): void {
  const r = random(seed);
  for (let k = 0; k < count; k++) {
    // Times: whole milliseconds mostly, fractions too; a few seconds in all, so that no session
    // times out before the stop.
    clock.t += Math.floor(r() * 3) + (r() < 0.2 ? r() : 0);
    const idKind = r();
    const id = idKind < 0.85 ? undefined : [
      `custom-${k}`,
      ascii(63, r) + k,
      ascii(80, r) + k,
      `ïd-${k}`,
      `\uD800id-${k}`,
    ][Math.floor(r() * 5)];
    const s = m.createSession(id);
    if (r() < 0.3) s.maxInactiveInterval = [-1, 0, 63, 64, 3600, 0x7fffffff, -0x80000000, -5][Math.floor(r() * 8)]!;
    if (r() < 0.15) {
      s.authType = r() < 0.5 ? "FORM" : "BASIC";
      s.principal = r() < 0.8 ? { name: r() < 0.5 ? "alice" : "bé", roles: r() < 0.5 ? [] : ["admin", "rôle"] } : null;
    }
    const attributes = [0, 1, 2, 2, 2, 3, 5, 8, 9, 12][Math.floor(r() * 10)]!;
    const names = NAMES(r);
    for (let i = 0; i < attributes; i++) {
      const name = i < names.length && r() < 0.7 ? names[(i + k) % names.length]! : `a${i}`;
      s.setAttribute(name, value(r));
    }
    // Now and then a large value: the stop writes the file in pieces of 1 MiB, so several here.
    if (r() < 0.01) s.setAttribute("large", ascii(1000, r).repeat(150 + Math.floor(r() * 100)));
    if (r() < 0.1) s.removeAttribute(s.getAttributeNames()[0] ?? "none");
    if (r() < 0.7) {
      clock.t += r() < 0.5 ? 1 : 0.5;
      s.access();
      s.endAccess();
    }
  }
}

interface Internals {
  toRecord(s: StandardSession): SessionRecord;
  writeRecordTo(out: SessionFileBuilder, s: StandardSession): void;
  sessions: Map<string, StandardSession>;
}

describe("StandardManager stop, sessions made at run time", () => {
  for (const persistAuthentication of [false, true]) {
    test(`the file is what the general encoding and FORMAT.md give, and reads back equal (persistAuthentication ${persistAuthentication})`, async () => {
      const file = join(work.dir, "SESSIONS.ser");
      const m = new StandardManager({
        name: "/app",
        pathname: file,
        now: clock.now,
        serializer,
        persistAuthentication,
        sessionTimeoutMinutes: 60,
      });
      await m.start();
      populate(m, persistAuthentication ? 7 : 3, 1500);
      const internals = m as unknown as Internals;
      const sessions = [...internals.sessions.values()];

      // The general ways: records, then the file; and the builder without quickRecord.
      const records = sessions.map((s) => internals.toRecord(s));
      const expected = encodeSessionFile(records);
      const general = new SessionFileBuilder(sessions.length);
      for (const s of sessions) internals.writeRecordTo(general, s);
      expect(general.finish()).toEqual(expected);
      const values = sessions.map((s) => s.getAttributeNames().map((n) => s.getAttribute(n)));
      expect(referenceFile(records, values, (v) => serializer.serialize(v))).toEqual(expected);

      // What the stop wrote, most of it by quickRecord.
      const quick = new SessionFileBuilder(sessions.length);
      let quickly = 0;
      for (const s of sessions) {
        if (quick.quickRecord(s, persistAuthentication)) quickly++;
        else internals.writeRecordTo(quick, s);
      }
      expect(quickly).toBeGreaterThan(sessions.length / 8);
      expect(quickly).toBeLessThan(sessions.length);
      expect(quick.finish()).toEqual(expected);
      // As the stop calls it: object values written by the serializer in place.
      const withObjects = new SessionFileBuilder(sessions.length);
      let withObjectsQuickly = 0;
      for (const s of sessions) {
        if (withObjects.quickRecord(s, persistAuthentication, serializer)) withObjectsQuickly++;
        else internals.writeRecordTo(withObjects, s);
      }
      expect(withObjectsQuickly).toBeGreaterThan(quickly);
      expect(withObjectsQuickly).toBeLessThan(sessions.length);
      expect(withObjects.finish()).toEqual(expected);
      const badges = values.flat().filter((v): v is Badge => v instanceof Badge);
      await m.stop();
      expect(expected.length).toBeGreaterThan(3 << 20);
      expect(new Uint8Array(await readFile(file)) as Uint8Array).toEqual(expected);
      // Passivated once each, by the stop.
      expect(passivated.length).toBe(badges.length);
      expect(new Set(passivated)).toEqual(new Set(badges));
      for (const s of sessions) expect(() => s.getAttributeNames()).toThrow();

      const again = new StandardManager({
        name: "/app",
        pathname: file,
        now: clock.now,
        serializer,
        persistAuthentication,
      });
      await again.start();
      expect(again.sessionCount).toBe(sessions.length);
      for (const [k, rec] of records.entries()) {
        const s = (await again.findSession(rec.id))!;
        expect(s).not.toBeNull();
        expect(s.creationTime).toBe(rec.creationTime);
        expect(s.lastAccessedTime).toBe(rec.lastAccessedTime);
        expect(s.maxInactiveInterval).toBe(rec.maxInactiveInterval);
        expect(s.principal).toEqual(rec.principal);
        expect(s.authType).toBe(rec.authType);
        const names = s.getAttributeNames();
        expect(names).toEqual(rec.attributes.map((a) => a.name));
        names.forEach((name, i) => {
          const read = s.getAttribute(name);
          const was = values[k]![i];
          if (typeof was === "number") expect(Object.is(read, was)).toBe(true);
          else if (was instanceof Badge) expect((read as Badge).label).toBe(was.label);
          else if (was instanceof Date) expect(Object.is((read as Date).getTime(), was.getTime())).toBe(true);
          else expect(read).toEqual(was);
        });
      }
      await again.stop();
    });
  }

  test("quickRecord with the serializer leaves a session it cannot write whole to the general way, none of it written", async () => {
    const m = new StandardManager({ name: "/app", now: clock.now, serializer });
    await m.start();
    const values: unknown[][] = [
      [{ a: 1 }, "x".repeat(100)], // an object, then a string quickRecord leaves
      [[1, 2], { f: () => 1 }], // a function inside: skipped, the general way logs it
      [{ big: "y".repeat(300) }, 5], // a frame and a record over 127 bytes
      [() => 1, { a: 1 }], // a function: removed by the general way
      [new Map<unknown, unknown>([[1, { deep: [1, 2, 3] }]]), new Badge("q"), "z"],
    ];
    const sessions = values.map((vs) => {
      const s = m.createSession();
      vs.forEach((v, i) => s.setAttribute(`a${i}`, v));
      return s;
    });
    const internals = m as unknown as Internals;
    const quick = new SessionFileBuilder(sessions.length);
    const quickly: number[] = [];
    sessions.forEach((s, i) => {
      if (quick.quickRecord(s, false, serializer)) quickly.push(i);
      else internals.writeRecordTo(quick, s);
    });
    expect(quickly).toEqual([2, 4]);
    const general = new SessionFileBuilder(sessions.length);
    for (const s of sessions) internals.writeRecordTo(general, s);
    const expected = general.finish();
    expect(quick.finish()).toEqual(expected);
    expect(encodeSessionFile(sessions.map((s) => internals.toRecord(s)))).toEqual(expected);
    expect(sessions[3]!.getAttributeNames()).toEqual(["a1"]);
    await m.stop();
  });
});
