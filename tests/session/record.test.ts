/** The session record and its envelope: round trips, kinds, and fuzzing past the checksum. */
import { describe, expect, test } from "bun:test";
import { CorruptDataError } from "../../src/session/index.ts";
import {
  decodeSessionData,
  decodeSessionFile,
  encodeSessionData,
  encodeSessionFile,
  type SessionRecord,
} from "../../src/session/record.ts";
import { crc32 } from "../../src/session/wire.ts";

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
});
