/**
 * Tomcat's Store: where a PersistentManager keeps sessions it swapped out of memory (FileStore:
 * one `<id>.session` file each; DataSourceStore: one row each). Stores hold the bytes
 * ManagerBase.serializeSession produces and hand sessions back through deserializeSession, so
 * filters, registered classes and the format stay the manager's business.
 */
import type { StandardSession } from "./session.ts";

/** What a Store may ask of the manager it belongs to (ManagerBase provides all of it). */
export interface StoreManager {
  /** `/<Engine>/<Host><context path>`, e.g. "/Catalina/localhost/app" (DataSourceStore's app column). */
  readonly name: string;
  now(): number;
  isLoaded(id: string): boolean;
  serializeSession(session: StandardSession): Uint8Array;
  deserializeSession(bytes: Uint8Array): StandardSession;
}

/** One session serialized at one moment: what a store writes (see Store.saveSnapshot). */
export interface SessionSnapshot {
  readonly id: string;
  /** ManagerBase.serializeSession's bytes. */
  readonly data: Uint8Array;
  readonly valid: boolean;
  readonly maxInactiveInterval: number;
  readonly lastAccessedTime: number;
}

export interface Store {
  /** Called once by the manager before it starts the store. */
  setManager(manager: StoreManager): void;
  /** The stored session, rebuilt but not activated; null when there is none. */
  load(id: string): Promise<StandardSession | null>;
  /** Replaces any stored copy of the session. */
  save(session: StandardSession): Promise<void>;
  /**
   * Optional: replaces the stored copy with a snapshot the manager took earlier (at the end of a
   * request), and resolves only once the write is durable. Stores without it get save().
   */
  saveSnapshot?(snapshot: SessionSnapshot): Promise<void>;
  remove(id: string): Promise<void>;
  keys(): Promise<string[]>;
  getSize(): Promise<number>;
  clear(): Promise<void>;
  /** Removes stored sessions that have timed out, expiring those not loaded in memory (StoreBase.processExpires). */
  processExpires(): Promise<void>;
}
