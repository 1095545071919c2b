/**
 * The drizzle side of DataSourceStore: the session table for each dialect (fixed property
 * names, configured SQL names) and every query the store runs. Imported on demand by
 * DataSourceStore, so drizzle-orm is loaded only by servers that use a database store.
 */
import { and, count, eq, gt, inArray, sql } from "drizzle-orm";
import {
  bigint as mysqlBigint,
  char as mysqlChar,
  customType as mysqlCustomType,
  int,
  mysqlTable,
  varchar as mysqlVarchar,
} from "drizzle-orm/mysql-core";
import { bigint, char, customType as pgCustomType, integer as pgInteger, pgTable, varchar } from "drizzle-orm/pg-core";
import { customType as sqliteCustomType, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Dialect, DrizzleDatabase, SqlConnection } from "../../datasource/drivers.ts";
import { namesFor, type SessionTableNames } from "./session-table.ts";

const sqliteBytes = sqliteCustomType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => "blob" });
const pgBytes = pgCustomType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => "bytea" });
const mysqlBytes = mysqlCustomType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => "mediumblob" });

/** The drizzle table for a dialect, with fixed property names and the configured SQL names. */
function sessionTable(dialect: Dialect, configured: SessionTableNames) {
  const n = namesFor(dialect, configured);
  switch (dialect) {
    case "sqlite":
      return sqliteTable(n.sessionTable, {
        id: text(n.sessionIdCol).notNull(),
        app: text(n.sessionAppCol).notNull(),
        data: sqliteBytes(n.sessionDataCol),
        valid: text(n.sessionValidCol).notNull(),
        maxInactive: integer(n.sessionMaxInactiveCol).notNull(),
        lastAccess: integer(n.sessionLastAccessedCol).notNull(),
      });
    case "postgres":
      return pgTable(n.sessionTable, {
        id: varchar(n.sessionIdCol, { length: 100 }).notNull(),
        app: varchar(n.sessionAppCol, { length: 255 }).notNull(),
        data: pgBytes(n.sessionDataCol),
        valid: char(n.sessionValidCol, { length: 1 }).notNull(),
        maxInactive: pgInteger(n.sessionMaxInactiveCol).notNull(),
        lastAccess: bigint(n.sessionLastAccessedCol, { mode: "number" }).notNull(),
      });
    case "mysql":
      return mysqlTable(n.sessionTable, {
        id: mysqlVarchar(n.sessionIdCol, { length: 100 }).notNull(),
        app: mysqlVarchar(n.sessionAppCol, { length: 255 }).notNull(),
        data: mysqlBytes(n.sessionDataCol),
        valid: mysqlChar(n.sessionValidCol, { length: 1 }).notNull(),
        maxInactive: int(n.sessionMaxInactiveCol).notNull(),
        lastAccess: mysqlBigint(n.sessionLastAccessedCol, { mode: "number" }).notNull(),
      });
  }
}

/** One session's row, as DataSourceStore writes it. */
export interface SessionRow {
  id: string;
  app: string;
  data: Uint8Array;
  valid: "1" | "0";
  maxInactive: number;
  lastAccess: number;
}

/** One write of a batch: the session's new row, or its removal (no row). */
export interface SessionWrite {
  id: string;
  row?: SessionRow;
}

export class SessionQueries {
  private readonly t: ReturnType<typeof sessionTable>;

  constructor(
    private readonly dialect: Dialect,
    private readonly names: SessionTableNames,
  ) {
    this.t = sessionTable(dialect, names);
  }

  private byId(id: string, app: string) {
    return and(eq(this.t.id, id), eq(this.t.app, app));
  }

  /** Fails with "no such table" / "no such column" (or the database's own wording) when the table does not match the names. */
  async probe(conn: SqlConnection): Promise<void> {
    const t = this.t;
    if (this.dialect !== "sqlite") {
      await conn.run((db: DrizzleDatabase) =>
        db.select({
          id: t.id,
          app: t.app,
          data: t.data,
          valid: t.valid,
          maxInactive: t.maxInactive,
          lastAccess: t.lastAccess,
        })
          .from(t).limit(0)
      );
      return;
    }
    // SQLite reads a double-quoted name that is no column as a string literal, so a query would not notice a wrong name.
    const { sessionTable: table, ...columns } = namesFor(this.dialect, this.names);
    const rows: unknown[][] = await conn.run((db: DrizzleDatabase) =>
      db.values(sql`SELECT name FROM pragma_table_info(${table})`)
    );
    const present = new Set(rows.map((r) => String(r[0]).toLowerCase()));
    if (present.size === 0) throw new Error(`no such table: ${table}`);
    const missing = Object.values(columns).filter((c) => !present.has(c.toLowerCase()));
    if (missing.length) {
      throw new Error(`no such column: ${missing.join(", ")} (table ${table} has ${[...present].join(", ")})`);
    }
  }

  /** The table's columns (lower case); none when there is no such table. */
  async columns(conn: SqlConnection): Promise<string[]> {
    const table = namesFor(this.dialect, this.names).sessionTable;
    if (this.dialect === "sqlite") {
      const rows: unknown[][] = await conn.run((db: DrizzleDatabase) =>
        db.values(sql`SELECT name FROM pragma_table_info(${table})`)
      );
      return rows.map((r) => String(r[0]).toLowerCase());
    }
    const where = this.dialect === "postgres"
      ? sql`table_schema = ANY (current_schemas(false)) AND table_name = ${table}`
      : sql`table_schema = DATABASE() AND table_name = ${table}`;
    const result = await conn.run((db: DrizzleDatabase) =>
      db.execute(sql`SELECT column_name AS c FROM information_schema.columns WHERE ${where}`)
    );
    const rows = (this.dialect === "mysql" ? (result as [Record<string, unknown>[]])[0] : result) as Record<
      string,
      unknown
    >[];
    // MySQL names information_schema's columns in upper case whatever the alias says.
    return rows.map((r) => String(r.c ?? r.C ?? Object.values(r)[0]).toLowerCase());
  }

  /** The row's data, null when there is no row, undefined when the row holds no data. */
  async load(conn: SqlConnection, id: string, app: string): Promise<Uint8Array | null | undefined> {
    const t = this.t;
    const rows: { data: Uint8Array | null }[] = await conn.run((db: DrizzleDatabase) =>
      db.select({ data: t.data }).from(t).where(this.byId(id, app)).limit(1)
    );
    if (!rows.length) return null;
    const data = rows[0]!.data;
    return data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined;
  }

  /**
   * Applies saves (a row) and removals (an id) of one application in one transaction — one
   * commit, one log flush for the lot — so a reader elsewhere sees the old rows or the new ones,
   * never none. When an id appears twice the later write wins, as if they ran one by one.
   */
  write(conn: SqlConnection, app: string, writes: SessionWrite[]): Promise<void> {
    const last = new Map<string, SessionRow | null>();
    for (const w of writes) {
      last.delete(w.id);
      last.set(w.id, w.row ?? null);
    }
    const rows = [...last.values()].filter((r): r is SessionRow => r !== null);
    return conn.transaction(async (tx: DrizzleDatabase) => {
      await tx.delete(this.t).where(and(eq(this.t.app, app), inArray(this.t.id, [...last.keys()])));
      if (rows.length) await tx.insert(this.t).values(rows);
    });
  }

  async remove(conn: SqlConnection, id: string, app: string): Promise<void> {
    await conn.run((db: DrizzleDatabase) => db.delete(this.t).where(this.byId(id, app)));
  }

  async clear(conn: SqlConnection, app: string): Promise<void> {
    await conn.run((db: DrizzleDatabase) => db.delete(this.t).where(eq(this.t.app, app)));
  }

  async keys(conn: SqlConnection, app: string): Promise<string[]> {
    const t = this.t;
    const rows: { id: string }[] = await conn.run((db: DrizzleDatabase) =>
      db.select({ id: t.id }).from(t).where(eq(t.app, app))
    );
    return rows.map((r) => r.id);
  }

  /** Rows whose own columns say they timed out by `now`; rows that never expire (maxinactive <= 0) are not among them. */
  async expiredKeys(conn: SqlConnection, app: string, now: number): Promise<string[]> {
    const t = this.t;
    const rows: { id: string }[] = await conn.run((db: DrizzleDatabase) =>
      db.select({ id: t.id }).from(t).where(
        // 1000.0: an int column times 1000 overflows 32 bits for timeouts over 24 days.
        and(eq(t.app, app), gt(t.maxInactive, 0), sql`${t.lastAccess} + ${t.maxInactive} * 1000.0 < ${now}`),
      )
    );
    return rows.map((r) => r.id);
  }

  async size(conn: SqlConnection, app: string): Promise<number> {
    const t = this.t;
    const rows: { n: number }[] = await conn.run((db: DrizzleDatabase) =>
      db.select({ n: count() }).from(t).where(eq(t.app, app))
    );
    return Number(rows[0]?.n ?? 0);
  }
}
