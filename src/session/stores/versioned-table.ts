/**
 * What the two versioned stores over a DataSourceStore's session table (versioned-sql.ts for
 * PostgreSQL and MySQL/MariaDB, versioned-sqlite.ts for an SQLite file) share: the manager they
 * serve and its application name, the table's names as the dialect spells them, and how one
 * operation is counted and its driver failure reported as an outage.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Dialect, DrizzleDatabase, SqlConnection } from "../../datasource/drivers.ts";
import { BobcatError } from "../../util/errors.ts";
import type { StoreManager } from "../store.ts";
import { applicationName, type DataSourceStore } from "./data-source-store.ts";
import { namesFor, type SessionTableNames } from "./session-table.ts";
import { oneSession } from "./session-queries.ts";
import { StoreUnavailableError } from "./store-base.ts";
import { counted, newCounters, type StoreCounters, type VersionedWrite } from "./versioned.ts";

export abstract class VersionedTableStore {
  readonly counters: StoreCounters = newCounters();
  /** The table's and columns' names as `dialect` stores them (PostgreSQL: lower case). */
  protected readonly n: SessionTableNames;
  private manager: StoreManager | null = null;

  constructor(protected readonly inner: DataSourceStore, dialect: Dialect) {
    this.n = namesFor(dialect, inner.names);
  }

  setManager(manager: StoreManager): void {
    this.manager = manager;
    this.inner.setManager(manager);
  }

  /** The application column's value for the manager's context. */
  protected get app(): string {
    return applicationName(this.manager!.name);
  }

  protected id(name: string): SQL {
    return sql`${sql.identifier(name)}`;
  }

  /** The session table. */
  protected get t(): SQL {
    return this.id(this.n.sessionTable);
  }

  /** `app = … AND id = …` for session `id` of this application. */
  protected where(id: string): SQL {
    return oneSession(this.n, this.app, id);
  }

  protected async conn(): Promise<SqlConnection> {
    return await this.inner.dataSource.connection();
  }

  /**
   * Runs one operation on a connection, counted as `kind`; a failure that is not a BobcatError
   * is the storage's (a StoreUnavailableError naming `what` and the driver's own message, which
   * drizzle wraps as the cause of its "Failed query").
   */
  protected async op<T>(what: string, kind: "reads" | "writes", fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    try {
      return await counted(this.counters, kind, async () => fn(await this.conn()));
    } catch (err) {
      if (err instanceof BobcatError) throw err;
      const cause = (err as { cause?: unknown }).cause;
      const detail = cause instanceof Error ? cause.message : (err as Error)?.message ?? String(err);
      throw new StoreUnavailableError(`${this}: ${what} failed: ${detail}`, err);
    }
  }

  /**
   * VersionedStore.rename in one transaction: `removeOld` deletes `oldId`'s row if its version is
   * still `expected` (false: another instance wrote first, a conflict), then `insertNew` adds the
   * row of `w.id` (false: that id is stored already, an error rather than a conflict).
   */
  protected renameInTransaction(
    oldId: string,
    w: VersionedWrite,
    expected: number,
    removeOld: (tx: DrizzleDatabase) => Promise<boolean>,
    insertNew: (tx: DrizzleDatabase) => Promise<boolean>,
  ): Promise<number | null> {
    return this.op(`renaming session [${oldId}]`, "writes", async (conn) => {
      const gone = Symbol("conflict");
      try {
        return await conn.transaction(async (tx: DrizzleDatabase) => {
          if (!(await removeOld(tx))) throw gone;
          if (!(await insertNew(tx))) {
            throw new BobcatError("session.idInUse", `${this}: session id [${w.id}] is already stored`);
          }
          return expected + 1;
        });
      } catch (err) {
        if (err !== gone) throw err;
        this.counters.conflicts++;
        return null;
      }
    });
  }

  toString(): string {
    return String(this.inner);
  }
}
