/**
 * RedisStore: sessions in Redis or Valkey, through ioredis (which runs on Bun and on Deno's Node
 * compatibility). `className: RedisStore`, `url: redis://host:port/db`.
 *
 * Layout, per application (`/Engine/Host/context`), every key with the same hash tag so a Redis
 * Cluster keeps one application's keys in one slot:
 * - `<prefix>:{<app>}:s:<id>` a hash: `v` version, `d` the serialized session (the same bytes
 *   DataSourceStore keeps), `la` last access (epoch ms), `mi` maxInactiveInterval (s). Its TTL is
 *   the timeout plus a grace period, so Redis drops what no instance is left to expire;
 * - `<prefix>:{<app>}:exp` a sorted set: each session's id scored by when it times out (+inf
 *   for sessions that never do), which the expiry sweep claims from;
 * - `<prefix>:{<app>}:layout` = `bobcat-sessions 1`, checked at start (`bobcat check`).
 * Every operation is one Lua script, so versions, renames and expiry claims are atomic, and the
 * store relies on no keyspace notifications (managed services turn them off).
 */
import { BobcatError } from "../../util/errors.ts";
import { CorruptDataError } from "../errors.ts";
import type { StandardSession } from "../session.ts";
import type { SessionSnapshot } from "../store.ts";
import { applicationName } from "./data-source-store.ts";
import { StoreBase, type StoreContext, StoreUnavailableError } from "./store-base.ts";
import type { RedisStoreConfig } from "../config.ts";
import {
  counted,
  newCounters,
  type StoreCounters,
  type StoredVersion,
  type VersionedStore,
  type VersionedWrite,
} from "./versioned.ts";

/** The `<Store className="RedisStore">` attributes (src/config/schema.ts); `url` is required. */
export type RedisStoreOptions = RedisStoreConfig;

const LAYOUT = "bobcat-sessions 1";
/** Seconds a timed-out session stays in Redis for an instance to expire it with its listeners. */
const GRACE_MS = 10 * 60 * 1000;
const COMMAND_TIMEOUT_MS = 15000;

/** Lua's tostring prints large numbers in exponent form; these stay integers. */
const LUA_HELPERS = `
local function int(x) return string.format('%.0f', x) end
local function schedule(key, exp, id, la, mi, grace)
  if mi > 0 then
    redis.call('PEXPIRE', key, int(mi * 1000 + grace))
    redis.call('ZADD', exp, int(la + mi * 1000), id)
  else
    redis.call('PERSIST', key)
    redis.call('ZADD', exp, '+inf', id)
  end
end
`;

const SCRIPTS = {
  // KEYS: session; ARGV: known version
  bcFetch: {
    keys: 1,
    lua: `local r = redis.call('HMGET', KEYS[1], 'v', 'la', 'mi')
if not r[1] then return false end
if r[1] == ARGV[1] then return {r[1], r[2], r[3]} end
return {r[1], r[2], r[3], redis.call('HGET', KEYS[1], 'd')}`,
  },
  // KEYS: session, exp; ARGV: data, la, mi, id, grace
  bcCreate: {
    keys: 2,
    lua: `${LUA_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', 1, 'd', ARGV[1], 'la', ARGV[2], 'mi', ARGV[3])
schedule(KEYS[1], KEYS[2], ARGV[4], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5]))
return 1`,
  },
  // KEYS: session, exp; ARGV: expected ('' = any), data, la, mi, id, grace
  bcReplace: {
    keys: 2,
    lua: `${LUA_HELPERS}
local v = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] ~= '' and v ~= ARGV[1] then return false end
local nv = (tonumber(v) or 0) + 1
local la = tonumber(ARGV[3])
local cur = tonumber(redis.call('HGET', KEYS[1], 'la'))
if cur and cur > la then la = cur end
redis.call('HSET', KEYS[1], 'v', nv, 'd', ARGV[2], 'la', int(la), 'mi', ARGV[4])
schedule(KEYS[1], KEYS[2], ARGV[5], la, tonumber(ARGV[4]), tonumber(ARGV[6]))
return nv`,
  },
  // KEYS: old session, exp, new session; ARGV: expected, data, la, mi, new id, old id, grace
  bcRename: {
    keys: 3,
    lua: `${LUA_HELPERS}
local v = redis.call('HGET', KEYS[1], 'v')
if not v or v ~= ARGV[1] then return false end
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[6])
local nv = tonumber(v) + 1
redis.call('HSET', KEYS[3], 'v', nv, 'd', ARGV[2], 'la', ARGV[3], 'mi', ARGV[4])
schedule(KEYS[3], KEYS[2], ARGV[5], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[7]))
return nv`,
  },
  // KEYS: session, exp; ARGV: la, mi, id, grace
  bcTouch: {
    keys: 2,
    lua: `${LUA_HELPERS}
local cur = redis.call('HGET', KEYS[1], 'la')
if not cur then return 0 end
if tonumber(ARGV[1]) > tonumber(cur) then
  redis.call('HSET', KEYS[1], 'la', ARGV[1])
  schedule(KEYS[1], KEYS[2], ARGV[3], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4]))
end
return 1`,
  },
  // KEYS: session, exp; ARGV: id
  bcRemove: {
    keys: 2,
    lua: `redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`,
  },
  // KEYS: exp; ARGV: now, limit, session key prefix. Each timed-out session goes to exactly one caller.
  bcClaim: {
    keys: 1,
    lua: `${LUA_HELPERS}
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local key = ARGV[3] .. id
  local r = redis.call('HMGET', key, 'la', 'mi', 'd')
  if not r[1] then
    table.insert(out, id)
    table.insert(out, '')
  else
    local la, mi = tonumber(r[1]), tonumber(r[2])
    if mi > 0 and la + mi * 1000 <= now then
      redis.call('DEL', key)
      table.insert(out, id)
      table.insert(out, r[3])
    elseif mi > 0 then
      redis.call('ZADD', KEYS[1], int(la + mi * 1000), id)
    else
      redis.call('ZADD', KEYS[1], '+inf', id)
    end
  end
end
return out`,
  },
} as const;

type Reply = Buffer | null | (Buffer | null)[] | number;

/** The part of ioredis used here. */
interface RedisClient {
  status: string;
  connect(): Promise<void>;
  quit(): Promise<unknown>;
  disconnect(): void;
  defineCommand(name: string, def: { numberOfKeys: number; lua: string }): void;
  getBuffer(key: string): Promise<Buffer | null>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  type(key: string): Promise<string>;
  zcard(key: string): Promise<number>;
  zrange(key: string, start: number, stop: number): Promise<string[]>;
  del(...keys: string[]): Promise<number>;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  [script: string]: unknown;
}

function text(b: Buffer | null | undefined): string {
  return b ? b.toString("latin1") : "";
}

export class RedisStore extends StoreBase implements VersionedStore {
  readonly url: string;
  readonly keyPrefix: string;
  readonly counters: StoreCounters = newCounters();
  private client: RedisClient | null = null;
  private opening: Promise<RedisClient> | null = null;

  constructor(config: RedisStoreConfig, context: StoreContext = {}) {
    super();
    const owner = `RedisStore of ${context.name ?? "the context"}`;
    const fail = (attribute: string, problem: string, fix: string): never => {
      throw new BobcatError("session.badAttribute", `${owner}: attribute [${attribute}] ${problem}`, {
        where: { attribute },
        fix,
      });
    };
    const url = config.url.trim() ||
      fail("url", "is required", "Give the Redis or Valkey server, e.g. url: redis://127.0.0.1:6379/0.");
    let parsed: URL = new URL("redis://localhost");
    try {
      parsed = new URL(url);
    } catch {
      fail("url", `[${url}] is not a URL`, "Write it as redis://host:port/db (rediss:// for TLS).");
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
      fail("url", `[${url}] is not a redis:// or rediss:// URL`, "Write it as redis://host:port/db.");
    }
    this.url = url;
    this.keyPrefix = config.keyPrefix;
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(this.keyPrefix)) {
      fail("keyPrefix", `[${this.keyPrefix}] is not a plain key prefix`, "Use letters, digits and _ . : - only.");
    }
  }

  private get app(): string {
    return applicationName(this.manager.name);
  }

  private get base(): string {
    return `${this.keyPrefix}:{${this.app}}`;
  }

  private key(id: string): string {
    return `${this.base}:s:${id}`;
  }

  private get exp(): string {
    return `${this.base}:exp`;
  }

  /** Where the server is, without the password. */
  private get location(): string {
    const u = new URL(this.url);
    u.password = u.password ? "***" : "";
    return u.href;
  }

  private async redis(): Promise<RedisClient> {
    if (this.client) return this.client;
    this.opening ??= (async () => {
      let Redis: new (url: string, options: Record<string, unknown>) => RedisClient;
      try {
        ({ default: Redis } = (await import("ioredis")) as unknown as { default: typeof Redis });
      } catch (err) {
        throw new BobcatError("store.driverMissing", `${this}: the ioredis package cannot be loaded`, {
          where: { attribute: "className" },
          fix: "bobcat's installation is incomplete: reinstall it (npm install), or use the single executable.",
          cause: err,
        });
      }
      const client = new Redis(this.url, {
        lazyConnect: true,
        // Fail at once while disconnected: the manager answers 503 or keeps the write for later.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 5000,
        commandTimeout: COMMAND_TIMEOUT_MS,
        retryStrategy: (times: number) => Math.min(100 * times, 1000),
      });
      // ioredis reports connection errors as events too; the operations' own errors say enough.
      client.on("error", () => {});
      for (const [name, s] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: s.keys, lua: s.lua });
      this.client = client;
      return client;
    })();
    return this.opening;
  }

  private async call(name: keyof typeof SCRIPTS, ...args: (string | Uint8Array | number)[]): Promise<Reply> {
    const client = await this.redis();
    if (client.status !== "ready") {
      if (client.status === "wait") await client.connect();
      else throw new Error(`not connected to ${this.location} (${client.status})`);
    }
    const fn = client[`${name}Buffer`] as (...a: unknown[]) => Promise<Reply>;
    return await fn.apply(client, args.map((a) => (a instanceof Uint8Array ? Buffer.from(a) : String(a))));
  }

  private async op<T>(what: string, kind: "reads" | "writes", fn: () => Promise<T>): Promise<T> {
    try {
      return await counted(this.counters, kind, fn);
    } catch (err) {
      if (err instanceof BobcatError) throw err;
      throw new StoreUnavailableError(`${this}: ${what} failed: ${(err as Error)?.message ?? err}`, err);
    }
  }

  /** Connects and checks the key layout; an unreachable server only logs a warning, as DataSourceStore does. */
  override async start(): Promise<void> {
    const client = await this.redis();
    try {
      if (client.status === "wait") await client.connect();
      const layout = `${this.base}:layout`;
      const found = await client.get(layout);
      const expType = await client.type(this.exp);
      if ((found !== null && found !== LAYOUT) || (expType !== "none" && expType !== "zset")) {
        throw new BobcatError(
          "store.badLayout",
          `${this}: the keys under ${this.base} are not a bobcat session layout (${layout} = ${
            JSON.stringify(found)
          }, ${this.exp} is a ${expType})`,
          {
            where: { attribute: "keyPrefix" },
            fix: "Give this store its own keyPrefix (or database in the url), or delete those keys.",
          },
        );
      }
      if (found === null) await client.set(layout, LAYOUT);
    } catch (err) {
      if (err instanceof BobcatError) throw err;
      this.log.warn(
        `${this}: the server cannot be reached now (${(err as Error)?.message ?? err}); ` +
          "requests that need a session get 503 (shared) or keep it in memory (sticky) until it answers",
      );
    }
  }

  override async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.opening = null;
    if (!client) return;
    await Promise.race([client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
    client.disconnect();
  }

  // --- VersionedStore ---------------------------------------------------------------------------

  fetch(id: string, known?: number): Promise<StoredVersion | null> {
    return this.op(`reading session [${id}]`, "reads", async () => {
      const r = await this.call("bcFetch", this.key(id), known === undefined ? "" : String(known));
      if (!Array.isArray(r)) return null;
      return {
        version: Number(text(r[0])),
        lastAccess: Number(text(r[1])),
        maxInactive: Number(text(r[2])),
        ...(r[3] ? { data: new Uint8Array(r[3]) } : {}),
      };
    });
  }

  create(w: VersionedWrite): Promise<boolean> {
    return this.op(`creating session [${w.id}]`, "writes", async () => {
      const r = await this.call(
        "bcCreate",
        this.key(w.id),
        this.exp,
        w.data,
        w.lastAccess,
        w.maxInactive,
        w.id,
        GRACE_MS,
      );
      return Number(r) === 1;
    });
  }

  replace(w: VersionedWrite, expected: number): Promise<number | null> {
    return this.op(`writing session [${w.id}]`, "writes", async () => {
      const r = await this.call(
        "bcReplace",
        this.key(w.id),
        this.exp,
        String(expected),
        w.data,
        w.lastAccess,
        w.maxInactive,
        w.id,
        GRACE_MS,
      );
      if (r === null) this.counters.conflicts++;
      return r === null ? null : Number(r);
    });
  }

  rename(oldId: string, w: VersionedWrite, expected: number): Promise<number | null> {
    return this.op(`renaming session [${oldId}]`, "writes", async () => {
      const r = await this.call(
        "bcRename",
        this.key(oldId),
        this.exp,
        this.key(w.id),
        String(expected),
        w.data,
        w.lastAccess,
        w.maxInactive,
        w.id,
        oldId,
        GRACE_MS,
      );
      if (r === null) {
        this.counters.conflicts++;
        return null;
      }
      if (Number(r) < 0) throw new BobcatError("session.idInUse", `${this}: session id [${w.id}] is already stored`);
      return Number(r);
    });
  }

  touch(id: string, lastAccess: number, maxInactive: number): Promise<void> {
    return this.op(`touching session [${id}]`, "writes", async () => {
      await this.call("bcTouch", this.key(id), this.exp, lastAccess, maxInactive, id, GRACE_MS);
    });
  }

  remove(id: string): Promise<void> {
    return this.op(`removing session [${id}]`, "writes", async () => {
      await this.call("bcRemove", this.key(id), this.exp, id);
    });
  }

  claimExpired(now: number, limit: number): Promise<{ id: string; data: Uint8Array | null }[]> {
    return this.op("claiming expired sessions", "writes", async () => {
      const r = await this.call("bcClaim", this.exp, now, limit, `${this.base}:s:`);
      const out: { id: string; data: Uint8Array | null }[] = [];
      if (!Array.isArray(r)) return out;
      for (let i = 0; i + 1 < r.length; i += 2) {
        const data = r[i + 1];
        out.push({ id: text(r[i]), data: data && data.length ? new Uint8Array(data) : null });
      }
      return out;
    });
  }

  count(): Promise<number> {
    return this.getSize();
  }

  // --- Store (sticky mode) ----------------------------------------------------------------------

  async load(id: string): Promise<StandardSession | null> {
    const stored = await this.fetch(id);
    if (!stored?.data) return null;
    try {
      return this.manager.deserializeSession(stored.data);
    } catch (err) {
      if (!(err instanceof CorruptDataError)) throw err;
      throw new CorruptDataError(`${this}: session [${id}] cannot be read: ${err.message}`, err.fix);
    }
  }

  async saveSnapshot(s: SessionSnapshot): Promise<void> {
    await this.op(
      `writing session [${s.id}]`,
      "writes",
      () =>
        this.call(
          "bcReplace",
          this.key(s.id),
          this.exp,
          "",
          s.data,
          s.lastAccessedTime,
          s.maxInactiveInterval,
          s.id,
          GRACE_MS,
        ),
    );
  }

  keys(): Promise<string[]> {
    return this.op("listing sessions", "reads", async () => (await this.redis()).zrange(this.exp, 0, -1));
  }

  getSize(): Promise<number> {
    return this.op("counting sessions", "reads", async () => (await this.redis()).zcard(this.exp));
  }

  async clear(): Promise<void> {
    const ids = await this.keys();
    await this.op("clearing sessions", "writes", async () => {
      const client = await this.redis();
      for (let i = 0; i < ids.length; i += 500) await client.del(...ids.slice(i, i + 500).map((id) => this.key(id)));
      await client.del(this.exp);
    });
  }

  /** Sticky mode: expired copies are claimed atomically; one loaded here is left to the live session. */
  override async processExpires(): Promise<void> {
    const manager = this.manager;
    for (let round = 0; round < 10; round++) {
      const claimed = await this.claimExpired(manager.now(), 200);
      for (const { id, data } of claimed) {
        if (!data || manager.isLoaded(id)) continue;
        try {
          const session = manager.deserializeSession(data);
          session.setValid(true);
          session.expire(true);
        } catch (err) {
          this.log.warn(`[${manager.name}] ${this}: expired session [${id}] cannot be read: ${(err as Error).message}`);
        }
      }
      if (claimed.length < 200) break;
    }
  }

  toString(): string {
    return `RedisStore[${this.location}]`;
  }
}
