/**
 * A server's data source opener: SQLite files (the directory is created first), PostgreSQL and
 * MySQL, through the drivers in drivers.ts.
 */
import { mkdir, stat } from "../util/host/fs.ts";
import { dirname } from "../util/host/path.ts";
import { BobcatError } from "../util/errors.ts";
import { fileKind } from "../util/files.ts";
import { openMysql, openPostgres, openSqlite, type SqlConnection } from "./drivers.ts";
import type { DataSourceSpec } from "./resources.ts";

export async function openServerDataSource(spec: DataSourceSpec): Promise<SqlConnection> {
  switch (spec.dialect) {
    case "sqlite":
      return openSqliteFile(spec.name, spec.target);
    case "postgres":
      return openPostgres(spec.target, spec.options, spec.name);
    case "mysql":
      return openMysql(spec.target, spec.options, spec.name);
  }
}

/** SQLite's error codes by name (Bun), number (Node) or message (Deno), reduced to what the fix depends on. */
function sqliteProblem(err: unknown): "path" | "notDatabase" | "other" {
  const e = err as { code?: string; errcode?: number; message?: string } | null;
  const code = String(e?.code ?? "");
  const message = String(e?.message ?? "");
  if (
    /^SQLITE_(CANTOPEN|READONLY|PERM|AUTH|IOERR)/.test(code) || [3, 8, 10, 14, 23].includes(e?.errcode ?? -1) ||
    /unable to open database file|readonly database|disk I\/O error/i.test(message)
  ) return "path";
  if (
    /^SQLITE_(NOTADB|CORRUPT)/.test(code) || [11, 26].includes(e?.errcode ?? -1) ||
    /file is not a database|malformed/i.test(message)
  ) return "notDatabase";
  return "other";
}

/**
 * Creates the database file's directory and opens it. A directory or file bobcat may not write,
 * a file that is not a database, and a missing driver or package (raised by the driver) each get
 * their own fix.
 */
async function openSqliteFile(name: string, target: string): Promise<SqlConnection> {
  const fail = (err: unknown, fix: string): never => {
    throw new BobcatError(
      "datasource.openFailed",
      `data source [${name}]: cannot open the SQLite database [${target}]: ${(err as Error)?.message ?? err}`,
      {
        where: { attribute: "url" },
        fix,
        cause: err,
      },
    );
  };
  const writable =
    `Point the url at a file in a directory bobcat may write to, or give the user bobcat runs as write access to ${
      dirname(target)
    }.`;
  if (target !== ":memory:") {
    try {
      await mkdir(dirname(target), { recursive: true });
    } catch (err) {
      fail(err, `${writable} (${dirname(target)} cannot be created: ${(err as { code?: string }).code ?? "error"})`);
    }
    // SQLite would block on a FIFO (and hold up start-up and the stop).
    const st = await stat(target).catch(() => null);
    if (st && !st.isFile) {
      fail(
        new Error(`it is ${fileKind(st)}, not a database file`),
        "Point the url at a regular file (or a path that does not exist yet).",
      );
    }
  }
  try {
    return await openSqlite(target, name);
  } catch (err) {
    if (err instanceof BobcatError) throw err;
    switch (sqliteProblem(err)) {
      case "path":
        return fail(err, writable);
      case "notDatabase":
        return fail(
          err,
          `${target} is not an SQLite database (or is damaged): move it away, or point the url at another file.`,
        );
      default:
        return fail(err, `Check the database file ${target}.`);
    }
  }
}
