/**
 * The compact forms that keep sessions cheap: attributes in a flat array up to 8 and a Map beyond,
 * the manager file written session by session (the same bytes as the record encoder) and read
 * through windows of the file, the CRC-32 (native, table loop, WebAssembly), the statistics rings, pooled id bytes.
 */
import { describe, expect, test } from "bun:test";
import { SessionIdGenerator } from "../../src/session/id-generator.ts";
import { StandardManager } from "../../src/session/index.ts";
import {
  decodeSessionFile,
  encodeSessionFile,
  scanSessionFile,
  SessionFileBuilder,
  type SessionFileVisitor,
  type SessionRecord,
  SessionRecordReader,
} from "../../src/session/record.ts";
import { SessionStatistics } from "../../src/session/stats.ts";
import * as zlib from "node:zlib";
import { crc32, crc32js } from "../../src/session/wire.ts";
import { crc32wasm } from "../../src/session/crc32.ts";
import { recorder } from "./helpers.ts";

/** Every record of a manager file to `visit`, as StandardManager reads them: scanned, then each read. */
function readSessionFile(bytes: Uint8Array, visit: SessionFileVisitor): number {
  const ranges: Array<[number, number]> = [];
  const count = scanSessionFile(bytes, { count() {}, record: (start, end) => ranges.push([start, end]) });
  const reader = new SessionRecordReader(bytes);
  for (const [start, end] of ranges) reader.read(start, end, visit);
  return count;
}

async function started(): Promise<StandardManager> {
  const m = new StandardManager({ name: "/compact" });
  await m.start();
  return m;
}

describe("attributes", () => {
  test("past 8 attributes the order, values, replacement and removal behave as one map", async () => {
    const m = await started();
    const events: string[] = [];
    m.addListener(recorder(events));
    const s = m.createSession();
    const model = new Map<string, unknown>();
    const set = (k: string, v: unknown) => {
      s.setAttribute(k, v);
      model.set(k, v);
    };
    for (let i = 0; i < 20; i++) {
      set(`a${i}`, i);
      // Every step, in both forms: same names in the same order, same values.
      expect(s.getAttributeNames()).toEqual([...model.keys()]);
    }
    set("a3", "three"); // replaced in place: order kept
    s.removeAttribute("a0");
    model.delete("a0");
    set("a0", 0); // re-added: goes last
    expect(s.getAttributeNames()).toEqual([...model.keys()]);
    for (const [k, v] of model) expect(s.getAttribute(k)).toBe(v);
    expect(events.filter((e) => e.startsWith("added:"))).toHaveLength(21);
    expect(events.filter((e) => e.startsWith("replaced:"))).toHaveLength(1);

    const small = m.createSession();
    small.setAttribute("x", 1);
    small.setAttribute("y", 2);
    small.removeAttribute("x");
    small.removeAttribute("y");
    expect(small.getAttributeNames()).toEqual([]);
    expect(small.getAttribute("x")).toBeUndefined();
    small.setAttribute("z", { deep: [1] });
    expect(small.getAttribute("z")).toEqual({ deep: [1] });

    events.length = 0;
    s.invalidate();
    // Unbinding events for every attribute, and nothing left afterwards.
    expect(events.filter((e) => e.startsWith("removed:"))).toHaveLength(20);
    await m.stop();
  });
});

describe("manager file", () => {
  const records: SessionRecord[] = Array.from({ length: 50 }, (_, i) => ({
    id: `ID${i}`,
    creationTime: 1735732800000 + i,
    lastAccessedTime: 1735732801000 + i,
    thisAccessedTime: 1735732802000 + i,
    maxInactiveInterval: i - 10,
    isNew: i % 2 === 0,
    isValid: true,
    authType: i % 3 === 0 ? "FORM" : null,
    principal: i % 3 === 0 ? { name: `u${i}`, roles: ["a", "ü"] } : null,
    attributes: Array.from({ length: i % 12 }, (_, k) => ({
      name: k === 1 ? "naïve" : `k${k}`,
      frame: Uint8Array.from({ length: k * 30 }, (_, j) => (j * 7 + i) & 0xff),
    })),
  }));

  test("built session by session, it is byte for byte what the record encoder writes", () => {
    // One record with more attributes than a one-byte count holds, and frames of every length class.
    const all = [...records, {
      ...records[1]!,
      id: "MANY",
      attributes: Array.from({ length: 130 }, (_, k) => ({ name: `a${k}`, frame: new Uint8Array(k * 2).fill(k) })),
    }];
    const out = new SessionFileBuilder(all.length);
    for (const r of all) {
      const { attributes, ...head } = r;
      out.beginRecord(head);
      attributes.forEach((a, k) => {
        // A dropped attribute (a value that failed half-way) leaves nothing behind.
        out.beginAttribute(`dropped${k}`).bytes(new Uint8Array(k * 3).fill(0xee));
        out.endAttribute(false);
        out.beginAttribute(a.name).bytes(a.frame);
        out.endAttribute(true);
      });
      out.endRecord();
    }
    expect(out.finish()).toEqual(encodeSessionFile(all));
  });

  test("records copied from a file go out by reference, between records written anew, as the encoder writes them", () => {
    const source = encodeSessionFile(records);
    const ranges: Array<[number, number]> = [];
    scanSessionFile(source, { count() {}, record: (start, end) => ranges.push([start, end]) });
    const prefixed = ([start, end]: [number, number]) => start - (end - start < 0x80 ? 1 : 2);
    const out = new SessionFileBuilder(records.length + 1);
    // The first records as one run, then one written anew, then the last record copied.
    const runEnd = ranges.at(-2)![1];
    out.copyRecords(source, prefixed(ranges[0]!), runEnd, ranges.length - 1);
    const { attributes, ...head } = records[0]!;
    out.beginRecord({ ...head, id: "NEW" });
    for (const a of attributes) {
      out.beginAttribute(a.name).bytes(a.frame);
      out.endAttribute(true);
    }
    out.endRecord();
    out.copyRecords(source, prefixed(ranges.at(-1)!), ranges.at(-1)![1], 1);
    const parts = out.finishParts();
    const want = encodeSessionFile([...records.slice(0, -1), { ...records[0]!, id: "NEW" }, records.at(-1)!]);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(want));
    // The copied runs are views of the source, not copies.
    expect(parts.filter((p) => p.buffer === source.buffer).map((p) => p.length)).toEqual([
      runEnd - prefixed(ranges[0]!),
      ranges.at(-1)![1] - prefixed(ranges.at(-1)!),
    ]);
    expect(decodeSessionFile(new Uint8Array(Buffer.concat(parts))).map((r) => r.id)).toEqual([
      ...records.slice(0, -1).map((r) => r.id),
      "NEW",
      records.at(-1)!.id,
    ]);
  });

  test("a builder that is given fewer sessions than announced refuses to finish", () => {
    const out = new SessionFileBuilder(2);
    const { attributes: _, ...head } = records[0]!;
    out.beginRecord(head);
    out.endRecord();
    expect(() => out.finish()).toThrow(/1 session record\(s\) written, 2 announced/);
  });

  test("read in one pass, every record and frame is what the copying decoder gives", () => {
    const bytes = encodeSessionFile(records);
    const copied = decodeSessionFile(bytes);
    const read: Array<{ head: object; attributes: Array<{ name: string; frame: Uint8Array }> }> = [];
    const count = readSessionFile(bytes, {
      record: (head) => read.push({ head, attributes: [] }),
      attribute: (name, frame) => {
        const bytes = Uint8Array.from({ length: frame.remaining }, () => frame.u8());
        read.at(-1)!.attributes.push({ name, frame: bytes });
      },
      endRecord: () => {},
    });
    expect(count).toBe(copied.length);
    expect(read).toHaveLength(copied.length);
    read.forEach((r, i) => {
      const { attributes, ...head } = copied[i]!;
      expect(r.head).toEqual(head);
      expect(r.attributes.map((a) => a.name)).toEqual(attributes.map((a) => a.name));
      r.attributes.forEach((a, k) => expect(a.frame).toEqual(Uint8Array.from(attributes[k]!.frame)));
    });
    // The repeated ASCII names are one string each, shared by every record ("naïve" is not cached).
    const k0 = read.filter((r) => r.attributes.length > 0).map((r) => r.attributes[0]!.name);
    expect(new Set(k0)).toEqual(new Set(["k0"]));
  });

  test("a frame the visitor leaves unread, or reads past, does not move the file reader", () => {
    const bytes = encodeSessionFile(records);
    const names: string[] = [];
    readSessionFile(bytes, {
      record: () => {},
      attribute: (name, frame) => {
        names.push(name);
        if (name === "k2") frame.u8();
        if (name === "k3") expect(() => frame.bytesOf(frame.remaining + 1)).toThrow(/more byte/);
      },
      endRecord: () => {},
    });
    expect(names).toEqual(records.flatMap((r) => r.attributes.map((a) => a.name)));
  });

  test("a damaged record is reported with its number, from the windowed reader too", () => {
    const bytes = encodeSessionFile(records.slice(0, 3));
    // Break the second record's flags and fix the checksum, so the structural check sees it.
    const copy = bytes.slice();
    const second = decodeSessionFile(bytes)[1]!;
    const flagsAt = copy.indexOf(0x49, 20); // "I" of "ID1"
    expect(flagsAt).toBeGreaterThan(0);
    copy[flagsAt + 3 + 24 + 1] = 0xf0; // "ID1", three f64, the zigzag timeout (one byte), then the flags
    new DataView(copy.buffer).setUint32(copy.length - 4, crc32(copy.subarray(0, copy.length - 4)));
    const visit = { record: () => {}, attribute: () => {}, endRecord: () => {} };
    expect(() => readSessionFile(copy, visit)).toThrow(/session #2: unknown session flags 0xf0 \(at byte/);
    expect(() => decodeSessionFile(copy)).toThrow(/session #2: unknown session flags 0xf0 \(at byte/);
    expect(second.id).toBe("ID1");
  });
});

test("CRC-32: zlib's, the runtime's and the sliced table agree on every size", () => {
  for (const n of [0, 1, 7, 8, 9, 255, 256, 257, 4096, 65535, 65536, 65537, 200003]) {
    const b = crypto.getRandomValues(new Uint8Array(n));
    const z = zlib.crc32(b) >>> 0;
    expect(crc32js(b)).toBe(z);
    expect(crc32(b)).toBe(z);
    // Not at the start of its buffer, as a file's body is.
    expect(crc32js(b.subarray(3))).toBe(zlib.crc32(b.subarray(3)) >>> 0);
  }
  expect(crc32(new TextEncoder().encode("123456789".repeat(40)))).toBe(
    crc32js(new TextEncoder().encode("123456789".repeat(40))),
  );
  expect(crc32js(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
});

test("CRC-32 continued over parts is the CRC of the whole, native and table alike", () => {
  const b = crypto.getRandomValues(new Uint8Array(70000));
  const whole = zlib.crc32(b) >>> 0;
  for (const cuts of [[0], [5], [300], [5, 9, 700], [256, 257, 65536, 69999], [70000]]) {
    let native = 0;
    let table = 0;
    let mixed = 0;
    let from = 0;
    for (const [k, to] of [...cuts, b.length].entries()) {
      const part = b.subarray(from, to);
      native = crc32(part, native);
      table = crc32js(part, table);
      mixed = k % 2 === 0 ? crc32(part, mixed) : crc32js(part, mixed);
      from = to;
    }
    expect([native, table, mixed]).toEqual([whole, whole, whole]);
  }
});

/** `n` random bytes (getRandomValues gives at most 64 KiB a call). */
function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

test("CRC-32 of the WebAssembly module (Deno's and Node's): the known vectors", () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  expect(crc32wasm(ascii("123456789"))).toBe(0xcbf43926);
  expect(crc32wasm(new Uint8Array(0))).toBe(0);
  expect(crc32wasm(new Uint8Array(0), 0x1234abcd)).toBe(0x1234abcd);
  expect(crc32wasm(Uint8Array.of(0))).toBe(0xd202ef8d);
  expect(crc32wasm(Uint8Array.of(0xff))).toBe(0xff000000);
  expect(crc32wasm(ascii("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
  expect(crc32wasm(new Uint8Array(32))).toBe(0x190a55ad);
});

test("CRC-32 of the WebAssembly module agrees with Bun's, zlib's and the table loop", () => {
  const b = randomBytes(3 * 65536 + 100);
  const native = Bun.hash.crc32;
  // Lengths around the 8-byte steps and the 64 KiB window, from aligned and unaligned offsets.
  const lengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 23, 24, 25, 63, 64, 65, 255, 256, 257, 1000];
  lengths.push(65535, 65536, 65537, 65536 + 7, 2 * 65536, 2 * 65536 + 9, 3 * 65536 + 1);
  for (const n of lengths) {
    for (const off of [0, 1, 2, 3, 4, 5, 7, 8, 13]) {
      const part = b.subarray(off, off + n);
      const want = native(part) >>> 0;
      expect(crc32wasm(part)).toBe(want);
      expect(crc32js(part)).toBe(want);
      expect(crc32(part)).toBe(want);
      // A copy of its own (offset 0 of its buffer) gives the same.
      expect(crc32wasm(part.slice())).toBe(want);
    }
  }
  expect(crc32wasm(b)).toBe(zlib.crc32(b) >>> 0);
  for (let r = 0; r < 20; r++) {
    const x = randomBytes(Math.floor(Math.random() * 200000));
    expect(crc32wasm(x)).toBe(native(x) >>> 0);
  }
});

test("CRC-32 of the WebAssembly module continues: crc32(b, crc32(a)) is the CRC of a then b", () => {
  const b = randomBytes(200003);
  const whole = Bun.hash.crc32(b) >>> 0;
  for (const cuts of [[0], [1], [7], [8], [9], [65535], [65536, 65537], [3, 70000, 131072, 200002], [200003]]) {
    let w = 0;
    let mixed = 0;
    let from = 0;
    for (const [k, to] of [...cuts, b.length].entries()) {
      const part = b.subarray(from, to);
      w = crc32wasm(part, w);
      mixed = k % 2 === 0 ? crc32wasm(part, mixed) : Bun.hash.crc32(part, mixed) >>> 0;
      from = to;
    }
    expect([w, mixed]).toEqual([whole, whole]);
  }
  // A damaged byte changes it.
  const damaged = b.slice();
  damaged[100000]! ^= 1;
  expect(crc32wasm(damaged)).not.toBe(whole);
});

test("statistics keep the last 100 creations and expirations", () => {
  const stats = new SessionStatistics();
  for (let i = 0; i < 150; i++) stats.recordCreated(1000 * i);
  for (let i = 0; i < 120; i++) stats.recordExpired(200000 + 1000 * i, i < 20 ? 0 : 200000 + 1000 * i - 10000);
  const s = stats.snapshot(400000, 3, -1);
  // Created: the last 100 span 50 s..149 s, now is 400 s: 100 per 350 s.
  expect(s.sessionCreateRate).toBe(Math.trunc((60000 * 100) / (400000 - 50000)));
  // Expired: the last 100 all lived 10 s (the first 20, which lived longer, fell out).
  expect(s.sessionAverageAliveTime).toBe(10);
  expect(s.sessionMaxAliveTime).toBe(219);
  expect(s.expiredSessions).toBe(120);
  expect(s.sessionCounter).toBe(123);
});

test("ids drawn from the shared pool stay distinct upper-case hex across refills and lengths", () => {
  const short = new SessionIdGenerator();
  const long = new SessionIdGenerator();
  long.sessionIdLength = 1024; // the longest that comes from the pool
  const huge = new SessionIdGenerator();
  huge.sessionIdLength = 1025; // drawn on its own
  const seen = new Set<string>();
  for (let i = 0; i < 600; i++) {
    for (const [g, len] of [[short, 16], [long, 1024], [huge, 1025]] as const) {
      if (g !== short && i % 50 !== 0) continue;
      const id = g.generate();
      expect(id).toMatch(/^[0-9A-F]+$/);
      expect(id).toHaveLength(2 * len);
      seen.add(id);
    }
  }
  expect(seen.size).toBe(600 + 12 + 12);
  // Bytes are uniform enough that every hex digit turns up in a few hundred ids.
  expect(new Set([...seen].join("")).size).toBe(16);
});
