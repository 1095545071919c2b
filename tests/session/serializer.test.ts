import { describe, expect, test } from "bun:test";
import { CorruptDataError, NotSerializableError, Serializer, UnknownClassError } from "../../src/session/index.ts";
import { MAX_DEPTH } from "../../src/session/serializer.ts";
import { fixedValue, registerFixtureClasses } from "./fixtures/fixed-value.ts";
import { captureLogs } from "./helpers.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function roundTrip<T>(value: T, s = new Serializer()): T {
  return s.deserialize(s.serialize(value)) as T;
}

describe("round trips", () => {
  test("primitives, including the awkward numbers", () => {
    for (
      const v of [
        null,
        true,
        false,
        0,
        1,
        -1,
        2 ** 31 - 1,
        -(2 ** 31),
        2 ** 31,
        2 ** 53,
        1.5,
        -1e-300,
        Infinity,
        -Infinity,
        Number.MAX_VALUE,
        Number.MIN_VALUE,
        "",
        "plain",
        "ünïcødé ✓ 🐈",
        "\uFEFFbom first",
      ]
    ) {
      expect(roundTrip(v)).toBe(v);
    }
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(Number.isNaN(roundTrip(NaN))).toBe(true);
    expect(roundTrip(undefined)).toBeUndefined();
  });

  test("strings with lone surrogates come back unchanged", () => {
    for (const v of ["\uD800", "a\uDC00b", "\uDBFF\uDBFF", "ok \uD83D\uDC08 then \uD83D"]) {
      expect(roundTrip(v)).toBe(v);
    }
  });

  test("bigints of every size and sign", () => {
    for (const v of [0n, 1n, -1n, 255n, 256n, -256n, 2n ** 64n, -(2n ** 200n) + 7n, 12345678901234567890123456789n]) {
      expect(roundTrip(v)).toBe(v);
    }
  });

  test("arrays keep holes, undefined and order", () => {
    // deno-lint-ignore no-sparse-arrays
    const a = [1, , undefined, "x", , null];
    const back = roundTrip(a);
    expect(back.length).toBe(6);
    expect(1 in back).toBe(false);
    expect(2 in back).toBe(true);
    expect(back[2]).toBeUndefined();
    expect(4 in back).toBe(false);
    expect(back[5]).toBeNull();
  });

  test("objects keep key order, undefined values, odd keys and null prototypes", () => {
    const o = { b: 1, a: undefined, "": "empty", "with space": [1], 10: "ten", 2: "two" };
    const back = roundTrip(o);
    expect(Object.keys(back)).toEqual(Object.keys(o));
    expect("a" in back).toBe(true);
    expect(back).toEqual(o);
    const bare = Object.create(null) as Record<string, unknown>;
    bare.x = 1;
    const backBare = roundTrip(bare);
    expect(Object.getPrototypeOf(backBare)).toBeNull();
    expect(backBare.x).toBe(1);
  });

  test("a __proto__ key stays an own property and never changes the prototype", () => {
    const o = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}');
    const back = roundTrip(o) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(["__proto__", "x"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((back as { polluted?: unknown }).polluted).toBeUndefined();
  });

  test("Date (valid and invalid), RegExp, Map and Set", () => {
    const v = {
      d: new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999)),
      bad: new Date(NaN),
      re: /^a(?<name>b+)\/c$/giu,
      m: new Map<unknown, unknown>([["k", 1], [2, "two"], [{ o: 1 }, [true]]]),
      s: new Set([1, "1", 1n, null]),
    };
    const back = roundTrip(v);
    expect(back.d.getTime()).toBe(v.d.getTime());
    expect(Number.isNaN(back.bad.getTime())).toBe(true);
    expect(back.re.source).toBe(v.re.source);
    expect(back.re.flags).toBe(v.re.flags);
    expect([...back.m.entries()]).toEqual([...v.m.entries()]);
    expect([...back.s]).toEqual([...v.s]);
  });

  test("typed arrays, DataView and ArrayBuffer, sharing one buffer", () => {
    const buf = new ArrayBuffer(32);
    new Uint8Array(buf).forEach((_, i, a) => (a[i] = i * 7));
    const v = {
      buf,
      u8: new Uint8Array(buf, 3, 5),
      f64: new Float64Array(buf, 8, 2),
      dv: new DataView(buf, 4, 12),
      own: new Int16Array([-1, 2, -3]),
      big: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      ubig: new BigUint64Array([2n ** 64n - 1n]),
      clamped: new Uint8ClampedArray([0, 255]),
      f32: new Float32Array([1.5, -0]),
      i8: new Int8Array([-128, 127]),
      u16: new Uint16Array([65535]),
      i32: new Int32Array([-(2 ** 31)]),
      u32: new Uint32Array([2 ** 32 - 1]),
    };
    const back = roundTrip(v);
    expect(back.u8.buffer).toBe(back.buf);
    expect(back.f64.buffer).toBe(back.buf);
    expect(back.dv.buffer).toBe(back.buf);
    expect([...back.u8]).toEqual([...v.u8]);
    expect(back.u8.byteOffset).toBe(3);
    expect(back.dv.byteOffset).toBe(4);
    expect(back.dv.byteLength).toBe(12);
    for (const k of ["own", "big", "ubig", "clamped", "f32", "i8", "u16", "i32", "u32"] as const) {
      expect(back[k].constructor).toBe(v[k].constructor);
      expect([...(back[k] as Iterable<unknown>)]).toEqual([...(v[k] as Iterable<unknown>)]);
    }
  });

  test("shared references and cycles keep their identity", () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { a: shared, b: shared, list: [shared] };
    cyclic.self = cyclic;
    const m = new Map<unknown, unknown>();
    m.set(m, cyclic);
    cyclic.map = m;
    const back = roundTrip(cyclic) as typeof cyclic & { map: Map<unknown, unknown> };
    expect(back.self).toBe(back);
    expect(back.a).toBe(back.b);
    expect((back.list as unknown[])[0]).toBe(back.a);
    expect(back.map.get(back.map)).toBe(back);
  });

  test("references to objects before and after the encoder's list of the first ones becomes a Map", () => {
    const first = { n: 0 };
    const items: Array<Record<string, unknown>> = [first];
    for (let i = 1; i < 40; i++) items.push({ n: i, first, previous: items[i - 1] });
    const root: Record<string, unknown> = { items, last: items[39], tenth: items[10] };
    root.self = root;
    const back = roundTrip(root) as typeof root & { items: Array<Record<string, unknown>> };
    expect(back.self).toBe(back);
    expect(back.last).toBe(back.items[39]);
    expect(back.tenth).toBe(back.items[10]);
    for (let i = 1; i < 40; i++) {
      expect(back.items[i]!.n).toBe(i);
      expect(back.items[i]!.first).toBe(back.items[0]);
      expect(back.items[i]!.previous).toBe(back.items[i - 1]);
    }
    // The same bytes as references written by number: the second occurrence of each is a reference.
    const s = new Serializer();
    expect(hex(s.serialize(root))).toBe(hex(s.serialize(back)));
  });

  test("registered classes: fields, codec, prototype kept, constructor not run", () => {
    const s = new Serializer();
    let constructed = 0;
    class Point {
      constructor(public x: number, public y: number) {
        constructed++;
      }
      norm() {
        return Math.hypot(this.x, this.y);
      }
    }
    class Secret {
      #value: string;
      constructor(v: string) {
        this.#value = v;
      }
      reveal() {
        return this.#value;
      }
    }
    s.register("Point", Point);
    s.register("Secret", Secret, { toJSON: (v) => v.reveal(), fromJSON: (d) => new Secret(d as string) });
    const p = new Point(3, 4);
    const value = { p, again: p, secret: new Secret("s3"), list: [new Point(1, 0)] };
    constructed = 0;
    const back = roundTrip(value, s);
    expect(constructed).toBe(0);
    expect(back.p).toBeInstanceOf(Point);
    expect(back.p.norm()).toBe(5);
    expect(back.again).toBe(back.p);
    expect(back.secret).toBeInstanceOf(Secret);
    expect(back.secret.reveal()).toBe("s3");
    expect(s.typeName(p)).toBe("Point");
  });

  test("a codec may serialize re-entrantly without disturbing the outer frame", () => {
    const s = new Serializer();
    class Wrapped {
      constructor(public inner: unknown) {}
    }
    s.register("Wrapped", Wrapped, {
      toJSON: (w) => s.serialize(w.inner),
      fromJSON: (bytes) => new Wrapped(s.deserialize(bytes as Uint8Array)),
    });
    const value = { before: "x".repeat(100), w: new Wrapped({ deep: [1, 2, 3] }), after: [new Wrapped("y")] };
    const back = roundTrip(value, s);
    expect(back.before).toBe(value.before);
    expect(back.w.inner).toEqual({ deep: [1, 2, 3] });
    expect(back.after[0]!.inner).toBe("y");
  });

  test("each frame numbers its objects from 0, also after a frame that failed midway or a re-entrant one", () => {
    const s = new Serializer();
    class Wrapped {
      constructor(public inner: unknown) {}
    }
    s.register("Wrapped", Wrapped, { toJSON: (w) => s.serialize(w.inner), fromJSON: () => new Wrapped(null) });
    const shared = { k: 1 };
    const value = { a: shared, b: [shared, shared] };
    const fresh = hex(new Serializer().serialize(value));
    expect(hex(s.serialize(value))).toBe(fresh);
    // 20 objects numbered (past the listed ones), then a function: the frame fails.
    const many = Array.from({ length: 20 }, (_, i) => ({ i }));
    expect(() => s.serialize({ many, f: () => 1 })).toThrow(NotSerializableError);
    expect(hex(s.serialize(value))).toBe(fresh);
    s.serialize(new Wrapped([shared, shared]));
    expect(hex(s.serialize(value))).toBe(fresh);
    expect(s.deserialize(s.serialize(value))).toEqual(value);
  });

  test("a cycle through a fields-mode registered class is fine", () => {
    const s = new Serializer();
    class Node {
      next: Node | null = null;
    }
    s.register("Node", Node);
    const a = new Node();
    a.next = a;
    const back = roundTrip(a, s);
    expect(back.next).toBe(back);
  });
});

describe("type names for the value-class filter", () => {
  const s = new Serializer();
  class Cart {}
  class Unregistered {}
  s.register("com.example.Cart", Cart);
  const cases: [unknown, string][] = [
    ["x", "String"],
    [1, "Number"],
    [NaN, "Number"],
    [true, "Boolean"],
    [1n, "BigInt"],
    [{}, "Object"],
    [Object.create(null), "Object"],
    [[], "Array"],
    [new Map(), "Map"],
    [new Set(), "Set"],
    [new Date(), "Date"],
    [/x/, "RegExp"],
    [new ArrayBuffer(1), "ArrayBuffer"],
    [new Uint8Array(1), "Uint8Array"],
    [new DataView(new ArrayBuffer(1)), "DataView"],
    [new Cart(), "com.example.Cart"],
    [new Unregistered(), "Unregistered"],
    [() => 1, "Function"],
    [Symbol("s"), "Symbol"],
  ];
  for (const [value, name] of cases) {
    test(`${name}`, () => expect(s.typeName(value)).toBe(name));
  }
});

describe("what cannot be serialized is refused with its path", () => {
  const s = new Serializer();
  class Foo {}
  class Sub extends Map {}
  const cases: [unknown, string, string][] = [
    [() => 1, "", "function"],
    [Symbol("x"), "", "symbol"],
    [new Foo(), "", "[Foo]"],
    [new Sub(), "", "[Sub]"],
    [{ a: { b: [1, 2, { fn() {} }] } }, ".a.b[2].fn", "function"],
    [{ "odd key": new Foo() }, '["odd key"]', "[Foo]"],
    [new Map([["k", Symbol()]]), '.get("k")', "symbol"],
    [new Map([[Symbol(), 1]]), "<map key #0>", "symbol"],
    [new Set([1, new Foo()]), "<set item #1>", "[Foo]"],
    [new Uint8Array(new SharedArrayBuffer(4)), ".buffer", "SharedArrayBuffer"],
    [new WeakMap(), "", "WeakMap"],
    [Promise.resolve(1), "", "Promise"],
    [new Error("x"), "", "Error"],
    [
      {
        get boom() {
          throw new Error("getter failed");
        },
      },
      ".boom",
      "getter failed",
    ],
  ];
  for (const [value, path, text] of cases) {
    test(`${path || "(top level)"}: ${text}`, () => {
      let err: unknown;
      try {
        s.serialize(value);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NotSerializableError);
      expect((err as NotSerializableError).path).toBe(path);
      expect((err as Error).message).toContain(text);
    });
  }

  test("a codec whose toJSON result points back at the instance is refused", () => {
    const s2 = new Serializer();
    class Loop {
      me = this;
    }
    s2.register("Loop", Loop, { toJSON: (v) => ({ me: v }), fromJSON: () => new Loop() });
    expect(() => s2.serialize(new Loop())).toThrow(/refers back to the instance/);
  });

  test("values nested deeper than the limit are refused, not a stack overflow", () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_DEPTH + 5; i++) deep = [deep];
    expect(() => s.serialize(deep)).toThrow(/nested deeper/);
    let ok: unknown = 1;
    for (let i = 0; i < MAX_DEPTH - 1; i++) ok = [ok];
    expect(() => s.serialize(ok)).not.toThrow();
    expect(() => s.deserialize(s.serialize(ok))).not.toThrow();
  });
});

describe("registration", () => {
  test("rejects bad names, built-in names, non-classes and half codecs", () => {
    const s = new Serializer();
    class A {}
    expect(() => s.register("", A)).toThrow(/invalid class name/);
    expect(() => s.register("has space", A)).toThrow(/invalid class name/);
    expect(() => s.register("Map", A)).toThrow(/built-in/);
    expect(() => s.register("X", Map as never)).toThrow(/class constructor/);
    expect(() => s.register("Y", {} as never)).toThrow(/class constructor/);
    expect(() => s.register("Z", A, { toJSON: () => 1 } as never)).toThrow(/both toJSON and fromJSON/);
  });

  test("one class under two names is refused; a new class under an old name replaces it", () => {
    const s = new Serializer();
    class A {}
    class A2 {}
    s.register("A", A);
    expect(() => s.register("B", A)).toThrow(/already registered as \[A\]/);
    const bytes = s.serialize(new A());
    const logs = captureLogs();
    try {
      s.register("A", A2);
      expect(logs.matching(/class \[A\] registered again with a different constructor/)[0]?.level).toBe("info");
    } finally {
      logs.restore();
    }
    expect(s.deserialize(bytes)).toBeInstanceOf(A2);
    expect(() => s.serialize(new A())).toThrow(NotSerializableError);
  });
});

describe("reading validates everything", () => {
  const s = new Serializer();

  test("an unregistered class name gives UnknownClassError", () => {
    const writer = new Serializer();
    class Gone {}
    writer.register("Gone", Gone);
    const bytes = writer.serialize({ g: new Gone() });
    expect(() => s.deserialize(bytes)).toThrow(UnknownClassError);
  });

  test("a codec class read without its codec, and a throwing fromJSON, are clean errors", () => {
    const writer = new Serializer();
    class C {}
    writer.register("C", C, { toJSON: () => 1, fromJSON: () => new C() });
    const bytes = writer.serialize(new C());
    const reader = new Serializer();
    reader.register("C", C);
    expect(() => reader.deserialize(bytes)).toThrow(/registered without a codec/);
    const failing = new Serializer();
    failing.register("C", C, {
      toJSON: () => 1,
      fromJSON: () => {
        throw new Error("nope");
      },
    });
    expect(() => failing.deserialize(bytes)).toThrow(/fromJSON\(\) of class \[C\] threw: nope/);
  });

  const bad: [string, number[]][] = [
    ["empty input", []],
    ["wrong version", [2, 0x01]],
    ["unknown tag", [1, 0x7f]],
    ["truncated float", [1, 0x05, 0, 0]],
    ["trailing bytes", [1, 0x01, 0x01]],
    ["hole at top level", [1, 0x08]],
    ["hole as a map key", [1, 0x14, 1, 0x08, 0x01]],
    ["reference forward", [1, 0x10, 0]],
    ["array longer than the input", [1, 0x11, 0xff, 0xff, 0xff, 0x7f]],
    ["non-minimal varint", [1, 0x11, 0x80, 0x00]],
    ["bad UTF-8", [1, 0x06, 4, 0xc3, 0x28]],
    ["negative zero bigint", [1, 0x07, 1, 0]],
    ["bigint with a leading zero", [1, 0x07, 0, 2, 0, 1]],
    ["bad bigint sign", [1, 0x07, 2, 0]],
    ["invalid regexp", [1, 0x17, 2, 0x28, 0]],
    ["invalid regexp flags", [1, 0x17, 2, 0x61, 2, 0x7a]],
    ["typed array out of its buffer", [1, 0x19, 1, 0x18, 2, 0, 0, 1, 5]],
    ["misaligned typed array", [1, 0x19, 5, 0x18, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]],
    ["view over a non-buffer", [1, 0x19, 1, 0x01, 0, 0]],
    ["unknown view kind", [1, 0x19, 99, 0x18, 0, 0, 0]],
    ["reference to a view being built", [1, 0x19, 1, 0x10, 0, 0, 0]],
    ["unknown class mode", [1, 0x1a, 2, 0x41, 7]],
  ];
  for (const [what, bytes] of bad) {
    test(what, () => {
      const s2 = new Serializer();
      class A {}
      s2.register("A", A);
      expect(() => s2.deserialize(Uint8Array.from(bytes))).toThrow(CorruptDataError);
    });
  }

  test("nesting deeper than the limit in the input is rejected without a stack overflow", () => {
    const bytes = new Uint8Array(1 + 2 * 100000 + 1);
    bytes[0] = 1;
    for (let i = 0; i < 100000; i++) {
      bytes[1 + i * 2] = 0x11;
      bytes[2 + i * 2] = 1;
    }
    bytes[bytes.length - 1] = 0x01;
    expect(() => s.deserialize(bytes)).toThrow(/nested deeper/);
  });

  test("fuzz: random bytes and mutated frames end in a clean error or a value, quickly", () => {
    const reg = new Serializer();
    registerFixtureClasses(reg);
    const valid = reg.serialize(fixedValue());
    let seed = 0x2545f491;
    const rand = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const started = performance.now();
    let clean = 0;
    for (let i = 0; i < 4000; i++) {
      let input: Uint8Array;
      if (i % 2 === 0) {
        input = new Uint8Array(Math.floor(rand() * 64));
        for (let j = 0; j < input.length; j++) input[j] = Math.floor(rand() * 256);
        if (input.length) input[0] = 1;
      } else {
        input = valid.slice(0, 1 + Math.floor(rand() * valid.length));
        for (let flips = 1 + Math.floor(rand() * 4); flips > 0; flips--) {
          input[Math.floor(rand() * input.length)] = Math.floor(rand() * 256);
        }
      }
      try {
        reg.deserialize(input);
      } catch (err) {
        expect(err).toBeInstanceOf(CorruptDataError);
        clean++;
      }
    }
    expect(clean).toBeGreaterThan(3000);
    expect(performance.now() - started).toBeLessThan(10000);
  });
});

describe("the bytes are fixed", () => {
  test("a fixed value gives the same bytes every time, with one canonical NaN", () => {
    const s = new Serializer();
    registerFixtureClasses(s);
    expect(hex(s.serialize(fixedValue()))).toBe(hex(s.serialize(fixedValue())));
    expect(hex(s.serialize(NaN))).toBe("01057ff8000000000000");
    const otherNaN = new Float64Array(new Uint32Array([1, 0x7ff00000]).buffer)[0]!;
    expect(Number.isNaN(otherNaN)).toBe(true);
    expect(hex(s.serialize(otherNaN))).toBe("01057ff8000000000000");
  });

  test("golden vectors of format version 1", () => {
    const s = new Serializer();
    expect(hex(s.serialize(null))).toBe("0101");
    expect(hex(s.serialize(-1))).toBe("010401");
    expect(hex(s.serialize(-0))).toBe("01058000000000000000");
    expect(hex(s.serialize("hé"))).toBe("010606" + "68c3a9");
    expect(hex(s.serialize("\uD800"))).toBe("01060300d8");
    expect(hex(s.serialize(-256n))).toBe("010701020100");
    expect(hex(s.serialize({ a: [true] }))).toBe("0112010261" + "110103");
    const o = { k: 1 };
    expect(hex(s.serialize([o, o]))).toBe("011102" + "1201026b0402" + "1001");
  });
});
