/**
 * StandardManager's restored sessions that nothing has asked for yet: the file's bytes, and per
 * record where it lies and what the expiry check and the statistics need (read from the record's
 * head when the file was checked). A record becomes a StandardSession when something looks it up
 * (ManagerBase.fromUnread); one never looked up is written back at stop by copying its bytes.
 */
import { SessionRecordReader } from "./record.ts";

export class UnreadSessions {
  readonly reader: SessionRecordReader;
  /** id → slot, for the records not read yet. */
  private readonly slots = new Map<string, number>();
  /** Per slot: the record's bytes [start, end) in `bytes` (start −1 once read), */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** its creation time, the time its idle time counts from, and maxInactiveInterval. */
  private readonly created: number[] = [];
  private readonly idleSince: number[] = [];
  private readonly maxInactive: number[] = [];

  constructor(readonly bytes: Uint8Array) {
    this.reader = new SessionRecordReader(bytes);
  }

  get size(): number {
    return this.slots.size;
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  /** Adds a record; false (nothing added) when one with this id is already here. */
  add(id: string, start: number, end: number, created: number, idleSince: number, maxInactive: number): boolean {
    const slot = this.starts.length;
    if (this.slots.has(id)) return false;
    this.slots.set(id, slot);
    this.starts.push(start);
    this.ends.push(end);
    this.created.push(created);
    this.idleSince.push(idleSince);
    this.maxInactive.push(maxInactive);
    return true;
  }

  /** Takes the record out: its bytes as [start, end), or null when there is no such record. */
  take(id: string): [number, number] | null {
    const slot = this.slots.get(id);
    if (slot === undefined) return null;
    this.slots.delete(id);
    const range: [number, number] = [this.starts[slot]!, this.ends[slot]!];
    this.starts[slot] = -1;
    return range;
  }

  ids(): string[] {
    return [...this.slots.keys()];
  }

  /**
   * The ids of the records that have been idle for their maxInactiveInterval or longer at `now`
   * (the check StandardSession.isValid makes; nothing else can have changed in an unread record).
   */
  due(now: number): string[] {
    const due: string[] = [];
    for (const [id, slot] of this.slots) {
      const max = this.maxInactive[slot]!;
      if (max > 0 && Math.trunc((now - this.idleSince[slot]!) / 1000) >= max) due.push(id);
    }
    return due;
  }

  /** Calls `copy` with each record's bytes, in file order. */
  forEach(copy: (start: number, end: number) => void): void {
    const { starts, ends } = this;
    for (let slot = 0; slot < starts.length; slot++) {
      const start = starts[slot]!;
      if (start >= 0) copy(start, ends[slot]!);
    }
  }

  /** Calls `each` with the creation time of each record (for the expiry statistics). */
  forEachCreated(each: (created: number) => void): void {
    const { starts, created } = this;
    for (let slot = 0; slot < starts.length; slot++) if (starts[slot]! >= 0) each(created[slot]!);
  }
}
