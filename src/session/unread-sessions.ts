/**
 * StandardManager's restored sessions that nothing has asked for yet: the file's bytes, and per
 * record where it lies and what the expiry check and the statistics need (read from the record's
 * head when the file was checked). A record becomes a StandardSession when something looks it up
 * (ManagerBase.fromUnread); one never looked up is written back at stop by copying its bytes.
 *
 * The ids are not made into strings: an open-addressing table hashes each id's bytes where they
 * lie in the file, and a lookup compares the id asked for with those bytes. (A Map of 100,000 id
 * strings cost more at start than everything else the restore does.)
 */
import { SessionRecordReader } from "./record.ts";
import { ByteReader, ByteWriter, strHash, varintSize } from "./wire.ts";

export class UnreadSessions {
  readonly reader: SessionRecordReader;
  /** Decodes the id at a record's start. */
  private readonly ids: ByteReader;
  private live = 0;
  private slotCount = 0;
  /**
   * Per slot: the record's bytes [start, end) in `bytes` (once read or dropped, start is stored
   * as −start − 1: negative, and the id can still be compared with later records), */
  private starts = new Float64Array(0);
  private ends = new Float64Array(0);
  /** its creation time, the time its idle time counts from, and maxInactiveInterval. */
  private created = new Float64Array(0);
  private idleSince = new Float64Array(0);
  private maxInactive = new Int32Array(0);
  /** slot + 1 by the hash of the id's bytes (0: empty); a slot read stays, marked by its start. */
  private table = new Int32Array(0);
  private mask = 0;
  /** For a lookup of an id that is not ASCII: its bytes as str() writes them. */
  private readonly scratch = new ByteWriter();

  constructor(readonly bytes: Uint8Array) {
    this.reader = new SessionRecordReader(bytes);
    this.ids = new ByteReader(bytes);
  }

  /** Room for `n` records (the count the file announces), before any add. */
  reserve(n: number): void {
    this.starts = new Float64Array(n);
    this.ends = new Float64Array(n);
    this.created = new Float64Array(n);
    this.idleSince = new Float64Array(n);
    this.maxInactive = new Int32Array(n);
    let size = 16;
    while (size < n * 2) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.live;
  }

  /** Records added so far, taken out since or not. */
  get added(): number {
    return this.slotCount;
  }

  /**
   * Adds the record at [start, end) (its id is the str at `start`, `idHash` its strHash, as
   * scanSessionFile gives it); returns its slot, or −1 (nothing added) when a record with the
   * same id is here already, or −2 when this very record is (added out of turn, by a lookup
   * during a restore in the background).
   */
  add(start: number, end: number, created: number, idleSince: number, maxInactive: number, idHash: number): number {
    const table = this.table;
    let i = idHash & this.mask;
    for (let e = table[i]!; e !== 0; e = table[i]!) {
      // A record taken already counts too: a restore in the background may read records before
      // the rest are added, and the first copy of an id is the one kept.
      if (this.sameBytes(e - 1, this.bytes, start, this.idEnd(start))) {
        const at = this.starts[e - 1]!;
        return (at < 0 ? -at - 1 : at) === start ? -2 : -1;
      }
      i = (i + 1) & this.mask;
    }
    const slot = this.slotCount++;
    table[i] = slot + 1;
    this.starts[slot] = start;
    this.ends[slot] = end;
    this.created[slot] = created;
    this.idleSince[slot] = idleSince;
    this.maxInactive[slot] = maxInactive;
    this.live++;
    return slot;
  }

  /** Where the id (a str: header, then its characters) of the record at `start` ends. */
  private idEnd(start: number): number {
    const b = this.bytes;
    // The str header: a varint (h/2 UTF-8 bytes when even, (h−1)/2 UTF-16 units when odd).
    let h = 0;
    let scale = 1;
    let at = start;
    for (;;) {
      const x = b[at++]!;
      h += (x & 0x7f) * scale;
      if (x < 0x80) break;
      scale *= 0x80;
    }
    return at + (h % 2 === 0 ? h / 2 : h - 1);
  }

  /** Whether the id of `slot` is bytes [from, to) of `src`. */
  private sameBytes(slot: number, src: Uint8Array, from: number, to: number): boolean {
    const b = this.bytes;
    let at = this.starts[slot]!;
    if (at < 0) at = -at - 1;
    if (at + (to - from) > this.ends[slot]!) return false;
    for (let i = from; i < to; i++, at++) if (b[at] !== src[i]) return false;
    return true;
  }

  /** The slot of the unread record with this id, or −1. */
  find(id: string): number {
    if (this.live === 0) return -1;
    const n = id.length;
    let ascii = true;
    for (let i = 0; i < n && ascii; i++) ascii = id.charCodeAt(i) < 0x80;
    const b = this.bytes;
    const table = this.table;
    if (ascii) {
      let x = 0x811c9dc5 ^ (n * 2);
      for (let i = 0; i < n; i++) x = Math.imul(x ^ id.charCodeAt(i), 0x01000193);
      const head = varintSize(n * 2);
      for (let i = (x >>> 0) & this.mask, e = table[i]!; e !== 0; i = (i + 1) & this.mask, e = table[i]!) {
        const at = this.starts[e - 1]!;
        if (at < 0 || at + head + n > this.ends[e - 1]!) continue;
        // The header (n * 2, as a varint), then the characters.
        let ok = true;
        for (let v = n * 2, k = at; ok && k < at + head; k++, v = Math.floor(v / 0x80)) {
          ok = b[k] === (v >= 0x80 ? (v % 0x80) | 0x80 : v);
        }
        for (let k = 0; ok && k < n; k++) ok = b[at + head + k] === id.charCodeAt(k);
        if (ok) return e - 1;
      }
      return -1;
    }
    const w = this.scratch;
    w.reset();
    w.str(id);
    const enc = w.written();
    let h = 0;
    let scale = 1;
    let at = 0;
    for (;;) {
      const x = enc[at++]!;
      h += (x & 0x7f) * scale;
      if (x < 0x80) break;
      scale *= 0x80;
    }
    for (
      let i = strHash(enc, at, enc.length, h) & this.mask, e = table[i]!;
      e !== 0;
      i = (i + 1) & this.mask, e = table[i]!
    ) {
      if (this.starts[e - 1]! >= 0 && this.sameBytes(e - 1, enc, 0, enc.length)) return e - 1;
    }
    return -1;
  }

  /** Whether the record of `slot` is still unread (not taken). */
  isUnread(slot: number): boolean {
    return this.starts[slot]! >= 0;
  }

  has(id: string): boolean {
    return this.find(id) >= 0;
  }

  /** Takes the record of `slot` out: its bytes as [start, end). */
  take(slot: number): [number, number] {
    const range: [number, number] = [this.starts[slot]!, this.ends[slot]!];
    this.starts[slot] = -range[0] - 1;
    this.live--;
    return range;
  }

  /** The id of the record of `slot`. */
  idOf(slot: number): string {
    return this.idAt(this.starts[slot]!, this.ends[slot]!);
  }

  /** The id of the record at [start, end) of the file. */
  idAt(start: number, end: number): string {
    this.ids.reset(start, end);
    return this.ids.str();
  }

  /** The slots of the records not read yet, in file order. */
  slots(): number[] {
    const slots: number[] = [];
    for (let slot = 0; slot < this.slotCount; slot++) if (this.starts[slot]! >= 0) slots.push(slot);
    return slots;
  }

  /**
   * The slots of the records that have been idle for their maxInactiveInterval or longer at
   * `now` (StandardSession.isValid's check: nothing else can have changed in an unread record).
   */
  due(now: number): number[] {
    const due: number[] = [];
    for (let slot = 0; slot < this.slotCount; slot++) {
      const max = this.maxInactive[slot]!;
      if (max > 0 && this.starts[slot]! >= 0 && Math.trunc((now - this.idleSince[slot]!) / 1000) >= max) {
        due.push(slot);
      }
    }
    return due;
  }

  /**
   * Calls `copy` for each run of records not read yet that lie one after the other in the file:
   * bytes [from, to) hold `count` records with their length prefixes.
   */
  forEachRun(copy: (from: number, to: number, count: number) => void): void {
    const { starts, ends } = this;
    let from = -1;
    let to = -1;
    let count = 0;
    for (let slot = 0; slot < this.slotCount; slot++) {
      const start = starts[slot]!;
      if (start < 0) continue;
      const end = ends[slot]!;
      const prefixed = start - varintSize(end - start);
      if (prefixed !== to) {
        if (count > 0) copy(from, to, count);
        from = prefixed;
        count = 0;
      }
      to = end;
      count++;
    }
    if (count > 0) copy(from, to, count);
  }

  /** Calls `each` with the creation time of each record not read yet (for the expiry statistics). */
  forEachCreated(each: (created: number) => void): void {
    for (let slot = 0; slot < this.slotCount; slot++) if (this.starts[slot]! >= 0) each(this.created[slot]!);
  }
}
