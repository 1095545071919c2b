/**
 * A deep copy of config data: arrays and plain objects copied, everything else (strings, numbers,
 * booleans, null) as it is. Config defaults and parsed config files hold nothing else. Used instead
 * of structuredClone, whose first call makes Deno page in its V8 serializer: 0.3–0.7 MiB more of its
 * machine code resident for the life of a server that copied an attribute's default at start
 * (bench/probes/deno-idle-parts.ts).
 */
export function copyData<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copyData) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = copyData(v);
    return out as T;
  }
  return value;
}
