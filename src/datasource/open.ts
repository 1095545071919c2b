/**
 * A server's data source opener: SQLite files (the directory is created first), PostgreSQL and
 * MySQL, through the drivers in drivers.ts.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { BobcatError } from "../util/errors.ts";
import { openMysql, openPostgres, openSqlite, type SqlConnection } from "./drivers.ts";
import type { DataSourceSpec } from "./resources.ts";

export async function openServerDataSource(spec: DataSourceSpec): Promise<SqlConnection> {
  switch (spec.dialect) {
    case "sqlite":
      try {
        if (spec.target !== ":memory:") await mkdir(dirname(spec.target), { recursive: true });
        return await openSqlite(spec.target);
      } catch (err) {
        throw new BobcatError("datasource.openFailed", `data source [${spec.name}]: cannot open the SQLite database [${spec.target}]: ${(err as Error).message ?? err}`, {
          where: { attribute: "url" },
          fix: "Point the url at a file in a directory bobcat may write to.",
          cause: err,
        });
      }
    case "postgres":
      return openPostgres(spec.target, spec.options);
    case "mysql":
      return openMysql(spec.target, spec.options, spec.name);
  }
}
