/**
 * Session records and the envelope around them: the StandardManager file (many sessions) and the
 * single-session blob a Store keeps. Attribute values stay as opaque serializer frames here, so
 * the manager decides, per attribute, what to do when one cannot be read. Layout: FORMAT.md.
 */
import { nodeCrypto } from "../util/node-crypto.ts";
import { CorruptDataError } from "./errors.ts";
import type { Principal } from "./types.ts";
import { mark } from "../util/timing.ts";
import { ByteReader, ByteWriter, crc32, putF64, strHash, varintSize } from "./wire.ts";
import { type Serializer, VALUE_FORMAT_VERSION, VALUE_TAG } from "./serializer.ts";

/** "\x89BCSES\r\n": the high byte and the CR LF catch text-mode transfers, like PNG's signature. */
const MAGIC = Uint8Array.of(0x89, 0x42, 0x43, 0x53, 0x45, 0x53, 0x0d, 0x0a);
const JAVA_STREAM = Uint8Array.of(0xac, 0xed, 0x00, 0x05);
export const FILE_FORMAT_VERSION = 1;

const KIND_MANAGER_FILE = 1;
const KIND_SINGLE_SESSION = 2;

const FLAG_NEW = 1;
const FLAG_VALID = 2;
const FLAG_AUTH_TYPE = 4;
const FLAG_PRINCIPAL = 8;
const KNOWN_FLAGS = FLAG_NEW | FLAG_VALID | FLAG_AUTH_TYPE | FLAG_PRINCIPAL;

export interface AttributeFrame {
  name: string;
  frame: Uint8Array;
}

/** A record without its attributes. */
export type RecordHead = Omit<SessionRecord, "attributes">;

export interface SessionRecord {
  id: string;
  creationTime: number;
  lastAccessedTime: number;
  thisAccessedTime: number;
  maxInactiveInterval: number;
  isNew: boolean;
  isValid: boolean;
  authType: string | null;
  principal: Principal | null;
  attributes: AttributeFrame[];
}

function writeRecord(w: ByteWriter, rec: SessionRecord): void {
  writeRecordHead(w, rec);
  w.varint(rec.attributes.length);
  for (const a of rec.attributes) {
    w.str(a.name);
    w.block(a.frame);
  }
}

function writeRecordHead(w: ByteWriter, rec: RecordHead): void {
  writeHead(
    w,
    rec.id,
    rec.creationTime,
    rec.lastAccessedTime,
    rec.thisAccessedTime,
    rec.maxInactiveInterval,
    rec.isNew,
    rec.isValid,
    rec.authType,
    rec.principal,
  );
}

/** A record's head from its fields (a live session's, without a head object for each). */
function writeHead(
  w: ByteWriter,
  id: string,
  creationTime: number,
  lastAccessedTime: number,
  thisAccessedTime: number,
  maxInactiveInterval: number,
  isNew: boolean,
  isValid: boolean,
  authType: string | null,
  principal: Principal | null,
): void {
  w.str(id);
  w.f64(creationTime);
  w.f64(lastAccessedTime);
  w.f64(thisAccessedTime);
  w.zigzag32(maxInactiveInterval);
  w.u8(
    (isNew ? FLAG_NEW : 0) | (isValid ? FLAG_VALID : 0) |
      (authType !== null ? FLAG_AUTH_TYPE : 0) | (principal ? FLAG_PRINCIPAL : 0),
  );
  if (authType !== null) w.str(authType);
  if (principal) {
    w.str(principal.name);
    w.varint(principal.roles.length);
    for (const role of principal.roles) w.str(role);
  }
}

function readTime(r: ByteReader, what: string): number {
  const t = r.f64();
  if (!Number.isFinite(t)) r.fail(`${what} is not a finite time`);
  return t;
}

function readRecord(r: ByteReader): SessionRecord {
  const head = readRecordHead(r);
  const n = r.count(2);
  const attributes = new Array<AttributeFrame>(n);
  // Few attributes: a scan finds a repeated name faster than building a Set.
  const seen = n > 16 ? new Set<string>() : null;
  for (let i = 0; i < n; i++) {
    const name = r.str();
    let twice = false;
    if (seen) {
      twice = seen.has(name);
      seen.add(name);
    } else {
      for (let j = 0; j < i && !twice; j++) twice = attributes[j]!.name === name;
    }
    if (twice) r.fail(`attribute [${name}] appears twice`);
    attributes[i] = { name, frame: r.block() };
  }
  return { ...head, attributes };
}

function readRecordHead(r: ByteReader): RecordHead {
  const id = r.str();
  if (!id) r.fail("empty session id");
  const creationTime = readTime(r, "creationTime");
  const lastAccessedTime = readTime(r, "lastAccessedTime");
  const thisAccessedTime = readTime(r, "thisAccessedTime");
  const maxInactiveInterval = r.zigzag32();
  const flags = r.u8();
  if (flags & ~KNOWN_FLAGS) r.fail(`unknown session flags 0x${flags.toString(16)}`);
  const authType = flags & FLAG_AUTH_TYPE ? r.str() : null;
  let principal: Principal | null = null;
  if (flags & FLAG_PRINCIPAL) {
    const name = r.str();
    const roles: string[] = [];
    for (let n = r.count(1); n > 0; n--) roles.push(r.str());
    principal = { name, roles };
  }
  return {
    id,
    creationTime,
    lastAccessedTime,
    thisAccessedTime,
    maxInactiveInterval,
    isNew: !!(flags & FLAG_NEW),
    isValid: !!(flags & FLAG_VALID),
    authType,
    principal,
  };
}

function seal(kind: number, body: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  w.bytes(MAGIC);
  w.u8(FILE_FORMAT_VERSION);
  w.u8(kind);
  body(w);
  w.u32(crc32(w.written()));
  return w.finish();
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/**
 * Checks signature, version, kind and checksum; returns a reader positioned at the body.
 * `summed`: the CRC-32 of everything but the stored checksum when the caller has it already.
 */
function open(bytes: Uint8Array, kind: number, summed?: number): ByteReader {
  if (startsWith(bytes, JAVA_STREAM)) {
    throw new CorruptDataError(
      `this is a Java serialization stream (Tomcat's own SESSIONS.ser format), which bobcat cannot read`,
      "Tomcat's persisted sessions cannot be carried over; users will log in again.",
    );
  }
  if (!startsWith(bytes, MAGIC)) throw new CorruptDataError("not a bobcat session file (wrong signature)");
  const header = MAGIC.length + 2;
  if (bytes.length < header + 4) throw new CorruptDataError(`truncated (${bytes.length} bytes)`);
  const version = bytes[MAGIC.length]!;
  if (version !== FILE_FORMAT_VERSION) {
    throw new CorruptDataError(
      `format version ${version} is not supported (this bobcat reads version ${FILE_FORMAT_VERSION})`,
      "It was written by a different bobcat version; run that version, or start without these sessions.",
    );
  }
  if (bytes[MAGIC.length + 1] !== kind) {
    throw new CorruptDataError(`holds data of kind ${bytes[MAGIC.length + 1]}, expected ${kind}`);
  }
  const end = bytes.length - 4;
  const stored = new DataView(bytes.buffer, bytes.byteOffset + end, 4).getUint32(0);
  if ((summed ?? crc32(bytes.subarray(0, end))) !== stored) {
    throw new CorruptDataError("checksum mismatch (the file is damaged or truncated)");
  }
  const r = new ByteReader(bytes.subarray(0, end));
  r.pos = header;
  return r;
}

/** The StandardManager persistence file: every session, each as a length-prefixed record. */
export function encodeSessionFile(records: SessionRecord[]): Uint8Array {
  return seal(KIND_MANAGER_FILE, (w) => {
    w.varint(records.length);
    const one = new ByteWriter();
    for (const rec of records) {
      one.reset();
      writeRecord(one, rec);
      w.blockOf(one);
    }
  });
}

export function decodeSessionFile(bytes: Uint8Array): SessionRecord[] {
  const r = open(bytes, KIND_MANAGER_FILE);
  const records: SessionRecord[] = [];
  for (let n = r.count(1); n > 0; n--) {
    const inner = r.window(r.count(1), `session #${records.length + 1}`);
    records.push(readRecord(inner));
    inner.end();
  }
  r.end();
  return records;
}

/** What SessionRecordReader hands over: a session's head, its attributes, its end. */
export interface SessionFileVisitor {
  /**
   * A session's head; its attributes follow, then endRecord. `start` and `end` are where the
   * record's bytes lie in the file (without its length prefix), as scanSessionFile reported them;
   * SessionFileBuilder.copyRecords writes such bytes out as they are.
   */
  record(head: RecordHead, start: number, end: number): void;
  /**
   * One attribute: `frame` reads exactly its frame, and only during this call. What happens to
   * the frame is the visitor's business: the file's structure is checked without it. A visitor
   * without this method only has the structure checked (the frames are skipped).
   */
  attribute?(name: string, frame: ByteReader): void;
  endRecord?(): void;
}

/** The readers and the attribute-name cache one pass over the file's records shares. */
interface RecordScan {
  rec: ByteReader;
  frame: ByteReader;
  /** Attribute names seen so far, shared between sessions. */
  names: string[];
  /** The names of the record being read, for the repeated-name check (a Set beyond 16). */
  these: string[];
}

function recordScan(r: ByteReader): RecordScan {
  return { rec: r.sibling("session"), frame: r.sibling(), names: [], these: [] };
}

/** Record number `k`, at [start, end) of the reader's bytes, with every check, to the visitor. */
function visitRecord(scan: RecordScan, start: number, end: number, k: number, visit: SessionFileVisitor): void {
  scan.rec.reset(start, end, k);
  visit.record(readRecordHead(scan.rec), start, end);
  walkAttributes(scan, visit);
  visit.endRecord?.();
}

/** A record's attributes (the reader is past its head), with every check, to the visitor if it takes them. */
function walkAttributes(scan: RecordScan, visit: SessionFileVisitor | null): void {
  const { rec, frame, these } = scan;
  const n = rec.count(2);
  const seen = n > 16 ? new Set<string>() : null;
  these.length = 0;
  for (let i = 0; i < n; i++) {
    const name = rec.cachedStr(scan.names);
    let twice = false;
    if (seen) {
      twice = seen.has(name);
      seen.add(name);
    } else {
      for (let j = 0; j < i && !twice; j++) twice = these[j] === name;
      these.push(name);
    }
    if (twice) rec.fail(`attribute [${name}] appears twice`);
    const size = rec.count(1);
    if (visit?.attribute) {
      frame.reset(rec.pos, rec.pos + size);
      rec.skip(size);
      visit.attribute(name, frame);
    } else {
      rec.skip(size);
    }
  }
  rec.end();
}

/** What scanSessionFile hands over: the number of records, then each record's place and times. */
export interface SessionFileScan {
  count(n: number): void;
  /**
   * Record bytes [start, end) (without the length prefix); its id is the `str` at `idAt` (the
   * record's first bytes), checked but not decoded.
   */
  record(
    start: number,
    end: number,
    creationTime: number,
    lastAccessedTime: number,
    thisAccessedTime: number,
    maxInactiveInterval: number,
    isValid: boolean,
    /** strHash of the id's encoded characters (after its header). */
    idHash: number,
  ): void;
}

/**
 * The manager file checked in one pass, with every check decodeSessionFile makes, without making
 * anything of a record but what `visit.record` is given: no head objects, no id strings (ASCII
 * strings are checked in place).
 * Returns the number of records.
 */
export function scanSessionFile(bytes: Uint8Array, visit: SessionFileScan): number {
  const scanner = new SessionFileScanner(bytes, visit);
  while (!scanner.step(Infinity));
  return scanner.count;
}

/** Bytes of a sessions file summed into its checksum per part of a restore in the background. */
const CHECKSUM_PART = 1 << 20;

/**
 * scanSessionFile a part at a time: each step checks the next records and hands them to the
 * visitor, so that a server can check and index a large file while it already serves.
 */
export class SessionFileScanner {
  /** The number of records the file announces (−1 until the first step has read it). */
  count = -1;
  /** Records handed over so far. */
  done = 0;
  /** The CRC-32 of the file's first `summed` bytes, while the checksum is taken in parts. */
  private crc = 0;
  private summed = 0;
  private r: ByteReader | null = null;
  private scan: RecordScan | null = null;
  private readonly view: DataView;
  /** Where the current record's attribute names start, for the repeated-name check. */
  private readonly names = new Int32Array(MAX_QUICK_ATTRIBUTES);

  constructor(private readonly bytes: Uint8Array, private readonly visit: SessionFileScan) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Whether every record has been checked and handed over. */
  get finished(): boolean {
    return this.count >= 0 && this.done === this.count && this.r === null;
  }

  /**
   * Checks the next `limit` records and hands them to the visitor; true once the whole file has
   * been checked. Throws CorruptDataError. Nothing is handed over before the checksum and the
   * header are checked: a step of some records but not all (a part of a restore in the
   * background) sums CHECKSUM_PART more bytes of a larger file and returns false until they
   * are, so that no turn of the event loop spends the whole checksum (~30 ms for 8 MB on Deno);
   * step(0) and step(Infinity) take the rest of it at once.
   */
  step(limit: number): boolean {
    if (this.finished) return true;
    if (this.r === null) {
      const end = this.bytes.length - 4;
      const upTo = limit > 0 && limit < Infinity ? Math.min(end, this.summed + CHECKSUM_PART) : end;
      if (upTo > this.summed) {
        this.crc = crc32(this.bytes.subarray(this.summed, upTo), this.crc);
        this.summed = upTo;
      }
      if (this.summed < end) return false;
      // A file too short to hold a checksum is refused by open(), which then sums nothing.
      const r = open(this.bytes, KIND_MANAGER_FILE, end > 0 ? this.crc : undefined);
      mark("sessions file: checksum");
      this.r = r;
      this.scan = recordScan(r);
      this.count = r.count(1);
      this.visit.count(this.count);
    }
    const last = Math.min(this.count, this.done + limit);
    scanRecords(this.r, this.scan!, this.bytes, this.view, this.names, this.done + 1, last, this.visit);
    this.done = last;
    if (last < this.count) return false;
    this.r.end();
    this.r = null;
    return true;
  }

  /**
   * Looks among the records not handed over yet (after the first step) for the first whose id
   * is `id` (its `str` bytes, as ByteWriter.str writes them), and checks and hands over that one
   * record to `visit` — out of turn: the steps hand it over again when they reach it. Only the
   * length prefixes of the records before it are read. False when no record further on has
   * that id. Throws CorruptDataError for a broken record found.
   */
  checkAhead(id: Uint8Array, visit: SessionFileScan): boolean {
    const r = this.r;
    if (r === null) return false;
    const bytes = this.bytes;
    // The records end where the checksum starts.
    const limit = bytes.length - 4;
    const n = id.length;
    let p = r.pos;
    for (let k = this.done + 1; k <= this.count; k++) {
      const prefix = p;
      let length = 0;
      for (let scale = 1;; scale *= 0x80) {
        if (p >= limit) return false;
        const x = bytes[p++]!;
        length += (x & 0x7f) * scale;
        if (x < 0x80) break;
      }
      const start = p;
      p += length;
      if (p > limit) return false;
      if (n > length) continue;
      let same = true;
      for (let i = 0; i < n && same; i++) same = bytes[start + i] === id[i];
      if (!same) continue;
      const one = r.sibling("session");
      one.reset(prefix, limit);
      scanRecords(one, this.scan!, bytes, this.view, this.names, k, k, visit);
      return true;
    }
    return false;
  }
}

/** Records `first` to `last` (counted from 1) of a manager file, `r` at the first one's length prefix. */
function scanRecords(
  r: ByteReader,
  scan: RecordScan,
  bytes: Uint8Array,
  view: DataView,
  names: Int32Array,
  first: number,
  last: number,
  visit: SessionFileScan,
): void {
  for (let k = first; k <= last; k++) {
    const length = r.count(1);
    const start = r.pos;
    r.skip(length);
    const end = start + length;
    // quickRecord, inlined: one function with locals is what runs fast enough from cold (a
    // start-up reads the file once, mostly before the JIT has optimized anything).
    let p = start;
    let ok = false;
    let created = 0;
    let lastAccessed = 0;
    let thisAccessed = 0;
    let maxInactive = 0;
    let flags = 0;
    let idHash = 0;
    quick: {
      // The id: a non-empty ASCII str whose header is one byte; its strHash on the way.
      const h = bytes[p]!;
      if (h === 0 || h >= 0x80 || (h & 1) !== 0) break quick;
      const idEnd = p + 1 + (h >>> 1);
      if (idEnd + 27 > end) break quick;
      let x = 0x811c9dc5 ^ h;
      for (p++; p < idEnd; p++) {
        const c = bytes[p]!;
        if (c >= 0x80) break quick;
        x = Math.imul(x ^ c, 0x01000193);
      }
      idHash = x >>> 0;
      created = view.getFloat64(p);
      lastAccessed = view.getFloat64(p + 8);
      thisAccessed = view.getFloat64(p + 16);
      if (!Number.isFinite(created) || !Number.isFinite(lastAccessed) || !Number.isFinite(thisAccessed)) break quick;
      p += 24;
      // maxInactiveInterval: a minimal varint of up to 5 bytes, zigzag-mapped.
      let z = 0;
      for (let i = 0, scale = 1;; i++, scale *= 0x80) {
        if (i === 5 || p >= end) break quick;
        const x = bytes[p++]!;
        z += (x & 0x7f) * scale;
        if (x < 0x80) {
          if (x === 0 && i > 0) break quick;
          break;
        }
      }
      if (z > 0xffffffff || p + 2 > end) break quick;
      maxInactive = (z >>> 1) ^ -(z & 1);
      flags = bytes[p++]!;
      // An authType or a principal: the general reading.
      if ((flags & ~(FLAG_NEW | FLAG_VALID)) !== 0) break quick;
      const n = bytes[p++]!;
      if (n > MAX_QUICK_ATTRIBUTES) break quick;
      for (let i = 0; i < n; i++) {
        // The name: a non-empty ASCII str with a one-byte header, unlike the names before it.
        if (p >= end) break quick;
        const nh = bytes[p]!;
        if (nh === 0 || nh >= 0x80 || (nh & 1) !== 0) break quick;
        const nameEnd = p + 1 + (nh >>> 1);
        if (nameEnd >= end) break quick;
        for (let q = p + 1; q < nameEnd; q++) if (bytes[q]! >= 0x80) break quick;
        for (let j = 0; j < i; j++) {
          let a = names[j]!;
          if (bytes[a] !== nh) continue;
          let b = p + 1;
          for (a++; b < nameEnd && bytes[a] === bytes[b]; a++, b++);
          if (b === nameEnd) break quick;
        }
        names[i] = p;
        p = nameEnd;
        // The frame's size: a minimal varint of one or two bytes.
        let size = bytes[p++]!;
        if (size >= 0x80) {
          if (p >= end) break quick;
          const hi = bytes[p++]!;
          if (hi === 0 || hi >= 0x80) break quick;
          size = (size & 0x7f) + hi * 0x80;
        }
        p += size;
        if (p > end) break quick;
      }
      ok = p === end;
    }
    if (ok) {
      visit.record(start, end, created, lastAccessed, thisAccessed, maxInactive, (flags & FLAG_VALID) !== 0, idHash);
    } else {
      scanRecord(scan, bytes, start, end, k, visit);
    }
  }
}

/** The most attributes a record may have for scanSessionFile's quick reading. */
const MAX_QUICK_ATTRIBUTES = 16;

/** Record number `k` at [start, end) of `bytes`, with every check, to `visit.record`. */
function scanRecord(
  scan: RecordScan,
  bytes: Uint8Array,
  start: number,
  end: number,
  k: number,
  visit: SessionFileScan,
): void {
  const rec = scan.rec;
  rec.reset(start, end, k);
  const header = rec.skipStr();
  if (header === 0) rec.fail("empty session id");
  const idHash = strHash(bytes, start + varintSize(header), rec.pos, header);
  const creationTime = readTime(rec, "creationTime");
  const lastAccessedTime = readTime(rec, "lastAccessedTime");
  const thisAccessedTime = readTime(rec, "thisAccessedTime");
  const maxInactiveInterval = rec.zigzag32();
  const flags = rec.u8();
  if (flags & ~KNOWN_FLAGS) rec.fail(`unknown session flags 0x${flags.toString(16)}`);
  if (flags & FLAG_AUTH_TYPE) rec.skipStr();
  if (flags & FLAG_PRINCIPAL) {
    rec.skipStr();
    for (let n = rec.count(1); n > 0; n--) rec.skipStr();
  }
  visit.record(
    start,
    end,
    creationTime,
    lastAccessedTime,
    thisAccessedTime,
    maxInactiveInterval,
    (flags & FLAG_VALID) !== 0,
    idHash,
  );
  walkAttributes(scan, null);
}

/**
 * Reads one record of a manager file scanSessionFile has checked, with every check again: its
 * bytes are [start, end) of `bytes`, as scanSessionFile reported them. One reader per file shares its
 * views and attribute names between the records it reads.
 */
export class SessionRecordReader {
  private readonly scan: RecordScan;

  constructor(bytes: Uint8Array) {
    this.scan = recordScan(new ByteReader(bytes));
  }

  read(start: number, end: number, visit: SessionFileVisitor): void {
    visitRecord(this.scan, start, end, -1, visit);
  }
}

/** Where attribute frames are written: the manager file being built, or one record's list. */
export interface AttributeSink {
  /** Starts attribute `name`; its frame is written to the writer returned. */
  beginAttribute(name: string): ByteWriter;
  /** Ends the attribute begun last: kept when `written`, else dropped with whatever part of it was written. */
  endAttribute(written: boolean): void;
}

/** The manager file's header: signature, format version, kind, number of records. */
function writeFileHeader(w: ByteWriter, count: number): void {
  w.bytes(MAGIC);
  w.u8(FILE_FORMAT_VERSION);
  w.u8(KIND_MANAGER_FILE);
  w.varint(count);
}

/** What SessionFileBuilder.quickRecord reads of a live session (StandardSession has it). */
export interface LiveSession {
  readonly id: string;
  readonly creationTimeInternal: number;
  readonly lastAccessedTimeInternal: number;
  readonly thisAccessedTimeInternal: number;
  readonly maxInactiveInterval: number;
  readonly isNewInternal: boolean;
  isValidInternal(): boolean;
  readonly authType: string | null;
  readonly principal: Principal | null;
  /** -1 when the attributes cannot be reached by index. */
  readonly indexedAttributeCount: number;
  attributeNameAt(i: number): string;
  attributeValueAt(i: number): unknown;
}

/**
 * Writes the manager file one session at a time, straight into one buffer: beginRecord with the
 * head, each attribute (name, then its frame written in place), endRecord. A length or count is
 * a one-byte placeholder filled in at the end (moving the bytes after it if it needs more).
 */
export class SessionFileBuilder implements AttributeSink {
  private readonly w: ByteWriter;
  private recordAt = -1;
  private countAt = -1;
  private attributeAt = -1;
  private frameAt = -1;
  private attrCount = 0;
  private records = 0;
  /** Records copied by reference: the bytes, and where in the builder's own bytes they go. */
  private readonly copied: Array<{ at: number; bytes: Uint8Array }> = [];

  /** The checksum of the bytes handed over by takeParts so far. */
  private crc = 0;

  /** `capacity`: the bytes expected of sessions written anew, so the buffer never grows. */
  constructor(private readonly count: number, capacity = 1 << 16) {
    this.w = new ByteWriter(capacity);
    writeFileHeader(this.w, count);
  }

  /** The bytes in the builder's own buffer since the last takeParts. */
  get pending(): number {
    return this.w.length;
  }

  /**
   * `count` records as the file `file` holds them, length prefixes included, in its bytes
   * [from, to): written out as they are. They are not copied: `file` must not change until
   * the parts are written.
   */
  copyRecords(file: Uint8Array, from: number, to: number, count: number): void {
    this.copied.push({ at: this.w.length, bytes: file.subarray(from, to) });
    this.records += count;
  }

  beginRecord(head: RecordHead): void {
    this.beginRecordOf(
      head.id,
      head.creationTime,
      head.lastAccessedTime,
      head.thisAccessedTime,
      head.maxInactiveInterval,
      head.isNew,
      head.isValid,
      head.authType,
      head.principal,
    );
  }

  /** beginRecord from the head's fields (as RecordHead has them), with no head object. */
  beginRecordOf(
    id: string,
    creationTime: number,
    lastAccessedTime: number,
    thisAccessedTime: number,
    maxInactiveInterval: number,
    isNew: boolean,
    isValid: boolean,
    authType: string | null,
    principal: Principal | null,
  ): void {
    const w = this.w;
    this.recordAt = w.length;
    w.u8(0);
    writeHead(
      w,
      id,
      creationTime,
      lastAccessedTime,
      thisAccessedTime,
      maxInactiveInterval,
      isNew,
      isValid,
      authType,
      principal,
    );
    this.countAt = w.length;
    w.u8(0);
    this.attrCount = 0;
  }

  /**
   * The whole record of a live session whose id and attribute names are short ASCII strings and
   * whose attribute values are short ASCII strings, numbers or booleans (most sessions): written
   * in one go, as beginRecordOf, the serializer's frames and endRecord would write it. Anything
   * else (authentication to persist, another value, a long or non-ASCII string): false, with
   * nothing written, for the general way. Given `serializer`, an object value is written by it
   * in place (as the general way writes it when no filter is configured); one it cannot write,
   * or that changes the session's attributes, gives false. No attribute is filtered here: with a
   * filter configured, do not call it.
   */
  quickRecord(s: LiveSession, persistAuth: boolean, serializer?: Serializer): boolean {
    const start = this.w.length;
    if (this.quickRecordBody(s, persistAuth, serializer)) return true;
    // A frame written by the serializer may have moved the end: back to where the record began.
    this.w.truncate(start);
    return false;
  }

  private quickRecordBody(s: LiveSession, persistAuth: boolean, serializer: Serializer | undefined): boolean {
    if (persistAuth && (s.authType !== null || s.principal !== null)) return false;
    const n = s.indexedAttributeCount;
    const id = s.id;
    const idLength = id.length;
    if (n < 0 || n >= 0x80 || idLength >= 64) return false;
    const w = this.w;
    const start = w.length;
    // Record length, id, three times, the timeout (a varint of up to 5 bytes), flags, count.
    let buf = w.room(start + idLength + 34);
    let p = start + 1;
    buf[p++] = idLength * 2;
    for (let i = 0; i < idLength; i++) {
      const c = id.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[p++] = c;
    }
    p = putF64(buf, p, s.creationTimeInternal);
    p = putF64(buf, p, s.lastAccessedTimeInternal);
    p = putF64(buf, p, s.thisAccessedTimeInternal);
    const m = s.maxInactiveInterval;
    let z = ((m << 1) ^ (m >> 31)) >>> 0;
    while (z >= 0x80) {
      buf[p++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    buf[p++] = z;
    buf[p++] = (s.isNewInternal ? FLAG_NEW : 0) | (s.isValidInternal() ? FLAG_VALID : 0);
    buf[p++] = n;
    for (let a = 0; a < n; a++) {
      const name = s.attributeNameAt(a);
      const value = s.attributeValueAt(a);
      const nameLength = name.length;
      if (nameLength >= 64) return false;
      // Name, frame size, version, tag, and a payload of up to 63 bytes.
      buf = w.room(p + nameLength + 68);
      buf[p++] = nameLength * 2;
      for (let i = 0; i < nameLength; i++) {
        const c = name.charCodeAt(i);
        if (c >= 0x80) return false;
        buf[p++] = c;
      }
      const sizeAt = p++;
      buf[p++] = VALUE_FORMAT_VERSION;
      switch (typeof value) {
        case "string": {
          const length = value.length;
          if (length >= 64) return false;
          buf[p++] = VALUE_TAG.STRING;
          buf[p++] = length * 2;
          for (let i = 0; i < length; i++) {
            const c = value.charCodeAt(i);
            if (c >= 0x80) return false;
            buf[p++] = c;
          }
          break;
        }
        case "number":
          if ((value | 0) === value && (value !== 0 || 1 / value > 0)) {
            buf[p++] = VALUE_TAG.INT;
            let v = ((value << 1) ^ (value >> 31)) >>> 0;
            while (v >= 0x80) {
              buf[p++] = (v & 0x7f) | 0x80;
              v >>>= 7;
            }
            buf[p++] = v;
          } else {
            buf[p++] = VALUE_TAG.FLOAT;
            p = putF64(buf, p, value);
          }
          break;
        case "boolean":
          buf[p++] = value ? VALUE_TAG.TRUE : VALUE_TAG.FALSE;
          break;
        case "object": {
          if (serializer === undefined || value === null) return false;
          // The frame by the serializer, after the size's placeholder (its version byte too).
          w.setLength(sizeAt + 1);
          try {
            serializer.serializeInto(w, value);
          } catch {
            // The general way reports it.
            return false;
          }
          if (s.indexedAttributeCount !== n) return false;
          const size = w.length - sizeAt - 1;
          if (size < 0x80) {
            p = w.length;
            buf = w.room(p);
            buf[sizeAt] = size;
          } else {
            w.patchVarint(sizeAt, size);
            p = w.length;
            buf = w.room(p);
          }
          continue;
        }
        default:
          return false;
      }
      buf[sizeAt] = p - sizeAt - 1;
    }
    w.setLength(p);
    const length = p - start - 1;
    if (length < 0x80) {
      buf[start] = length;
    } else {
      // Its length takes more than the placeholder's byte.
      buf[start] = 0;
      w.patchVarint(start, length);
    }
    this.records++;
    return true;
  }

  /** Drops the attributes of the record begun last, to write them again. */
  restartAttributes(): void {
    this.w.truncate(this.countAt + 1);
    this.attrCount = 0;
  }

  beginAttribute(name: string): ByteWriter {
    const w = this.w;
    this.attributeAt = w.length;
    w.str(name);
    this.frameAt = w.length;
    w.u8(0);
    return w;
  }

  endAttribute(written: boolean): void {
    const w = this.w;
    if (!written) {
      w.truncate(this.attributeAt);
      return;
    }
    w.patchVarint(this.frameAt, w.length - this.frameAt - 1);
    this.attrCount++;
  }

  endRecord(): void {
    const w = this.w;
    w.patchVarint(this.countAt, this.attrCount);
    w.patchVarint(this.recordAt, w.length - this.recordAt - 1);
    this.records++;
  }

  /**
   * What was written since the last call (views of the builder's buffer and of the files records
   * were copied from), between records: the builder then writes over its buffer from the start,
   * so these parts must be written out before the next record is. A file written in pieces as
   * it is built touches a small buffer again and again rather than fresh memory (on a large
   * file, the page faults of fresh memory cost more than making the records).
   */
  takeParts(): Uint8Array[] {
    const own = this.w.written();
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const c of this.copied) {
      if (c.at > at) parts.push(own.subarray(at, c.at));
      parts.push(c.bytes);
      at = c.at;
    }
    if (own.length > at) parts.push(own.subarray(at));
    for (const p of parts) this.crc = crc32(p, this.crc);
    this.copied.length = 0;
    this.w.reset();
    return parts;
  }

  /**
   * The rest of the file as parts to write one after the other (after those takeParts gave),
   * then the checksum: an 8 MB file of restored sessions is written from the bytes it was read
   * into, not copied into another buffer first.
   */
  finishParts(): Uint8Array[] {
    if (this.records !== this.count) {
      throw new Error(`${this.records} session record(s) written, ${this.count} announced`);
    }
    const parts = this.takeParts();
    const sum = new Uint8Array(4);
    new DataView(sum.buffer).setUint32(0, this.crc);
    parts.push(sum);
    return parts;
  }

  /** The whole file in one buffer. */
  finish(): Uint8Array {
    const parts = this.finishParts();
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** One session, as a Store keeps it. */
export function encodeSessionData(record: SessionRecord): Uint8Array {
  return seal(KIND_SINGLE_SESSION, (w) => writeRecord(w, record));
}

/**
 * A digest of what a record holds apart from its access times and isNew (id, timeout, validity,
 * principal, attributes): two records with the same key differ only in when they were used.
 */
export function contentKey(record: SessionRecord): string {
  const w = new ByteWriter();
  writeRecord(w, { ...record, lastAccessedTime: 0, thisAccessedTime: 0, isNew: false });
  return nodeCrypto().createHash("sha256").update(w.written()).digest("base64");
}

export function decodeSessionData(bytes: Uint8Array): SessionRecord {
  const r = open(bytes, KIND_SINGLE_SESSION);
  const record = readRecord(r);
  r.end();
  return record;
}
