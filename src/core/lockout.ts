/**
 * Tomcat's LockOutRealm (org.apache.catalina.realm.LockOutRealm), on by default as Tomcat's own
 * server.xml wraps every realm in one: every failed login is recorded under the user name given
 * (whether or not such a user exists); after `failureCount` failures in a row the name is refused
 * — even with the right password — until `lockOutTime` seconds have passed since its last failed
 * attempt. A success clears the record. The records are an LRU cache of `cacheSize` names, so
 * guessing many names cannot grow memory; forgetting a name sooner than
 * `cacheRemovalWarningTime` seconds after its failure is logged, as Tomcat does.
 */
import type { RealmConfig } from "../config/model.ts";
import { type Logger, logger } from "../util/log.ts";

export type LockOutSettings = Pick<
  RealmConfig,
  "failureCount" | "lockOutTime" | "cacheSize" | "cacheRemovalWarningTime"
>;

interface LockRecord {
  failures: number;
  lastFailureTime: number;
}

/** A user name as it may appear in a log line: no control characters (no forged log lines), bounded length. */
export function loggableName(name: string): string {
  // deno-lint-ignore no-control-regex
  const clean = name.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return clean.length > 100 ? clean.slice(0, 100) + "..." : clean;
}

export class LockOut {
  /** Least recently used first (a Map keeps insertion order; a use moves the entry to the end). */
  private readonly failedUsers = new Map<string, LockRecord>();

  constructor(
    private readonly settings: LockOutSettings,
    private readonly log: Logger = logger("core"),
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.settings.failureCount > 0;
  }

  /** Tomcat's filterLockedAccounts: the authenticated principal, or null when the name is locked out. */
  filter<T>(username: string, authenticated: T | null): T | null {
    if (!this.enabled) return authenticated;
    if (authenticated === null) this.registerAuthFailure(username);
    if (this.isLocked(username)) {
      this.log.warn(`An attempt was made to authenticate the locked user [${loggableName(username)}]`);
      return null;
    }
    if (authenticated !== null) this.failedUsers.delete(username);
    return authenticated;
  }

  isLocked(username: string): boolean {
    const record = this.get(username);
    if (!record) return false;
    return record.failures >= this.settings.failureCount &&
      this.secondsSince(record.lastFailureTime) < this.settings.lockOutTime;
  }

  /** Clears the record of a name (Tomcat's unlock). */
  unlock(username: string): void {
    this.failedUsers.delete(username);
  }

  /** Number of names with failures on record (for tests and the manager). */
  get size(): number {
    return this.failedUsers.size;
  }

  private registerAuthFailure(username: string): void {
    let record = this.get(username);
    if (!record) {
      record = { failures: 0, lastFailureTime: 0 };
      this.put(username, record);
    } else if (
      record.failures >= this.settings.failureCount &&
      this.secondsSince(record.lastFailureTime) > this.settings.lockOutTime
    ) {
      // Locked out before, but the lock-out has run out: count afresh.
      record.failures = 0;
    }
    record.failures++;
    record.lastFailureTime = this.now();
  }

  /** Whole seconds, as Tomcat's integer division. */
  private secondsSince(time: number): number {
    return Math.floor((this.now() - time) / 1000);
  }

  /** An access-ordered get, as Tomcat's LinkedHashMap(accessOrder = true). */
  private get(username: string): LockRecord | undefined {
    const record = this.failedUsers.get(username);
    if (record) {
      this.failedUsers.delete(username);
      this.failedUsers.set(username, record);
    }
    return record;
  }

  private put(username: string, record: LockRecord): void {
    this.failedUsers.set(username, record);
    if (this.failedUsers.size <= this.settings.cacheSize) return;
    const [eldestName, eldest] = this.failedUsers.entries().next().value as [string, LockRecord];
    this.failedUsers.delete(eldestName);
    const timeInCache = this.secondsSince(eldest.lastFailureTime);
    if (timeInCache < this.settings.cacheRemovalWarningTime) {
      this.log.warn(
        `User [${
          loggableName(eldestName)
        }] was removed from the failed users cache after [${timeInCache}] seconds to keep the cache size within the limit set`,
      );
    }
  }
}
