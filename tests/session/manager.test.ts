/**
 * ManagerBase / StandardManager without persistence: expiry (lazy and by sweep), the activity
 * check, sessionLastAccessAtStart, maxActiveSessions, statistics, id changes, ids, and options.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { BobcatError } from "../../src/util/errors.ts";
import {
  managerConfig,
  SessionIdGenerator,
  SessionStateError,
  StandardManager,
  type StandardManagerOptions,
  TooManyActiveSessionsError,
} from "../../src/session/index.ts";
import { captureLogs, FakeClock, recorder, Watched } from "./helpers.ts";

let clock: FakeClock;
let events: string[];
let logs: ReturnType<typeof captureLogs>;

beforeEach(() => {
  clock = new FakeClock();
  events = [];
  logs = captureLogs();
});
afterEach(() => logs.restore());

async function manager(options: StandardManagerOptions = {}): Promise<StandardManager> {
  const m = new StandardManager({ now: clock.now, ...options });
  m.addListener(recorder(events));
  await m.start();
  return m;
}

/** One request using the session, taking `ms`. */
function request(m: StandardManager, s: ReturnType<StandardManager["createSession"]>, ms = 0): void {
  m.access(s);
  clock.advance(ms);
  m.endAccess(s);
}

describe("expiry", () => {
  test("a session idle for maxInactiveInterval is refused on access and expired with notifications", async () => {
    const m = await manager();
    const s = m.createSession();
    s.maxInactiveInterval = 60;
    s.setAttribute("w", new Watched("W", events));
    request(m, s);
    events.length = 0;
    clock.advance(59_999);
    expect(await m.findSession(s.id)).toBe(s);
    clock.advance(1);
    expect(await m.findSession(s.id)).toBeNull();
    expect(events).toEqual([`destroyed:${s.id}`, "unbound:w:W", "removed:w=W"]);
    expect(m.getStats()).toMatchObject({ activeSessions: 0, expiredSessions: 1, sessionCounter: 1 });
  });

  test("maxInactiveInterval <= 0 never expires", async () => {
    const m = await manager({ sessionTimeoutMinutes: 0 });
    const a = m.createSession();
    const b = m.createSession();
    b.maxInactiveInterval = -1;
    clock.advanceSeconds(10 * 365 * 24 * 3600);
    await m.processExpires();
    expect(await m.findSession(a.id)).toBe(a);
    expect(await m.findSession(b.id)).toBe(b);
  });

  test("each request restarts the idle time; isNew is cleared after the first request", async () => {
    const m = await manager({ sessionTimeoutMinutes: 1 });
    const s = m.createSession();
    expect(s.isNew).toBe(true);
    for (let i = 0; i < 5; i++) {
      clock.advanceSeconds(50);
      const found = await m.findSession(s.id);
      expect(found).toBe(s);
      request(m, found!);
      expect(s.isNew).toBe(false);
      expect(s.lastAccessedTime).toBe(clock.t);
    }
  });

  test("the background sweep runs every processExpiresFrequency-th call", async () => {
    const m = await manager({ processExpiresFrequency: 3, sessionTimeoutMinutes: 1 });
    const s = m.createSession();
    clock.advanceSeconds(61);
    await m.backgroundProcess();
    await m.backgroundProcess();
    expect(m.findSessions()).toEqual([s]);
    expect(events).not.toContain(`destroyed:${s.id}`);
    await m.backgroundProcess();
    expect(m.findSessions()).toEqual([]);
    expect(events).toContain(`destroyed:${s.id}`);
    expect(m.getStats().processingTime).toBeGreaterThanOrEqual(0);
  });

  test("the default frequency is 6 (a 60 s sweep with the engine's 10 s tick)", async () => {
    const m = await manager({ sessionTimeoutMinutes: 1 });
    m.createSession();
    clock.advanceSeconds(61);
    for (let i = 0; i < 5; i++) await m.backgroundProcess();
    expect(m.findSessions()).toHaveLength(1);
    await m.backgroundProcess();
    expect(m.findSessions()).toHaveLength(0);
  });

  test("a sweep whose listener invalidates, creates and renames sessions meanwhile expires each timed-out one once", async () => {
    const m = await manager({ sessionTimeoutMinutes: 1 });
    const [a, b, c, d] = [m.createSession(), m.createSession(), m.createSession(), m.createSession()];
    clock.advanceSeconds(30);
    const live = m.createSession();
    clock.advanceSeconds(31);
    let made: ReturnType<StandardManager["createSession"]> | undefined;
    let renamed = "";
    m.addListener({
      sessionDestroyed: (e) => {
        if (e.session !== a) return;
        c.invalidate(); // timed out too, and not swept yet
        made = m.createSession();
        renamed = m.changeSessionId(live);
      },
    });
    await m.processExpires();
    const destroyed = events.filter((e) => e.startsWith("destroyed:")).sort();
    expect(destroyed).toEqual([a, b, c, d].map((s) => `destroyed:${s.id}`).sort());
    expect(m.getStats()).toMatchObject({ activeSessions: 2, expiredSessions: 4 });
    expect(new Set(m.listSessionIds())).toEqual(new Set([renamed, made!.id]));
    expect(await m.findSession(renamed)).toBe(live);
  });

  test("a sweep expires exactly the timed-out sessions when they are most of a large Map", async () => {
    const m = await manager({ sessionTimeoutMinutes: 1 });
    const old: string[] = [];
    const fresh: string[] = [];
    // Interleaved, three of four timed out: the Map shrinks (and is rehashed) while it is swept.
    for (let i = 0; i < 2_000; i++) {
      const s = m.createSession();
      if (i % 4 === 3) s.maxInactiveInterval = 3600;
      (i % 4 === 3 ? fresh : old).push(s.id);
    }
    clock.advanceSeconds(61);
    await m.processExpires();
    expect(m.getStats()).toMatchObject({ activeSessions: 500, expiredSessions: 1_500 });
    expect(new Set(m.listSessionIds())).toEqual(new Set(fresh));
    expect(events.filter((e) => e.startsWith("destroyed:"))).toHaveLength(1_500);
  });

  test("expiry is counted once even when a sessionDestroyed listener looks the session up again", async () => {
    const m = await manager({ sessionTimeoutMinutes: 1 });
    const s = m.createSession();
    const lookups: unknown[] = [];
    m.addListener({ sessionDestroyed: async (e) => lookups.push(await m.findSession(e.session.id)) });
    clock.advanceSeconds(60);
    expect(await m.findSession(s.id)).toBeNull();
    expect(m.getStats().expiredSessions).toBe(1);
    expect(events.filter((e) => e.startsWith("destroyed"))).toHaveLength(1);
  });
});

describe("sessionActivityCheck", () => {
  test("on: a session with a request in flight never expires", async () => {
    const m = await manager({ sessionActivityCheck: true, sessionTimeoutMinutes: 1 });
    const s = m.createSession();
    m.access(s);
    clock.advanceSeconds(3600);
    await m.processExpires();
    expect(await m.findSession(s.id)).toBe(s);
    expect(s.activeRequests).toBe(1);
    m.endAccess(s);
    expect(s.activeRequests).toBe(0);
    clock.advanceSeconds(60);
    expect(await m.findSession(s.id)).toBeNull();
  });

  test("on: overlapping requests are counted, and the flags are kept apart from the count", async () => {
    const m = await manager({ sessionActivityCheck: true, sessionTimeoutMinutes: 1 });
    const s = m.createSession();
    m.access(s);
    m.access(s);
    m.access(s);
    expect(s.activeRequests).toBe(3);
    expect(s.isNew).toBe(true);
    m.endAccess(s);
    expect(s.activeRequests).toBe(2);
    expect(s.isNew).toBe(false);
    expect(s.isValidInternal()).toBe(true);
    clock.advanceSeconds(3600);
    expect(await m.findSession(s.id)).toBe(s);
    s.invalidate();
    expect(s.activeRequests).toBe(0);
    // Requests that were in flight end after the invalidation: the count stays at zero.
    m.endAccess(s);
    m.endAccess(s);
    expect(s.activeRequests).toBe(0);
    expect(s.isValidInternal()).toBe(false);
  });

  test("off (default): a long request does not protect the session", async () => {
    const m = await manager({ sessionTimeoutMinutes: 1 });
    const s = m.createSession();
    m.access(s);
    clock.advanceSeconds(61);
    expect(await m.findSession(s.id)).toBeNull();
    expect(s.activeRequests).toBe(0);
  });

  test("strictServletCompliance turns on both activity check and last-access-at-start", async () => {
    const m = await manager({ strictServletCompliance: true });
    expect(m.settings.sessionActivityCheck).toBe(true);
    expect(m.settings.sessionLastAccessAtStart).toBe(true);
    const explicit = await manager({ strictServletCompliance: true, sessionActivityCheck: false });
    expect(explicit.settings.sessionActivityCheck).toBe(false);
    const plain = await manager();
    expect(plain.settings.sessionActivityCheck).toBe(false);
    expect(plain.settings.sessionLastAccessAtStart).toBe(false);
  });
});

describe("sessionLastAccessAtStart", () => {
  test("false (default): lastAccessedTime and idle time count from the end of the previous request", async () => {
    const m = await manager({ sessionTimeoutMinutes: 1 });
    const s = m.createSession();
    const start = clock.t;
    request(m, s, 50_000);
    expect(s.lastAccessedTime).toBe(start + 50_000);
    clock.advanceSeconds(59);
    expect(s.idleTimeMs()).toBe(59_000);
    expect(await m.findSession(s.id)).toBe(s);
  });

  test("true: they count from the start of the previous request", async () => {
    const m = await manager({ sessionTimeoutMinutes: 1, sessionLastAccessAtStart: true });
    const s = m.createSession();
    const start = clock.t;
    request(m, s, 50_000);
    expect(s.lastAccessedTime).toBe(start);
    clock.advanceSeconds(10);
    expect(s.idleTimeMs()).toBe(60_000);
    expect(await m.findSession(s.id)).toBeNull();
  });
});

describe("maxActiveSessions", () => {
  test("over the limit: TooManyActiveSessionsError after counting rejectedSessions", async () => {
    const m = await manager({ maxActiveSessions: 2 });
    const a = m.createSession();
    m.createSession();
    let err: unknown;
    try {
      m.createSession();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TooManyActiveSessionsError);
    expect(err).toBeInstanceOf(SessionStateError);
    expect((err as TooManyActiveSessionsError).code).toBe("session.tooManyActive");
    expect((err as Error).message).toBe("createSession: Too many active sessions");
    expect((err as TooManyActiveSessionsError).maxActiveSessions).toBe(2);
    expect((err as TooManyActiveSessionsError).where.attribute).toBe("maxActiveSessions");
    expect(m.getStats()).toMatchObject({ activeSessions: 2, rejectedSessions: 1, maxActiveSessions: 2 });
    a.invalidate();
    expect(() => m.createSession()).not.toThrow();
    expect(m.getStats().rejectedSessions).toBe(1);
  });

  test("0 rejects every session; -1 (default) has no limit", async () => {
    const none = await manager({ maxActiveSessions: 0 });
    expect(() => none.createSession()).toThrow(TooManyActiveSessionsError);
    expect(none.getStats().rejectedSessions).toBe(1);
    const unlimited = await manager();
    for (let i = 0; i < 500; i++) unlimited.createSession();
    expect(unlimited.getStats().activeSessions).toBe(500);
  });
});

describe("statistics (tomcat.md §3.3)", () => {
  test("create, changeSessionId, invalidate: active 0, expired 1, counter 1 (verified on Tomcat)", async () => {
    const m = await manager();
    const s = m.createSession();
    m.changeSessionId(s);
    s.invalidate();
    expect(m.getStats()).toMatchObject({ activeSessions: 0, expiredSessions: 1, sessionCounter: 1 });
  });

  test("maxActive is the high-water mark; alive times are whole seconds", async () => {
    const m = await manager();
    const a = m.createSession();
    const b = m.createSession();
    const c = m.createSession();
    clock.advance(10_900);
    a.invalidate();
    clock.advanceSeconds(10);
    b.invalidate();
    const stats = m.getStats();
    expect(stats.maxActive).toBe(3);
    expect(stats.activeSessions).toBe(1);
    expect(stats.sessionMaxAliveTime).toBe(20);
    expect(stats.sessionAverageAliveTime).toBe(15);
    expect(stats.sessionCounter).toBe(3);
    c.invalidate();
    expect(m.getStats().maxActive).toBe(3);
  });

  test("create and expire rates are per minute over the recorded events; all-now reports Integer.MAX_VALUE", async () => {
    const m = await manager();
    expect(m.getStats()).toMatchObject({ sessionCreateRate: 0, sessionExpireRate: 0 });
    const a = m.createSession();
    expect(m.getStats().sessionCreateRate).toBe(2147483647);
    clock.advanceSeconds(30);
    m.createSession();
    clock.advanceSeconds(30);
    expect(m.getStats().sessionCreateRate).toBe(2);
    a.invalidate();
    clock.advanceSeconds(30);
    expect(m.getStats().sessionExpireRate).toBe(2);
  });

  test("only the last 100 events count", async () => {
    const m = await manager();
    for (let i = 0; i < 150; i++) {
      m.createSession();
      clock.advanceSeconds(60);
    }
    // 100 events, the oldest 100 minutes ago → 60000*100/6000000 = 1 per minute.
    expect(m.getStats().sessionCreateRate).toBe(1);
  });

  test("duplicates counts generated ids that collided with a live session", async () => {
    class Colliding extends StandardManager {
      private readonly ids = ["AAAA", "AAAA", "AAAA", "BBBB"];
      constructor() {
        super({ now: clock.now });
        this.idGenerator.generate = () => this.ids.shift()!;
      }
    }
    const m = new Colliding();
    await m.start();
    const first = m.createSession();
    expect(first.id).toBe("AAAA");
    const second = m.createSession();
    expect(second.id).toBe("BBBB");
    expect(m.getStats().duplicates).toBe(2);
    // The collision left the live session in place.
    expect(await m.findSession("AAAA")).toBe(first);
    expect(await m.findSession("BBBB")).toBe(second);
    expect(m.getStats().activeSessions).toBe(2);
    expect(m.getStats().maxActive).toBe(2);
  });

  test("each manager's sessions report to their own manager (listeners, counts, expiry)", async () => {
    const other: string[] = [];
    const m1 = await manager();
    const m2 = new StandardManager({ now: clock.now });
    m2.addListener(recorder(other));
    await m2.start();
    const a = m1.createSession();
    const b = m2.createSession();
    a.setAttribute("x", 1);
    b.setAttribute("y", 2);
    a.invalidate();
    expect(m1.getStats().activeSessions).toBe(0);
    expect(m1.getStats().expiredSessions).toBe(1);
    expect(m2.getStats().activeSessions).toBe(1);
    expect(other).toEqual([`created:${b.id}`, "added:y=2"]);
    expect(events).toEqual([`created:${a.id}`, "added:x=1", `destroyed:${a.id}`, "removed:x=1"]);
  });
});

describe("changeSessionId", () => {
  test("a new id, same session and attributes, sessionIdChanged told the old id", async () => {
    const m = await manager({ jvmRoute: "node1" });
    const s = m.createSession();
    s.setAttribute("a", 1);
    const oldId = s.id;
    events.length = 0;
    const newId = m.changeSessionId(s);
    expect(newId).not.toBe(oldId);
    expect(newId).toMatch(/^[0-9A-F]{32}\.node1$/);
    expect(s.id).toBe(newId);
    expect(await m.findSession(oldId)).toBeNull();
    expect(await m.findSession(newId)).toBe(s);
    expect(s.getAttribute("a")).toBe(1);
    expect(events).toEqual([`idChanged:${oldId}->${newId}`]);
    expect(m.getStats().activeSessions).toBe(1);
  });

  test("an explicit id (Tomcat's changeSessionId(session, newId)); one in use or an invalid session is refused", async () => {
    const m = await manager();
    const s = m.createSession();
    const other = m.createSession();
    expect(m.changeSessionId(s, "NOTSORANDOMID")).toBe("NOTSORANDOMID");
    expect(m.listSessionIds().sort()).toEqual(["NOTSORANDOMID", other.id].sort());
    expect(() => m.changeSessionId(s, other.id)).toThrow(/already in use/);
    other.invalidate();
    expect(() => m.changeSessionId(other)).toThrow("changeSessionId: Session already invalidated");
    const foreign = (await manager()).createSession();
    expect(() => m.changeSessionId(foreign)).toThrow(/does not belong/);
  });
});

describe("manager operations", () => {
  test("findSession of nothing, expireSession of known and unknown ids", async () => {
    const m = await manager();
    expect(await m.findSession(null)).toBeNull();
    expect(await m.findSession("")).toBeNull();
    expect(await m.findSession("NOPE")).toBeNull();
    const s = m.createSession();
    expect(m.expireSession(s.id)).toBe(true);
    expect(events).toContain(`destroyed:${s.id}`);
    expect(m.expireSession("NOPE")).toBe(false);
    expect(logs.matching(/The session \[NOPE\] was not found/)[0]?.level).toBe("info");
  });

  test("createSession with a client-supplied id uses it, unless it is taken", async () => {
    const m = await manager();
    const s = m.createSession("SHAREDID");
    expect(s.id).toBe("SHAREDID");
    expect(() => m.createSession("SHAREDID")).toThrow(/already in use/);
    expect(() => m.createSession("")).toThrow(/non-empty/);
  });

  test("stop without persistence expires every session with notifications", async () => {
    const m = await manager();
    const s = m.createSession();
    s.setAttribute("w", new Watched("W", events));
    events.length = 0;
    await m.stop();
    expect(events).toEqual([`destroyed:${s.id}`, "unbound:w:W", "removed:w=W"]);
    expect(m.state).toBe("stopped");
    await m.stop();
  });

  test("start twice is a programming error; start after stop is a restart", async () => {
    const m = await manager();
    await expect(m.start()).rejects.toThrow(/already started/);
    await m.stop();
    await m.start();
    expect(m.state).toBe("started");
  });
});

describe("session ids", () => {
  test("default: 16 random bytes as 32 upper-case hex characters, all different", () => {
    const g = new SessionIdGenerator();
    const ids = new Set(Array.from({ length: 2000 }, () => g.generate()));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(/^[0-9A-F]{32}$/);
    // Every hex digit appears: the bytes are really random, not a narrow range.
    expect(new Set([...ids].join("")).size).toBe(16);
  });

  test("sessionIdLength and the Engine's jvmRoute", async () => {
    const m = await manager({ jvmRoute: "node1", sessionIdGenerator: { sessionIdLength: 8 } });
    expect(m.createSession().id).toMatch(/^[0-9A-F]{16}\.node1$/);
    const big = new SessionIdGenerator();
    big.sessionIdLength = 70000;
    expect(big.generate()).toHaveLength(140000);
  });

  test("an id with the jvmRoute is one string as the session map keeps it, whatever the route's characters", async () => {
    const g = new SessionIdGenerator();
    for (const route of ["node1", "nœud-é", "узел→1"]) {
      g.jvmRoute = route;
      const id = g.generate();
      expect(id.slice(0, 32)).toMatch(/^[0-9A-F]{32}$/);
      expect(id.slice(32)).toBe(`.${route}`);
    }
    if (typeof Bun === "undefined") return;
    const { isRope } = await import("bun:jsc");
    // `${id}.${route}` was a rope: the map kept it (a larger cell once hashing flattened it).
    g.jvmRoute = "node1";
    expect(isRope(g.generate())).toBe(false);
  });

  test("a length below 2 is refused by the schema (min 2), as in a config file", () => {
    expect(() => new StandardManager({ sessionIdGenerator: { sessionIdLength: 1 } })).toThrow(/at least 2/);
  });

  test("a jvmRoute set only on <SessionIdGenerator> is replaced by the Engine's, with a warning", async () => {
    const m = await manager({ jvmRoute: "node1", sessionIdGenerator: { jvmRoute: "fromGenerator" } });
    expect(m.createSession().id.endsWith(".node1")).toBe(true);
    expect(logs.matching(/jvmRoute="fromGenerator"> is replaced by the Engine's jvmRoute \[node1\]/)).toHaveLength(1);
  });

  test("secureRandom* are accepted and noted once at start", async () => {
    await manager({ secureRandomAlgorithm: "SHA1PRNG", secureRandomProvider: "SUN" });
    const notes = logs.matching(
      /secureRandomProvider="SUN", secureRandomAlgorithm="SHA1PRNG" accepted for compatibility/,
    );
    expect(notes).toHaveLength(1);
    expect(notes[0]!.level).toBe("info");
    expect(notes[0]!.line).toContain("crypto.getRandomValues");
  });
});

describe("options are checked at construction, by the config schema", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ maxActiveSesions: 5 }, /unknown attribute "maxActiveSesions" on Manager[^]*did you mean "maxActiveSessions"/],
    [{ maxactivesessions: 5 }, /did you mean "maxActiveSessions"/],
    [{ maxIdleSwap: 60 }, /"maxIdleSwap" belongs to PersistentManager, not to StandardManager/],
    [{ store: {} }, /"store" belongs to PersistentManager/],
    [{ sessionIdLength: 8 }, /unknown attribute "sessionIdLength" on Manager/],
    [{ maxActiveSessions: "many" }, /Manager maxActiveSessions must be a whole number, found "many"/],
    [{ maxActiveSessions: 1.5 }, /must be a whole number/],
    [{ sessionActivityCheck: "yes" }, /must be true or false/],
    [{ pathname: {} }, /Manager pathname must be a string/],
    [{ sessionAttributeNameFilter: "(unclosed" }, /sessionAttributeNameFilter must be a valid regular expression/],
    [{ className: "org.apache.catalina.session.PersistentManager" }, /which StandardManager does not implement/],
    [{ pathname: "SESSIONS.ser" }, /\[pathname\] \[SESSIONS.ser\] is relative but the context has no work directory/],
    [{ jvmRoute: "node 1;x" }, /cannot appear in a session cookie/],
    [
      { sessionIdGenerator: { sessionIdLenght: 8 } },
      /unknown attribute "sessionIdLenght" on SessionIdGenerator[^]*did you mean "sessionIdLength"/,
    ],
    [{ sessionIdGenerator: { className: "com.example.MyGenerator" } }, /must be one of StandardSessionIdGenerator/],
    [{ sessionIdGenerator: { sessionIdLength: 1 } }, /SessionIdGenerator sessionIdLength must be at least 2/],
    [{ processExpiresFrequency: 0 }, /Manager processExpiresFrequency must be at least 1/],
  ];
  for (const [options, message] of bad) {
    test(JSON.stringify(options), () => {
      let err: unknown;
      try {
        new StandardManager(options as StandardManagerOptions);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BobcatError);
      expect((err as BobcatError).format()).toMatch(message);
    });
  }

  test("errors name the attribute and the manager", () => {
    try {
      new StandardManager(
        { name: "/Catalina/localhost/shop", maxActiveSessions: "x" } as unknown as StandardManagerOptions,
      );
    } catch (e) {
      const err = e as BobcatError;
      expect(err.where.attribute).toBe("maxActiveSessions");
      expect(err.message).toContain("StandardManager /Catalina/localhost/shop");
      return;
    }
    throw new Error("expected an error");
  });

  test("Tomcat's class names, short and long, are accepted", () => {
    expect(() => new StandardManager({ className: "StandardManager" })).not.toThrow();
    expect(() => new StandardManager({ className: "org.apache.catalina.session.StandardManager" })).not.toThrow();
    expect(() =>
      new StandardManager({ sessionIdGenerator: { className: "org.apache.catalina.util.StandardSessionIdGenerator" } })
    ).not.toThrow();
  });

  test("values are read as a config file's are: numbers and booleans may be strings", () => {
    const m = new StandardManager({ maxActiveSessions: "100", sessionActivityCheck: "true" } as never);
    expect(m.config.maxActiveSessions).toBe(100);
    expect(m.settings.sessionActivityCheck).toBe(true);
  });

  test("defaults (the schema's)", () => {
    const m = new StandardManager();
    expect(m.config).toEqual(managerConfig());
    expect(m.config).toMatchObject({
      className: "StandardManager",
      maxActiveSessions: -1,
      notifyAttributeListenerOnUnchangedValue: true,
      notifyBindingListenerOnUnchangedValue: false,
      processExpiresFrequency: 6,
      persistAuthentication: false,
      warnOnSessionAttributeFilterFailure: false,
      sessionIdGenerator: { className: "StandardSessionIdGenerator", sessionIdLength: 16 },
    });
    expect(m.config.pathname).toBeUndefined();
    expect(m.settings).toMatchObject({
      sessionActivityCheck: false,
      sessionLastAccessAtStart: false,
      sessionAttributeNameFilter: null,
      sessionAttributeValueClassNameFilter: null,
      sessionTimeoutMinutes: 30,
      distributable: false,
      jvmRoute: null,
    });
    expect(new StandardManager().persistenceFile).toBeNull();
    expect(new StandardManager({ pathname: "" }).persistenceFile).toBeNull();
  });
});
