/**
 * What a store offers the shared (non-sticky) consistency mode: every stored session carries a
 * version that each write of its content increments, and writes are conditional on the version
 * the writer read, so two instances never overwrite each other unknowingly. DataSourceStore
 * (PostgreSQL, MySQL/MariaDB: a version column) and RedisStore (a Lua script per operation)
 * implement it. Counters are exposed for the manager app and for metrics.
 */
import type { StoreManager } from "../store.ts";

/** One stored session as a conditional writer needs it. */
export interface StoredVersion {
  version: number;
  /** Epoch ms of the last access any instance recorded. */
  lastAccess: number;
  maxInactive: number;
  /** The serialized session; absent when the caller already holds this version. */
  data?: Uint8Array;
}

/** What one write carries: the whole session record and its timing columns. */
export interface VersionedWrite {
  id: string;
  data: Uint8Array;
  lastAccess: number;
  maxInactive: number;
}

/** Operation counters a store keeps; a metrics module reads them as they are (monotonic except inFlight). */
export interface StoreCounters {
  reads: number;
  writes: number;
  /** Conditional writes refused because another instance had written first. */
  conflicts: number;
  errors: number;
  /** Operations started and not settled yet. */
  inFlight: number;
  lastError: string | null;
  lastErrorAt: number | null;
}

export function newCounters(): StoreCounters {
  return { reads: 0, writes: 0, conflicts: 0, errors: 0, inFlight: 0, lastError: null, lastErrorAt: null };
}

/** What the manager app shows per store (see ManagerBase.storeStatus). */
export interface StoreStatus {
  store: string;
  consistency: "sticky" | "shared";
  /** Sessions in the store; null when it cannot be counted now. */
  sessionsStored: number | null;
  /** Writes queued or in flight (shared: store operations in flight). */
  pendingWrites: number;
  pendingWritesLimit: number;
  conflictsResolved: number;
  lastError: string | null;
  lastErrorAt: number | null;
  counters?: StoreCounters;
}

export interface VersionedStore {
  readonly counters: StoreCounters;
  setManager(manager: StoreManager): void;
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** The stored session, without data when its version is `known`; null when there is none. */
  fetch(id: string, known?: number): Promise<StoredVersion | null>;
  /** Stores a new session at version 1; false when the id is taken. */
  create(write: VersionedWrite): Promise<boolean>;
  /** Replaces the session if its version is still `expected`; the new version, or null on a conflict (or no row). */
  replace(write: VersionedWrite, expected: number): Promise<number | null>;
  /** Moves the session at `expected` from `oldId` to `write.id` in one atomic step; null on a conflict. */
  rename(oldId: string, write: VersionedWrite, expected: number): Promise<number | null>;
  /** Records a later access (never an earlier one) and extends the expiry, without a new version; nothing if gone. */
  touch(id: string, lastAccess: number, maxInactive: number): Promise<void>;
  /** Removes the session whatever its version (invalidation wins). */
  remove(id: string): Promise<void>;
  /**
   * Takes up to `limit` sessions that timed out by `now` out of the store and hands them over;
   * each is handed to exactly one caller, whichever instances sweep at the same time.
   */
  claimExpired(now: number, limit: number): Promise<{ id: string; data: Uint8Array | null }[]>;
  /** Sessions stored for this application. */
  count(): Promise<number>;
  /**
   * Optional lease on one session, so that requests of one session on several instances run one
   * at a time (SharedManager). Takes it for `owner` (an instance) for `ttl` ms when it is free,
   * expired, or handed over to `owner`; otherwise queues `owner` as the next holder (when no
   * other instance is queued) and answers false. Nothing here is durable: a lease is a courtesy
   * that avoids conflicts; the conditional writes stay the guarantee.
   */
  lock?(id: string, owner: string, now: number, ttl: number): Promise<boolean>;
  /** Extends `owner`'s lease by `ttl` ms when no other instance waits for it; false (nothing changed) otherwise. */
  relock?(id: string, owner: string, now: number, ttl: number): Promise<boolean>;
  /** Gives `owner`'s lease up: to the instance queued next, if any, for a short while to take it. */
  unlock?(id: string, owner: string, now: number): Promise<void>;
  toString(): string;
}

export function isVersionedStore(value: unknown): value is VersionedStore {
  const s = value as Partial<VersionedStore> | null;
  return !!s && typeof s.fetch === "function" && typeof s.replace === "function" &&
    typeof s.claimExpired === "function";
}

/** Counts one operation in `counters`: in flight while it runs, and its failure as the last error. */
export async function counted<T>(counters: StoreCounters, kind: "reads" | "writes", op: () => Promise<T>): Promise<T> {
  counters.inFlight++;
  try {
    const result = await op();
    counters[kind]++;
    return result;
  } catch (err) {
    counters.errors++;
    counters.lastError = err instanceof Error ? err.message : String(err);
    counters.lastErrorAt = Date.now();
    throw err;
  } finally {
    counters.inFlight--;
  }
}
