/**
 * DataSourceStore's table used by the shared consistency mode: Tomcat's columns plus a version
 * column (`sessionVersionCol`, default `version`), conditional UPDATEs on it, an index for
 * expiry, and an expiry sweep that one instance runs at a time (PostgreSQL: a transaction-level
 * advisory lock tried without waiting; MySQL/MariaDB: GET_LOCK with no wait) and that takes its
 * rows with FOR UPDATE SKIP LOCKED, so instances that start together never queue up behind each
 * other. PostgreSQL and MySQL/MariaDB; SQLite is refused (one machine has no need of it).
 */
import { Placeholder, type SQL, sql } from "drizzle-orm";
import type { CompiledStatement, Dialect, DrizzleDatabase, SqlConnection } from "../../datasource/drivers.ts";
import type { DataSource } from "../../datasource/resources.ts";
import { BobcatError } from "../../util/errors.ts";
import type { DataSourceStore } from "./data-source-store.ts";
import { namesFor, type SessionTableNames } from "./session-table.ts";
import { oneSession } from "./session-queries.ts";
import type { StoredVersion, VersionedStore, VersionedWrite } from "./versioned.ts";
import { VersionedTableStore } from "./versioned-table.ts";

type Row = Record<string, unknown>;

function quote(dialect: Dialect, name: string): string {
  return dialect === "mysql" ? `\`${name}\`` : `"${name}"`;
}

/**
 * What the shared mode adds to the seed's table: the version column and the expiry index. Run by
 * `bobcat store init` for contexts with `consistency: shared`, and named in the start-up error.
 */
export function versionDdl(dialect: Dialect, configured: SessionTableNames, versionCol = "version"): string[] {
  const n = namesFor(dialect, configured);
  const q = (s: string) => quote(dialect, s);
  const v = dialect === "postgres" ? versionCol.toLowerCase() : versionCol;
  const index = `${n.sessionTable.replace(/\$/g, "_")}_expiry`;
  if (dialect === "postgres") {
    return [
      `ALTER TABLE ${q(n.sessionTable)} ADD COLUMN IF NOT EXISTS ${q(v)} bigint NOT NULL DEFAULT 0`,
      `CREATE INDEX IF NOT EXISTS ${q(index)} ON ${q(n.sessionTable)} (${q(n.sessionAppCol)}, (${
        q(n.sessionLastAccessedCol)
      } + ${q(n.sessionMaxInactiveCol)}::bigint * 1000))`,
    ];
  }
  return [
    `ALTER TABLE ${q(n.sessionTable)} ADD COLUMN ${q(v)} bigint NOT NULL DEFAULT 0`,
    `CREATE INDEX ${q(index)} ON ${q(n.sessionTable)} (${q(n.sessionAppCol)}, ${q(n.sessionLastAccessedCol)})`,
  ];
}

/** Runs versionDdl, skipping what exists already (MySQL has no IF NOT EXISTS for these). */
export async function initVersionColumns(
  dataSource: DataSource,
  names: SessionTableNames,
  versionCol?: string,
): Promise<string[]> {
  const conn = await dataSource.connection();
  const statements = versionDdl(dataSource.dialect, names, versionCol);
  for (const s of statements) {
    try {
      await conn.execute(s);
    } catch (err) {
      const code = (err as { code?: string; cause?: { code?: string } }).code ??
        (err as { cause?: { code?: string } }).cause?.code;
      if (code === "ER_DUP_FIELDNAME" || code === "ER_DUP_KEYNAME") continue;
      throw err;
    }
  }
  return statements;
}

/** The dialect of `inner`'s data source, refused when it is SQLite (versioned-sqlite.ts serves that). */
function sharedDialect(inner: DataSourceStore): Dialect {
  const dialect = inner.dataSource.dialect;
  if (dialect === "sqlite") {
    throw new BobcatError(
      "store.sharedSqlite",
      `${inner}: consistency shared needs PostgreSQL or MySQL/MariaDB; an SQLite file is one machine's`,
      {
        where: { attribute: "consistency" },
        fix: "Use a postgres:// or mysql:// data source (or a RedisStore), or consistency: sticky.",
      },
    );
  }
  return dialect;
}

export class VersionedSqlStore extends VersionedTableStore implements VersionedStore {
  private readonly dialect: Dialect;
  private readonly version: string;
  private readonly statements = new Map<string, CompiledStatement>();

  constructor(inner: DataSourceStore, versionCol = "version") {
    const dialect = sharedDialect(inner);
    super(inner, dialect);
    this.dialect = dialect;
    this.version = dialect === "postgres" ? versionCol.toLowerCase() : versionCol;
  }

  /** The application and id of one session, as placeholders. */
  private get whereOne(): SQL {
    return oneSession(this.n, sql.placeholder("app"), sql.placeholder("id"));
  }

  private expiresBefore(now: number): SQL {
    const la = this.id(this.n.sessionLastAccessedCol);
    const mi = this.id(this.n.sessionMaxInactiveCol);
    return this.dialect === "postgres"
      ? sql`${mi} > 0 AND ${la} + ${mi}::bigint * 1000 <= ${now}`
      : sql`${mi} > 0 AND ${la} + ${mi} * 1000 <= ${now}`;
  }

  private rows(result: unknown): Row[] {
    return (this.dialect === "mysql" ? (result as [Row[]])[0] : result) as Row[];
  }

  private affected(result: unknown): number {
    return this.dialect === "mysql"
      ? Number((result as [{ affectedRows: number }])[0].affectedRows)
      : Number((result as { count: number }).count);
  }

  private bytes(data: Uint8Array): Uint8Array {
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Runs one of the store's statements: its text is built by drizzle once (the values are
   * placeholders), then only the values travel, and PostgreSQL runs it prepared.
   */
  private async q(conn: SqlConnection, kind: string, build: () => SQL, values: Record<string, unknown>) {
    let s = this.statements.get(kind);
    if (!s) this.statements.set(kind, s = conn.compile!(build()));
    return await conn.query!(s.sql, s.params.map((p) => (p instanceof Placeholder ? values[p.name] : p)));
  }

  /** DataSourceStore's checks, then the version column; a missing one stops start-up with the DDL to run. */
  async start(): Promise<void> {
    await this.inner.start();
    try {
      const conn = await this.conn();
      await conn.run((db: DrizzleDatabase) =>
        db.execute(sql`SELECT ${this.id(this.version)} FROM ${this.t} WHERE 1 = 0`)
      );
    } catch (err) {
      const text = String((err as Error)?.message) + String((err as { cause?: Error }).cause?.message);
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
      if (code === "42703" || code === "ER_BAD_FIELD_ERROR" || /column .* does not exist|Unknown column/i.test(text)) {
        throw new BobcatError("store.noVersionColumn", `${this}: the version column [${this.version}] is missing`, {
          where: { attribute: "sessionVersionCol" },
          fix: `consistency: shared needs it: run \`bobcat store init\`, or:\n${
            versionDdl(this.dialect, this.inner.names, this.version).join(";\n")
          };`,
          cause: err,
        });
      }
      // Unreachable: DataSourceStore.start has logged it; requests get 503 until it answers.
    }
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  fetch(id: string, known?: number): Promise<StoredVersion | null> {
    return this.op(`reading session [${id}]`, "reads", async (conn) => {
      const v = this.id(this.version);
      const { rows } = await this.q(
        conn,
        "fetch",
        () =>
          sql`SELECT ${v} AS v, ${this.id(this.n.sessionLastAccessedCol)} AS la, ${
            this.id(this.n.sessionMaxInactiveCol)
          } AS mi, CASE WHEN ${v} = ${sql.placeholder("known")} THEN NULL ELSE ${
            this.id(this.n.sessionDataCol)
          } END AS d FROM ${this.t} WHERE ${this.whereOne} AND ${this.id(this.n.sessionValidCol)} = '1'`,
        { app: this.app, id, known: known ?? -1 },
      );
      const row = rows[0];
      if (!row) return null;
      const d = row.d as Uint8Array | null;
      return {
        version: Number(row.v),
        lastAccess: Number(row.la),
        maxInactive: Number(row.mi),
        ...(d ? { data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) } : {}),
      };
    });
  }

  /**
   * INSERT of a new row unless its id is stored; with `values` (VersionedWrite's, `app` and
   * `version`) in it, or placeholders for them.
   */
  private insert(values?: Record<string, unknown>): SQL {
    const n = this.n;
    const cols = sql.join(
      [
        n.sessionIdCol,
        n.sessionAppCol,
        n.sessionValidCol,
        n.sessionMaxInactiveCol,
        n.sessionLastAccessedCol,
        n.sessionDataCol,
        this.version,
      ]
        .map((c) => this.id(c)),
      sql`, `,
    );
    const p = (k: string) => (values ? sql`${values[k]}` : sql.placeholder(k));
    const row = sql`${p("id")}, ${p("app")}, '1', ${p("maxInactive")}, ${p("lastAccess")}, ${p("data")}, ${
      p("version")
    }`;
    return this.dialect === "postgres"
      ? sql`INSERT INTO ${this.t} (${cols}) VALUES (${row}) ON CONFLICT DO NOTHING`
      : sql`INSERT IGNORE INTO ${this.t} (${cols}) VALUES (${row})`;
  }

  private insertValues(w: VersionedWrite, version: number): Record<string, unknown> {
    return {
      id: w.id,
      app: this.app,
      maxInactive: w.maxInactive,
      lastAccess: w.lastAccess,
      data: this.bytes(w.data),
      version,
    };
  }

  create(w: VersionedWrite): Promise<boolean> {
    return this.op(`creating session [${w.id}]`, "writes", async (conn) => {
      return (await this.q(conn, "insert", () => this.insert(), this.insertValues(w, 1))).count === 1;
    });
  }

  replace(w: VersionedWrite, expected: number): Promise<number | null> {
    return this.op(`writing session [${w.id}]`, "writes", async (conn) => {
      const n = this.n;
      const v = this.id(this.version);
      const la = this.id(n.sessionLastAccessedCol);
      const p = sql.placeholder;
      const result = await this.q(
        conn,
        "replace",
        () =>
          sql`UPDATE ${this.t} SET ${this.id(n.sessionDataCol)} = ${p("data")}, ${this.id(n.sessionMaxInactiveCol)} = ${
            p("maxInactive")
          }, ${la} = GREATEST(${la}, ${p("lastAccess")}), ${v} = ${v} + 1 WHERE ${this.whereOne} AND ${v} = ${
            p("expected")
          }`,
        {
          app: this.app,
          id: w.id,
          data: this.bytes(w.data),
          maxInactive: w.maxInactive,
          lastAccess: w.lastAccess,
          expected,
        },
      );
      if (result.count === 1) return expected + 1;
      this.counters.conflicts++;
      return null;
    });
  }

  rename(oldId: string, w: VersionedWrite, expected: number): Promise<number | null> {
    return this.renameInTransaction(
      oldId,
      w,
      expected,
      async (tx) =>
        this.affected(
          await tx.execute(
            sql`DELETE FROM ${this.t} WHERE ${this.where(oldId)} AND ${this.id(this.version)} = ${expected}`,
          ),
        ) === 1,
      async (tx) => this.affected(await tx.execute(this.insert(this.insertValues(w, expected + 1)))) === 1,
    );
  }

  touch(id: string, lastAccess: number): Promise<void> {
    return this.op(`touching session [${id}]`, "writes", async (conn) => {
      const la = this.id(this.n.sessionLastAccessedCol);
      const p = sql.placeholder;
      await this.q(
        conn,
        "touch",
        () =>
          sql`UPDATE ${this.t} SET ${la} = ${p("lastAccess")} WHERE ${this.whereOne} AND ${la} < ${p("lastAccess")}`,
        { app: this.app, id, lastAccess },
      );
    });
  }

  remove(id: string): Promise<void> {
    return this.op(`removing session [${id}]`, "writes", async (conn) => {
      await this.q(conn, "remove", () => sql`DELETE FROM ${this.t} WHERE ${this.whereOne}`, { app: this.app, id });
    });
  }

  claimExpired(now: number, limit: number): Promise<{ id: string; data: Uint8Array | null }[]> {
    return this.op("claiming expired sessions", "writes", (conn) =>
      conn.transaction(async (tx: DrizzleDatabase) => {
        const lockName = `bobcat sessions ${this.n.sessionTable} ${this.app}`;
        const lock = this.dialect === "postgres"
          ? sql`SELECT pg_try_advisory_xact_lock(hashtext(${lockName})) AS got`
          : sql`SELECT GET_LOCK(${lockName.slice(0, 64)}, 0) AS got`;
        const got = this.rows(await tx.execute(lock))[0]?.got;
        if (!(got === true || Number(got) === 1)) return [];
        try {
          const idCol = this.id(this.n.sessionIdCol);
          const rows = this.rows(
            await tx.execute(
              sql`SELECT ${idCol} AS id, ${this.id(this.n.sessionDataCol)} AS d FROM ${this.t} WHERE ${
                this.id(this.n.sessionAppCol)
              } = ${this.app} AND ${this.expiresBefore(now)} LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
            ),
          );
          if (!rows.length) return [];
          const ids = rows.map((r) => String(r.id));
          await tx.execute(
            sql`DELETE FROM ${this.t} WHERE ${this.id(this.n.sessionAppCol)} = ${this.app} AND ${idCol} IN (${
              sql.join(ids.map((i) => sql`${i}`), sql`, `)
            })`,
          );
          return rows.map((r) => {
            const d = r.d as Uint8Array | null;
            return { id: String(r.id), data: d ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : null };
          });
        } finally {
          if (this.dialect === "mysql") await tx.execute(sql`SELECT RELEASE_LOCK(${lockName.slice(0, 64)})`);
        }
      }));
  }

  count(): Promise<number> {
    return this.op("counting sessions", "reads", async (conn) => {
      const result = await conn.run((db: DrizzleDatabase) =>
        db.execute(sql`SELECT count(*) AS n FROM ${this.t} WHERE ${this.id(this.n.sessionAppCol)} = ${this.app}`)
      );
      return Number(this.rows(result)[0]?.n ?? 0);
    });
  }
}
