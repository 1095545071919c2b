/**
 * The statistics Tomcat's Manager exposes over JMX, with ManagerBase's definitions:
 * rates and the average alive time look at the last 100 creations / expirations only.
 */

const TIMING_CACHE_SIZE = 100;
/** Java's Integer.MAX_VALUE, which Tomcat reports when every recorded event happened "now". */
const INT_MAX = 2147483647;

export interface ManagerStats {
  /** Sessions in memory now. */
  activeSessions: number;
  /** The configured limit (-1 = none). */
  maxActiveSessions: number;
  /** High-water mark of activeSessions since start. */
  maxActive: number;
  /** activeSessions + expiredSessions (computed, as in Tomcat 11). */
  sessionCounter: number;
  /** Every expiry, including invalidate() and the silent expiry after a persisting stop. */
  expiredSessions: number;
  /** createSession calls refused because of maxActiveSessions. */
  rejectedSessions: number;
  /** Seconds, the longest any expired session lived. */
  sessionMaxAliveTime: number;
  /** Seconds, average over the last 100 expired sessions. */
  sessionAverageAliveTime: number;
  /** Sessions per minute over the last 100 creations. */
  sessionCreateRate: number;
  /** Sessions per minute over the last 100 expirations. */
  sessionExpireRate: number;
  /** Generated ids that collided with a live session and were drawn again (Tomcat 9's meaning). */
  duplicates: number;
  /** Milliseconds spent in expiry sweeps. */
  processingTime: number;
}

/** The last TIMING_CACHE_SIZE events, in a fixed ring: recording one allocates nothing. */
class TimingRing {
  readonly timestamps = new Float64Array(TIMING_CACHE_SIZE);
  /** Seconds alive, for expirations. */
  readonly durations = new Float64Array(TIMING_CACHE_SIZE);
  length = 0;
  private next = 0;

  push(timestamp: number, duration: number): void {
    this.timestamps[this.next] = timestamp;
    this.durations[this.next] = duration;
    this.next = (this.next + 1) % TIMING_CACHE_SIZE;
    if (this.length < TIMING_CACHE_SIZE) this.length++;
  }
}

export class SessionStatistics {
  maxActive = 0;
  expiredSessions = 0;
  rejectedSessions = 0;
  sessionMaxAliveTime = 0;
  duplicates = 0;
  processingTime = 0;
  private readonly created = new TimingRing();
  private readonly expired = new TimingRing();

  recordCreated(now: number): void {
    this.created.push(now, 0);
  }

  recordExpired(now: number, creationTime: number): void {
    const alive = Math.trunc((now - creationTime) / 1000);
    if (alive > this.sessionMaxAliveTime) this.sessionMaxAliveTime = alive;
    this.expiredSessions++;
    this.expired.push(now, alive);
  }

  /**
   * recordExpired for many sessions at one `now`, given their creation times in turn (the silent
   * expiry after a persisting stop): only the last TIMING_CACHE_SIZE go into the ring.
   */
  recordExpiredMany(now: number, count: number, forEachCreated: (each: (creationTime: number) => void) => void): void {
    let oldest = now;
    forEachCreated((t) => {
      if (t < oldest) oldest = t;
    });
    const alive = Math.trunc((now - oldest) / 1000);
    if (count > 0 && alive > this.sessionMaxAliveTime) this.sessionMaxAliveTime = alive;
    this.expiredSessions += count;
    let skip = count - TIMING_CACHE_SIZE;
    forEachCreated((t) => {
      if (skip-- <= 0) this.expired.push(now, Math.trunc((now - t) / 1000));
    });
  }

  recordActive(active: number): void {
    if (active > this.maxActive) this.maxActive = active;
  }

  snapshot(now: number, activeSessions: number, maxActiveSessions: number): ManagerStats {
    let alive = 0;
    for (let i = 0; i < this.expired.length; i++) alive += this.expired.durations[i]!;
    return {
      activeSessions,
      maxActiveSessions,
      maxActive: this.maxActive,
      sessionCounter: activeSessions + this.expiredSessions,
      expiredSessions: this.expiredSessions,
      rejectedSessions: this.rejectedSessions,
      sessionMaxAliveTime: this.sessionMaxAliveTime,
      sessionAverageAliveTime: this.expired.length ? Math.trunc(alive / this.expired.length) : 0,
      sessionCreateRate: rate(this.created, now),
      sessionExpireRate: rate(this.expired, now),
      duplicates: this.duplicates,
      processingTime: Math.round(this.processingTime),
    };
  }
}

function rate(ring: TimingRing, now: number): number {
  if (ring.length === 0) return 0;
  let oldest = now;
  for (let i = 0; i < ring.length; i++) oldest = Math.min(oldest, ring.timestamps[i]!);
  return oldest < now ? Math.trunc((60000 * ring.length) / (now - oldest)) : INT_MAX;
}
