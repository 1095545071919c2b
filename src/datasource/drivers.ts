/**
 * Opens one database connection (or pool) per data source through drizzle-orm: bun:sqlite under
 * Bun and node:sqlite (through drizzle's sqlite-proxy driver) elsewhere, `postgres` (postgres.js)
 * for PostgreSQL, and `mysql2` for MySQL when that package is installed. Drivers are imported
 * on first use, so a runtime never loads a module it cannot run (bun:sqlite under Deno).
 */
import { BobcatError } from "../util/errors.ts";

export type Dialect = "sqlite" | "postgres" | "mysql";

/**
 * drizzle's SQLite, PostgreSQL and MySQL databases offer the same select/insert/delete builders
 * but share no common type; callers build dialect-neutral queries against this loose view.
 */
// deno-lint-ignore no-explicit-any
export type DrizzleDatabase = any;

export interface SqlConnection {
  readonly dialect: Dialect;
  /** Runs one operation; on SQLite's single connection, never inside another's transaction. */
  run<T>(fn: (db: DrizzleDatabase) => Promise<T>): Promise<T>;
  /** Runs `fn` in one transaction: all of its statements or none. */
  transaction<T>(fn: (tx: DrizzleDatabase) => Promise<T>): Promise<T>;
  /** A raw statement (DDL), without parameters. */
  execute(statement: string): Promise<void>;
  close(): Promise<void>;
}

export interface NetworkOptions {
  username?: string;
  password?: string;
  /** Pool size (DBCP's maxTotal). */
  maxTotal: number;
  /** How long to wait for a connection (DBCP's maxWaitMillis). */
  maxWaitMillis: number;
}

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/**
 * Imports a module the other runtime (or the single-executable build) must not try to resolve
 * ahead of time: bun:sqlite under Deno, mysql2 when it is not installed.
 */
function importAtRuntime<T>(specifier: string): Promise<T> {
  return import(specifier) as Promise<T>;
}

/** SQLite has one connection per file here: operations queue so a transaction is never interleaved. */
class SqliteConnection implements SqlConnection {
  readonly dialect = "sqlite" as const;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: DrizzleDatabase,
    /** Runs one statement outside drizzle's query builders (BEGIN, COMMIT, DDL). */
    private readonly raw: (statement: string) => unknown,
    private readonly closeClient: () => void,
  ) {}

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => {});
    return run;
  }

  run<T>(fn: (db: DrizzleDatabase) => Promise<T>): Promise<T> {
    return this.exclusive(() => fn(this.db));
  }

  transaction<T>(fn: (tx: DrizzleDatabase) => Promise<T>): Promise<T> {
    // Manual BEGIN/COMMIT: bun:sqlite's drizzle transactions take only synchronous callbacks.
    return this.exclusive(async () => {
      await this.raw("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.db);
        await this.raw("COMMIT");
        return result;
      } catch (err) {
        await Promise.resolve(this.raw("ROLLBACK")).catch(() => {});
        throw err;
      }
    });
  }

  execute(statement: string): Promise<void> {
    return this.exclusive(async () => {
      await this.raw(statement);
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.closeClient();
  }
}

// WAL lets several bobcat processes on one machine share the file; busy_timeout makes them wait for each other.
const SQLITE_PRAGMAS = ["PRAGMA journal_mode = WAL", "PRAGMA busy_timeout = 5000", "PRAGMA synchronous = FULL"];

export async function openSqlite(file: string): Promise<SqlConnection> {
  if (isBun) {
    const { Database } = await importAtRuntime<typeof import("bun:sqlite")>("bun:sqlite");
    const { drizzle } = await importAtRuntime<typeof import("drizzle-orm/bun-sqlite")>("drizzle-orm/bun-sqlite");
    const client = new Database(file, { create: true, readwrite: true });
    for (const p of SQLITE_PRAGMAS) client.run(p);
    return new SqliteConnection(drizzle({ client }), (s) => client.run(s), () => client.close());
  }
  const { DatabaseSync } = await import("node:sqlite");
  const { drizzle } = await import("drizzle-orm/sqlite-proxy");
  const client = new DatabaseSync(file);
  for (const p of SQLITE_PRAGMAS) client.exec(p);
  const statements = new Map<string, ReturnType<typeof client.prepare>>();
  const prepare = (text: string) => {
    let stmt = statements.get(text);
    if (!stmt) {
      stmt = client.prepare(text);
      // drizzle's proxy driver maps rows positionally.
      stmt.setReturnArrays(true);
      // The store issues a handful of distinct statements; the cap only guards against misuse.
      if (statements.size >= 64) statements.clear();
      statements.set(text, stmt);
    }
    return stmt;
  };
  const db = drizzle(async (text, params, method) => {
    const stmt = prepare(text);
    if (method === "run") {
      stmt.run(...params);
      return { rows: [] };
    }
    if (method === "get") return { rows: (stmt.get(...params) ?? undefined) as unknown as unknown[] };
    return { rows: stmt.all(...params) as unknown[] };
  });
  return new SqliteConnection(db, (s) => client.exec(s), () => client.close());
}

class PoolConnection implements SqlConnection {
  constructor(
    readonly dialect: "postgres" | "mysql",
    private readonly db: DrizzleDatabase,
    private readonly raw: (statement: string) => Promise<unknown>,
    private readonly end: () => Promise<void>,
  ) {}

  run<T>(fn: (db: DrizzleDatabase) => Promise<T>): Promise<T> {
    return fn(this.db);
  }

  transaction<T>(fn: (tx: DrizzleDatabase) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  async execute(statement: string): Promise<void> {
    await this.raw(statement);
  }

  close(): Promise<void> {
    return this.end();
  }
}

export async function openPostgres(url: string, options: NetworkOptions): Promise<SqlConnection> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const client = postgres(url, {
    max: options.maxTotal,
    connect_timeout: Math.max(1, Math.ceil(options.maxWaitMillis / 1000)),
    idle_timeout: 60,
    // postgres.js waits longer and longer before reconnecting after failures; a store fails fast
    // instead (the request falls back to memory) and the manager retries on its own schedule.
    backoff: () => 0,
    // CREATE TABLE IF NOT EXISTS and the like report NOTICEs; they are not worth a log line.
    onnotice: () => {},
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
  return new PoolConnection("postgres", drizzle({ client }), (s) => client.unsafe(s), () =>
    // Closed after the stores' last writes. A connection that failed during an outage never
    // finishes a graceful end in postgres.js, so connections are terminated at once.
    client.end({ timeout: 0 }));
}

/** The part of mysql2/promise used here (the package is optional, so its types may be absent). */
interface Mysql2 {
  createPool(options: Record<string, unknown>): { query(sql: string): Promise<unknown>; end(): Promise<void> };
}

export async function openMysql(url: string, options: NetworkOptions, resourceName: string): Promise<SqlConnection> {
  let mysql: Mysql2;
  try {
    mysql = await importAtRuntime<Mysql2>("mysql2/promise");
  } catch {
    throw new BobcatError(
      "datasource.driverMissing",
      `data source [${resourceName}]: mysql:// URLs need the mysql2 package, which is not installed`,
      { where: { attribute: "url" }, fix: "Install it next to bobcat (npm install mysql2, or bun add mysql2), or use a postgres:// or sqlite: data source." },
    );
  }
  const { drizzle } = await importAtRuntime<{ drizzle(config: { client: unknown }): DrizzleDatabase }>("drizzle-orm/mysql2");
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: options.maxTotal,
    connectTimeout: options.maxWaitMillis,
    ...(options.username !== undefined ? { user: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
  return new PoolConnection("mysql", drizzle({ client: pool }), (s) => pool.query(s), () => pool.end());
}
