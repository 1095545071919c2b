/**
 * Session attribute values to bytes and back: bobcat's counterpart of java.io.Serializable.
 *
 * Value format, version 1 (the full description, with the session file around it, is FORMAT.md):
 *
 *   frame   := 0x01 (format version) value            -- one frame per attribute value
 *   value   := tag payload
 *   0x00 undefined      0x01 null      0x02 false      0x03 true
 *   0x04 int            zigzag varint of an int32 (never -0)
 *   0x05 float          IEEE-754 float64, big-endian, NaN always 7FF8000000000000
 *   0x06 string         str
 *   0x07 bigint         u8 sign (0 = ≥ 0, 1 = < 0), varint n, n magnitude bytes big-endian (minimal)
 *   0x08 hole           a missing element of a sparse array (only directly inside 0x11)
 *   0x10 reference      varint index of an object already written in this frame
 *   0x11 Array          varint length, length × value
 *   0x12 Object         varint n, n × (str key, value)       -- own enumerable string keys
 *   0x13 Object(null)   same as 0x12, for Object.create(null)
 *   0x14 Map            varint n, n × (value key, value value)
 *   0x15 Set            varint n, n × value
 *   0x16 Date           float64 time value (NaN for an invalid date)
 *   0x17 RegExp         str source, str flags
 *   0x18 ArrayBuffer    varint n, n bytes
 *   0x19 view           u8 kind, value buffer (0x18 or 0x10), varint byteOffset, varint length
 *                       (elements; bytes for DataView). Kinds: see VIEW_KINDS.
 *   0x1A registered     str class name, u8 mode, then mode 0: varint n, n × (str field, value)
 *                       (own enumerable fields), or mode 1: value (the class codec's toJSON result)
 *   str     := varint h, then h/2 bytes of UTF-8 when h is even, or (h-1)/2 UTF-16LE code units
 *              when h is odd (only for strings holding a lone surrogate)
 *   varint  := unsigned LEB128, minimal
 *
 * Objects (everything with identity: tags 0x11–0x1A) are numbered 0, 1, 2, … in the order their
 * tag is written; a second occurrence is written as 0x10 + that number, which keeps shared
 * references and cycles. Numbering is per frame: each attribute is an independent frame so that
 * one bad value never damages another.
 *
 * Type names (what `sessionAttributeValueClassNameFilter` matches, see typeName()): String, Number,
 * Boolean, BigInt, Object (plain or null-prototype), Array, Map, Set, Date, RegExp, ArrayBuffer,
 * DataView, Int8Array … BigUint64Array, Float16Array, and a registered class's registered name.
 * Not serializable: functions, symbols, instances of unregistered classes (including subclasses of
 * Array/Map/… and boxed primitives), SharedArrayBuffer, WeakMap/WeakSet, Promise, Error.
 * Not kept: symbol keys, non-index properties of arrays, RegExp lastIndex, private (#) fields
 * (give such a class a codec).
 */
import { CorruptDataError, NotSerializableError, UnknownClassError } from "./errors.ts";
import { ByteReader, ByteWriter } from "./wire.ts";
import { BobcatError } from "../util/errors.ts";
import { logger } from "../util/log.ts";

export const VALUE_FORMAT_VERSION = 1;

/** Deeper values are refused on write, and rejected on read, before the call stack is at risk. */
export const MAX_DEPTH = 1000;

const TAG = {
  UNDEFINED: 0x00,
  NULL: 0x01,
  FALSE: 0x02,
  TRUE: 0x03,
  INT: 0x04,
  FLOAT: 0x05,
  STRING: 0x06,
  BIGINT: 0x07,
  HOLE: 0x08,
  REF: 0x10,
  ARRAY: 0x11,
  OBJECT: 0x12,
  NULL_OBJECT: 0x13,
  MAP: 0x14,
  SET: 0x15,
  DATE: 0x16,
  REGEXP: 0x17,
  ARRAY_BUFFER: 0x18,
  VIEW: 0x19,
  CLASS: 0x1a,
} as const;

/** The value tags, for a writer of frames of its own (SessionFileBuilder.quickRecord). */
export const VALUE_TAG = TAG;

type ViewCtor =
  & { readonly prototype: object; readonly name: string; readonly BYTES_PER_ELEMENT?: number }
  & (new (
    buffer: ArrayBuffer,
    byteOffset: number,
    length: number,
  ) => ArrayBufferView);

/** Index = kind byte on the wire. Never reorder; append only. */
const VIEW_KINDS: (ViewCtor | undefined)[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
  (globalThis as { Float16Array?: ViewCtor }).Float16Array,
] as ViewCtor[];
const VIEW_KIND_BY_PROTO = new Map<object, number>();
VIEW_KINDS.forEach((c, i) => c && VIEW_KIND_BY_PROTO.set(c.prototype, i));

const BUILTIN_NAMES = new Map<object, string>([
  [Array.prototype, "Array"],
  [Map.prototype, "Map"],
  [Set.prototype, "Set"],
  [Date.prototype, "Date"],
  [RegExp.prototype, "RegExp"],
  [ArrayBuffer.prototype, "ArrayBuffer"],
  ...VIEW_KINDS.filter((c): c is ViewCtor => !!c).map((c) => [c.prototype, c.name] as [object, string]),
]);
const RESERVED_NAMES = new Set([
  ...BUILTIN_NAMES.values(),
  "String",
  "Number",
  "Boolean",
  "BigInt",
  "Symbol",
  "Function",
  "Undefined",
  "Null",
  "Object",
  "Principal",
]);

/** How a registered class becomes data and back, when its own enumerable fields are not enough. */
export interface ClassCodec<T> {
  toJSON(value: T): unknown;
  fromJSON(data: unknown): T;
}

interface Entry {
  readonly name: string;
  readonly proto: object;
  readonly codec?: ClassCodec<unknown>;
}

/** A writer that grew beyond this is dropped rather than kept around between calls. */
const MAX_SPARE_BYTES = 1 << 20;
const PENDING = Symbol("pending");
const HOLE = Symbol("hole");
const log = logger("session");

export class Serializer {
  private readonly byName = new Map<string, Entry>();
  private readonly byProto = new Map<object, Entry>();
  private spare: ByteWriter | null = null;
  private encoder: Encoder | null = null;

  /**
   * Makes instances of `ctor` serializable under `name` (the name is what gets written, and what the
   * value-class filter sees). Without a codec, own enumerable fields are written and the instance
   * is rebuilt on the class prototype without running the constructor.
   */
  register<T extends object>(
    name: string,
    ctor: abstract new (...args: never[]) => T,
    codec?: ClassCodec<T>,
  ): void {
    if (typeof name !== "string" || !/^[A-Za-z_$][\w$.]*$/.test(name)) {
      throw new BobcatError("session.registerName", `registerSerializable: invalid class name [${String(name)}]`, {
        fix: 'Use an identifier such as "User" or a dotted name such as "com.example.User".',
      });
    }
    if (RESERVED_NAMES.has(name)) {
      throw new BobcatError("session.registerName", `registerSerializable: [${name}] is a built-in type name`, {
        fix: "Built-in types are serializable already; choose another name for your class.",
      });
    }
    const proto = typeof ctor === "function" ? (ctor.prototype as unknown) : undefined;
    if (typeof proto !== "object" || proto === null || BUILTIN_NAMES.has(proto) || proto === Object.prototype) {
      throw new BobcatError("session.registerClass", `registerSerializable: [${name}] needs a class constructor`, {
        fix: 'Pass the class itself, e.g. registerSerializable("User", User).',
      });
    }
    if (codec !== undefined && (typeof codec.toJSON !== "function" || typeof codec.fromJSON !== "function")) {
      throw new BobcatError(
        "session.registerCodec",
        `registerSerializable: the codec for [${name}] needs both toJSON and fromJSON`,
      );
    }
    const sameClass = this.byProto.get(proto);
    if (sameClass && sameClass.name !== name) {
      throw new BobcatError(
        "session.registerConflict",
        `registerSerializable: the class is already registered as [${sameClass.name}], not [${name}]`,
        { fix: "Register each class under one name only." },
      );
    }
    const previous = this.byName.get(name);
    if (previous && previous.proto !== proto) {
      // A reloaded app module brings a new class object under the same name; the newest wins.
      this.byProto.delete(previous.proto);
      log.info(`Serializable class [${name}] registered again with a different constructor; the new one is used`);
    }
    const entry: Entry = { name, proto, codec: codec as ClassCodec<unknown> | undefined };
    this.byName.set(name, entry);
    this.byProto.set(proto, entry);
  }

  /** The name the value-class filter matches (see the list at the top of this file). */
  typeName(value: unknown): string {
    switch (typeof value) {
      case "string":
        return "String";
      case "number":
        return "Number";
      case "boolean":
        return "Boolean";
      case "bigint":
        return "BigInt";
      case "undefined":
        return "Undefined";
      case "symbol":
        return "Symbol";
      case "function":
        return "Function";
    }
    if (value === null) return "Null";
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === null || proto === Object.prototype) return "Object";
    const known = this.byProto.get(proto)?.name ?? BUILTIN_NAMES.get(proto);
    if (known) return known;
    const ctorName = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctorName === "string" && ctorName ? ctorName : "Object";
  }

  /** Throws NotSerializableError naming the offending path when any part of the value cannot be written. */
  serialize(value: unknown): Uint8Array {
    // One spare writer, reused: a codec's toJSON may serialize re-entrantly, and then gets a fresh one.
    const writer = this.spare ?? new ByteWriter();
    this.spare = null;
    try {
      this.serializeInto(writer, value);
      return writer.finish();
    } finally {
      writer.reset();
      if (writer.capacity <= MAX_SPARE_BYTES) this.spare = writer;
    }
  }

  /**
   * The frame of `value` appended to `writer`, with no array of its own (a small typed array per
   * attribute costs more than writing it, on V8 above all). On a throw, part of it may be written.
   */
  serializeInto(writer: ByteWriter, value: unknown): void {
    if (typeof value !== "object" || value === null) {
      // Most attributes are a string or a number: no encoder for them.
      writer.u8(VALUE_FORMAT_VERSION);
      if (writePrimitive(writer, value)) return;
      writer.truncate(writer.length - 1);
    }
    // One encoder, reused from value to value; a codec's toJSON that serializes re-entrantly
    // gets one of its own.
    const reused = (this.encoder ??= new Encoder(this.byProto, this));
    if (reused.busy) return new Encoder(this.byProto, this).run(writer, value);
    reused.run(writer, value);
  }

  /** Throws CorruptDataError (or its UnknownClassError) for anything that is not a valid frame. */
  deserialize(bytes: Uint8Array): unknown {
    return this.deserializeFrom(new ByteReader(bytes));
  }

  /** As deserialize, reading a whole reader (a window of a larger buffer). */
  deserializeFrom(reader: ByteReader): unknown {
    const v = readPrimitiveFrame(reader);
    return v !== NOT_PRIMITIVE ? v : new Decoder(reader, this.byName).run();
  }
}

/** The process-wide registry, used unless a manager is given its own Serializer. */
export const defaultSerializer = new Serializer();

export function registerSerializable<T extends object>(
  name: string,
  ctor: abstract new (...args: never[]) => T,
  codec?: ClassCodec<T>,
): void {
  defaultSerializer.register(name, ctor, codec);
}

function keySegment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The frame of `v` when it is undefined, null, a boolean, a number or a string (as serializeInto
 * writes it); false, with nothing written, for anything else.
 */
export function writePrimitiveFrame(w: ByteWriter, v: unknown): boolean {
  if (typeof v === "object" && v !== null) return false;
  w.u8(VALUE_FORMAT_VERSION);
  if (writePrimitive(w, v)) return true;
  w.truncate(w.length - 1);
  return false;
}

/** undefined, null, a boolean, a number or a string as its value (tag and payload); false for anything else. */
function writePrimitive(w: ByteWriter, v: unknown): boolean {
  switch (typeof v) {
    case "undefined":
      w.u8(TAG.UNDEFINED);
      return true;
    case "boolean":
      w.u8(v ? TAG.TRUE : TAG.FALSE);
      return true;
    case "number":
      if ((v | 0) === v && !Object.is(v, -0)) {
        w.u8(TAG.INT);
        w.zigzag32(v);
      } else {
        w.u8(TAG.FLOAT);
        w.f64(v);
      }
      return true;
    case "string":
      w.u8(TAG.STRING);
      w.str(v);
      return true;
  }
  if (v === null) {
    w.u8(TAG.NULL);
    return true;
  }
  return false;
}

/** An Encoder numbers up to this many objects in an array (a scan is cheaper than a Map), then in a Map. */
const LISTED_OBJECTS = 16;

class Encoder {
  /** Writing a value now: a re-entrant call (a codec's toJSON serializing) needs another encoder. */
  busy = false;
  private w!: ByteWriter;
  // The objects written so far in this frame, by number: listed while they are few (a value is
  // mostly one or a few; a scan is cheaper than a Map), then in a Map. The list is kept from
  // frame to frame.
  private readonly refsList: (object | null)[] = [];
  /** How many of refsList are this frame's. */
  private refsCount = 0;
  private refsMap: Map<object, number> | null = null;
  /** Instances whose codec result is being written: a reference back to one cannot be rebuilt. */
  private pendingSet: Set<object> | null = null;
  private depth = 0;

  /** The number of object `o` if it was written already. */
  private refOf(o: object): number | undefined {
    if (this.refsMap !== null) return this.refsMap.get(o);
    const list = this.refsList;
    const n = this.refsCount;
    for (let i = 0; i < n; i++) if (list[i] === o) return i;
    return undefined;
  }

  /** Numbers `o`, the next object written. */
  private numberObject(o: object): void {
    if (this.refsMap !== null) {
      this.refsMap.set(o, this.refsMap.size);
      return;
    }
    const list = this.refsList;
    list[this.refsCount++] = o;
    if (this.refsCount > LISTED_OBJECTS) {
      const map = (this.refsMap = new Map());
      for (let i = 0; i < this.refsCount; i++) {
        map.set(list[i]!, i);
        list[i] = null;
      }
      this.refsCount = 0;
    }
  }

  private get pending(): Set<object> {
    return (this.pendingSet ??= new Set());
  }

  constructor(
    private readonly classes: Map<object, Entry>,
    private readonly names: Serializer,
  ) {}

  run(w: ByteWriter, value: unknown): void {
    this.w = w;
    this.busy = true;
    try {
      w.u8(VALUE_FORMAT_VERSION);
      this.value(value);
    } finally {
      // Nothing of this frame is held on to: the objects it numbered may be dropped.
      const list = this.refsList;
      for (let i = 0; i < this.refsCount; i++) list[i] = null;
      this.refsCount = 0;
      this.refsMap = null;
      this.pendingSet = null;
      this.depth = 0;
      this.busy = false;
    }
  }

  /** Adds `segment` to the path of an error coming out of a child value. */
  private wrap(err: unknown, segment: string): NotSerializableError {
    if (err instanceof NotSerializableError) return err.within(segment);
    // A throwing getter: the value cannot be read, so it cannot be written.
    return new NotSerializableError("Object", `reading it threw: ${describe(err)}`).within(segment);
  }

  private value(v: unknown): void {
    const w = this.w;
    if (writePrimitive(w, v)) return;
    switch (typeof v) {
      case "bigint":
        this.bigint(v);
        return;
      case "symbol":
        throw new NotSerializableError("Symbol", "a symbol cannot be serialized");
      case "function":
        throw new NotSerializableError("Function", `a function (${v.name || "anonymous"}) cannot be serialized`);
    }
    const o = v as object;
    const ref = this.refOf(o);
    if (ref !== undefined) {
      if (this.pendingSet?.has(o)) {
        throw new NotSerializableError(
          this.names.typeName(o),
          `the toJSON() result of a [${this.names.typeName(o)}] refers back to the instance itself`,
        );
      }
      w.u8(TAG.REF);
      w.varint(ref);
      return;
    }
    if (this.depth >= MAX_DEPTH) {
      throw new NotSerializableError(this.names.typeName(o), `the value is nested deeper than ${MAX_DEPTH} levels`);
    }
    this.depth++;
    this.object(o);
    this.depth--;
  }

  private bigint(v: bigint): void {
    const negative = v < 0n;
    const hex = (negative ? -v : v).toString(16);
    const magnitude = new Uint8Array(v === 0n ? 0 : Math.ceil(hex.length / 2));
    const padded = hex.length % 2 ? "0" + hex : hex;
    for (let i = 0; i < magnitude.length; i++) magnitude[i] = parseInt(padded.slice(i * 2, i * 2 + 2), 16);
    this.w.u8(TAG.BIGINT);
    this.w.u8(negative ? 1 : 0);
    this.w.block(magnitude);
  }

  private object(o: object): void {
    const w = this.w;
    const proto = Object.getPrototypeOf(o) as object | null;
    this.numberObject(o);
    // Plain objects and arrays (most of what sessions hold) by prototype identity first: no
    // class is ever registered with either prototype (register refuses them).
    if (proto === Object.prototype) {
      w.u8(TAG.OBJECT);
      return this.fields(o as Record<string, unknown>);
    }
    if (proto === Array.prototype) return this.array(o as unknown[]);
    if (proto === null) {
      w.u8(TAG.NULL_OBJECT);
      return this.fields(o as Record<string, unknown>);
    }
    const registered = this.classes.get(proto);
    if (registered) return this.instance(o, registered);
    switch (proto) {
      case Map.prototype: {
        const map = o as Map<unknown, unknown>;
        w.u8(TAG.MAP);
        w.varint(map.size);
        let i = 0;
        let inKey = true;
        let key: unknown;
        try {
          for (const [k, v] of map) {
            key = k;
            inKey = true;
            this.value(k);
            inKey = false;
            this.value(v);
            i++;
          }
        } catch (err) {
          const label = typeof key === "string" ? JSON.stringify(key) : typeof key === "number" ? String(key) : `#${i}`;
          throw this.wrap(err, inKey ? `<map key #${i}>` : `.get(${label})`);
        }
        return;
      }
      case Set.prototype: {
        const set = o as Set<unknown>;
        w.u8(TAG.SET);
        w.varint(set.size);
        let i = 0;
        try {
          for (const v of set) {
            this.value(v);
            i++;
          }
        } catch (err) {
          throw this.wrap(err, `<set item #${i}>`);
        }
        return;
      }
      case Date.prototype:
        w.u8(TAG.DATE);
        w.f64((o as Date).getTime());
        return;
      case RegExp.prototype:
        w.u8(TAG.REGEXP);
        w.str((o as RegExp).source);
        w.str((o as RegExp).flags);
        return;
      case ArrayBuffer.prototype:
        w.u8(TAG.ARRAY_BUFFER);
        w.block(new Uint8Array(o as ArrayBuffer));
        return;
    }
    const kind = proto ? VIEW_KIND_BY_PROTO.get(proto) : undefined;
    if (kind !== undefined) {
      const view = o as ArrayBufferView;
      const ctor = VIEW_KINDS[kind]!;
      w.u8(TAG.VIEW);
      w.u8(kind);
      try {
        this.value(view.buffer);
      } catch (err) {
        throw this.wrap(err, ".buffer");
      }
      w.varint(view.byteOffset);
      w.varint(ctor === DataView ? view.byteLength : (view as Uint8Array).length);
      return;
    }
    const name = this.names.typeName(o);
    throw new NotSerializableError(
      name,
      `an instance of [${name}] is not serializable (only plain data, built-in collections and registered classes are)`,
    );
  }

  private array(a: unknown[]): void {
    this.w.u8(TAG.ARRAY);
    this.w.varint(a.length);
    let i = 0;
    try {
      for (; i < a.length; i++) {
        // `in` only for undefined: a hole reads as undefined (or as what a prototype holds there,
        // which `in` finds too).
        const v = a[i];
        if (v !== undefined || i in a) this.value(v);
        else this.w.u8(TAG.HOLE);
      }
    } catch (err) {
      throw this.wrap(err, `[${i}]`);
    }
  }

  private fields(o: Record<string, unknown>): void {
    const keys = Object.keys(o);
    this.w.varint(keys.length);
    let key = "";
    try {
      for (key of keys) {
        this.w.str(key);
        this.value(o[key]);
      }
    } catch (err) {
      throw this.wrap(err, keySegment(key));
    }
  }

  private instance(o: object, entry: Entry): void {
    this.w.u8(TAG.CLASS);
    this.w.str(entry.name);
    if (!entry.codec) {
      this.w.u8(0);
      return this.fields(o as Record<string, unknown>);
    }
    this.w.u8(1);
    let data: unknown;
    try {
      data = entry.codec.toJSON(o);
    } catch (err) {
      throw new NotSerializableError(entry.name, `toJSON() of [${entry.name}] threw: ${describe(err)}`);
    }
    this.pending.add(o);
    try {
      this.value(data);
    } catch (err) {
      throw this.wrap(err, ".toJSON()");
    }
    this.pending.delete(o);
  }
}

const NOT_PRIMITIVE = Symbol("not a primitive frame");

/**
 * A whole frame holding undefined, null, a boolean, a number or a string, read without a
 * Decoder; NOT_PRIMITIVE (the reader where it was) for any other frame, which the Decoder then
 * reads, reporting whatever is wrong with it. An error here is the one the Decoder would give.
 */
function readPrimitiveFrame(r: ByteReader): unknown {
  const start = r.pos;
  if (r.remaining < 2 || r.u8() !== VALUE_FORMAT_VERSION) {
    r.pos = start;
    return NOT_PRIMITIVE;
  }
  let v: unknown;
  switch (r.u8()) {
    case TAG.UNDEFINED:
      v = undefined;
      break;
    case TAG.NULL:
      v = null;
      break;
    case TAG.FALSE:
      v = false;
      break;
    case TAG.TRUE:
      v = true;
      break;
    case TAG.INT:
      v = r.zigzag32();
      break;
    case TAG.FLOAT:
      v = r.f64();
      break;
    case TAG.STRING:
      v = r.str();
      break;
    default:
      r.pos = start;
      return NOT_PRIMITIVE;
  }
  if (r.remaining === 0) return v;
  r.pos = start;
  return NOT_PRIMITIVE;
}

class Decoder {
  private readonly refs: unknown[] = [];
  private depth = 0;

  constructor(private readonly r: ByteReader, private readonly classes: Map<string, Entry>) {}

  run(): unknown {
    const version = this.r.u8();
    if (version !== VALUE_FORMAT_VERSION) {
      this.r.fail(
        `value format version ${version} is not supported (this bobcat reads version ${VALUE_FORMAT_VERSION})`,
      );
    }
    const v = this.value();
    if (v === HOLE) this.r.fail("hole outside an array");
    this.r.end();
    return v;
  }

  /** May return HOLE; only array() accepts it. */
  private value(): unknown {
    const r = this.r;
    const tag = r.u8();
    switch (tag) {
      case TAG.UNDEFINED:
        return undefined;
      case TAG.NULL:
        return null;
      case TAG.FALSE:
        return false;
      case TAG.TRUE:
        return true;
      case TAG.INT:
        return r.zigzag32();
      case TAG.FLOAT:
        return r.f64();
      case TAG.STRING:
        return r.str();
      case TAG.BIGINT:
        return this.bigint();
      case TAG.HOLE:
        return HOLE;
      case TAG.REF: {
        const index = r.varint();
        if (index >= this.refs.length) r.fail(`reference #${index} to an object not yet read`);
        const v = this.refs[index];
        if (v === PENDING) r.fail(`reference #${index} to an object that is still being rebuilt`);
        return v;
      }
    }
    if (this.depth >= MAX_DEPTH) r.fail(`value nested deeper than ${MAX_DEPTH} levels`);
    this.depth++;
    const v = this.object(tag);
    this.depth--;
    return v;
  }

  /** A value where a hole is not allowed. */
  private item(): unknown {
    const v = this.value();
    if (v === HOLE) this.r.fail("hole outside an array");
    return v;
  }

  private bigint(): bigint {
    const r = this.r;
    const sign = r.u8();
    if (sign > 1) r.fail(`invalid bigint sign byte ${sign}`);
    const magnitude = r.block();
    if (magnitude.length === 0) {
      if (sign) r.fail("negative zero bigint");
      return 0n;
    }
    if (magnitude[0] === 0) r.fail("bigint with a leading zero byte");
    let hex = "0x";
    for (const b of magnitude) hex += b.toString(16).padStart(2, "0");
    const v = BigInt(hex);
    return sign ? -v : v;
  }

  private object(tag: number): unknown {
    const r = this.r;
    switch (tag) {
      case TAG.ARRAY: {
        const a = new Array<unknown>(r.count(1));
        this.refs.push(a);
        for (let i = 0; i < a.length; i++) {
          const v = this.value();
          if (v !== HOLE) a[i] = v;
        }
        return a;
      }
      case TAG.OBJECT:
      case TAG.NULL_OBJECT: {
        const o = tag === TAG.OBJECT ? {} : Object.create(null);
        this.refs.push(o);
        return this.fields(o);
      }
      case TAG.MAP: {
        const n = r.count(2);
        const m = new Map<unknown, unknown>();
        this.refs.push(m);
        for (let i = 0; i < n; i++) {
          const k = this.item();
          m.set(k, this.item());
        }
        return m;
      }
      case TAG.SET: {
        const n = r.count(1);
        const s = new Set<unknown>();
        this.refs.push(s);
        for (let i = 0; i < n; i++) s.add(this.item());
        return s;
      }
      case TAG.DATE: {
        const d = new Date(r.f64());
        this.refs.push(d);
        return d;
      }
      case TAG.REGEXP: {
        const index = this.reserve();
        const source = r.str();
        const flags = r.str();
        let re: RegExp;
        try {
          re = new RegExp(source, flags);
        } catch (err) {
          return r.fail(`invalid regular expression /${source}/${flags}: ${describe(err)}`);
        }
        this.refs[index] = re;
        return re;
      }
      case TAG.ARRAY_BUFFER: {
        const buffer = r.block().slice().buffer;
        this.refs.push(buffer);
        return buffer;
      }
      case TAG.VIEW:
        return this.view();
      case TAG.CLASS:
        return this.instance();
    }
    return r.fail(`unknown type tag 0x${tag.toString(16).padStart(2, "0")}`);
  }

  private reserve(): number {
    this.refs.push(PENDING);
    return this.refs.length - 1;
  }

  private fields<T extends object>(o: T, define = false): T {
    const r = this.r;
    const n = r.count(2);
    for (let i = 0; i < n; i++) {
      const k = r.str();
      const v = this.item();
      // defineProperty: "__proto__" (or a setter on a class prototype) must not run on restore.
      if (define || k === "__proto__") {
        Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
      } else {
        (o as Record<string, unknown>)[k] = v;
      }
    }
    return o;
  }

  private view(): ArrayBufferView {
    const r = this.r;
    const kind = r.u8();
    const ctor = VIEW_KINDS[kind];
    if (!ctor) return r.fail(`unknown typed array kind ${kind}`);
    const index = this.reserve();
    const buffer = this.item();
    if (!(buffer instanceof ArrayBuffer)) return r.fail(`${ctor.name} over something that is not an ArrayBuffer`);
    const byteOffset = r.varint();
    const length = r.varint();
    const unit = ctor.BYTES_PER_ELEMENT ?? 1;
    if (byteOffset % unit !== 0 || byteOffset + length * unit > buffer.byteLength) {
      r.fail(`${ctor.name} (offset ${byteOffset}, length ${length}) does not fit its ${buffer.byteLength}-byte buffer`);
    }
    const view = new ctor(buffer, byteOffset, length);
    this.refs[index] = view;
    return view;
  }

  private instance(): unknown {
    const r = this.r;
    const name = r.str();
    const mode = r.u8();
    const entry = this.classes.get(name);
    if (!entry) throw new UnknownClassError(name);
    if (mode === 0) {
      const o = Object.create(entry.proto) as object;
      this.refs.push(o);
      return this.fields(o, true);
    }
    if (mode !== 1) r.fail(`invalid mode ${mode} for class [${name}]`);
    if (!entry.codec) {
      throw new CorruptDataError(
        `class [${name}] was written by its codec's toJSON() but is now registered without a codec`,
        `Register [${name}] with the same { toJSON, fromJSON } codec it was written with.`,
      );
    }
    const index = this.reserve();
    const data = this.item();
    let instance: unknown;
    try {
      instance = entry.codec.fromJSON(data);
    } catch (err) {
      throw new CorruptDataError(
        `fromJSON() of class [${name}] threw: ${describe(err)}`,
        `Fix fromJSON() of [${name}].`,
      );
    }
    this.refs[index] = instance;
    return instance;
  }
}
