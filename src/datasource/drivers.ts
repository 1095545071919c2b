/**
 * Opens one database connection (or pool) per data source through drizzle-orm: SQLite through
 * drizzle's sqlite-proxy driver on bun:sqlite under Bun and node:sqlite elsewhere, `postgres`
 * (postgres.js) for PostgreSQL, and `mysql2` for MySQL when that package is installed. Drivers
 * are imported on first use, so a runtime never loads a module it cannot run (bun:sqlite under
 * Deno). Packages are imported with literal specifiers, so `bun build --compile` bundles them;
 * only the optional mysql2 (and drizzle's driver for it) is resolved at run time. */
import { BobcatError } from "../util/errors.ts";
import { runtimeLabel } from "../util/runtime.ts";
import { dirname, join } from "../util/host/path.ts";
import { fileUrl } from "../util/file-url.ts";

export type Dialect = "sqlite" | "postgres" | "mysql";

/**
 * drizzle's SQLite, PostgreSQL and MySQL databases offer the same select/insert/delete builders
 * but share no common type; callers build dialect-neutral queries against this loose view.
 */
// deno-lint-ignore no-explicit-any
export type DrizzleDatabase = any;

/** A statement's text in its dialect and its parameters in order. */
export interface CompiledStatement {
  sql: string;
  params: unknown[];
}

/** drizzle's dialect object, which turns `sql` into text and parameters. */
interface SqlDialect {
  sqlToQuery(statement: never): CompiledStatement;
}

/** What one statement gave: its rows (as objects keyed by column alias) and the rows it changed. */
export interface SqlResult {
  rows: Record<string, unknown>[];
  count: number;
}

export interface SqlConnection {
  readonly dialect: Dialect;
  /** Runs one operation; on SQLite's single connection, never inside another's transaction. */
  run<T>(fn: (db: DrizzleDatabase) => Promise<T>): Promise<T>;
  /** Runs `fn` in one transaction: all of its statements or none. */
  transaction<T>(fn: (tx: DrizzleDatabase) => Promise<T>): Promise<T>;
  /** A raw statement (DDL), without parameters. */
  execute(statement: string): Promise<void>;
  /**
   * The text and parameters of a drizzle `sql` statement in this database's dialect (values
   * made with `sql.placeholder` stay placeholders), so a statement is built once and run many
   * times with `query`. Server pools (PostgreSQL, MySQL) only.
   */
  compile?(statement: unknown): CompiledStatement;
  /**
   * One parameterised statement in one round trip, on the server pools. On PostgreSQL it is
   * prepared once per pooled connection: drizzle's `execute` makes postgres.js send
   * Parse/Describe and wait for the parameter types before each Bind (two round trips).
   */
  query?(text: string, params: unknown[]): Promise<SqlResult>;
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
 * Imports mysql2, which is optional: not bundled, installed by the user next to bobcat. The
 * single executable has no node_modules of its own, so the working directory and the
 * executable's directory are searched too.
 */
async function importAtRuntime<T>(specifier: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    if (!isModuleNotFound(err)) throw err;
    // node:module only on this path: importing it costs Deno ~6 ms of CPU at every start.
    const { createRequire } = await import("node:module");
    for (const dir of [process.cwd(), dirname(process.execPath)]) {
      let path: string;
      try {
        path = createRequire(join(dir, "bobcat.js")).resolve(specifier);
      } catch {
        continue;
      }
      return (await import(fileUrl(path))) as T;
    }
    throw err;
  }
}

function isModuleNotFound(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  // Node and Bun set a code; Deno says "Could not resolve ..." (or "Module not found").
  return e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND" ||
    /Cannot find (package|module)|Could not resolve|Module not found/.test(String(e?.message));
}

/**
 * Imports a package bobcat depends on (drizzle-orm, postgres). Missing, it means bobcat's own
 * installation is incomplete, which is a different fix from a missing driver or a bad path.
 */
export async function importDependency<T>(load: () => Promise<T>, pkg: string, resourceName: string): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (!isModuleNotFound(err)) throw err;
    throw new BobcatError(
      "datasource.packageMissing",
      `data source [${resourceName}]: the ${pkg} package, which bobcat needs for it, cannot be loaded: ${
        (err as Error).message
      }`,
      {
        where: { attribute: "url" },
        fix:
          "bobcat's installation is incomplete: reinstall it (npm install in the directory that has bobcat in node_modules), or use the single executable, which carries its packages.",
        cause: err,
      },
    );
  }
}

/** node:sqlite without a command-line flag: Node 22.13 and 23.4 (Deno has it since 2.2). */
export const NODE_SQLITE_SINCE = "22.13";

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
    // Manual BEGIN/COMMIT on the one connection, queued behind other operations.
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
// busy_timeout comes first: switching a new file to WAL takes a lock that a process opening it at
// the same moment (server.workers) may hold, and without the timeout that fails at once ("database is locked").
const SQLITE_PRAGMAS = ["PRAGMA busy_timeout = 5000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL"];

/** One SQLite database, as the runtime's driver offers it; rows come back as arrays (column order). */
interface SqliteClient {
  run(sql: string, params: unknown[]): void;
  all(sql: string, params: unknown[]): unknown[][];
  exec(sql: string): void;
  close(): void;
}

/** bun:sqlite. Its statement cache (`query`) keeps the few statements the store issues prepared. */
async function bunSqlite(file: string): Promise<SqliteClient> {
  // A builtin: never bundled, never seen by Deno or by the Node bundle.
  const { Database } = await importAtRuntime<typeof import("bun:sqlite")>("bun:sqlite");
  const db = new Database(file, { create: true, readwrite: true });
  type Binding = import("bun:sqlite").SQLQueryBindings;
  return {
    run: (sql, params) => void db.query(sql).run(...(params as Binding[])),
    all: (sql, params) => db.query(sql).values(...(params as Binding[])) as unknown[][],
    exec: (sql) => void db.run(sql),
    close: () => db.close(),
  };
}

/** node:sqlite (Node, Deno). */
async function nodeSqlite(file: string, resourceName: string): Promise<SqliteClient> {
  let DatabaseSync: typeof import("node:sqlite").DatabaseSync;
  try {
    ({ DatabaseSync } = await import("node:sqlite"));
  } catch (err) {
    throw new BobcatError(
      "datasource.driverMissing",
      `data source [${resourceName}]: SQLite needs the node:sqlite module, which ${runtimeLabel()} does not have (Node ${NODE_SQLITE_SINCE} or later has it)`,
      {
        where: { attribute: "url" },
        fix:
          `Upgrade Node to ${NODE_SQLITE_SINCE} or later, run bobcat on Bun or Deno (without --runtime node), or use a postgres:// data source.`,
        cause: err,
      },
    );
  }
  const db = new DatabaseSync(file);
  const statements = new Map<string, ReturnType<typeof db.prepare>>();
  const prepare = (sql: string) => {
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      // Arrays since Node 24 (and 22.16); before, rows are objects whose values are in column
      // order (the store's queries have no duplicate column names).
      if (typeof stmt.setReturnArrays === "function") stmt.setReturnArrays(true);
      // The store issues a handful of distinct statements; the cap only guards against misuse.
      if (statements.size >= 64) statements.clear();
      statements.set(sql, stmt);
    }
    return stmt;
  };
  type Param = import("node:sqlite").SQLInputValue;
  return {
    run: (sql, params) => void prepare(sql).run(...(params as Param[])),
    all: (sql, params) =>
      prepare(sql).all(...(params as Param[])).map((row) => (Array.isArray(row) ? row : Object.values(row as object))),
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
  };
}

/**
 * SQLite through drizzle's sqlite-proxy driver on either runtime's driver: pure JavaScript, so
 * `bun build --compile` and the Node bundle carry it, and neither imports bun:sqlite statically.
 */
export async function openSqlite(file: string, resourceName: string): Promise<SqlConnection> {
  const { drizzle } = await importDependency(() => import("drizzle-orm/sqlite-proxy"), "drizzle-orm", resourceName);
  const client = isBun ? await bunSqlite(file) : await nodeSqlite(file, resourceName);
  try {
    for (const p of SQLITE_PRAGMAS) client.exec(p);
  } catch (err) {
    client.close();
    throw err;
  }
  const db = drizzle(async (sql, params, method) => {
    if (method === "run") {
      client.run(sql, params);
      return { rows: [] };
    }
    const rows = client.all(sql, params);
    // drizzle's proxy driver maps rows positionally; "get" wants the first row itself.
    return { rows: method === "get" ? ((rows[0] ?? undefined) as unknown as unknown[][]) : rows };
  });
  return new SqliteConnection(db, (s) => client.exec(s), () => client.close());
}

class PoolConnection implements SqlConnection {
  constructor(
    readonly dialect: "postgres" | "mysql",
    private readonly db: DrizzleDatabase,
    private readonly raw: (statement: string) => Promise<unknown>,
    private readonly end: () => Promise<void>,
    private readonly dialectOf: SqlDialect,
    readonly query: (text: string, params: unknown[]) => Promise<SqlResult>,
  ) {}

  compile(statement: unknown): CompiledStatement {
    return this.dialectOf.sqlToQuery(statement as never);
  }

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

export async function openPostgres(url: string, options: NetworkOptions, resourceName: string): Promise<SqlConnection> {
  const { default: postgres } = await importDependency(() => import("postgres"), "postgres", resourceName);
  const { drizzle } = await importDependency(() => import("drizzle-orm/postgres-js"), "drizzle-orm", resourceName);
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
  const { PgDialect } = await importDependency(() => import("drizzle-orm/pg-core"), "drizzle-orm", resourceName);
  // Named prepared statements: Parse/Describe once per pooled connection and statement text,
  // then Bind/Execute/Sync alone, in one round trip.
  const query = async (text: string, params: unknown[]): Promise<SqlResult> => {
    const result = await client.unsafe(text, params as import("postgres").ParameterOrJSON<never>[], { prepare: true });
    return { rows: result as unknown as Record<string, unknown>[], count: Number(result.count ?? 0) };
  };
  return new PoolConnection(
    "postgres",
    drizzle({ client }),
    (s) => client.unsafe(s),
    // Closed after the stores' last writes. A connection that failed during an outage never
    // finishes a graceful end in postgres.js, so connections are terminated at once.
    () => client.end({ timeout: 0 }),
    new PgDialect(),
    query,
  );
}

/** The part of mysql2/promise used here (the package is optional, so its types may be absent). */
interface Mysql2 {
  createPool(options: Record<string, unknown>): {
    query(sql: string, values?: unknown[]): Promise<unknown>;
    end(): Promise<void>;
  };
}

export async function openMysql(url: string, options: NetworkOptions, resourceName: string): Promise<SqlConnection> {
  let mysql: Mysql2;
  try {
    mysql = await importAtRuntime<Mysql2>("mysql2/promise");
  } catch {
    throw new BobcatError(
      "datasource.driverMissing",
      `data source [${resourceName}]: mysql:// URLs need the mysql2 package, which is not installed`,
      {
        where: { attribute: "url" },
        fix:
          "Install it next to bobcat (npm install mysql2, or bun add mysql2), or use a postgres:// or sqlite: data source.",
      },
    );
  }
  const { drizzle } = await importAtRuntime<{ drizzle(config: { client: unknown }): DrizzleDatabase }>(
    "drizzle-orm/mysql2",
  );
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: options.maxTotal,
    connectTimeout: options.maxWaitMillis,
    ...(options.username !== undefined ? { user: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
  const { MySqlDialect } = await importAtRuntime<{ MySqlDialect: new () => SqlDialect }>(
    "drizzle-orm/mysql-core",
  );
  // mysql2's query() sends the statement with its values in it: one round trip.
  const query = async (text: string, params: unknown[]): Promise<SqlResult> => {
    const [result] = (await pool.query(text, params)) as [unknown];
    return Array.isArray(result)
      ? { rows: result as Record<string, unknown>[], count: result.length }
      : { rows: [], count: Number((result as { affectedRows?: number }).affectedRows ?? 0) };
  };
  return new PoolConnection(
    "mysql",
    drizzle({ client: pool }),
    (s) => pool.query(s),
    () => pool.end(),
    new MySqlDialect(),
    query,
  );
}
