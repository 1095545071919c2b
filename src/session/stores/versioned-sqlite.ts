/**
 * The shared consistency mode on an SQLite file: the store that the worker processes of one
 * machine (`server.workers`) share. SQLite in WAL mode (set when the data source opens) lets
 * readers go on while one process writes; busy_timeout makes writers wait for each other. Every
 * conditional write is one statement with RETURNING (no read-then-write transaction that could
 * fail to upgrade its lock), and the expiry sweep is one DELETE ... RETURNING, so each expired
 * session is handed to exactly one process.
 *
 * Leases (lock/relock/unlock) live in a second file next to it (`<file>-lease`, on a connection
 * of its own) with `synchronous = NORMAL`: a lease is taken and given up on every request of
 * a session, must not wait for the fsync of the session writes (synchronous FULL) nor hold their
 * write lock, and is worth nothing after a crash (it expires). They serve separate servers
 * sharing the file; the worker processes of one server take turns through their primary instead
 * (runtime/turns.ts), which costs no write per request.
 *
 * The file is bobcat's own (embedded), so start-up creates the table, the version column and the
 * expiry index when they are missing. A file on a network file system is not supported (SQLite's
 * locks do not hold there): several machines need PostgreSQL, MySQL/MariaDB or Redis.
 */
import { type SQL, sql } from "drizzle-orm";
import { type DrizzleDatabase, openSqlite, type SqlConnection } from "../../datasource/drivers.ts";
import { BobcatError } from "../../util/errors.ts";
import type { DataSourceStore } from "./data-source-store.ts";
import { createTableSql } from "./session-table.ts";
import { StoreUnavailableError } from "./store-base.ts";
import { counted, type StoredVersion, type VersionedStore, type VersionedWrite } from "./versioned.ts";
import { VersionedTableStore } from "./versioned-table.ts";

type Row = unknown[];

/** Lease statements tried without waiting on a busy lease file before one that waits. */
const BUSY_RETRIES = 20;

function errorText(err: unknown): string {
  const e = err as { message?: string; code?: string; cause?: { message?: string; code?: string } };
  return `${e?.message ?? err} ${e?.code ?? ""} ${e?.cause?.message ?? ""} ${e?.cause?.code ?? ""}`;
}

/** A connection whose operations run on `db` at once: for statements already inside the connection's turn. */
function directly(db: DrizzleDatabase): SqlConnection {
  return {
    dialect: "sqlite",
    run: (fn) => fn(db),
    transaction: () => Promise.reject(new Error("no transaction inside a lease statement")),
    execute: (statement) => db.run(sql.raw(statement)).then(() => {}),
    close: () => Promise.resolve(),
  } as SqlConnection;
}

/** How long a queued instance keeps its place, and a lease handed to it waits to be taken (it polls more often). */
const NEXT_MS = 250;

export class VersionedSqliteStore extends VersionedTableStore implements VersionedStore {
  /** The lease file's connection (see startLeases). */
  private leases: SqlConnection | null = null;

  constructor(inner: DataSourceStore, private readonly version = "version") {
    super(inner, "sqlite");
  }

  private async all(conn: SqlConnection, q: SQL): Promise<Row[]> {
    return await conn.run((db: DrizzleDatabase) => db.all(q)) as Row[];
  }

  /** Creates what is missing (table, version column, expiry index), then DataSourceStore's checks. */
  async start(): Promise<void> {
    const conn = await this.conn();
    const q = (s: string) => `"${s}"`;
    await conn.execute(createTableSql("sqlite", this.inner.names, true));
    const columns = await this.all(conn, sql`SELECT name FROM pragma_table_info(${this.n.sessionTable})`);
    if (!columns.some((r) => String(r[0]).toLowerCase() === this.version.toLowerCase())) {
      try {
        await conn.execute(
          `ALTER TABLE ${q(this.n.sessionTable)} ADD COLUMN ${q(this.version)} integer NOT NULL DEFAULT 0`,
        );
      } catch (err) {
        // Another worker added it at the same moment.
        if (!/duplicate column/i.test(String((err as Error)?.message))) throw err;
      }
    }
    await conn.execute(
      `CREATE INDEX IF NOT EXISTS ${q(`${this.n.sessionTable.replace(/\$/g, "_")}_expiry`)} ON ${
        q(this.n.sessionTable)
      } (${q(this.n.sessionAppCol)}, ${q(this.n.sessionLastAccessedCol)})`,
    );
    await this.startLeases(conn);
    await this.inner.start();
  }

  private get lt(): SQL {
    return sql`${sql.identifier(`${this.n.sessionTable}_lease`)}`;
  }

  /**
   * Opens `<file>-lease` on a connection of its own: lease statements never queue behind a
   * session write's fsync, and they fail at once on a busy file (busy_timeout 0, see leaseOp).
   */
  private async startLeases(conn: SqlConnection): Promise<void> {
    const dbs = await this.all(conn, sql`SELECT file FROM pragma_database_list WHERE name = 'main'`);
    const main = String(dbs[0]?.[0] ?? "");
    const lease = await openSqlite(main ? `${main}-lease` : ":memory:", `${this} (leases)`);
    try {
      await lease.execute("PRAGMA synchronous = NORMAL");
      await lease.execute(
        `CREATE TABLE IF NOT EXISTS "${
          `${this.n.sessionTable}_lease`.replace(/"/g, '""')
        }" (app text NOT NULL, id text NOT NULL, owner text, until integer NOT NULL, next text, next_until integer NOT NULL DEFAULT 0, PRIMARY KEY (app, id)) WITHOUT ROWID`,
      );
      await lease.execute("PRAGMA busy_timeout = 0");
    } catch (err) {
      await lease.close().catch(() => {});
      throw err;
    }
    this.leases = lease;
  }

  /**
   * A lease statement that does not block the process while another one writes the lease file:
   * SQLite's busy handler sleeps (a millisecond and more) with the whole event loop stopped, so
   * the statement fails at once when the file is busy and is tried again after a turn of the
   * event loop (the other process holds the lock for microseconds); the last try waits as any
   * statement does.
   */
  private async leaseOp<T>(what: string, fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    const leases = this.leases;
    if (!leases) throw new StoreUnavailableError(`${this}: ${what} failed: the store is not started`, null);
    for (let attempt = 0;; attempt++) {
      const last = attempt >= BUSY_RETRIES;
      let outcome: { value: T } | null;
      try {
        outcome = await counted(this.counters, "writes", () =>
          leases.run(async (db: DrizzleDatabase) => {
            if (last) await db.run(sql.raw("PRAGMA busy_timeout = 5000"));
            try {
              return { value: await fn(directly(db)) };
            } catch (err) {
              if (!last && /database is locked|SQLITE_BUSY/i.test(errorText(err))) return null;
              throw err;
            } finally {
              if (last) await db.run(sql.raw("PRAGMA busy_timeout = 0"));
            }
          }));
      } catch (err) {
        if (err instanceof BobcatError) throw err;
        throw new StoreUnavailableError(`${this}: ${what} failed: ${errorText(err).trim()}`, err);
      }
      if (outcome) return outcome.value;
      await new Promise((r) => setTimeout(r, attempt < 4 ? 0 : 1));
    }
  }

  lock(id: string, owner: string, now: number, ttl: number): Promise<boolean> {
    return this.leaseOp(`locking session [${id}]`, async (conn) => {
      // One statement: free (no holder, an expired one, or handed to us, and nobody else queued
      // first) → ours; otherwise we take the queue's one place if it is free.
      // Handed to us (or ours), or free and nobody else queued first.
      const free =
        sql`(owner = ${owner} OR ((owner IS NULL OR until < ${now}) AND (next IS NULL OR next = ${owner} OR next_until < ${now})))`;
      const queue = sql`(next IS NULL OR next = ${owner} OR next_until < ${now})`;
      const rows = await this.all(
        conn,
        sql`INSERT INTO ${this.lt} (app, id, owner, until, next, next_until) VALUES (${this.app}, ${id}, ${owner}, ${
          now + ttl
        }, NULL, 0) ON CONFLICT (app, id) DO UPDATE SET owner = CASE WHEN ${free} THEN ${owner} ELSE owner END, until = CASE WHEN ${free} THEN ${
          now + ttl
        } ELSE until END, next = CASE WHEN ${free} THEN NULL WHEN ${queue} THEN ${owner} ELSE next END, next_until = CASE WHEN ${free} THEN 0 WHEN ${queue} THEN ${
          now + NEXT_MS
        } ELSE next_until END RETURNING owner`,
      );
      return rows[0]?.[0] === owner;
    });
  }

  relock(id: string, owner: string, now: number, ttl: number): Promise<boolean> {
    return this.leaseOp(`locking session [${id}]`, async (conn) => {
      const rows = await this.all(
        conn,
        sql`UPDATE ${this.lt} SET until = ${
          now + ttl
        } WHERE app = ${this.app} AND id = ${id} AND owner = ${owner} AND (next IS NULL OR next_until < ${now}) RETURNING 1`,
      );
      return rows.length === 1;
    });
  }

  unlock(id: string, owner: string, now: number): Promise<void> {
    return this.leaseOp(`unlocking session [${id}]`, async (conn) => {
      const gone = await this.all(
        conn,
        sql`DELETE FROM ${this.lt} WHERE app = ${this.app} AND id = ${id} AND owner = ${owner} AND (next IS NULL OR next_until < ${now}) RETURNING 1`,
      );
      if (gone.length) return;
      // Another instance is queued: the lease is its own for a moment (it polls), so nobody overtakes it.
      await conn.run((db: DrizzleDatabase) =>
        db.run(
          sql`UPDATE ${this.lt} SET owner = next, until = ${
            now + NEXT_MS
          }, next = NULL, next_until = 0 WHERE app = ${this.app} AND id = ${id} AND owner = ${owner}`,
        )
      );
    });
  }

  async stop(): Promise<void> {
    const leases = this.leases;
    this.leases = null;
    await leases?.close();
    await this.inner.stop();
  }

  private bytes(d: unknown): Uint8Array {
    const b = d as Uint8Array;
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  fetch(id: string, known?: number): Promise<StoredVersion | null> {
    return this.op(`reading session [${id}]`, "reads", async (conn) => {
      const v = this.id(this.version);
      const rows = await this.all(
        conn,
        sql`SELECT ${v}, ${this.id(this.n.sessionLastAccessedCol)}, ${
          this.id(this.n.sessionMaxInactiveCol)
        }, CASE WHEN ${v} = ${known ?? -1} THEN NULL ELSE ${this.id(this.n.sessionDataCol)} END FROM ${this.t} WHERE ${
          this.where(id)
        } AND ${this.id(this.n.sessionValidCol)} = '1'`,
      );
      const row = rows[0];
      if (!row) return null;
      return {
        version: Number(row[0]),
        lastAccess: Number(row[1]),
        maxInactive: Number(row[2]),
        ...(row[3] ? { data: this.bytes(row[3]) } : {}),
      };
    });
  }

  private insert(w: VersionedWrite, version: number): SQL {
    const n = this.n;
    const cols = sql.join(
      [n.sessionIdCol, n.sessionAppCol, n.sessionValidCol, n.sessionMaxInactiveCol, n.sessionLastAccessedCol]
        .concat([n.sessionDataCol, this.version])
        .map((c) => this.id(c)),
      sql`, `,
    );
    return sql`INSERT OR IGNORE INTO ${this.t} (${cols}) VALUES (${w.id}, ${this.app}, '1', ${w.maxInactive}, ${w.lastAccess}, ${
      this.bytes(w.data)
    }, ${version}) RETURNING ${this.id(this.version)}`;
  }

  create(w: VersionedWrite): Promise<boolean> {
    return this.op(`creating session [${w.id}]`, "writes", async (conn) => {
      return (await this.all(conn, this.insert(w, 1))).length === 1;
    });
  }

  replace(w: VersionedWrite, expected: number): Promise<number | null> {
    return this.op(`writing session [${w.id}]`, "writes", async (conn) => {
      const n = this.n;
      const v = this.id(this.version);
      const la = this.id(n.sessionLastAccessedCol);
      const rows = await this.all(
        conn,
        sql`UPDATE ${this.t} SET ${this.id(n.sessionDataCol)} = ${this.bytes(w.data)}, ${
          this.id(n.sessionMaxInactiveCol)
        } = ${w.maxInactive}, ${la} = MAX(${la}, ${w.lastAccess}), ${v} = ${v} + 1 WHERE ${
          this.where(w.id)
        } AND ${v} = ${expected} RETURNING ${v}`,
      );
      if (rows.length === 1) return Number(rows[0]![0]);
      this.counters.conflicts++;
      return null;
    });
  }

  rename(oldId: string, w: VersionedWrite, expected: number): Promise<number | null> {
    // The transaction is BEGIN IMMEDIATE: the write lock first, so the two statements never need to upgrade one.
    return this.renameInTransaction(
      oldId,
      w,
      expected,
      async (tx) =>
        (await tx.all(
          sql`DELETE FROM ${this.t} WHERE ${this.where(oldId)} AND ${this.id(this.version)} = ${expected} RETURNING 1`,
        ) as Row[]).length === 1,
      async (tx) => (await tx.all(this.insert(w, expected + 1)) as Row[]).length === 1,
    );
  }

  touch(id: string, lastAccess: number): Promise<void> {
    return this.op(`touching session [${id}]`, "writes", async (conn) => {
      const la = this.id(this.n.sessionLastAccessedCol);
      await conn.run((db: DrizzleDatabase) =>
        db.run(sql`UPDATE ${this.t} SET ${la} = ${lastAccess} WHERE ${this.where(id)} AND ${la} < ${lastAccess}`)
      );
    });
  }

  remove(id: string): Promise<void> {
    return this.op(`removing session [${id}]`, "writes", async (conn) => {
      await conn.run((db: DrizzleDatabase) => db.run(sql`DELETE FROM ${this.t} WHERE ${this.where(id)}`));
    });
  }

  claimExpired(now: number, limit: number): Promise<{ id: string; data: Uint8Array | null }[]> {
    return this.op("claiming expired sessions", "writes", async (conn) => {
      const idCol = this.id(this.n.sessionIdCol);
      const appCol = this.id(this.n.sessionAppCol);
      const la = this.id(this.n.sessionLastAccessedCol);
      const mi = this.id(this.n.sessionMaxInactiveCol);
      // One statement: whichever process runs it first takes each row; the others find none.
      const rows = await this.all(
        conn,
        sql`DELETE FROM ${this.t} WHERE ${appCol} = ${this.app} AND ${idCol} IN (SELECT ${idCol} FROM ${this.t} WHERE ${appCol} = ${this.app} AND ${mi} > 0 AND ${la} + ${mi} * 1000 <= ${now} LIMIT ${limit}) RETURNING ${idCol}, ${
          this.id(this.n.sessionDataCol)
        }`,
      );
      return rows.map((r) => ({ id: String(r[0]), data: r[1] ? this.bytes(r[1]) : null }));
    });
  }

  count(): Promise<number> {
    return this.op("counting sessions", "reads", async (conn) => {
      const rows = await this.all(
        conn,
        sql`SELECT count(*) FROM ${this.t} WHERE ${this.id(this.n.sessionAppCol)} = ${this.app}`,
      );
      return Number(rows[0]?.[0] ?? 0);
    });
  }
}
