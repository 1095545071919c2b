/**
 * PersistentManager: Tomcat's TestPersistentManager / TestPersistentManagerDataSourceStore /
 * TestPersistentManagerIntegration cases (backups once per access, idle swap-out, minIdleSwap
 * under maxActiveSessions, least recently used first, bug 62175), and bobcat's guarantees:
 * validation, swap-in with sessionCreated, shared concurrent loads, stop with and without
 * saveOnRestart, no swap-out under a request, and store outages that lose nothing.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  FileStore,
  PersistentManager,
  type PersistentManagerOptions,
  SERVER_STORES,
  SessionNotStoredError,
  type StandardSession,
  type Store,
  type StoreManager,
  StoreUnavailableError,
} from "../../src/session/index.ts";
import { QUEUED_WRITES } from "../../src/session/persistent-manager.ts";
import { BobcatError } from "../../src/util/errors.ts";
import { captureLogs, FakeClock, recorder, scratchDir } from "./helpers.ts";

let clock: FakeClock;
let events: string[];
let logs: ReturnType<typeof captureLogs>;
let work: Awaited<ReturnType<typeof scratchDir>>;

beforeEach(async () => {
  clock = new FakeClock();
  events = [];
  logs = captureLogs();
  work = await scratchDir();
});
afterEach(async () => {
  logs.restore();
  await work.cleanup();
});

/** Tomcat's TesterStore: sessions kept as bytes in a map, with every saved id recorded, and a switch to fail like a database that went down. */
class TesterStore implements Store {
  manager!: StoreManager;
  readonly data = new Map<string, Uint8Array>();
  readonly savedIds: string[] = [];
  loads = 0;
  down = false;
  /** Milliseconds each load takes, to overlap concurrent requests. */
  loadDelay = 0;
  /** While set, saves and removals wait for it (a slow disk or database). */
  gate: Promise<void> | null = null;

  setManager(manager: StoreManager): void {
    this.manager = manager;
  }
  private check(): void {
    if (this.down) throw new StoreUnavailableError("TesterStore: connection refused", new Error("ECONNREFUSED"));
  }
  async load(id: string): Promise<StandardSession | null> {
    this.loads++;
    if (this.loadDelay) await Bun.sleep(this.loadDelay);
    this.check();
    const bytes = this.data.get(id);
    return bytes ? this.manager.deserializeSession(bytes) : null;
  }
  async save(session: StandardSession): Promise<void> {
    this.check();
    const bytes = this.manager.serializeSession(session);
    if (this.gate) await this.gate;
    this.data.set(session.id, bytes);
    this.savedIds.push(session.id);
  }
  async remove(id: string): Promise<void> {
    this.check();
    if (this.gate) await this.gate;
    this.data.delete(id);
  }
  async keys(): Promise<string[]> {
    this.check();
    return [...this.data.keys()];
  }
  async getSize(): Promise<number> {
    return (await this.keys()).length;
  }
  async clear(): Promise<void> {
    this.check();
    this.data.clear();
  }
  async processExpires(): Promise<void> {
    this.check();
  }
  toString(): string {
    return "TesterStore";
  }
}

let store: TesterStore;

async function manager(options: PersistentManagerOptions = {}): Promise<PersistentManager> {
  store = new TesterStore();
  const m = new PersistentManager({ now: clock.now, name: "/Catalina/localhost/app", store, ...options });
  m.addListener(recorder(events));
  await m.start();
  return m;
}

/** One request using the session, taking `ms`. */
function request(m: PersistentManager, s: StandardSession, ms = 0): void {
  m.access(s);
  clock.advance(ms);
  m.endAccess(s);
}

function thrown(fn: () => unknown): BobcatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BobcatError);
    return err as BobcatError;
  }
  throw new Error("expected an error");
}

describe("configuration", () => {
  test("a <Store> is required", () => {
    const err = thrown(() => new PersistentManager({ name: "/Catalina/localhost/app" }));
    expect(err.code).toBe("session.noStore");
    expect(err.message).toContain("PersistentManager /Catalina/localhost/app: a <Store> is required");
    expect(err.where.attribute).toBe("store");
    expect(err.fix).toContain("className: FileStore");
  });

  test("maxIdleSwap must be >= maxIdleBackup, and minIdleSwap < maxIdleSwap", () => {
    const swap = thrown(() => new PersistentManager({ store: new TesterStore(), maxIdleBackup: 60, maxIdleSwap: 30 }));
    expect(swap.code).toBe("session.badAttribute");
    expect(swap.where.attribute).toBe("maxIdleSwap");
    expect(swap.message).toContain("attribute [maxIdleSwap] [30] is less than maxIdleBackup [60]");
    const min = thrown(() => new PersistentManager({ store: new TesterStore(), maxIdleSwap: 30, minIdleSwap: 30 }));
    expect(min.where.attribute).toBe("minIdleSwap");
    expect(min.message).toContain("[30] must be less than maxIdleSwap [30]");
    // Disabled (-1) features are not compared.
    new PersistentManager({ store: new TesterStore(), maxIdleBackup: 60, maxIdleSwap: -1, minIdleSwap: 10 });
    new PersistentManager({ store: new TesterStore(), maxIdleBackup: 0, maxIdleSwap: 0 });
  });

  test("attributes are checked like StandardManager's", () => {
    expect(
      thrown(() => new PersistentManager({ store: new TesterStore(), maxIdleBackup: "zero" as unknown as number }))
        .message,
    )
      .toContain("Manager maxIdleBackup must be a whole number");
    expect(
      thrown(() => new PersistentManager({ store: new TesterStore(), pathname: "x" } as PersistentManagerOptions))
        .message,
    )
      .toContain('"pathname" belongs to StandardManager, not to PersistentManager');
    expect(
      thrown(() => new PersistentManager({ store: new TesterStore(), className: "StandardManager" })).where.attribute,
    ).toBe("className");
    new PersistentManager({ store: new TesterStore(), className: "org.apache.catalina.session.PersistentManager" });
  });

  test("a store given as attributes is built with the context's work directory", async () => {
    const m = new PersistentManager({
      workDir: work.dir,
      stores: SERVER_STORES,
      store: { className: "FileStore", directory: "sessions" },
    });
    expect(m.store).toBeInstanceOf(FileStore);
    expect((m.store as FileStore).directory).toBe(join(work.dir, "sessions"));
    expect(m.hasStore).toBe(true);
    const bad = thrown(() => new PersistentManager({ workDir: work.dir, store: { className: "NoSuchStore" } }));
    expect(bad.code).toBe("session.noStoreClass");
    expect(thrown(() => new PersistentManager({ store: { className: "FileStore", dirctory: "x" } as never })).message)
      .toContain('unknown attribute "dirctory" on Store');
  });

  test("start loads nothing: sessions come back when a request names them", async () => {
    const a = await manager({ workDir: work.dir });
    const s = a.createSession();
    s.setAttribute("k", "v");
    await a.stop();
    const b = new PersistentManager({ now: clock.now, store });
    await b.start();
    expect(b.getStats().activeSessions).toBe(0);
    expect(store.loads).toBe(0);
    expect((await b.findSession(s.id))?.getAttribute("k")).toBe("v");
  });
});

describe("persistence checks (Tomcat's tests)", () => {
  test("maxIdleBackup 0: written once per access, kept in memory, removed from the store on expiry", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const s = m.createSession();
    request(m, s, 5);
    const lastAccessed = s.lastAccessedTimeInternal;
    clock.advance(10);
    await m.processPersistenceChecks();
    expect(store.savedIds).toEqual([s.id]);
    expect(s.lastAccessedTimeInternal).toBe(lastAccessed);
    expect(m.getStats().activeSessions).toBe(1);
    clock.advance(10);
    await m.processPersistenceChecks();
    expect(store.savedIds).toEqual([s.id]);
    request(m, s);
    await m.processPersistenceChecks();
    expect(store.savedIds).toEqual([s.id, s.id]);
    await m.processPersistenceChecks();
    expect(store.savedIds).toEqual([s.id, s.id]);
    expect((await store.load(s.id))?.id).toBe(s.id);
    s.expire();
    await m.whenStoreIdle();
    expect(await store.getSize()).toBe(0);
  });

  test("maxIdleBackup 0: two requests ending in the same millisecond are both written", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const s = m.createSession();
    request(m, s);
    await m.processPersistenceChecks();
    const writes = store.savedIds.length;
    // No clock advance: the second request ends in the same millisecond as the first.
    m.access(s);
    s.setAttribute("n", 2);
    m.endAccess(s);
    await m.processPersistenceChecks();
    await m.whenStoreIdle();
    expect(store.savedIds.length).toBe(writes + 1);
  });

  test("maxIdleBackup waits for the idle time", async () => {
    const m = await manager({ maxIdleBackup: 30 });
    const s = m.createSession();
    clock.advanceSeconds(29);
    await m.processPersistenceChecks();
    expect(store.savedIds).toEqual([]);
    clock.advanceSeconds(1);
    await m.processPersistenceChecks();
    expect(store.savedIds).toEqual([s.id]);
  });

  test("maxIdleSwap: idle sessions are written and leave memory; a request swaps them back in with sessionCreated", async () => {
    const m = await manager({ maxIdleSwap: 60 });
    const s = m.createSession();
    const activation: string[] = [];
    s.setAttribute("cart", { items: 2 });
    s.setAttribute("probe", { sessionWillPassivate: () => activation.push("passivate") });
    request(m, s);
    clock.advanceSeconds(59);
    await m.processPersistenceChecks();
    expect(m.isLoaded(s.id)).toBe(true);
    clock.advanceSeconds(1);
    await m.processPersistenceChecks();
    expect(activation).toEqual(["passivate"]);
    expect(m.isLoaded(s.id)).toBe(false);
    expect(m.getStats()).toMatchObject({ activeSessions: 0, expiredSessions: 0 });
    expect(events).toEqual([`created:${s.id}`, "added:cart=[object Object]", "added:probe=[object Object]"]);
    expect(await m.getActiveSessionsFull()).toBe(1);

    events.length = 0;
    const back = (await m.findSession(s.id))!;
    expect(back).not.toBe(s);
    expect(back.getAttribute("cart")).toEqual({ items: 2 });
    // The function-valued probe could not be written; the rest of the session came back.
    expect(back.getAttribute("probe")).toBeUndefined();
    expect(events).toEqual([`created:${s.id}`]);
    expect(m.isLoaded(s.id)).toBe(true);
    // The stored copy is not deleted on swap-in (Tomcat).
    expect(store.data.has(s.id)).toBe(true);
  });

  test("testMinIdleSwap: over maxActiveSessions, idle sessions are swapped out to make room", async () => {
    const m = await manager({ maxActiveSessions: 2, minIdleSwap: 0 });
    m.createSession();
    m.createSession();
    await m.processPersistenceChecks();
    expect(m.getStats().activeSessions).toBe(1);
    expect(await m.getActiveSessionsFull()).toBe(2);
    m.createSession();
    expect(m.getStats().activeSessions).toBe(2);
    expect(await m.getActiveSessionsFull()).toBe(3);
  });

  test("testMaxActiveSwapUsesLeastRecentlyUsed", async () => {
    const m = await manager({ maxActiveSessions: 3, minIdleSwap: 0 });
    const newest = m.createSession("newest");
    const middle = m.createSession("middle");
    const oldest = m.createSession("oldest");
    request(m, oldest);
    clock.advanceSeconds(10);
    request(m, middle);
    clock.advanceSeconds(10);
    request(m, newest);
    clock.advanceSeconds(10);
    await m.processPersistenceChecks();
    expect(store.savedIds).toEqual(["oldest"]);
  });

  test("minIdleSwap: sessions used more recently than minIdleSwap stay, even over the limit", async () => {
    const m = await manager({ maxActiveSessions: 3, minIdleSwap: 30, maxIdleSwap: 600 });
    m.createSession();
    m.createSession();
    m.createSession();
    clock.advanceSeconds(29);
    await m.processPersistenceChecks();
    expect(m.getStats().activeSessions).toBe(3);
    clock.advanceSeconds(1);
    await m.processPersistenceChecks();
    expect(m.getStats().activeSessions).toBe(2);
  });

  test("testBug62175: a timed-out stored session is expired once, even when a listener looks it up again", async () => {
    const m = await manager();
    const s = m.createSession("invalidSession");
    s.maxInactiveInterval = 1;
    await store.save(s);
    m.removeSession(s, false);
    let destroyed = 0;
    m.addListener({
      sessionDestroyed: () => {
        destroyed++;
        void m.findSession("invalidSession");
      },
    });
    clock.advanceSeconds(2);
    expect(await m.findSession("invalidSession")).toBeNull();
    expect(destroyed).toBe(1);
    await m.whenStoreIdle();
    expect(store.data.has("invalidSession")).toBe(false);
    expect(logs.matching(/Swapped session \[invalidSession\] had expired/)).toHaveLength(1);
  });

  test("a stored session with the invalid flag is removed without events", async () => {
    const m = await manager();
    const s = m.createSession("gone");
    s.setValid(false);
    await store.save(s);
    m.removeSession(s, false);
    events.length = 0;
    expect(await m.findSession("gone")).toBeNull();
    expect(events).toEqual([]);
    await m.whenStoreIdle();
    expect(store.data.has("gone")).toBe(false);
    expect(logs.matching(/Swapped session \[gone\] is invalid/)[0]?.level).toBe("error");
  });
});

describe("swap-in and requests", () => {
  test("concurrent requests for one swapped-out id share one load and one session", async () => {
    const m = await manager({ maxIdleSwap: 0 });
    const s = m.createSession();
    await m.processPersistenceChecks();
    expect(m.isLoaded(s.id)).toBe(false);
    store.loadDelay = 20;
    events.length = 0;
    const found = await Promise.all([m.findSession(s.id), m.findSession(s.id), m.findSession(s.id)]);
    expect(found[0]).not.toBeNull();
    expect(found[1]).toBe(found[0]);
    expect(found[2]).toBe(found[0]);
    expect(store.loads).toBe(1);
    expect(events).toEqual([`created:${s.id}`]);
  });

  test("a session used by a request in flight is not swapped out, whatever sessionActivityCheck says", async () => {
    const m = await manager({ maxIdleSwap: 0, sessionActivityCheck: false });
    const s = m.createSession();
    m.access(s);
    clock.advanceSeconds(5);
    await m.processPersistenceChecks();
    expect(m.isLoaded(s.id)).toBe(true);
    m.endAccess(s);
    await m.processPersistenceChecks();
    expect(m.isLoaded(s.id)).toBe(false);
  });

  test("a request that comes and goes while the session is being written keeps it in memory", async () => {
    const m = await manager({ maxIdleSwap: 0 });
    const s = m.createSession();
    const save = store.save.bind(store);
    store.save = async (session) => {
      await Bun.sleep(10);
      return save(session);
    };
    const checks = m.processPersistenceChecks();
    await Bun.sleep(1);
    request(m, s);
    s.setAttribute("late", true);
    await checks;
    expect(m.isLoaded(s.id)).toBe(true);
    expect((await m.findSession(s.id))?.getAttribute("late")).toBe(true);
  });

  test("changeSessionId removes the copy stored under the old id, so the old id cannot swap the session back in", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const s = m.createSession();
    const oldId = s.id;
    await m.processPersistenceChecks();
    expect(store.data.has(oldId)).toBe(true);
    const newId = m.changeSessionId(s);
    expect(await m.findSession(oldId)).toBeNull();
    await m.whenStoreIdle();
    expect(store.data.has(oldId)).toBe(false);
    await m.processPersistenceChecks();
    expect(store.data.has(newId)).toBe(true);
  });

  test("invalidate() removes the stored copy; the id is dead at once", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const s = m.createSession();
    await m.processPersistenceChecks();
    s.invalidate();
    expect(await m.findSession(s.id)).toBeNull();
    await m.whenStoreIdle();
    expect(store.data.size).toBe(0);
  });
});

describe("stop", () => {
  test("saveOnRestart (default): every session is written and dropped, without destroy events", async () => {
    const m = await manager();
    const a = m.createSession();
    const b = m.createSession();
    events.length = 0;
    await m.stop();
    expect(events).toEqual([]);
    expect([...store.data.keys()].sort()).toEqual([a.id, b.id].sort());
    expect(m.getStats().activeSessions).toBe(0);
  });

  test("saveOnRestart false: every session is expired with events, and their stored copies removed", async () => {
    const m = await manager({ saveOnRestart: false, maxIdleBackup: 0 });
    const a = m.createSession();
    await m.processPersistenceChecks();
    expect(store.data.has(a.id)).toBe(true);
    events.length = 0;
    await m.stop();
    expect(events).toEqual([`destroyed:${a.id}`]);
    expect(store.data.size).toBe(0);
  });
});

describe("store sweep", () => {
  test("stored sessions that timed out are expired (listeners fire) and removed; never-expiring ones stay", async () => {
    const m = new PersistentManager({
      now: clock.now,
      workDir: work.dir,
      maxIdleSwap: 0,
      stores: SERVER_STORES,
      store: { className: "FileStore" },
    });
    m.addListener(recorder(events));
    await m.start();
    const old = m.createSession();
    old.maxInactiveInterval = 60;
    const forever = m.createSession();
    forever.maxInactiveInterval = -1;
    await m.processPersistenceChecks();
    expect((await readdir(work.dir)).sort()).toEqual([`${old.id}.session`, `${forever.id}.session`].sort());
    events.length = 0;
    clock.advanceSeconds(61);
    await m.processExpires();
    expect(events).toEqual([`destroyed:${old.id}`]);
    expect(await readdir(work.dir)).toEqual([`${forever.id}.session`]);
    expect(m.getStats().expiredSessions).toBe(1);
  });

  test("the engine's background ticks run the sweep every processExpiresFrequency-th call", async () => {
    const m = await manager({ maxIdleBackup: 0, processExpiresFrequency: 3 });
    m.createSession();
    await m.backgroundProcess();
    await m.backgroundProcess();
    expect(store.savedIds).toHaveLength(0);
    await m.backgroundProcess();
    expect(store.savedIds).toHaveLength(1);
  });
});

describe("store outages", () => {
  test("while the store is down, sessions in memory keep working, nothing is deleted, and the backlog is written when it returns", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const kept = m.createSession();
    const ended = m.createSession();
    await m.processPersistenceChecks();
    expect(store.data.size).toBe(2);

    store.down = true;
    request(m, kept, 5);
    kept.setAttribute("during", "outage");
    const fresh = m.createSession();
    ended.invalidate();
    await m.processPersistenceChecks();
    await m.processExpires();
    await m.whenStoreIdle();

    // Served from memory; the dead session stays dead although its stored copy could not be deleted.
    expect(await m.findSession(kept.id)).toBe(kept);
    expect(await m.findSession(fresh.id)).toBe(fresh);
    expect(await m.findSession(ended.id)).toBeNull();
    expect(store.data.has(ended.id)).toBe(true);
    expect(m.pendingWrites).toBeGreaterThanOrEqual(2);
    const errors = logs.lines.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.line).toMatch(
      /\[\/Catalina\/localhost\/app\] removing session \[[0-9A-F]{32}\] failed: TesterStore: connection refused/,
    );
    expect(errors[0]!.line).toContain("Sessions in memory keep working");

    // A swapped-out session cannot be read meanwhile: no session, as in Tomcat, and nothing removed.
    expect(await m.findSession("SWAPPED")).toBeNull();

    store.down = false;
    await m.backgroundProcess();
    expect(m.pendingWrites).toBe(0);
    expect(store.data.has(ended.id)).toBe(false);
    expect(store.data.has(fresh.id)).toBe(true);
    expect((await store.load(kept.id))!.getAttribute("during")).toBe("outage");
    expect(logs.matching(/TesterStore is available again/)).toHaveLength(1);
    expect(logs.matching(/wrote \d+ pending write\(s\) to TesterStore/)).toHaveLength(1);
  });

  test("a swap-out that cannot be written leaves the session in memory", async () => {
    const m = await manager({ maxIdleSwap: 0 });
    const s = m.createSession();
    store.down = true;
    await m.processPersistenceChecks();
    expect(m.isLoaded(s.id)).toBe(true);
    expect(await m.findSession(s.id)).toBe(s);
    store.down = false;
    await m.processPersistenceChecks();
    expect(m.isLoaded(s.id)).toBe(false);
  });

  test("the backlog is bounded: the oldest pending write goes first, with an error", async () => {
    const m = await manager({ storeBacklogLimit: 2 });
    const sessions = [m.createSession(), m.createSession(), m.createSession()];
    store.down = true;
    for (const s of sessions) s.invalidate();
    await m.whenStoreIdle();
    expect(m.pendingWrites).toBe(2);
    expect(logs.matching(new RegExp(`the pending remove of session \\[${sessions[0]!.id}\\] was dropped`)))
      .toHaveLength(1);
  });

  test("a stop while the store is down keeps the earlier copies and says how many sessions were lost", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const s = m.createSession();
    await m.processPersistenceChecks();
    const before = store.data.get(s.id);
    store.down = true;
    request(m, s);
    events.length = 0;
    await m.stop();
    expect(store.data.get(s.id)).toBe(before!);
    expect(events).toEqual([]);
    expect(
      logs.matching(
        /1 session\(s\) could not be written to TesterStore and are lost; copies written earlier stay in the store/,
      ),
    ).toHaveLength(1);
  });

  test("an unreadable stored session is reported, not treated as an outage", async () => {
    const m = new PersistentManager({
      now: clock.now,
      workDir: work.dir,
      stores: SERVER_STORES,
      store: { className: "FileStore" },
    });
    await m.start();
    await writeFile(join(work.dir, "BROKEN.session"), "not a session");
    expect(await m.findSession("BROKEN")).toBeNull();
    const line = logs.matching(/loading session \[BROKEN\] failed/)[0]!;
    expect(line.level).toBe("error");
    expect(line.line).toContain("is damaged");
    expect(line.line).not.toContain("Sessions in memory keep working");
    expect((await readdir(work.dir)).some((n) => n.startsWith("BROKEN.session.corrupt-"))).toBe(true);
  });
});

describe("lifecycle", () => {
  test("no session is swapped in once the manager stops, so a late request cannot get a stored copy deleted", async () => {
    const a = await manager({ maxIdleSwap: 0 });
    const s = a.createSession();
    await a.processPersistenceChecks();
    await a.stop();
    expect(await a.findSession(s.id)).toBeNull();
    expect(store.data.has(s.id)).toBe(true);
  });
});

/** A gate the store's writes wait at until open() is called. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Whether `p` has settled after the pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await Bun.sleep(5);
  return done;
}

describe("maxIdleBackup 0: a request's changes are in the store before its response (commit)", () => {
  test("a change is written before commit resolves; a request that only reads writes nothing until the sweep", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const s = m.createSession();
    s.setAttribute("cart", ["apple"]);
    request(m, s, 5);
    const g = gate();
    store.gate = g.promise;
    const commit = m.commit([s])!;
    expect(await settled(commit)).toBe(false);
    g.open();
    await commit;
    expect((await store.load(s.id))!.getAttribute("cart")).toEqual(["apple"]);
    store.gate = null;
    const writes = store.savedIds.length;

    // Only read: nothing to wait for, nothing written.
    request(m, s, 5);
    expect(m.commit([s])).toBeUndefined();
    expect(store.savedIds.length).toBe(writes);
    // A value changed in place counts as a change.
    s.getAttribute<string[]>("cart")!.push("pear");
    request(m, s, 5);
    await m.commit([s]);
    expect((await store.load(s.id))!.getAttribute("cart")).toEqual(["apple", "pear"]);
    expect(store.savedIds.length).toBe(writes + 1);
    // So does the timeout.
    s.maxInactiveInterval = 60;
    request(m, s, 5);
    await m.commit([s]);
    expect((await store.load(s.id))!.maxInactiveInterval).toBe(60);
    // The access time of a read reaches the store with the next sweep.
    request(m, s, 5);
    expect(m.commit([s])).toBeUndefined();
    await m.processPersistenceChecks();
    expect((await store.load(s.id))!.lastAccessedTimeInternal).toBe(s.lastAccessedTimeInternal);
  });

  test("requests that end while a write runs share the next write, and each waits for the one holding its change", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const s = m.createSession();
    const g = gate();
    store.gate = g.promise;
    const first = m.commit([s])!;
    s.setAttribute("a", 1);
    const second = m.commit([s])!;
    s.setAttribute("b", 2);
    const third = m.commit([s])!;
    // Nothing changed since the third: the fourth waits for the same write.
    const fourth = m.commit([s])!;
    for (const c of [first, second, third, fourth]) expect(await settled(c)).toBe(false);
    g.open();
    await Promise.all([first, second, third, fourth]);
    // The first write, and one for the three that queued behind it.
    expect(store.savedIds).toEqual([s.id, s.id]);
    const stored = (await store.load(s.id))!;
    expect([stored.getAttribute("a"), stored.getAttribute("b")]).toEqual([1, 2]);
  });

  test("invalidation and a new id are durable before commit resolves", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const ended = m.createSession();
    const renamed = m.createSession();
    await m.commit([ended, renamed]);
    expect(store.data.size).toBe(2);
    const oldId = renamed.id;
    const g = gate();
    store.gate = g.promise;
    ended.invalidate();
    m.changeSessionId(renamed);
    const commit = m.commit([ended, renamed])!;
    expect(await settled(commit)).toBe(false);
    g.open();
    await commit;
    expect([...store.data.keys()]).toEqual([renamed.id]);
    expect(store.data.has(oldId)).toBe(false);
  });

  test("a write that fails rejects the commit (the response must not acknowledge it) and is retried from the backlog", async () => {
    const m = await manager({ maxIdleBackup: 0 });
    const s = m.createSession();
    await m.commit([s]);
    store.down = true;
    s.setAttribute("k", "v");
    const err = await m.commit([s])!.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SessionNotStoredError);
    expect((err as Error).message).toContain(
      `The change to session [${s.id}] could not be made durable: TesterStore: connection refused`,
    );
    expect(m.pendingWrites).toBe(1);
    // The change is still not in the store: the next request's commit writes it again.
    store.down = false;
    await m.commit([s]);
    expect((await store.load(s.id))!.getAttribute("k")).toBe("v");
    await m.backgroundProcess();
    expect(m.pendingWrites).toBe(0);
  });

  test("other maxIdleBackup values write nothing at the end of a request", async () => {
    const m = await manager({ maxIdleBackup: 1 });
    const s = m.createSession();
    s.setAttribute("k", "v");
    request(m, s, 5);
    expect(m.commit([s])).toBeUndefined();
    await m.whenStoreIdle();
    expect(store.savedIds).toEqual([]);
  });
});

describe("background writes are bounded", () => {
  test(`past ${QUEUED_WRITES} removals in flight, a request's commit waits for room`, async () => {
    const m = await manager({ maxIdleBackup: -1 });
    const sessions = Array.from({ length: QUEUED_WRITES }, () => m.createSession());
    const s = m.createSession();
    const g = gate();
    store.gate = g.promise;
    for (const x of sessions.slice(1)) x.invalidate();
    // One short of the bound: no wait.
    expect(m.commit([s])).toBeUndefined();
    sessions[0]!.invalidate();
    const commit = m.commit([s])!;
    expect(commit).toBeInstanceOf(Promise);
    expect(await settled(commit)).toBe(false);
    g.open();
    await commit;
    await m.whenStoreIdle();
    expect(m.commit([s])).toBeUndefined();
  });
});
