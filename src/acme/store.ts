/**
 * Where ACME state lives: the account key, certificates and their keys, per-certificate state,
 * challenge tokens and the order lock. A directory (0600 files written atomically; several
 * instances may share it) or a PostgreSQL table through a global Resource (several instances
 * share it). Keys are relative paths such as `<ca>/certs/<name>/cert.pem`.
 */
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import type { DataSource } from "../datasource/index.ts";

export interface AcmeStore {
  /** Where, for messages. */
  readonly location: string;
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Moves a damaged entry aside (never served again); returns where it went. */
  setAside(key: string): Promise<string>;
  /** Takes the lock `key` for `ttlMs` unless another owner holds an unexpired one. */
  tryLock(key: string, owner: string, ttlMs: number): Promise<boolean>;
  unlock(key: string, owner: string): Promise<void>;
  close(): Promise<void>;
}

/** A safe path segment from a name or URL. */
export function segment(s: string): string {
  return s.replace(/^https?:\/\//, "").replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\.+/, "_").slice(0, 120);
}

export class DirectoryStore implements AcmeStore {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private file(key: string): string {
    return join(this.root, ...key.split("/").map(segment));
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.file(key), "utf8");
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return undefined;
      throw e;
    }
  }

  /** Written to a temporary file (0600) and renamed over the old one: readers see the old or the new, whole. */
  async put(key: string, value: string): Promise<void> {
    const f = this.file(key);
    await mkdir(dirname(f), { recursive: true, mode: 0o700 });
    const tmp = `${f}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, value, { mode: 0o600 });
    await rename(tmp, f);
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async setAside(key: string): Promise<string> {
    const f = this.file(key);
    const aside = `${f}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    await rename(f, aside).catch(() => {});
    return aside;
  }

  /** A lock file created exclusively; one whose expiry has passed (its owner died) is taken over. */
  async tryLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const f = this.file(key);
    await mkdir(dirname(f), { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const h = await open(f, "wx", 0o600);
        await h.writeFile(JSON.stringify({ owner, expires: Date.now() + ttlMs }));
        await h.close();
        return true;
      } catch (e) {
        if ((e as { code?: string }).code !== "EEXIST") throw e;
        let expires = 0;
        try {
          expires = JSON.parse(await readFile(f, "utf8")).expires ?? 0;
        } catch {
          // Half-written by a crashed owner: judge by age.
          expires = (await stat(f).catch(() => ({ mtimeMs: 0 }))).mtimeMs + ttlMs;
        }
        if (expires > Date.now()) return false;
        await rm(f, { force: true });
      }
    }
    return false;
  }

  async unlock(key: string, owner: string): Promise<void> {
    const f = this.file(key);
    try {
      if (JSON.parse(await readFile(f, "utf8")).owner === owner) await rm(f, { force: true });
    } catch {
      // gone already
    }
  }

  async close(): Promise<void> {}
}

/** One table `bobcat_acme (k, v, expires)` in a PostgreSQL data source, created on first use. */
export class PostgresStore implements AcmeStore {
  private ready?: Promise<void>;
  constructor(private readonly ds: DataSource, private readonly table = "bobcat_acme") {}

  get location(): string {
    return `${this.ds} table ${this.table}`;
  }

  private async db() {
    const conn = await this.ds.connection();
    this.ready ??= conn.execute(
      `CREATE TABLE IF NOT EXISTS ${this.table} (k VARCHAR(400) PRIMARY KEY, v TEXT NOT NULL, expires BIGINT)`,
    ).catch((e) => {
      this.ready = undefined;
      throw e;
    });
    await this.ready;
    return conn;
  }

  private async rows(q: ReturnType<typeof sql>): Promise<Array<Record<string, unknown>>> {
    const conn = await this.db();
    const r = await conn.run((db) => db.execute(q));
    return (Array.isArray(r) ? r : (r as { rows?: unknown[] }).rows ?? []) as Array<Record<string, unknown>>;
  }

  async get(key: string): Promise<string | undefined> {
    const r = await this.rows(sql`SELECT v FROM ${sql.raw(this.table)} WHERE k = ${key}`);
    return r[0]?.v as string | undefined;
  }

  async put(key: string, value: string): Promise<void> {
    await this.rows(
      sql`INSERT INTO ${
        sql.raw(this.table)
      } (k, v) VALUES (${key}, ${value}) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`,
    );
  }

  async delete(key: string): Promise<void> {
    await this.rows(sql`DELETE FROM ${sql.raw(this.table)} WHERE k = ${key}`);
  }

  async setAside(key: string): Promise<string> {
    const aside = `${key}.corrupt-${Date.now()}`;
    await this.rows(sql`UPDATE ${sql.raw(this.table)} SET k = ${aside} WHERE k = ${key}`);
    return `${this.location} key ${aside}`;
  }

  /** A lock row: inserted, or taken over when its expiry has passed — one statement, so one winner. */
  async tryLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const r = await this.rows(
      sql`INSERT INTO ${sql.raw(this.table)} (k, v, expires) VALUES (${key}, ${owner}, ${now + ttlMs})
          ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, expires = EXCLUDED.expires
          WHERE ${sql.raw(this.table)}.expires IS NULL OR ${sql.raw(this.table)}.expires < ${now}
          RETURNING v`,
    );
    return r.length === 1 && r[0]!.v === owner;
  }

  async unlock(key: string, owner: string): Promise<void> {
    await this.rows(sql`DELETE FROM ${sql.raw(this.table)} WHERE k = ${key} AND v = ${owner}`);
  }

  async close(): Promise<void> {}
}
