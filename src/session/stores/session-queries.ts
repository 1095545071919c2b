/**
 * The drizzle side of DataSourceStore: the session table for each dialect (fixed property
 * names, configured SQL names) and every query the store runs. Imported on demand by
 * DataSourceStore, so drizzle-orm is loaded only by servers that use a database store.
 */
import { and, count, eq, gt, inArray, Placeholder, type SQL, sql } from "drizzle-orm";
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
import type { CompiledStatement, Dialect, DrizzleDatabase, SqlConnection } from "../../datasource/drivers.ts";
import { namesFor, type SessionTableNames, upsertKey } from "./session-table.ts";

/** `app = … AND id = …` for one session of the table: values, or placeholders of a prepared statement. */
export function oneSession(n: SessionTableNames, app: unknown, id: unknown): SQL {
  return sql`${sql.identifier(n.sessionAppCol)} = ${app} AND ${sql.identifier(n.sessionIdCol)} = ${id}`;
}

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
  /** The upsert the table allows, once read from its keys. */
  private key: Promise<"app-id" | "id" | null> | null = null;
  /** Statements built once (text and parameter order), by kind. */
  private readonly compiled = new Map<string, CompiledStatement>();

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

  /** The id column's declared width (varchar(n), char(n)); null for SQLite's text, or one with none. */
  async idColumnWidth(conn: SqlConnection): Promise<number | null> {
    if (this.dialect === "sqlite") return null;
    const { sessionTable: table, sessionIdCol: column } = namesFor(this.dialect, this.names);
    const where = this.dialect === "postgres"
      ? sql`table_schema = ANY (current_schemas(false)) AND table_name = ${table} AND column_name = ${column}`
      : sql`table_schema = DATABASE() AND table_name = ${table} AND column_name = ${column}`;
    const result = await conn.run((db: DrizzleDatabase) =>
      db.execute(sql`SELECT character_maximum_length AS w FROM information_schema.columns WHERE ${where}`)
    );
    const rows = (this.dialect === "mysql" ? (result as [Record<string, unknown>[]])[0] : result) as Record<
      string,
      unknown
    >[];
    const w = rows[0] ? (rows[0].w ?? rows[0].W ?? Object.values(rows[0])[0]) : null;
    return w === null || w === undefined ? null : Number(w);
  }

  /** The row's data, null when there is no row, undefined when the row holds no data. */
  async load(conn: SqlConnection, id: string, app: string): Promise<Uint8Array | null | undefined> {
    const t = this.t;
    const rows: { data: Uint8Array | null }[] = conn.compile && conn.query
      ? (await this.exec(
        conn,
        "load",
        (p) => sql`SELECT ${this.col(this.n.sessionDataCol)} AS data FROM ${this.table} WHERE ${this.one(p)} LIMIT 1`,
        { app, id },
      )).rows as { data: Uint8Array | null }[]
      : await conn.run((db: DrizzleDatabase) => db.select({ data: t.data }).from(t).where(this.byId(id, app)).limit(1));
    if (!rows.length) return null;
    const data = rows[0]!.data;
    return data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined;
  }

  /**
   * Applies saves (a row) and removals (an id) of one application, each batch atomically — a
   * reader elsewhere sees the old rows or the new ones, never none. When an id appears twice the
   * later write wins, as if they ran one by one.
   *
   * One save is one statement, one round trip (prepared on PostgreSQL): an upsert on the table's
   * (app, id) key (Tomcat's id key on PostgreSQL), or, on a table without a key to rely on, an
   * UPDATE and, when it found no row, an INSERT. One removal is one DELETE. Several saves are one
   * multi-row upsert; anything else is one transaction that deletes the ids and inserts the rows.
   * Each resolves once the database has committed.
   */
  async write(conn: SqlConnection, app: string, writes: SessionWrite[]): Promise<void> {
    const last = new Map<string, SessionRow | null>();
    for (const w of writes) {
      last.delete(w.id);
      last.set(w.id, w.row ?? null);
    }
    const rows = [...last.values()].filter((r): r is SessionRow => r !== null);
    try {
      if (last.size === 1 && !rows.length) {
        await this.exec(conn, "remove", (p) => sql`DELETE FROM ${this.table} WHERE ${this.one(p)}`, {
          app,
          id: [...last.keys()][0],
        });
        return;
      }
      const key = rows.length === last.size ? await this.saveKey(conn) : null;
      if (key) return await this.upsert(conn, key, rows);
      if (rows.length === 1 && last.size === 1 && this.dialect !== "sqlite") {
        return await this.updateOrInsert(conn, rows[0]!);
      }
    } catch (err) {
      this.forgetKeyOn(err);
      throw err;
    }
    // SQLite's transaction costs no round trip; its proxy driver reports no row counts either.
    return conn.transaction(async (tx: DrizzleDatabase) => {
      await tx.delete(this.t).where(and(eq(this.t.app, app), inArray(this.t.id, [...last.keys()])));
      if (rows.length) await tx.insert(this.t).values(rows);
    });
  }

  /** The SQL names, folded as the database sees them. */
  private get n(): SessionTableNames {
    return namesFor(this.dialect, this.names);
  }

  private get table(): SQL {
    return sql`${sql.identifier(this.n.sessionTable)}`;
  }

  private col(name: string): SQL {
    return sql`${sql.identifier(name)}`;
  }

  /** The application and id of one session, as parameters. */
  private one(p: (k: string) => SQL | Placeholder): SQL {
    return oneSession(this.n, p("app"), p("id"));
  }

  /** Tomcat's columns in the order the statements list them, with the SessionRow field of each. */
  private get rowColumns(): [string, keyof SessionRow][] {
    const n = this.n;
    return [
      [n.sessionIdCol, "id"],
      [n.sessionAppCol, "app"],
      [n.sessionValidCol, "valid"],
      [n.sessionMaxInactiveCol, "maxInactive"],
      [n.sessionLastAccessedCol, "lastAccess"],
      [n.sessionDataCol, "data"],
    ];
  }

  /** A row's values, keyed `<field><i>` as the statements' parameters are named. */
  private values(rows: SessionRow[]): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    rows.forEach((r, i) => {
      for (const [, f] of this.rowColumns) {
        const v = r[f];
        // postgres.js and mysql2 send a Buffer as bytes; a plain Uint8Array is not one to them.
        values[`${f}${i}`] = f === "data" && this.dialect !== "sqlite"
          ? Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)
          : v;
      }
    });
    return values;
  }

  private insert(count: number, p: (k: string) => SQL | Placeholder): SQL {
    const cols = sql.join(this.rowColumns.map(([c]) => this.col(c)), sql`, `);
    const tuples = Array.from(
      { length: count },
      (_, i) => sql`(${sql.join(this.rowColumns.map(([, f]) => p(`${f}${i}`)), sql`, `)})`,
    );
    return sql`INSERT INTO ${this.table} (${cols}) VALUES ${sql.join(tuples, sql`, `)}`;
  }

  /** One statement for all the rows: at most one per id (the caller keeps the last write of each). */
  private async upsert(conn: SqlConnection, key: "app-id" | "id", rows: SessionRow[]): Promise<void> {
    const n = this.n;
    const c = (s: string) => this.col(s);
    const changed = this.rowColumns.slice(2).map(([name]) => name);
    const result = await this.exec(conn, rows.length === 1 ? `upsert` : null, (p) => {
      const insert = this.insert(rows.length, p);
      if (this.dialect === "mysql") {
        return sql`${insert} ON DUPLICATE KEY UPDATE ${
          sql.join(changed.map((x) => sql`${c(x)} = VALUES(${c(x)})`), sql`, `)
        }`;
      }
      const target = key === "app-id" ? sql`${c(n.sessionAppCol)}, ${c(n.sessionIdCol)}` : c(n.sessionIdCol);
      const set = sql.join(changed.map((x) => sql`${c(x)} = excluded.${c(x)}`), sql`, `);
      // Tomcat's layout keys on the id alone: another application's row is not this session's.
      const mine = key === "id"
        ? sql` WHERE ${this.table}.${c(n.sessionAppCol)} = excluded.${c(n.sessionAppCol)}`
        : sql``;
      return sql`${insert} ON CONFLICT (${target}) DO UPDATE SET ${set}${mine}`;
    }, this.values(rows));
    if (key === "id" && result.count !== null && result.count < rows.length) {
      throw new Error(
        `${
          rows.length === 1
            ? `session id [${rows[0]!.id}] is`
            : `${rows.length - result.count} of ${rows.length} session ids are`
        } stored in table [${n.sessionTable}] for another application: its primary key is [${n.sessionIdCol}] alone (Tomcat's layout), so applications cannot share an id; make it (${n.sessionAppCol}, ${n.sessionIdCol}) to let them`,
      );
    }
  }

  /** A table with no key to rely on: the row is updated where it is, or inserted when there was none. */
  private async updateOrInsert(conn: SqlConnection, row: SessionRow): Promise<void> {
    const values = this.values([row]);
    // mysql2 asks for found rows (its FOUND_ROWS flag), so an UPDATE that changes nothing still counts its row.
    const updated = await this.exec(conn, "update", (p) => {
      const set = sql.join(
        this.rowColumns.slice(2).map(([name, f]) => sql`${this.col(name)} = ${p(`${f}0`)}`),
        sql`, `,
      );
      return sql`UPDATE ${this.table} SET ${set} WHERE ${this.col(this.n.sessionAppCol)} = ${p("app0")} AND ${
        this.col(this.n.sessionIdCol)
      } = ${p("id0")}`;
    }, values);
    if (updated.count === 0) await this.exec(conn, "insert", (p) => this.insert(1, p), values);
  }

  /**
   * Runs one statement built with parameters `p(name)` and returns its rows and row count (null
   * on SQLite, whose proxy driver does not report it). With a `kind`, on the server pools, its
   * text is built once and it runs prepared: one round trip on PostgreSQL where drizzle's
   * unprepared `execute` costs two (Parse/Describe, then Bind/Execute).
   */
  private async exec(
    conn: SqlConnection,
    kind: string | null,
    build: (p: (k: string) => SQL | Placeholder) => SQL,
    values: Record<string, unknown>,
  ): Promise<{ rows: Record<string, unknown>[]; count: number | null }> {
    if (kind && conn.compile && conn.query) {
      let s = this.compiled.get(kind);
      if (!s) this.compiled.set(kind, s = conn.compile(build((k) => sql.placeholder(k))));
      return await conn.query(s.sql, s.params.map((v) => (v instanceof Placeholder ? values[v.name] : v)));
    }
    const statement = build((k) => sql`${values[k]}`);
    if (this.dialect === "sqlite") {
      await conn.run((db: DrizzleDatabase) => db.run(statement));
      return { rows: [], count: null };
    }
    const result = await conn.run((db: DrizzleDatabase) => db.execute(statement));
    if (this.dialect === "mysql") {
      const [r] = result as [unknown];
      return Array.isArray(r)
        ? { rows: r as Record<string, unknown>[], count: r.length }
        : { rows: [], count: Number((r as { affectedRows?: number }).affectedRows ?? 0) };
    }
    return {
      rows: [...(result as Record<string, unknown>[])],
      count: Number((result as { count?: number }).count ?? 0),
    };
  }

  /**
   * Which upsert the table allows (session-table.ts `upsertKey`), read from the database's
   * catalog the first time the store writes, and again after the database said the key is gone.
   */
  saveKey(conn: SqlConnection): Promise<"app-id" | "id" | null> {
    this.key ??= this.uniqueKeys(conn).then(
      (keys) => upsertKey(this.dialect, this.names, keys),
      (err) => {
        this.key = null;
        throw err;
      },
    );
    return this.key;
  }

  /** An upsert refused for want of a matching key (dropped since): the next attempt reads the keys again. */
  private forgetKeyOn(err: unknown): void {
    for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
      if ((e as { code?: unknown }).code === "42P10" || /ON CONFLICT clause does not match/i.test(e.message)) {
        this.key = null;
        this.compiled.delete("upsert");
        return;
      }
    }
  }

  /** The table's unique keys: each one's key columns (lower case), null for one with an expression or a column prefix. */
  private async uniqueKeys(conn: SqlConnection): Promise<(string[] | null)[]> {
    const table = this.n.sessionTable;
    const split = (cols: unknown, odd: unknown) =>
      Number(odd) > 0 || cols == null ? null : String(cols).toLowerCase().split(",");
    if (this.dialect === "sqlite") {
      const rows: unknown[][] = await conn.run((db: DrizzleDatabase) =>
        db.values(
          sql`SELECT group_concat(ii.name), sum(ii.name IS NULL) FROM pragma_index_list(${table}) il, pragma_index_info(il.name) ii WHERE il."unique" = 1 AND il.partial = 0 GROUP BY il.name`,
        )
      );
      return rows.map((r) => split(r[0], r[1]));
    }
    const query = this.dialect === "postgres"
      // Key columns only (not INCLUDE ones); expression indexes cannot be an ON CONFLICT target and are left out.
      ? sql`SELECT string_agg(a.attname::text, ',') AS c, 0 AS x FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]) WHERE i.indrelid = to_regclass(quote_ident(${table})) AND i.indisunique AND i.indimmediate AND i.indpred IS NULL GROUP BY i.indexrelid`
      : sql`SELECT GROUP_CONCAT(COLUMN_NAME) AS c, SUM(SUB_PART IS NOT NULL OR COLUMN_NAME IS NULL) AS x FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} AND NON_UNIQUE = 0 GROUP BY INDEX_NAME`;
    const result = await conn.run((db: DrizzleDatabase) => db.execute(query));
    const rows = (this.dialect === "mysql" ? (result as [Record<string, unknown>[]])[0] : result) as Record<
      string,
      unknown
    >[];
    return rows.map((r) => {
      const [cols, odd] = Object.values(r);
      return split(cols, odd);
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
