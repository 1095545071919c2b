/**
 * PostgreSQL for edge runtimes, through postgres.js and drizzle-orm. Deno and Bun keep a pool as a
 * server does. Cloudflare Workers forbid using a socket opened by one request in another (and a
 * socket opened outside a request outlives nothing), so there each operation opens its own
 * connection over `cloudflare:sockets` (postgres.js's workerd build) and closes it afterwards.
 */
import type { DrizzleDatabase, SqlConnection } from "../datasource/drivers.ts";
import type { DataSourceSpec } from "../datasource/resources.ts";
import { withOptionalEnv } from "../util/env.ts";

/** Cloudflare's workerd (Workers, `wrangler dev`) says so in navigator.userAgent. */
export function onWorkerd(): boolean {
  return (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";
}

interface Client {
  unsafe(statement: string): Promise<unknown>;
  end(options?: { timeout?: number }): Promise<void>;
}

export async function openEdgePostgres(spec: DataSourceSpec, perOperation = onWorkerd()): Promise<SqlConnection> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const o = spec.options;
  // postgres.js reads PG* variables while it parses its options: under Deno without --allow-env
  // an unreadable one counts as unset instead of failing the connection.
  const connect = (max: number) =>
    withOptionalEnv(() =>
      postgres(spec.target, {
        max,
        connect_timeout: Math.max(1, Math.ceil(o.maxWaitMillis / 1000)),
        idle_timeout: perOperation ? 0 : 60,
        // Fail fast (the request falls back to memory); the manager retries on its own schedule.
        backoff: () => 0,
        onnotice: () => {},
        // Array types are fetched once per connection otherwise: a round trip per operation here.
        ...(perOperation ? { fetch_types: false } : {}),
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(o.password !== undefined ? { password: o.password } : {}),
      })
    );
  if (!perOperation) {
    const client = connect(o.maxTotal);
    const db = drizzle({ client });
    return {
      dialect: "postgres",
      run: (fn) => fn(db),
      transaction: (fn) => db.transaction(fn),
      execute: async (statement) => {
        await client.unsafe(statement);
      },
      close: () => client.end({ timeout: 0 }),
    };
  }
  /** One connection for `fn`, ended (gracefully, briefly) when it settles. */
  const once = async <T>(fn: (client: Client, db: DrizzleDatabase) => Promise<T>): Promise<T> => {
    const client = connect(1);
    try {
      return await fn(client, drizzle({ client }));
    } finally {
      await client.end({ timeout: 5 }).catch(() => {});
    }
  };
  return {
    dialect: "postgres",
    run: (fn) => once((_, db) => fn(db)),
    transaction: (fn) => once((_, db) => db.transaction(fn)),
    execute: (statement) => once(async (client) => void (await client.unsafe(statement))),
    close: async () => {},
  };
}
