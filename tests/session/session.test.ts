/**
 * StandardSession behaviour: the HttpSession API, invalidated-session errors, and the exact event
 * order of Tomcat's StandardSession.setAttribute / removeAttribute / expire, including the
 * race cases of Tomcat's TestStandardSession, reproduced through re-entrant listeners.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  type HttpSession,
  Serializer,
  SessionArgumentError,
  SessionStateError,
  StandardManager,
  type StandardManagerOptions,
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

describe("HttpSession", () => {
  test("a new session: id, times, isNew, timeout from the context", async () => {
    const m = await manager({ sessionTimeoutMinutes: 20 });
    const s = m.createSession();
    expect(s.id).toMatch(/^[0-9A-F]{32}$/);
    expect(s.creationTime).toBe(clock.t);
    expect(s.lastAccessedTime).toBe(clock.t);
    expect(s.isNew).toBe(true);
    expect(s.maxInactiveInterval).toBe(1200);
    expect(events).toEqual([`created:${s.id}`]);
  });

  test("attributes: get, set, replace, names, the attributeNames alias, remove", async () => {
    const s = (await manager()).createSession();
    expect(s.getAttribute("a")).toBeUndefined();
    s.setAttribute("a", 1);
    s.setAttribute("b", { deep: [1] });
    s.setAttribute("a", 2);
    expect(s.getAttribute<number>("a")).toBe(2);
    expect(s.getAttributeNames().sort()).toEqual(["a", "b"]);
    expect(s.attributeNames.sort()).toEqual(["a", "b"]);
    s.removeAttribute("b");
    s.removeAttribute("never-set");
    expect(s.attributeNames).toEqual(["a"]);
  });

  test("attributes through every storage size (fields, flat array, Map) match a Map, in order", async () => {
    const m = await manager();
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    for (let round = 0; round < 40; round++) {
      const s = m.createSession();
      const model = new Map<string, unknown>();
      const size = 1 + random(14);
      for (let step = 0; step < 60; step++) {
        const name = `k${random(size)}`;
        const op = random(4);
        if (op === 0) {
          s.removeAttribute(name);
          model.delete(name);
        } else {
          const value = { step };
          s.setAttribute(name, value);
          model.set(name, value);
        }
        expect(s.getAttributeNames()).toEqual([...model.keys()]);
        for (let k = 0; k < size; k++) expect(s.getAttribute(`k${k}`)).toBe(model.get(`k${k}`));
        expect(s.attributeCount).toBe(model.size);
        expect(s.attributeEntries()).toEqual([...model.entries()]);
      }
      // The stored form carries the same attributes back.
      const back = m.deserializeSession(m.serializeSession(s));
      expect(back.attributeEntries()).toEqual([...model.entries()].map(([k, v]) => [k, { ...v as object }]));
    }
  });

  test("removing the first of two attributes keeps the second, and both slots are reused", async () => {
    const s = (await manager()).createSession();
    s.setAttribute("a", 1);
    s.setAttribute("b", 2);
    s.removeAttribute("a");
    expect(s.getAttributeNames()).toEqual(["b"]);
    expect(s.getAttribute("a")).toBeUndefined();
    expect(s.getAttribute("b")).toBe(2);
    s.setAttribute("c", 3);
    s.setAttribute("d", 4);
    expect(s.getAttributeNames()).toEqual(["b", "c", "d"]);
    s.removeAttribute("b");
    s.removeAttribute("c");
    s.removeAttribute("d");
    expect(s.getAttributeNames()).toEqual([]);
    s.setAttribute("e", 5);
    expect(s.getAttributeNames()).toEqual(["e"]);
    expect(events.filter((e) => e.startsWith("removed:"))).toEqual([
      "removed:a=1",
      "removed:b=2",
      "removed:c=3",
      "removed:d=4",
    ]);
  });

  test("setAttribute with undefined or null is removeAttribute, as Tomcat treats null", async () => {
    const s = (await manager()).createSession();
    s.setAttribute("a", "x");
    s.setAttribute("b", "y");
    events.length = 0;
    s.setAttribute("a", undefined);
    s.setAttribute("b", null);
    s.setAttribute("c", null);
    expect(s.attributeNames).toEqual([]);
    expect(events).toEqual(["removed:a=x", "removed:b=y"]);
  });

  test("a non-string name is refused like Tomcat's null name", async () => {
    const s = (await manager()).createSession();
    expect(() => s.setAttribute(null as unknown as string, 1)).toThrow("setAttribute: name parameter cannot be null");
    expect(() => s.setAttribute(undefined as unknown as string, 1)).toThrow(SessionArgumentError);
  });

  test("falsy values other than null/undefined are kept", async () => {
    const s = (await manager()).createSession();
    for (const [k, v] of [["zero", 0], ["empty", ""], ["no", false], ["nan", NaN]] as const) s.setAttribute(k, v);
    expect(s.attributeNames).toEqual(["zero", "empty", "no", "nan"]);
    expect(s.getAttribute("no")).toBe(false);
  });

  test("maxInactiveInterval takes whole seconds and refuses non-numbers", async () => {
    const s = (await manager()).createSession();
    s.maxInactiveInterval = 90.7;
    expect(s.maxInactiveInterval).toBe(90);
    s.maxInactiveInterval = -1;
    expect(s.maxInactiveInterval).toBe(-1);
    expect(() => (s.maxInactiveInterval = Number.NaN)).toThrow(SessionArgumentError);
    expect(() => (s.maxInactiveInterval = "60" as unknown as number)).toThrow(SessionArgumentError);
  });

  test("the principal is kept as plain name and roles", async () => {
    const s = (await manager()).createSession();
    const roles = ["admin"];
    s.principal = { name: "alice", roles };
    s.authType = "FORM";
    roles.push("later");
    expect(s.principal).toEqual({ name: "alice", roles: ["admin"] });
    s.principal = null;
    expect(s.principal).toBeNull();
  });

  test("the principal and the auth type are set and cleared independently", async () => {
    const s = (await manager()).createSession();
    expect(s.principal).toBeNull();
    expect(s.authType).toBeNull();
    s.authType = "BASIC";
    expect(s.principal).toBeNull();
    expect(s.authType).toBe("BASIC");
    s.principal = { name: "bob", roles: [] };
    expect(s.authType).toBe("BASIC");
    s.authType = null;
    expect(s.principal).toEqual({ name: "bob", roles: [] });
    expect(s.authType).toBeNull();
    s.authType = "FORM";
    s.principal = null;
    expect(s.authType).toBe("FORM");
    s.authType = null;
    expect(s.principal).toBeNull();
    expect(s.authType).toBeNull();
  });
});

describe("the session's layout (what a server holding many spends per session)", () => {
  test("a session with two attributes is one object of at most 80 bytes, whichever manager made it; the names are shared", async () => {
    const { estimateShallowMemoryUsageOf, heapStats } = await import("bun:jsc");
    const m = await manager();
    // Several managers making sessions (a server's contexts) must not make them larger.
    const others = [await manager(), await manager()];
    const make = (from = m) => {
      const s = from.createSession();
      s.setAttribute("user", "u" + s.id.slice(0, 4));
      s.setAttribute("n", 1);
      s.endAccess();
      return s;
    };
    for (let i = 0; i < 3000; i++) for (const from of [m, ...others]) make(from);
    // Eight own fields: 80 bytes in JavaScriptCore, where nine to twelve take 112.
    expect(estimateShallowMemoryUsageOf(make())).toBeLessThanOrEqual(80);
    expect(estimateShallowMemoryUsageOf(make(others[1]))).toBeLessThanOrEqual(80);
    Bun.gc(true);
    Bun.gc(true);
    const before = heapStats().objectTypeCounts.Object ?? 0;
    const kept = Array.from({ length: 2000 }, () => make());
    Bun.gc(true);
    Bun.gc(true);
    const objects = (heapStats().objectTypeCounts.Object ?? 0) - before;
    expect(kept.length).toBe(2000);
    // One object per session (the session; the strings are counted apart), not one more for the
    // names (that would be ~4,000). The count moves by a hundred or so with what else a collection
    // finds dead (JavaScriptCore scans the stack conservatively): CI once read 1,923.
    expect(objects).toBeGreaterThan(1600);
    expect(objects).toBeLessThan(2400);
  });

  test("maxInactiveInterval, principal, auth type and attributes are set and read independently", async () => {
    const m = await manager({ sessionTimeoutMinutes: 20 });
    let seed = 11;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    for (let round = 0; round < 20; round++) {
      const s = m.createSession();
      const model = new Map<string, unknown>();
      let max = 1200;
      let principal: { name: string; roles: string[] } | null = null;
      let authType: string | null = null;
      for (let step = 0; step < 80; step++) {
        const op = random(8);
        const name = `a${random(4)}`;
        if (op === 0) {
          max = [1200, 60, -1, 0][random(4)]!;
          s.maxInactiveInterval = max;
        } else if (op === 1) {
          principal = random(2) ? { name: `p${step}`, roles: ["r"] } : null;
          s.principal = principal;
        } else if (op === 2) {
          authType = random(2) ? "FORM" : null;
          s.authType = authType;
        } else if (op === 3) {
          s.removeAttribute(name);
          model.delete(name);
        } else {
          s.setAttribute(name, step);
          model.set(name, step);
        }
        expect(s.maxInactiveInterval).toBe(max);
        expect(s.principal).toEqual(principal);
        expect(s.authType).toBe(authType);
        expect(s.attributeEntries()).toEqual([...model.entries()]);
        expect(s.getAttributeNames()).toEqual([...model.keys()]);
        for (let k = 0; k < 4; k++) expect(s.getAttribute(`a${k}`)).toBe(model.get(`a${k}`));
      }
      const back = m.deserializeSession(m.serializeSession(s));
      expect(back.maxInactiveInterval).toBe(max);
      expect(back.attributeEntries()).toEqual([...model.entries()]);
    }
  });

  test("a session made or restored with another maxInactiveInterval than the manager's keeps it", async () => {
    const m = await manager({ sessionTimeoutMinutes: 20 });
    const s = m.createSession();
    s.maxInactiveInterval = 45;
    s.setAttribute("a", 1);
    const other = await manager({ sessionTimeoutMinutes: 5 });
    const back = other.deserializeSession(m.serializeSession(s));
    expect(back.maxInactiveInterval).toBe(45);
    expect(other.deserializeSession(m.serializeSession(m.createSession())).maxInactiveInterval).toBe(1200);
    expect(other.createSession().maxInactiveInterval).toBe(300);
    expect(m.createSession().maxInactiveInterval).toBe(1200);
  });

  test("sessions with many different pairs of attribute names each keep their own", async () => {
    const m = await manager();
    const sessions = Array.from({ length: 1500 }, (_, i) => {
      const s = m.createSession();
      s.setAttribute(`first${i}`, i);
      s.setAttribute(`second${i}`, -i);
      return s;
    });
    sessions.forEach((s, i) => {
      expect(s.getAttributeNames()).toEqual([`first${i}`, `second${i}`]);
      expect(s.getAttribute(`second${i}`)).toBe(-i);
      expect(s.getAttribute(`first${i + 1}`)).toBeUndefined();
    });
  });
});

describe("an invalidated session", () => {
  test("throws Tomcat's IllegalStateException messages (TestStandardSessionIntegration)", async () => {
    const s = (await manager()).createSession();
    const id = s.id;
    s.invalidate();
    const cases: [() => unknown, string][] = [
      [() => s.creationTime, "getCreationTime: Session already invalidated"],
      [() => s.lastAccessedTime, "getLastAccessedTime: Session already invalidated"],
      [() => s.isNew, "isNew: Session already invalidated"],
      [() => s.getAttribute("a"), "getAttribute: Session already invalidated"],
      [() => s.getAttributeNames(), "getAttributeNames: Session already invalidated"],
      [() => s.attributeNames, "getAttributeNames: Session already invalidated"],
      [() => s.removeAttribute("a"), "removeAttribute: Session already invalidated"],
      [() => s.invalidate(), "invalidate: Session already invalidated"],
      [() => s.setAttribute("a", 1), `setAttribute: Session [${id}] has already been invalidated`],
      [() => s.setAttribute("a", null), "removeAttribute: Session already invalidated"],
    ];
    for (const [call, message] of cases) {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SessionStateError);
      expect((err as Error).name).toBe("IllegalStateException");
      expect((err as Error).message).toBe(message);
      expect((err as SessionStateError).fix).toContain("getSession()");
    }
    expect(s.id).toBe(id);
  });
});

describe("event order (StandardSession.setAttribute / removeAttribute / expire)", () => {
  test("add, replace, remove with binding listeners", async () => {
    const s = (await manager()).createSession();
    events.length = 0;
    const first = new Watched("first", events);
    const second = new Watched("second", events);
    s.setAttribute("w", first);
    s.setAttribute("w", second);
    s.removeAttribute("w");
    expect(events).toEqual([
      "bound:w:first",
      "added:w=first",
      "bound:w:second",
      "unbound:w:first",
      "replaced:w=first",
      "unbound:w:second",
      "removed:w=second",
    ]);
  });

  test("invalidate: sessionDestroyed in reverse registration order while attributes are still readable, then unbind and remove", async () => {
    const m = await manager();
    const seen: unknown[] = [];
    m.addListener({ sessionDestroyed: (e) => seen.push(e.session.getAttribute("a")) });
    m.addListener(recorder(events, "second-"));
    const s = m.createSession();
    s.setAttribute("a", new Watched("A", events));
    s.setAttribute("b", "B");
    events.length = 0;
    s.invalidate();
    expect(events).toEqual([
      `second-destroyed:${s.id}`,
      `destroyed:${s.id}`,
      "unbound:a:A",
      "removed:a=A",
      "second-removed:a=A",
      "removed:b=B",
      "second-removed:b=B",
    ]);
    expect(seen.map(String)).toEqual(["A"]);
  });

  test("created listeners run in registration order", async () => {
    const m = await manager();
    m.addListener(recorder(events, "second-"));
    const s = m.createSession();
    expect(events).toEqual([`created:${s.id}`, `second-created:${s.id}`]);
  });

  test("a removed listener is no longer called", async () => {
    const m = await manager();
    const extra = recorder(events, "x-");
    m.addListener(extra);
    m.removeListener(extra);
    const s = m.createSession();
    expect(events).toEqual([`created:${s.id}`]);
  });

  test("listeners of one kind only: each gets its events, whenever it was added or removed", async () => {
    const m = new StandardManager({ now: clock.now });
    await m.start();
    const destroyedOnly: string[] = [];
    m.addListener({ sessionDestroyed: (e) => destroyedOnly.push(`destroyed:${e.session.id}`) });
    const s = m.createSession();
    s.setAttribute("a", 1);
    // Added while the session lives: attribute events from now on, no creation event for s.
    const attrs: string[] = [];
    const attrListener = {
      attributeAdded: (e: { name: string }) => attrs.push(`added:${e.name}`),
      attributeReplaced: (e: { name: string }) => attrs.push(`replaced:${e.name}`),
      attributeRemoved: (e: { name: string }) => attrs.push(`removed:${e.name}`),
    };
    m.addListener(attrListener);
    s.setAttribute("a", 2);
    s.setAttribute("b", 3);
    s.removeAttribute("b");
    const created: string[] = [];
    m.addListener({ sessionCreated: (e) => created.push(`created:${e.session.id}`) });
    const t = m.createSession();
    m.removeListener(attrListener);
    s.setAttribute("c", 4);
    s.invalidate();
    expect(attrs).toEqual(["replaced:a", "added:b", "removed:b"]);
    expect(created).toEqual([`created:${t.id}`]);
    expect(destroyedOnly).toEqual([`destroyed:${s.id}`]);
  });
});

describe("notifyAttributeListenerOnUnchangedValue / notifyBindingListenerOnUnchangedValue", () => {
  const matrix: [boolean | undefined, boolean | undefined, string[]][] = [
    // Defaults (true, false): replaced still reported, no unbind/bind.
    [undefined, undefined, ["replaced:w=W"]],
    [false, false, []],
    [true, true, ["bound:w:W", "unbound:w:W", "replaced:w=W"]],
    [false, true, ["bound:w:W", "unbound:w:W"]],
  ];
  for (const [attr, binding, expected] of matrix) {
    test(`attribute=${attr ?? "default"} binding=${binding ?? "default"}: setting the same listener again`, async () => {
      const s = (await manager({
        notifyAttributeListenerOnUnchangedValue: attr,
        notifyBindingListenerOnUnchangedValue: binding,
      })).createSession();
      const w = new Watched("W", events);
      s.setAttribute("w", w);
      events.length = 0;
      s.setAttribute("w", w);
      expect(events).toEqual(expected);
    });
  }

  test("the same primitive value counts as unchanged (NaN too), a different one does not", async () => {
    const s = (await manager({ notifyAttributeListenerOnUnchangedValue: false })).createSession();
    s.setAttribute("n", NaN);
    s.setAttribute("s", "x");
    events.length = 0;
    s.setAttribute("n", NaN);
    s.setAttribute("s", "x");
    s.setAttribute("s", "y");
    expect(events).toEqual(["replaced:s=x"]);
  });

  test("an equal but distinct object is a change", async () => {
    const s = (await manager({ notifyAttributeListenerOnUnchangedValue: false })).createSession();
    s.setAttribute("o", { a: 1 });
    events.length = 0;
    s.setAttribute("o", { a: 1 });
    expect(events).toEqual(["replaced:o=[object Object]"]);
  });
});

describe("races of TestStandardSession, as re-entrant calls", () => {
  test("valueBound that invalidates the session: no exception, and valueUnbound follows", async () => {
    const s = (await manager()).createSession();
    let unbound = 0;
    const listener = {
      valueBound: () => s.invalidate(),
      valueUnbound: () => unbound++,
    };
    expect(() => s.setAttribute("listener", listener)).not.toThrow();
    expect(unbound).toBe(1);
    expect(s.isValidInternal()).toBe(false);
  });

  test("re-setting the same listener during expiry binds once and unbinds exactly once", async () => {
    const m = await manager();
    let bound = 0;
    let unbound = 0;
    const listener = { valueBound: () => bound++, valueUnbound: () => unbound++ };
    const s = m.createSession();
    s.setAttribute("listener", listener);
    m.addListener({ sessionDestroyed: (e) => e.session.setAttribute("listener", listener) });
    s.invalidate();
    expect(bound).toBe(1);
    expect(unbound).toBe(1);
  });

  test("replacing with a non-listener on a session that expired mid-call throws IllegalStateException", async () => {
    const serializer = new Serializer();
    let target: HttpSession | undefined;
    class Expiring {}
    serializer.register("Expiring", Expiring, {
      toJSON: () => {
        target?.invalidate();
        return 1;
      },
      fromJSON: () => new Expiring(),
    });
    let unbound = 0;
    class OldListener {
      valueUnbound() {
        unbound++;
      }
    }
    serializer.register("OldListener", OldListener);
    const m = await manager({ distributable: true, serializer });
    const s = m.createSession();
    s.setAttribute("x", new OldListener());
    target = s;
    expect(() => s.setAttribute("x", new Expiring())).toThrow(SessionStateError);
    expect(unbound).toBe(1);
  }, 5000);
});

describe("listener failures are logged, never thrown", () => {
  test("a throwing listener and a rejecting async listener do not stop the others", async () => {
    const m = await manager();
    m.addListener({
      attributeAdded: () => {
        throw new Error("boom");
      },
    });
    m.addListener({
      attributeAdded: async () => {
        throw new Error("later");
      },
    });
    m.addListener(recorder(events, "last-"));
    const s = m.createSession();
    const value = {
      valueBound: () => {
        throw new Error("bind boom");
      },
    };
    expect(() => s.setAttribute("a", value)).not.toThrow();
    await new Promise((r) => setTimeout(r, 0));
    expect(events).toContain("last-added:a=[object Object]");
    const errors = logs.lines.filter((l) => l.level === "error").map((l) => l.line);
    expect(errors.some((l) => l.includes("Session attribute event listener threw exception") && l.includes("boom")))
      .toBe(true);
    expect(errors.some((l) => l.includes("later"))).toBe(true);
    expect(errors.some((l) => l.includes("Session binding event listener threw exception") && l.includes("bind boom")))
      .toBe(true);
  });
});

describe("distributable", () => {
  test("setAttribute of a value that cannot be serialized throws IllegalArgumentException", async () => {
    const s = (await manager({ distributable: true })).createSession();
    expect(() => s.setAttribute("cb", () => 1)).toThrow(
      "setAttribute: Non-serializable attribute [cb]: a function (anonymous) cannot be serialized",
    );
    expect(() => s.setAttribute("nested", { list: [Symbol("x")] })).toThrow(
      /Non-serializable attribute \[nested\]: at \.list\[0\]/,
    );
    let err: unknown;
    try {
      s.setAttribute("x", new (class Local {})());
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe("IllegalArgumentException");
    expect(s.attributeNames).toEqual([]);
    s.setAttribute("fine", new Map([[1, new Date()]]));
    expect(s.attributeNames).toEqual(["fine"]);
  });

  test("an attribute the name filter keeps out of persistence may hold anything", async () => {
    const s = (await manager({ distributable: true, sessionAttributeNameFilter: "persisted\\..*" })).createSession();
    expect(() => s.setAttribute("local", () => 1)).not.toThrow();
    expect(() => s.setAttribute("persisted.cb", () => 1)).toThrow(SessionArgumentError);
  });

  test("without distributable anything may be stored", async () => {
    const s = (await manager()).createSession();
    s.setAttribute("cb", () => 1);
    expect(typeof s.getAttribute("cb")).toBe("function");
  });
});
