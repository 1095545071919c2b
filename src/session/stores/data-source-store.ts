/**
 * Tomcat's DataSourceStore: one row per swapped-out or backed-up session in a table of a named
 * data source, through drizzle-orm, with the table and column names from the `<Store>`
 * attributes. The application column holds `/Engine/Host/context`, so contexts, hosts and
 * several bobcat instances can share one table.
 *
 * Differences from Tomcat, on purpose: a save replaces the row in one statement, an upsert on the
 * table's key (Tomcat deletes and inserts on an autocommit connection, so a reader in between
 * sees no session, and pays two round trips), and saves and removals that arrive together share
 * one statement or transaction (one commit for the lot);
 * sessions that never expire are not swept; every failure is reported as a
 * StoreUnavailableError naming the data source and table instead of being swallowed.
 */
import { importDependency, type SqlConnection } from "../../datasource/drivers.ts";
import { type DataSource, lookupDataSource } from "../../datasource/resources.ts";
import { BobcatError } from "../../util/errors.ts";
import { CorruptDataError } from "../errors.ts";
import type { StandardSession } from "../session.ts";
import type { SessionSnapshot } from "../store.ts";
import type { SessionQueries, SessionWrite } from "./session-queries.ts";
import {
  createTableSql,
  missingColumns,
  namesFor,
  readTableNames,
  type SessionTableNames,
  widenIdColumnSql,
} from "./session-table.ts";
import { describeCause, StoreBase, type StoreContext, StoreUnavailableError } from "./store-base.ts";
import type { DataSourceStoreConfig } from "../config.ts";
import { applicationName } from "../../config/app-key.ts";

/** The `<Store className="DataSourceStore">` attributes; `dataSourceName` is required. */
export type DataSourceStoreOptions = DataSourceStoreConfig;

/** Tomcat's withRetry makes two attempts; the second gets a fresh connection from the pool. */
const ATTEMPTS = 2;
/** A request waiting on the store must not hang on a database that stopped answering. */
const OPERATION_TIMEOUT_MS = 15000;

/** Most writes in one transaction: a saved row is six bind parameters, and SQLite builds before 3.32 allow 999 per statement. */
const MAX_BATCH = 150;

interface QueuedWrite {
  write: SessionWrite;
  resolve(): void;
  reject(err: unknown): void;
}

/** Missing table or column: a configuration problem, not an outage. */
function isSchemaError(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown; errno?: unknown }).code;
    if (code === "42P01" || code === "42703" || code === "ER_NO_SUCH_TABLE" || code === "ER_BAD_FIELD_ERROR") {
      return true;
    }
    if (/no such (table|column)/i.test(e.message)) return true;
  }
  return false;
}

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not answer within ${OPERATION_TIMEOUT_MS / 1000} s`)),
      OPERATION_TIMEOUT_MS,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export { applicationName };

export class DataSourceStore extends StoreBase {
  readonly dataSourceName: string;
  readonly localDataSource: boolean;
  readonly names: SessionTableNames;
  readonly dataSource: DataSource;
  /** The length of the manager's session ids, for the CREATE TABLE suggested. */
  private readonly sessionIdChars: number;
  private queries: Promise<SessionQueries> | null = null;
  /** Saves and removals waiting for the next transaction, and whether one is being written. */
  private queued: QueuedWrite[] = [];
  private writing = false;

  /** Looks the data source up at once, so a wrong dataSourceName stops start-up with the names that exist. */
  constructor(config: DataSourceStoreConfig, context: StoreContext = {}) {
    super();
    const owner = `DataSourceStore of ${context.name ?? "the context"}`;
    const name = config.dataSourceName.trim();
    if (!name) {
      throw new BobcatError("session.badAttribute", `${owner}: attribute [dataSourceName] is required`, {
        where: { attribute: "dataSourceName" },
        fix:
          "Name a DataSource resource, e.g. dataSourceName: jdbc/sessions, defined in server.globalNamingResources.resources.",
      });
    }
    this.dataSourceName = name;
    this.localDataSource = config.localDataSource;
    this.names = readTableNames(config, owner);
    this.dataSource = lookupDataSource(name, context.dataSources ?? {}, this.localDataSource);
    this.sessionIdChars = context.sessionIdChars ?? 0;
  }

  /** The drizzle queries, loaded on first use. */
  private sql(): Promise<SessionQueries> {
    this.queries ??= importDependency(() => import("./session-queries.ts"), "drizzle-orm", this.dataSource.name)
      .then(({ SessionQueries }) => new SessionQueries(this.dataSource.dialect, this.names));
    return this.queries;
  }

  /** The CREATE TABLE this store expects, for the data source's database. */
  createTableSql(): string {
    return createTableSql(this.dataSource.dialect, this.names, false, this.sessionIdChars);
  }

  /**
   * Opens the data source and checks the table and its columns. A database that cannot be
   * reached only logs a warning (sessions then stay in memory until it can); a missing table or
   * column, or a missing driver, stops start-up.
   */
  override async start(): Promise<void> {
    const queries = await this.sql();
    const conn = await this.dataSource.connection();
    try {
      await withTimeout(queries.probe(conn), `data source [${this.dataSource}]`);
      // Which upsert the table's keys allow, read now rather than by the first request's save.
      await withTimeout(queries.saveKey(conn), `data source [${this.dataSource}]`).catch(() => {});
    } catch (err) {
      if (!isSchemaError(err)) {
        this.log.warn(
          `${this}: the database cannot be reached now (${describeCause(err)}); ` +
            "sessions stay in memory and are written once it answers",
        );
        return;
      }
      const present = await queries.columns(conn).catch(() => [] as string[]);
      const missing = present.length ? missingColumns(this.dataSource.dialect, this.names, present) : null;
      if (missing) {
        throw new BobcatError("store.noColumn", `${this}: ${missing.problem}`, {
          where: { attribute: "sessionTable" },
          fix: missing.fix,
          cause: err,
        });
      }
      throw new BobcatError(
        "store.noTable",
        `${this}: the session table or one of its columns is missing: ${describeCause(err)}`,
        {
          where: { attribute: "sessionTable" },
          fix: `Create it with \`bobcat store init\`, or run:\n${this.createTableSql()};`,
          cause: err,
        },
      );
    }
    await this.checkIdWidth(queries, conn);
  }

  /** Ids longer than the table's id column would fail at their first save: said at start instead. */
  private async checkIdWidth(queries: SessionQueries, conn: SqlConnection): Promise<void> {
    if (!this.sessionIdChars) return;
    const width = await withTimeout(queries.idColumnWidth(conn), `data source [${this.dataSource}]`).catch(() => null);
    if (width === null || width >= this.sessionIdChars) return;
    const n = namesFor(this.dataSource.dialect, this.names);
    const alter = widenIdColumnSql(this.dataSource.dialect, this.names, this.sessionIdChars);
    throw new BobcatError(
      "store.idColumn",
      `${this}: the manager's session ids are ${this.sessionIdChars} characters long (sessionIdLength bytes, two characters each, and .jvmRoute), but the id column [${n.sessionIdCol}] holds ${width}: the first save of a session would fail`,
      {
        where: { attribute: "sessionIdCol" },
        fix:
          `Widen the column:\n${alter};\nor lower the <SessionIdGenerator>'s sessionIdLength (16, Tomcat's default, makes 32 characters).`,
      },
    );
  }

  private get app(): string {
    return applicationName(this.manager.name);
  }

  /** Runs one operation with Tomcat's retry; the final failure names the data source, the table and the cause. */
  private async attempt<T>(what: string, op: (queries: SessionQueries, conn: SqlConnection) => Promise<T>): Promise<T> {
    const queries = await this.sql();
    let first: unknown;
    for (let i = 0; i < ATTEMPTS; i++) {
      try {
        const conn = await this.dataSource.connection();
        return await withTimeout(op(queries, conn), `data source [${this.dataSource}]`);
      } catch (err) {
        if (err instanceof BobcatError) throw err;
        first ??= err;
        if (isSchemaError(err)) break;
      }
    }
    throw new StoreUnavailableError(
      `${this}: ${what} failed: ${describeCause(first)}`,
      first,
      isSchemaError(first)
        ? `Create the table with \`bobcat store init\`, or run:\n${this.createTableSql()};`
        : undefined,
    );
  }

  async load(id: string): Promise<StandardSession | null> {
    const data = await this.attempt(`loading session [${id}]`, (q, conn) => q.load(conn, id, this.app));
    if (data === null) return null;
    if (data === undefined) throw new CorruptDataError(`${this}: the row of session [${id}] has no data`);
    try {
      return this.manager.deserializeSession(data);
    } catch (err) {
      if (!(err instanceof CorruptDataError)) throw err;
      throw new CorruptDataError(`${this}: the row of session [${id}] cannot be read: ${err.message}`, err.fix);
    }
  }

  /** Resolves once the transaction that holds the row has committed. */
  saveSnapshot(snapshot: SessionSnapshot): Promise<void> {
    return this.enqueue({
      id: snapshot.id,
      row: {
        id: snapshot.id,
        app: this.app,
        data: snapshot.data,
        valid: snapshot.valid ? "1" : "0",
        maxInactive: snapshot.maxInactiveInterval,
        lastAccess: snapshot.lastAccessedTime,
      },
    });
  }

  remove(id: string): Promise<void> {
    return this.enqueue({ id });
  }

  /**
   * Group commit: writes that arrive while a transaction runs (or in the same turn of the event
   * loop) go together in the next one, so a busy store commits — and flushes its log — once per
   * batch rather than once per session. Every write of a failed batch fails with its error.
   */
  private enqueue(write: SessionWrite): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queued.push({ write, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        void this.writeQueued();
      }
    });
  }

  /** One transaction; settles every write in it on success, throws on failure. */
  private async write(batch: QueuedWrite[]): Promise<void> {
    const one = batch.length === 1 ? batch[0]!.write : null;
    const what = one ? `${one.row ? "saving" : "removing"} session [${one.id}]` : `writing ${batch.length} sessions`;
    await this.attempt(what, (q, conn) => q.write(conn, this.app, batch.map((b) => b.write)));
    for (const b of batch) b.resolve();
  }

  private async writeQueued(): Promise<void> {
    try {
      while (this.queued.length) {
        // One turn of the event loop: requests that end together (read in the same I/O poll) join
        // this write. setImmediate, not setTimeout(0), which waits 1 ms on Bun and 2 ms on Deno.
        await new Promise((r) => setImmediate(r));
        const batch = this.queued.splice(0, MAX_BATCH);
        try {
          await this.write(batch);
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          // One row the database refuses must not fail the others: one by one, until two fail in
          // a row (the database is down, and each would wait for the same failure).
          let failures = 0;
          for (let i = 0; i < batch.length; i++) {
            try {
              await this.write([batch[i]!]);
              failures = 0;
            } catch (one) {
              batch[i]!.reject(one);
              if (++failures < 2) continue;
              for (const b of batch.slice(i + 1)) b.reject(one);
              break;
            }
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }

  keys(): Promise<string[]> {
    return this.attempt("listing sessions", (q, conn) => q.keys(conn, this.app));
  }

  /** Rows whose own columns say they timed out; sessions that never expire are not among them. */
  protected override expiredKeys(): Promise<string[]> {
    const now = this.manager.now();
    return this.attempt("listing expired sessions", (q, conn) => q.expiredKeys(conn, this.app, now));
  }

  /** The row's own columns already say it timed out, so an unreadable copy is only clutter. */
  protected override async discardCorrupt(id: string): Promise<void> {
    await this.remove(id);
    this.log.warn(`[${this.manager.name}] ${this}: removed the unreadable row of expired session [${id}]`);
  }

  getSize(): Promise<number> {
    return this.attempt("counting sessions", (q, conn) => q.size(conn, this.app));
  }

  async clear(): Promise<void> {
    await this.attempt("clearing sessions", (q, conn) => q.clear(conn, this.app));
  }

  toString(): string {
    return `DataSourceStore[${this.dataSourceName} (${this.dataSource.location}), table ${this.names.sessionTable}]`;
  }
}

/**
 * Creates the session table a store with these attributes expects, if it does not exist
 * (`bobcat store init`). Returns the statement it ran.
 */
export async function initStoreTable(
  dataSource: DataSource,
  storeOptions: Partial<SessionTableNames> = {},
  /** The longest session id the table is for (see createTableSql). */
  longestId = 0,
): Promise<string> {
  const statement = createTableSql(dataSource.dialect, storeOptions, true, longestId);
  const conn = await dataSource.connection();
  await conn.execute(statement);
  return statement;
}
