/**
 * Named data sources, bobcat's counterpart of Tomcat's `<Resource type="javax.sql.DataSource">`
 * in `<GlobalNamingResources>` and in a `<Context>`. A resource names a database by URL
 * (`sqlite:PATH`, `postgres://...`, `mysql://...`; a `jdbc:` prefix from server.xml is accepted)
 * and is opened on first use, then shared by every store that names it. Opening is the
 * platform's: a server's opener (src/datasource/open.ts) has SQLite files and every driver, an
 * edge runtime's only network databases; this module touches neither files nor drivers.
 */
import { isAbsolute, resolve } from "../util/host/path.ts";
import { cwd } from "../util/host/proc.ts";
import { BobcatError } from "../util/errors.ts";
import type { Dialect, SqlConnection } from "./drivers.ts";

/** One `<Resource>`, with Tomcat's (DBCP's) attribute names. */
export interface ResourceConfig {
  name: string;
  /** `DataSource` (also `javax.sql.DataSource`, `jakarta.sql.DataSource`); other types are not data sources and are skipped. */
  type?: string;
  url?: string;
  username?: string;
  password?: string;
  /** Most connections open at once (PostgreSQL, MySQL). Default 8. DBCP 1's `maxActive` means the same. */
  maxTotal?: number;
  /** How long to wait for a connection, in milliseconds. Default 10000. DBCP 1's `maxWait` means the same. */
  maxWaitMillis?: number;
  [attribute: string]: unknown;
}

export interface DataSourcesOptions {
  /** Relative `sqlite:` paths resolve against it (the server's base directory); default the working directory. */
  baseDir?: string;
  /** The config path of the list, for messages, e.g. `server.globalNamingResources.resources`. */
  path?: string;
}

const DATA_SOURCE_TYPES = ["DataSource", "javax.sql.DataSource", "jakarta.sql.DataSource"];
const USED = ["name", "type", "url", "username", "password", "maxTotal", "maxWaitMillis", "maxActive", "maxWait"];
// Pool tuning and JNDI plumbing that server.xml files carry; bobcat's pools do not need them.
const ACCEPTED = [
  "auth",
  "description",
  "driverClassName",
  "factory",
  "closeMethod",
  "singleton",
  "maxIdle",
  "minIdle",
  "initialSize",
  "validationQuery",
  "validationQueryTimeout",
  "testOnBorrow",
  "testOnReturn",
  "testWhileIdle",
  "timeBetweenEvictionRunsMillis",
  "minEvictableIdleTimeMillis",
  "numTestsPerEvictionRun",
  "removeAbandoned",
  "removeAbandonedOnBorrow",
  "removeAbandonedOnMaintenance",
  "removeAbandonedTimeout",
  "logAbandoned",
  "defaultAutoCommit",
  "defaultReadOnly",
  "defaultTransactionIsolation",
  "poolPreparedStatements",
  "maxOpenPreparedStatements",
  "connectionProperties",
];
const JNDI_PREFIX = "java:comp/env/";

/** What an opener gets: the resource's name, its database and how to connect. */
export interface DataSourceSpec {
  name: string;
  dialect: Dialect;
  /** The file (SQLite) or the URL, password included. */
  target: string;
  options: { username?: string; password?: string; maxTotal: number; maxWaitMillis: number };
}

/** Opens a data source's connection (or pool): the platform's drivers. */
export type DataSourceOpener = (spec: DataSourceSpec) => Promise<SqlConnection>;

export class DataSource {
  private opening: Promise<SqlConnection> | null = null;

  constructor(
    readonly name: string,
    readonly dialect: Dialect,
    /** The URL with any password removed, for messages. */
    readonly location: string,
    private readonly target: string,
    private readonly options: { username?: string; password?: string; maxTotal: number; maxWaitMillis: number },
    private readonly opener: DataSourceOpener,
  ) {}

  /** The shared connection (pool), opened on first use; a failed open is retried by the next call. */
  connection(): Promise<SqlConnection> {
    if (!this.opening) {
      this.opening = this.open();
      this.opening.catch(() => {
        this.opening = null;
      });
    }
    return this.opening;
  }

  private open(): Promise<SqlConnection> {
    return this.opener({ name: this.name, dialect: this.dialect, target: this.target, options: this.options });
  }

  /** Opens the data source and runs a trivial query (`bobcat check`). */
  async ping(): Promise<void> {
    const conn = await this.connection();
    await conn.execute("SELECT 1");
  }

  async close(): Promise<void> {
    const opening = this.opening;
    this.opening = null;
    if (!opening) return;
    const conn = await opening.catch(() => null);
    await conn?.close();
  }

  toString(): string {
    return `${this.name} (${this.location})`;
  }
}

/** The data sources of one scope: the server's global resources, or one context's own. */
export class DataSources {
  private readonly byName: Map<string, DataSource>;

  constructor(sources: Iterable<DataSource> = []) {
    this.byName = new Map([...sources].map((ds) => [ds.name, ds]));
  }

  /** By name; `java:comp/env/jdbc/x` finds `jdbc/x`, as a JNDI lookup would. */
  get(name: string): DataSource | undefined {
    return this.byName.get(name.startsWith(JNDI_PREFIX) ? name.slice(JNDI_PREFIX.length) : name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Opens every data source and runs a query; the first that fails is reported by name. */
  async check(): Promise<void> {
    for (const ds of this.byName.values()) {
      try {
        await ds.ping();
      } catch (err) {
        if (err instanceof BobcatError) throw err;
        throw new BobcatError(
          "datasource.unreachable",
          `data source [${ds}] cannot be opened: ${(err as Error).message ?? err}`,
          {
            where: { attribute: "url" },
            fix: "Check that the database is running and that the URL, username and password are right.",
            cause: err,
          },
        );
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((ds) => ds.close()));
  }
}

/** Where a store looks for its data source: the server's global resources and its context's own. */
export interface DataSourceScopes {
  global?: DataSources;
  local?: DataSources;
}

/**
 * Tomcat's DataSourceStore lookup: the global resource first, then the context's; with
 * `localDataSource` only the context's.
 */
export function lookupDataSource(name: string, scopes: DataSourceScopes, localDataSource: boolean): DataSource {
  const found = localDataSource ? scopes.local?.get(name) : scopes.global?.get(name) ?? scopes.local?.get(name);
  if (found) return found;
  const where = localDataSource ? "the context's resources" : "the global resources or the context's resources";
  const known = [
    ...(localDataSource ? [] : (scopes.global?.names() ?? []).map((n) => `${n} (global)`)),
    ...(scopes.local?.names() ?? []).map((n) => `${n} (context)`),
  ];
  const otherScope = localDataSource ? scopes.global?.get(name) : undefined;
  throw new BobcatError("store.noDataSource", `dataSourceName [${name}] names no data source in ${where}`, {
    where: { attribute: "dataSourceName" },
    fix: otherScope
      ? `[${name}] is a global resource, but localDataSource is true: set localDataSource: false, or define the resource in the context.`
      : `Define a resource { name: ${name}, type: DataSource, url: ... } in server.globalNamingResources.resources (or context.resources with localDataSource: true).` +
        (known.length ? ` Defined: ${known.join(", ")}.` : ""),
  });
}

/**
 * Validates `<Resource>` entries and makes the data sources among them (nothing is opened yet);
 * `open` is the platform's opener (a server's: createDataSources in src/datasource/index.ts).
 */
export function makeDataSources(
  resources: readonly ResourceConfig[],
  options: DataSourcesOptions,
  open: DataSourceOpener,
): DataSources {
  const listPath = options.path ?? "resources";
  if (!Array.isArray(resources)) {
    throw new BobcatError("datasource.badResource", `${listPath} must be a list of resources`, {
      where: { path: listPath },
    });
  }
  const sources: DataSource[] = [];
  const seen = new Set<string>();
  resources.forEach((resource, index) => {
    const at = `${listPath}[${index}]`;
    const fail = (attribute: string, message: string, fix?: string): never => {
      throw new BobcatError("datasource.badResource", `${at}: ${message}`, {
        where: { path: `${at}.${attribute}`, attribute },
        fix,
      });
    };
    if (typeof resource !== "object" || resource === null) {
      fail("name", "must be an object such as { name, type: DataSource, url }");
    }
    const name = resource.name;
    if (typeof name !== "string" || !name.trim()) fail("name", "a resource needs a name, e.g. jdbc/sessions");
    if (seen.has(name)) fail("name", `[${name}] is defined twice in this list`);
    seen.add(name);
    const type = resource.type ?? "DataSource";
    if (typeof type !== "string") fail("type", "must be a string");
    // Other resource types (UserDatabase, mail sessions, ...) are not data sources.
    if (!DATA_SOURCE_TYPES.includes(type)) return;

    for (const key of Object.keys(resource)) {
      if (USED.includes(key) || ACCEPTED.includes(key) || resource[key] === undefined) continue;
      const near = [...USED, ...ACCEPTED].find((k) => k.toLowerCase() === key.toLowerCase());
      fail(
        key,
        `[${key}] is not a known attribute of a DataSource resource`,
        near ? `Did you mean [${near}]?` : `Use ${USED.slice(0, 7).join(", ")}.`,
      );
    }
    const text = (key: string): string | undefined => {
      const v = resource[key];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== "string") fail(key, `[${key}] must be a string`);
      return v as string;
    };
    const positive = (key: string, legacy: string, fallback: number): number => {
      const v = resource[key] ?? resource[legacy];
      if (v === undefined) return fallback;
      if (typeof v !== "number" || !Number.isInteger(v)) fail(key, `[${key}] must be a whole number`);
      // DBCP uses -1 for "no limit"; a pool needs one, and waiting forever hangs requests.
      return (v as number) > 0 ? (v as number) : fallback;
    };
    const url = text("url");
    if (!url) {
      fail(
        "url",
        `resource [${name}] needs a url`,
        "Use sqlite:PATH, postgres://user@host:port/db or mysql://user@host:port/db.",
      );
    }
    const parsed = parseUrl(url!, options.baseDir ?? cwd());
    if (!parsed) {
      fail(
        "url",
        `[${redact(url!)}] is not a supported database URL`,
        "Use sqlite:PATH (a file), postgres://user@host:port/db or mysql://user@host:port/db.",
      );
    }
    sources.push(
      new DataSource(name, parsed!.dialect, redact(parsed!.target), parsed!.target, {
        username: text("username"),
        password: text("password"),
        maxTotal: positive("maxTotal", "maxActive", 8),
        maxWaitMillis: positive("maxWaitMillis", "maxWait", 10000),
      }, open),
    );
  });
  return new DataSources(sources);
}

/**
 * What a DataSource resource reaches, to tell whether two contexts' stores share a database: its
 * url (a relative sqlite: path resolved against baseDir) and username. Two resources with the same
 * reach the same database as the same user (so the same tables); two with different ones may as
 * well, which this does not claim. Null when nothing is shared (sqlite::memory:, a url bobcat
 * refuses anyway, a resource of another type).
 */
export function databaseReached(resource: ResourceConfig, baseDir: string): string | null {
  if (!DATA_SOURCE_TYPES.includes(resource.type ?? "DataSource") || typeof resource.url !== "string") return null;
  const parsed = parseUrl(resource.url, baseDir);
  if (!parsed || parsed.target === ":memory:") return null;
  return `${parsed.dialect}\0${parsed.target}\0${typeof resource.username === "string" ? resource.username : ""}`;
}

function parseUrl(url: string, baseDir: string): { dialect: Dialect; target: string } | null {
  const u = url.startsWith("jdbc:") ? url.slice(5) : url;
  if (u.startsWith("sqlite:")) {
    let path = u.slice("sqlite:".length);
    if (path.startsWith("//")) path = path.slice(2);
    if (!path) return null;
    return { dialect: "sqlite", target: path === ":memory:" || isAbsolute(path) ? path : resolve(baseDir, path) };
  }
  if (/^postgres(ql)?:\/\/./.test(u)) return { dialect: "postgres", target: u };
  if (/^(mysql|mariadb):\/\/./.test(u)) return { dialect: "mysql", target: u.replace(/^mariadb:/, "mysql:") };
  return null;
}

/** The URL without its password, for logs and messages. */
function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, "$1:***@");
}
