/**
 * A deep copy of config data: arrays and plain objects copied, everything else (strings, numbers,
 * booleans, null) as it is. Config defaults and parsed config files hold nothing else. Used instead
 * of structuredClone, whose first call makes Deno page in its V8 serializer: 0.3–0.7 MiB more of its
 * machine code resident for the life of a server that copied an attribute's default at start
 * (bench/probes/deno-idle-parts.ts).
 *
 * Keys are defined, not assigned, as structuredClone does: a map's key comes from the file
 * (`errorCode.__proto__` in a conf/context.xml), and assigning `__proto__` would set the copy's
 * prototype instead of keeping the key. An object without a prototype is copied as a plain one.
 */
export function copyData<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copyData) as T;
  if (value !== null && typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyData(v)])) as T;
    }
  }
  return value;
}
