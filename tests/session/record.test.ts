/** The session record and its envelope: round trips, kinds, and fuzzing past the checksum. */
import { describe, expect, test } from "bun:test";
import { CorruptDataError } from "../../src/session/index.ts";
import {
  decodeSessionData,
  decodeSessionFile,
  encodeSessionData,
  encodeSessionFile,
  scanSessionFile,
  SessionFileScanner,
  type SessionRecord,
} from "../../src/session/record.ts";
import { crc32, strHash } from "../../src/session/wire.ts";

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: "00FF.node1",
    creationTime: 1735732800000,
    lastAccessedTime: 1735732801000,
    thisAccessedTime: 1735732802000,
    maxInactiveInterval: -1,
    isNew: true,
    isValid: true,
    authType: null,
    principal: null,
    attributes: [{ name: "a", frame: Uint8Array.of(1, 1) }, { name: "lone \uD800", frame: Uint8Array.of(1, 3) }],
    ...overrides,
  };
}

/** Recomputes the checksum so mutations reach the structural checks. */
function reseal(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const crc = crc32(out.subarray(0, out.length - 4));
  new DataView(out.buffer).setUint32(out.length - 4, crc);
  return out;
}

describe("records", () => {
  test("a file of several sessions round-trips", () => {
    const records = [
      record(),
      record({
        id: "B",
        isNew: false,
        maxInactiveInterval: 2147483647,
        authType: "CLIENT_CERT",
        principal: { name: "CN=x", roles: [] },
      }),
      record({ id: "C", isValid: false, authType: "", attributes: [], maxInactiveInterval: -2147483648 }),
    ];
    expect(decodeSessionFile(encodeSessionFile(records))).toEqual(records);
    expect(decodeSessionFile(encodeSessionFile([]))).toEqual([]);
  });

  test("a single-session blob round-trips and is not mistaken for a file", () => {
    const r = record({ principal: { name: "alice", roles: ["a", "b"] }, authType: "BASIC" });
    const blob = encodeSessionData(r);
    expect(decodeSessionData(blob)).toEqual(r);
    expect(() => decodeSessionFile(blob)).toThrow(/kind 2, expected 1/);
    expect(() => decodeSessionData(encodeSessionFile([r]))).toThrow(/kind 1, expected 2/);
  });

  const invalid: [string, Partial<SessionRecord>, RegExp][] = [
    ["an empty id", { id: "" }, /empty session id/],
    ["a non-finite time", { creationTime: NaN }, /creationTime is not a finite time/],
    ["a duplicated attribute name", {
      attributes: [{ name: "x", frame: Uint8Array.of(1, 1) }, { name: "x", frame: Uint8Array.of(1, 1) }],
    }, /attribute \[x\] appears twice/],
  ];
  for (const [what, overrides, message] of invalid) {
    test(`reading rejects ${what}`, () => {
      expect(() => decodeSessionData(encodeSessionData(record(overrides)))).toThrow(message);
    });
  }

  test("unknown flag bits are rejected", () => {
    const blob = encodeSessionData(record({ attributes: [] }));
    // flags sit right after id (str, 11 bytes), three f64 and the zigzag interval (1 byte).
    const flagsAt = 10 + 11 + 24 + 1;
    expect(blob[flagsAt]).toBe(3);
    blob[flagsAt] = 0x43;
    expect(() => decodeSessionData(reseal(blob))).toThrow(/unknown session flags 0x43/);
  });

  test("fuzz: mutations past the checksum end in CorruptDataError or a record, quickly", () => {
    const good = encodeSessionFile([
      record(),
      record({ id: "B", principal: { name: "p", roles: ["r"] }, authType: "FORM" }),
    ]);
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const started = performance.now();
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const b = good.slice(0, 14 + Math.floor(rand() * (good.length - 14)) + 4);
      for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
        const at = 10 + Math.floor(rand() * (b.length - 14));
        b[at] = Math.floor(rand() * 256);
      }
      try {
        decodeSessionFile(reseal(b));
      } catch (err) {
        expect(err).toBeInstanceOf(CorruptDataError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(2000);
    expect(performance.now() - started).toBeLessThan(10000);
  });

  /** What scanSessionFile reports of a file, or its error. */
  function scanned(bytes: Uint8Array): unknown {
    const heads: unknown[] = [];
    try {
      scanSessionFile(bytes, {
        count() {},
        record: (_start, _end, creationTime, lastAccessedTime, thisAccessedTime, maxInactiveInterval, isValid) =>
          heads.push({ creationTime, lastAccessedTime, thisAccessedTime, maxInactiveInterval, isValid }),
      });
      return heads;
    } catch (err) {
      expect(err).toBeInstanceOf(CorruptDataError);
      return "corrupt";
    }
  }

  /** What the full reading (decodeSessionFile) makes of it, in the same terms. */
  function decoded(bytes: Uint8Array): unknown {
    try {
      return decodeSessionFile(bytes).map((r) => ({
        creationTime: r.creationTime,
        lastAccessedTime: r.lastAccessedTime,
        thisAccessedTime: r.thisAccessedTime,
        maxInactiveInterval: r.maxInactiveInterval,
        isValid: r.isValid,
      }));
    } catch (err) {
      expect(err).toBeInstanceOf(CorruptDataError);
      return "corrupt";
    }
  }

  test("fuzz: scanSessionFile (its quick reading and the general one) accepts exactly what decodeSessionFile does", () => {
    // Records the quick reading takes (ASCII id and names, few attributes, small frames) and
    // records it leaves to the general one: a principal, many attributes, a large frame,
    // non-ASCII names, a long id.
    const plain = (id: string, maxInactiveInterval: number) =>
      record({ id, maxInactiveInterval, attributes: [{ name: "user", frame: Uint8Array.of(1, 1) }] });
    const good = encodeSessionFile([
      plain("8F3A0C1D2E4B5A6978695A4B3C2D1E0F", 1800),
      plain("A", 0),
      plain("B", -1),
      record({ id: "C", attributes: [], isValid: false }),
      record({ id: "D", principal: { name: "p", roles: ["r"] }, authType: "FORM" }),
      record({
        id: "E",
        attributes: Array.from({ length: 18 }, (_, i) => ({ name: `n${i}`, frame: Uint8Array.of(1, i) })),
      }),
      record({ id: "F", attributes: [{ name: "big", frame: new Uint8Array(20000).fill(1) }] }),
      record({ id: "G".repeat(70) }),
      plain("H", 2147483647),
    ]);
    expect(scanned(good)).toEqual(decoded(good));
    expect((scanned(good) as unknown[]).length).toBe(9);
    // A repeated name in a record the quick reading takes.
    const frame = Uint8Array.of(1, 1);
    const twice = encodeSessionFile([
      record({ id: "T", attributes: [{ name: "ab", frame }, { name: "user", frame }, { name: "user", frame }] }),
    ]);
    expect(decoded(twice)).toBe("corrupt");
    expect(scanned(twice)).toBe("corrupt");
    const similar = encodeSessionFile([
      record({ id: "T", attributes: [{ name: "user", frame }, { name: "usex", frame }, { name: "use", frame }] }),
    ]);
    expect(scanned(similar)).toEqual(decoded(similar));
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let corrupt = 0;
    let accepted = 0;
    // Mutations within the first records (the quick reading's), sometimes of the length prefixes.
    const span = Math.min(good.length - 14, 400);
    for (let i = 0; i < 4000; i++) {
      const b = good.slice();
      for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
        b[10 + Math.floor(rand() * span)] = rand() < 0.5 ? Math.floor(rand() * 256) : Math.floor(rand() * 4) * 0x40;
      }
      const sealed = reseal(b);
      const want = decoded(sealed);
      expect(scanned(sealed)).toEqual(want);
      if (want === "corrupt") corrupt++;
      else accepted++;
    }
    // Both outcomes occur, so the comparison covers both.
    expect(corrupt).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(100);
  });

  test("the id hash scanSessionFile reports is the id's strHash, from the quick reading and the general one alike", () => {
    const ids = ["8F3A0C1D2E4B5A69", "P", "G".repeat(70), "Q"];
    const file = encodeSessionFile([
      record({ id: ids[0]!, attributes: [] }),
      record({ id: ids[1]!, principal: { name: "p", roles: [] }, authType: "FORM" }),
      record({ id: ids[2]! }),
      record({
        id: ids[3]!,
        attributes: Array.from({ length: 20 }, (_, i) => ({ name: `n${i}`, frame: Uint8Array.of(1, 1) })),
      }),
    ]);
    const hashes: number[] = [];
    scanSessionFile(file, { count() {}, record: (_s, _e, _c, _l, _t, _m, _v, idHash) => hashes.push(idHash) });
    const ascii = (id: string) => strHash(new TextEncoder().encode(id), 0, id.length, id.length * 2);
    expect(hashes).toEqual(ids.map(ascii));
  });
});

describe("SessionFileScanner, a part at a time", () => {
  /** A sessions file of a little over 2 MiB: 3 parts of its checksum. */
  const big = encodeSessionFile(
    Array.from(
      { length: 9000 },
      (_, i) => record({ id: `ID-${i}`, attributes: [{ name: "a", frame: new Uint8Array(220).fill(i & 0xff) }] }),
    ),
  );
  const scanOf = (bytes: Uint8Array) => {
    const seen: number[] = [];
    let counted = -1;
    const scanner = new SessionFileScanner(bytes, { count: (n) => (counted = n), record: (start) => seen.push(start) });
    return { scanner, seen, counted: () => counted };
  };

  test("steps of some records take the checksum of a large file in parts and hand nothing over before it holds", () => {
    expect(big.length).toBeGreaterThan(2 << 20);
    expect(big.length).toBeLessThan(3 << 20);
    const { scanner, seen, counted } = scanOf(big);
    expect(scanner.step(100)).toBe(false);
    expect(scanner.step(100)).toBe(false);
    expect(seen).toEqual([]);
    expect(counted()).toBe(-1);
    // The third part ends the checksum: the header is read and the first records handed over.
    expect(scanner.step(100)).toBe(false);
    expect(counted()).toBe(9000);
    expect(seen).toHaveLength(100);
    while (!scanner.step(1000));
    expect(seen).toHaveLength(9000);
    expect(scanner.finished).toBe(true);
  });

  test("step(0) and step(Infinity) take the rest of the checksum at once, after parts or without", () => {
    const a = scanOf(big);
    expect(a.scanner.step(10)).toBe(false);
    expect(a.scanner.step(0)).toBe(false);
    expect(a.counted()).toBe(9000);
    expect(a.seen).toEqual([]);
    expect(a.scanner.step(Infinity)).toBe(true);
    expect(a.seen).toHaveLength(9000);
    const b = scanOf(big);
    expect(b.scanner.step(Infinity)).toBe(true);
    expect(b.seen).toEqual(a.seen);
  });

  test("a byte changed in the last part fails the step that ends the checksum, with nothing handed over", () => {
    const damaged = big.slice();
    damaged[damaged.length - 100]! ^= 1;
    const { scanner, seen } = scanOf(damaged);
    expect(scanner.step(100)).toBe(false);
    expect(scanner.step(100)).toBe(false);
    expect(() => scanner.step(100)).toThrow(CorruptDataError);
    expect(seen).toEqual([]);
  });
});
