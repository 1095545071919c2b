/**
 * The session table of a DataSourceStore: its names (Tomcat's attributes and defaults) and the
 * CREATE TABLE bobcat suggests. No drizzle here: the queries (session-queries.ts) are loaded
 * only when a DataSourceStore starts, so servers without one never load drizzle-orm.
 */
import type { Dialect } from "../../datasource/drivers.ts";
import { DataSourceStoreDef } from "../../config/schema.ts";
import { BobcatError } from "../../util/errors.ts";

/** Table and column names, as set by the `<Store>` attributes. */
export interface SessionTableNames {
  sessionTable: string;
  sessionAppCol: string;
  sessionDataCol: string;
  sessionIdCol: string;
  sessionLastAccessedCol: string;
  sessionMaxInactiveCol: string;
  sessionValidCol: string;
}

export const TABLE_NAME_KEYS = [
  "sessionTable",
  "sessionAppCol",
  "sessionDataCol",
  "sessionIdCol",
  "sessionLastAccessedCol",
  "sessionMaxInactiveCol",
  "sessionValidCol",
] as const satisfies readonly (keyof SessionTableNames)[];

/** Tomcat's defaults, from the schema's `<Store className="DataSourceStore">`. */
export const DEFAULT_TABLE_NAMES: Readonly<SessionTableNames> = Object.fromEntries(
  TABLE_NAME_KEYS.map((k) => [k, DataSourceStoreDef.attrs[k].default]),
) as Record<keyof SessionTableNames, string>;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** Checks the names (defaults for those not given); they end up in SQL, so only plain identifiers are accepted. */
export function readTableNames(given: Partial<SessionTableNames>, owner = "DataSourceStore"): SessionTableNames {
  const names = { ...DEFAULT_TABLE_NAMES };
  const fail = (attribute: string, problem: string, fix: string): never => {
    throw new BobcatError("session.badAttribute", `${owner}: attribute [${attribute}] ${problem}`, {
      where: { attribute },
      fix,
    });
  };
  for (const key of TABLE_NAME_KEYS) {
    const v = given[key];
    if (v === undefined) continue;
    if (!IDENTIFIER.test(v)) {
      fail(
        key,
        `[${v}] is not a plain SQL identifier`,
        v.includes(".")
          ? "Schema-qualified names are not supported: put the table in the schema the database user sees first (search_path)."
          : "Use letters, digits, '_' and '$', starting with a letter or '_', at most 63 characters.",
      );
    }
    names[key] = v;
  }
  const columns = TABLE_NAME_KEYS.filter((k) => k !== "sessionTable").map((k) => names[k].toLowerCase());
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup) {
    fail(
      "sessionIdCol",
      `two session columns are both named [${dup}]`,
      "Give every sessionXxxCol its own column name.",
    );
  }
  return names;
}

/**
 * Tomcat writes these names unquoted, so PostgreSQL folds them to lower case; drizzle quotes
 * them, so they are folded here to reach the same table.
 */
export function namesFor(dialect: Dialect, names: SessionTableNames): SessionTableNames {
  if (dialect !== "postgres") return names;
  return Object.fromEntries(TABLE_NAME_KEYS.map((k) => [k, names[k].toLowerCase()])) as Record<
    keyof SessionTableNames,
    string
  >;
}

const TYPES: Record<
  Dialect,
  { id: string; app: string; valid: string; maxInactive: string; lastAccess: string; data: string }
> = {
  sqlite: { id: "text", app: "text", valid: "text", maxInactive: "integer", lastAccess: "integer", data: "blob" },
  postgres: {
    id: "varchar(100)",
    app: "varchar(255)",
    valid: "char(1)",
    maxInactive: "integer",
    lastAccess: "bigint",
    data: "bytea",
  },
  mysql: {
    id: "varchar(100)",
    app: "varchar(255)",
    valid: "char(1)",
    maxInactive: "int",
    lastAccess: "bigint",
    data: "mediumblob",
  },
};

/**
 * The id column's width in Tomcat's documented table, and in bobcat's unless its managers make
 * longer ids (a larger sessionIdLength, a long jvmRoute): then the column is as wide as they are.
 */
export const ID_COLUMN_WIDTH = 100;

function quote(dialect: Dialect, identifier: string): string {
  return dialect === "mysql" ? `\`${identifier}\`` : `"${identifier}"`;
}

/** The ALTER TABLE that widens an existing table's id column to `width` (PostgreSQL, MySQL). */
export function widenIdColumnSql(dialect: Dialect, names: SessionTableNames, width: number): string {
  const n = namesFor(dialect, names);
  const q = (s: string) => quote(dialect, s);
  return dialect === "mysql"
    ? `ALTER TABLE ${q(n.sessionTable)} MODIFY ${q(n.sessionIdCol)} varchar(${width}) NOT NULL`
    : `ALTER TABLE ${q(n.sessionTable)} ALTER COLUMN ${q(n.sessionIdCol)} TYPE varchar(${width})`;
}

/**
 * The CREATE TABLE for a store's names (README.md shows it). The primary key is
 * (app, id) rather than id alone: contexts sharing a cookie path may share a session id, and
 * the key doubles as the index for the per-application queries. `longestId`: the longest
 * session id (in characters) the table is for; the id column is never narrower than
 * ID_COLUMN_WIDTH.
 */
export function createTableSql(
  dialect: Dialect,
  storeOptions: Partial<SessionTableNames> = {},
  ifNotExists = false,
  longestId = 0,
): string {
  const n = namesFor(dialect, readTableNames(storeOptions));
  const t = TYPES[dialect];
  const q = (s: string) => quote(dialect, s);
  const id = dialect === "sqlite" ? t.id : `varchar(${Math.max(ID_COLUMN_WIDTH, longestId)})`;
  const rows: [string, string][] = [
    [n.sessionIdCol, `${id} NOT NULL`],
    [n.sessionAppCol, `${t.app} NOT NULL`],
    [n.sessionValidCol, `${t.valid} NOT NULL`],
    [n.sessionMaxInactiveCol, `${t.maxInactive} NOT NULL`],
    [n.sessionLastAccessedCol, `${t.lastAccess} NOT NULL`],
    [n.sessionDataCol, t.data],
  ];
  const width = Math.max(...rows.map(([c]) => q(c).length));
  return (
    `CREATE TABLE ${ifNotExists ? "IF NOT EXISTS " : ""}${q(n.sessionTable)} (\n` +
    rows.map(([c, type]) => `  ${q(c).padEnd(width)}  ${type},\n`).join("") +
    `  PRIMARY KEY (${q(n.sessionAppCol)}, ${q(n.sessionIdCol)})\n)`
  );
}

const COLUMN_TYPES: Record<Exclude<(typeof TABLE_NAME_KEYS)[number], "sessionTable">, keyof (typeof TYPES)["mysql"]> = {
  sessionIdCol: "id",
  sessionAppCol: "app",
  sessionValidCol: "valid",
  sessionMaxInactiveCol: "maxInactive",
  sessionLastAccessedCol: "lastAccess",
  sessionDataCol: "data",
};

const ADD_DEFAULTS: Record<keyof (typeof TYPES)["mysql"], string> = {
  id: " NOT NULL DEFAULT ''",
  app: " NOT NULL DEFAULT ''",
  valid: " NOT NULL DEFAULT '1'",
  maxInactive: " NOT NULL DEFAULT 0",
  lastAccess: " NOT NULL DEFAULT 0",
  data: "",
};

/**
 * What is wrong with an existing table whose columns are `present` (lower case): each missing
 * column with the attribute that names it, and the ALTER TABLE that adds it. Null when nothing
 * the store needs is missing.
 */
export function missingColumns(
  dialect: Dialect,
  configured: SessionTableNames,
  present: readonly string[],
): { problem: string; fix: string } | null {
  const n = namesFor(dialect, configured);
  const have = new Set(present.map((c) => c.toLowerCase()));
  const keys = (Object.keys(COLUMN_TYPES) as (keyof typeof COLUMN_TYPES)[]).filter((k) =>
    !have.has(n[k].toLowerCase())
  );
  if (!keys.length) return null;
  const q = (s: string) => quote(dialect, s);
  const alters = keys.map((k) =>
    `ALTER TABLE ${q(n.sessionTable)} ADD COLUMN ${q(n[k])} ${TYPES[dialect][COLUMN_TYPES[k]]}${
      ADD_DEFAULTS[COLUMN_TYPES[k]]
    };`
  );
  return {
    problem: `table [${n.sessionTable}] has no column ${
      keys.map((k) => `[${n[k]}] (${k})`).join(", ")
    }; its columns are: ${[...have].join(", ") || "none"}`,
    fix: `Set ${keys.length > 1 ? "those attributes" : keys[0]} to the name${
      keys.length > 1 ? "s" : ""
    } of the existing column${keys.length > 1 ? "s" : ""}, or add ${keys.length > 1 ? "them" : "it"}:\n${
      alters.join("\n")
    }`,
  };
}

/**
 * What a save can rely on, from the table's unique keys (`keys`: each one's columns, lower
 * case; null for one with an expression or a column prefix):
 * - `"app-id"`: a unique key on exactly (app, id) — what `bobcat store init` creates — so one
 *   upsert replaces the row of this application and session and no other;
 * - `"id"` (PostgreSQL): Tomcat's own layout, the id column alone as primary key; the upsert's
 *   update is conditional on the application, and a row of another application is an error,
 *   as the INSERT of Tomcat's DELETE-then-INSERT would be;
 * - null: nothing to rely on (no key, or MySQL with another unique key that its
 *   `ON DUPLICATE KEY UPDATE` would also act on): UPDATE, then INSERT when no row was there.
 * SQLite takes the upsert only on (app, id): elsewhere its transaction costs no round trip.
 */
export function upsertKey(
  dialect: Dialect,
  configured: SessionTableNames,
  keys: readonly (readonly string[] | null)[],
): "app-id" | "id" | null {
  const n = namesFor(dialect, configured);
  const app = n.sessionAppCol.toLowerCase();
  const id = n.sessionIdCol.toLowerCase();
  const exactly = (k: readonly string[] | null, cols: string[]) =>
    k !== null && k.length === cols.length && cols.every((c) => k.includes(c));
  if (keys.some((k) => exactly(k, [app, id]))) {
    // ON DUPLICATE KEY UPDATE acts on whichever unique key a row collides with.
    if (dialect !== "mysql" || keys.every((k) => k !== null && k.includes(app) && k.includes(id))) return "app-id";
    return null;
  }
  return dialect === "postgres" && keys.some((k) => exactly(k, [id])) ? "id" : null;
}
