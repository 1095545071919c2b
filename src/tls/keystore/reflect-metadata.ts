/**
 * Minimal `Reflect.defineMetadata/getMetadata/getOwnMetadata/hasMetadata` for tsyringe
 * (see x509.ts). Installed only when the runtime or another polyfill has not done so.
 */
type Key = string | symbol | undefined;
const store = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();

function table(target: object, prop: Key, create: boolean): Map<unknown, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp) {
    if (!create) return undefined;
    store.set(target, byProp = new Map());
  }
  let t = byProp.get(prop);
  if (!t && create) byProp.set(prop, t = new Map());
  return t;
}

/** The metadata table on `target` or its prototype chain that holds `key`. */
function lookup(key: unknown, target: object, prop: Key): Map<unknown, unknown> | undefined {
  for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
    const m = table(t, prop, false);
    if (m?.has(key)) return m;
  }
  return undefined;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== "function") {
  R.defineMetadata = (key: unknown, value: unknown, target: object, prop?: Key) => {
    table(target, prop, true)!.set(key, value);
  };
  R.getOwnMetadata = (key: unknown, target: object, prop?: Key) => table(target, prop, false)?.get(key);
  R.hasOwnMetadata = (key: unknown, target: object, prop?: Key) => table(target, prop, false)?.has(key) ?? false;
  R.getMetadata = (key: unknown, target: object, prop?: Key) => lookup(key, target, prop)?.get(key);
  R.hasMetadata = (key: unknown, target: object, prop?: Key) => lookup(key, target, prop) !== undefined;
}
// acme-client's own @peculiar/x509 (v1) asks for the key lists and the decorator form too.
if (typeof R.getOwnMetadataKeys !== "function") {
  R.getOwnMetadataKeys = (target: object, prop?: Key) => [...(table(target, prop, false)?.keys() ?? [])];
  R.getMetadataKeys = (target: object, prop?: Key) => {
    const keys = new Set<unknown>();
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      for (const k of table(t, prop, false)?.keys() ?? []) keys.add(k);
    }
    return [...keys];
  };
  R.deleteMetadata = (key: unknown, target: object, prop?: Key) => table(target, prop, false)?.delete(key) ?? false;
  R.metadata = (key: unknown, value: unknown) => (target: object, prop?: Key) => {
    table(target, prop, true)!.set(key, value);
  };
}

export {};
