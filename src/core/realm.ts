/**
 * Tomcat's realms: where users, their stored passwords and their roles come from.
 *  - MemoryRealm: users inline in the config and/or a tomcat-users.xml-format file (`pathname`);
 *  - UserDatabaseRealm: the global `UserDatabase` resource's tomcat-users.xml (users, roles, groups);
 *  - DataSourceRealm: a users table and a user-roles table through a named data source;
 *  - CombinedRealm: the first nested realm that authenticates the user;
 *  - LockOutRealm: a CombinedRealm that locks a user name out after failureCount failures.
 * A top-level realm that is not a LockOutRealm is wrapped in one (its failureCount etc.), as
 * Tomcat's own server.xml wraps every realm. Passwords are compared by the realm's
 * CredentialHandler (credentials.ts); without one, as plain text.
 */
import { loadXmlParser, xmlParser } from "../config/xml-parser.ts";
import type {
  DataSourceRealmConfig,
  MemoryRealmConfig,
  RealmConfig,
  ResourceConfig,
  UserDatabaseRealmConfig,
} from "../config/model.ts";
import { sourceOf } from "../config/validate.ts";
import type { DataSources } from "../datasource/resources.ts";
import type { DrizzleDatabase } from "../datasource/drivers.ts";
import { BobcatError } from "../util/errors.ts";
import { createCredentialHandler, type CredentialHandler, nodeDigestName } from "./credentials.ts";
import { nodeCrypto } from "../util/node-crypto.ts";
import { LockOut } from "./lockout.ts";
import type { Platform } from "./platform.ts";

export interface RealmUser {
  name: string;
  /** The stored credential (plain, or in the credential handler's format). */
  credential?: string;
  roles: string[];
}

export interface AuthenticatedUser {
  name: string;
  roles: string[];
}

export interface RealmEnv {
  platform: Platform;
  /** `server.globalNamingResources.resources` (for UserDatabase resources). */
  globalResources: readonly ResourceConfig[];
  globalDataSources?: DataSources;
  localDataSources?: DataSources;
  /** For messages: "localhost/app". */
  where: string;
  /** $CATALINA_BASE: a UserDatabase without pathname reads conf/tomcat-users.xml there. */
  baseDir: string;
}

export interface Realm {
  start(): Promise<void>;
  /** The user when the password matches, else null. */
  authenticate(name: string, password: string): Promise<AuthenticatedUser | null>;
  /**
   * DIGEST: H(name:realm:password) in `algorithm` when the realm can tell it (plain stored
   * passwords, or stored digests of exactly that), else null.
   */
  digestHa1(name: string, realmName: string, algorithm: string): Promise<string | null>;
  /** CLIENT-CERT and trusted principals: the roles of a known user, null for an unknown one. */
  roles(name: string): Promise<string[] | null>;
  /** The DIGEST algorithms the realm can answer for (plain passwords: all; stored H(A1): its algorithm). */
  digestAlgorithms(): string[];
  /** The LockOutRealm around it, if any. */
  readonly lockOut?: LockOut;
}

function fail(config: object, attr: string | undefined, message: string, fix: string): never {
  const src = sourceOf(config);
  throw new BobcatError("config.realm", message, { where: attr ? src.attr(attr) : src.self, fix });
}

/** Reads users from a tomcat-users.xml: `<user username password roles groups>`, `<group groupname roles>`. */
export function parseTomcatUsers(text: string, file: string): RealmUser[] {
  const { XMLParser } = xmlParser();
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: () => true });
  let doc: Record<string, unknown[]>;
  try {
    doc = parser.parse(text) as Record<string, unknown[]>;
  } catch (e) {
    throw new BobcatError("realm.usersFile", `${file} is not XML: ${(e as Error).message}`, {
      where: { file },
      fix: "give a tomcat-users.xml: <tomcat-users><user username=... password=... roles=.../></tomcat-users>",
    });
  }
  const root = (doc["tomcat-users"]?.[0] ?? null) as Record<string, unknown> | null;
  if (!root || typeof root !== "object") {
    throw new BobcatError("realm.usersFile", `${file} has no <tomcat-users> element`, {
      where: { file },
      fix: "give a tomcat-users.xml: <tomcat-users><user username=... password=... roles=.../></tomcat-users>",
    });
  }
  const list = (v: unknown) => String(v ?? "").split(",").map((x) => x.trim()).filter(Boolean);
  const groups = new Map<string, string[]>();
  for (const g of (root.group ?? []) as Array<Record<string, unknown>>) {
    if (g.groupname) groups.set(String(g.groupname), list(g.roles));
  }
  return ((root.user ?? []) as Array<Record<string, unknown>>).flatMap((u) => {
    const name = u.username ?? u.name;
    if (name === undefined) return [];
    const roles = new Set(list(u.roles));
    for (const g of list(u.groups)) for (const r of groups.get(g) ?? []) roles.add(r);
    return [{
      name: String(name),
      credential: u.password === undefined ? undefined : String(u.password),
      roles: [...roles],
    }];
  });
}

const DIGESTS: Record<string, string> = { MD5: "md5", "SHA-256": "sha256", "SHA-512-256": "sha512-256" };
export const digestHex = (algorithm: string, text: string) =>
  nodeCrypto().createHash(DIGESTS[algorithm] ?? "md5").update(new TextEncoder().encode(text)).digest("hex");

/** Realms that look a user up and compare the stored credential (MemoryRealm, UserDatabaseRealm, DataSourceRealm). */
abstract class LookupRealm<C extends RealmConfig = RealmConfig> implements Realm {
  protected readonly handler: CredentialHandler;

  constructor(protected readonly config: C) {
    try {
      this.handler = createCredentialHandler(config.credentialHandler);
    } catch (e) {
      fail(config.credentialHandler ?? config, "algorithm", (e as Error).message, "use an algorithm the runtime has");
    }
  }

  abstract start(): Promise<void>;
  protected abstract lookup(name: string): Promise<RealmUser | null>;

  async authenticate(name: string, password: string): Promise<AuthenticatedUser | null> {
    const user = await this.lookup(name);
    // Compare even for an unknown user, so the answer takes as long either way.
    const ok = this.handler.matches(password, user?.credential ?? (user ? undefined : "x"));
    return user && ok ? { name: user.name, roles: user.roles } : null;
  }

  async digestHa1(name: string, realmName: string, algorithm: string): Promise<string | null> {
    const user = await this.lookup(name);
    if (!user?.credential) return null;
    if (this.handler.plain) return digestHex(algorithm, `${name}:${realmName}:${user.credential}`);
    // Tomcat: a MessageDigestCredentialHandler with the DIGEST algorithm stores H(user:realm:password).
    const stored = this.handler.digestAlgorithm;
    if (stored && nodeDigestName(stored) === (DIGESTS[algorithm] ?? "") && /^[0-9a-f]+$/i.test(user.credential)) {
      return user.credential.toLowerCase();
    }
    return null;
  }

  async roles(name: string): Promise<string[] | null> {
    return (await this.lookup(name))?.roles ?? null;
  }

  digestAlgorithms(): string[] {
    if (this.handler.plain) return ["SHA-256", "MD5"];
    const stored = this.handler.digestAlgorithm ? nodeDigestName(this.handler.digestAlgorithm) : null;
    return Object.entries(DIGESTS).filter(([, node]) => node === stored).map(([name]) => name);
  }
}

class MemoryRealm extends LookupRealm<MemoryRealmConfig> {
  private users = new Map<string, RealmUser>();

  constructor(
    config: MemoryRealmConfig,
    private readonly env: RealmEnv,
    private readonly normalise: (n: string) => string,
  ) {
    super(config);
    for (const u of config.users ?? []) {
      this.users.set(normalise(u.username), { name: u.username, credential: u.password, roles: u.roles });
    }
  }

  async start(): Promise<void> {
    if (!this.config.pathname) return;
    for (const u of await readUsersFile(this.env, this.config.pathname, this.config, "pathname")) {
      if (!this.users.has(this.normalise(u.name))) this.users.set(this.normalise(u.name), u);
    }
  }

  protected lookup(name: string): Promise<RealmUser | null> {
    return Promise.resolve(this.users.get(this.normalise(name)) ?? null);
  }
}

async function readUsersFile(env: RealmEnv, file: string, config: object, attr: string): Promise<RealmUser[]> {
  if (!env.platform.readTextFile) {
    throw new BobcatError(
      "platform.noFiles",
      `${env.where}: the realm reads ${file}, and ${env.platform.name} has no files`,
      {
        where: sourceOf(config).attr(attr),
        fix: "list the users inline (realm.users)",
      },
    );
  }
  let text: string;
  try {
    text = await env.platform.readTextFile(file);
  } catch (e) {
    throw new BobcatError(
      "realm.usersFile",
      `${env.where}: cannot read the users file ${file}: ${(e as Error).message}`,
      {
        where: sourceOf(config).attr(attr),
        fix: "point it at a readable tomcat-users.xml",
      },
    );
  }
  await loadXmlParser();
  return parseTomcatUsers(text, file);
}

class UserDatabaseRealm extends LookupRealm<UserDatabaseRealmConfig> {
  private users = new Map<string, RealmUser>();
  constructor(
    config: UserDatabaseRealmConfig,
    private readonly env: RealmEnv,
    private readonly normalise: (n: string) => string,
  ) {
    super(config);
  }

  async start(): Promise<void> {
    const name = this.config.resourceName ?? "UserDatabase";
    const resource = this.env.globalResources.find((r) => r.name === name);
    if (!resource || !/UserDatabase$/.test(String(resource.type ?? ""))) {
      fail(
        this.config,
        "resourceName",
        `UserDatabaseRealm: there is no global resource "${name}" of type UserDatabase`,
        `add server.globalNamingResources.resources: [{ name: ${name}, type: org.apache.catalina.UserDatabase, pathname: conf/tomcat-users.xml }]`,
      );
    }
    const file = typeof resource.pathname === "string"
      ? resource.pathname
      : `${this.env.baseDir.replace(/\/$/, "")}/conf/tomcat-users.xml`;
    for (const u of await readUsersFile(this.env, file, resource, "pathname")) {
      this.users.set(this.normalise(u.name), u);
    }
  }

  protected lookup(name: string): Promise<RealmUser | null> {
    return Promise.resolve(this.users.get(this.normalise(name)) ?? null);
  }
}

class DataSourceRealm extends LookupRealm<DataSourceRealmConfig> {
  constructor(config: DataSourceRealmConfig, private readonly env: RealmEnv) {
    super(config);
    if (!!config.userRoleTable !== !!config.roleNameCol) {
      fail(
        config,
        config.userRoleTable ? "roleNameCol" : "userRoleTable",
        "DataSourceRealm: userRoleTable and roleNameCol go together",
        "set both, or neither (users without roles)",
      );
    }
  }

  private source() {
    const name = this.config.dataSourceName!;
    const ds = this.config.localDataSource
      ? this.env.localDataSources?.get(name)
      : (this.env.globalDataSources?.get(name) ?? this.env.localDataSources?.get(name));
    if (!ds) {
      fail(
        this.config,
        "dataSourceName",
        `DataSourceRealm: no data source named "${name}"`,
        `define a resource { name: ${name}, type: DataSource, url: ... } in server.globalNamingResources.resources`,
      );
    }
    return ds;
  }

  async start(): Promise<void> {
    // Reading once at start makes a wrong URL, table or column a start-up error, not a 500 at the first login.
    // The probe's name must be one every database accepts as text (PostgreSQL refuses a NUL);
    // whether such a user exists does not matter, only that the query runs.
    try {
      await this.lookup("");
    } catch (e) {
      // drizzle wraps the driver's error ("Failed query: ..."): the database's own words are in the cause.
      const cause = (e as { cause?: { message?: string } }).cause?.message;
      fail(
        this.config,
        "userTable",
        `DataSourceRealm: reading ${this.config.userTable} failed: ${(e as Error).message}${cause ? `: ${cause}` : ""}`,
        "check the data source, the table and the column names",
      );
    }
  }

  private async values(sqlOf: (s: typeof import("drizzle-orm").sql) => unknown): Promise<unknown[][]> {
    const { sql } = await import("drizzle-orm");
    const conn = await this.source().connection();
    const statement = sqlOf(sql);
    return await conn.run(async (db: DrizzleDatabase) => {
      if (conn.dialect === "sqlite") return await db.values(statement);
      const res = await db.execute(statement);
      // postgres-js: an array of row objects; mysql2: [rows, fields].
      const rows = conn.dialect === "mysql" && Array.isArray(res) && Array.isArray(res[0]) ? res[0] : (res.rows ?? res);
      return (rows as Array<Record<string, unknown>>).map((r) => Object.values(r));
    });
  }

  protected async lookup(name: string): Promise<RealmUser | null> {
    const c = this.config;
    const creds = await this.values((sql) =>
      sql`SELECT ${sql.identifier(c.userCredCol!)} FROM ${sql.identifier(c.userTable!)} WHERE ${
        sql.identifier(c.userNameCol!)
      } = ${name}`
    );
    if (creds.length === 0) return null;
    let roles: string[] = [];
    if (c.userRoleTable && c.roleNameCol) {
      const rows = await this.values((sql) =>
        sql`SELECT ${sql.identifier(c.roleNameCol!)} FROM ${sql.identifier(c.userRoleTable!)} WHERE ${
          sql.identifier(c.userNameCol!)
        } = ${name}`
      );
      roles = rows.map((r) => String(r[0]));
    }
    const cred = creds[0]![0];
    return { name, credential: cred === null || cred === undefined ? undefined : String(cred), roles };
  }
}

class CombinedRealm implements Realm {
  constructor(protected readonly realms: Realm[]) {}

  async start(): Promise<void> {
    for (const r of this.realms) await r.start();
  }

  async authenticate(name: string, password: string): Promise<AuthenticatedUser | null> {
    for (const r of this.realms) {
      const user = await r.authenticate(name, password);
      if (user) return user;
    }
    return null;
  }

  async digestHa1(name: string, realmName: string, algorithm: string): Promise<string | null> {
    for (const r of this.realms) {
      const ha1 = await r.digestHa1(name, realmName, algorithm);
      if (ha1) return ha1;
    }
    return null;
  }

  async roles(name: string): Promise<string[] | null> {
    for (const r of this.realms) {
      const roles = await r.roles(name);
      if (roles) return roles;
    }
    return null;
  }

  digestAlgorithms(): string[] {
    return [...new Set(this.realms.flatMap((r) => r.digestAlgorithms()))];
  }
}

class LockOutRealm extends CombinedRealm {
  constructor(realms: Realm[], readonly lockOut: LockOut) {
    super(realms);
  }

  override async authenticate(name: string, password: string): Promise<AuthenticatedUser | null> {
    return this.lockOut.filter(name, await super.authenticate(name, password));
  }
}

function build(config: RealmConfig, env: RealmEnv, normalise: (n: string) => string): Realm {
  switch (config.className) {
    case "MemoryRealm":
      return new MemoryRealm(config, env, normalise);
    case "UserDatabaseRealm":
      return new UserDatabaseRealm(config, env, normalise);
    case "DataSourceRealm":
      return new DataSourceRealm(config, env);
    case "CombinedRealm":
    case "LockOutRealm": {
      const nested = config.realms ?? [];
      if (nested.length === 0) {
        fail(
          config,
          undefined,
          `${config.className} has no nested realms`,
          "add realms: [{ className: UserDatabaseRealm }] (or MemoryRealm, DataSourceRealm)",
        );
      }
      const inner = nested.map((r) => build(r, env, normalise));
      return config.className === "LockOutRealm"
        ? new LockOutRealm(inner, new LockOut(config))
        : new CombinedRealm(inner);
    }
  }
}

/** The realm of a context: the configured tree, inside a LockOutRealm unless its top already is one. */
export function createRealm(config: RealmConfig, env: RealmEnv, normalise: (n: string) => string = (n) => n): Realm {
  const realm = build(config, env, normalise);
  if (config.className === "LockOutRealm") return realm;
  return new LockOutRealm([realm], new LockOut(config));
}
