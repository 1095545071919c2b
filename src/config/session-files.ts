/**
 * Where contexts' session managers persist, checked across the whole server: two contexts whose
 * managers write to the same place would each take the other's sessions for its own. With one
 * StandardManager `pathname` file, the last context to stop overwrites the other's sessions and
 * both restore the survivor's at the next start; with one FileStore directory, a context loads
 * any session of the other whose id a client sends. Either way one application's session (its
 * attributes, and with persistAuthentication its login) becomes valid in another. Tomcat starts
 * with such a config and mixes them; bobcat refuses it, naming both contexts. A shared store
 * (DataSourceStore's table, RedisStore's keys) keeps contexts apart by an application key made of
 * the Engine, Host and context names (app-key.ts): two contexts with the same key in one
 * table or one Redis — the same host and path in two services whose engines share a name — mix
 * their sessions the same way, and are refused too. (Several bobcat instances sharing a key is
 * what the key is for: only contexts of one server are compared.)
 */
import { isAbsolute, resolve } from "../util/host/path.ts";
import { databaseReached, type ResourceConfig } from "../datasource/resources.ts";
import { applicationName, managerName } from "./app-key.ts";
import type { ContextConfig, ServiceConfig } from "./model.ts";
import type { PathSeg } from "./source.ts";
import type { Validator } from "./validate.ts";

/** The file or directory a context's manager persists to, and the config path that names it. */
interface Place {
  kind: "pathname" | "FileStore directory";
  at: string;
  /** Resolved against the work directory (a relative pathname or directory, or none). */
  inWorkDir: boolean;
  attr: PathSeg[];
}

function placeOf(ctx: ContextConfig): Place | null {
  const m = ctx.manager;
  if (!m || typeof ctx.workDir !== "string") return null;
  const at = (p: string) => (isAbsolute(p) ? resolve(p) : resolve(ctx.workDir, p));
  if (m.className === "StandardManager") {
    if (!m.pathname) return null;
    return { kind: "pathname", at: at(m.pathname), inWorkDir: !isAbsolute(m.pathname), attr: ["pathname"] };
  }
  const store = m.store;
  if (store?.className !== "FileStore") return null;
  return store.directory
    ? {
      kind: "FileStore directory",
      at: at(store.directory),
      inWorkDir: !isAbsolute(store.directory),
      attr: ["store", "directory"],
    }
    : { kind: "FileStore directory", at: resolve(ctx.workDir), inWorkDir: true, attr: ["store"] };
}

/** A shared store a context's manager keeps sessions in: which one, and the key its sessions are under there. */
interface SharedPlace {
  /** The database, table and application key (or the Redis, prefix and key) together. */
  key: string;
  /** For messages: "the table [t] of data source [ds] under the application key [/E/H/p]". */
  at: string;
  /** What a context can change to keep its sessions apart, besides the engine names. */
  own: string;
}

/** Where a context's DataSourceStore or RedisStore keeps its sessions, as the stores look it up (lookupDataSource). */
function sharedPlaceOf(
  ctx: ContextConfig,
  app: string,
  globalResources: readonly ResourceConfig[],
  baseDir: string,
): SharedPlace | null {
  const m = ctx.manager;
  const store = m?.className === "PersistentManager" ? m.store : undefined;
  if (store?.className === "DataSourceStore") {
    /** The database the named resource of `list` reaches, if it names one. */
    const reached = (list: readonly ResourceConfig[] | undefined) => {
      const r = list?.find((r) => r.name === store.dataSourceName.trim());
      return r ? databaseReached(r, baseDir) : null;
    };
    const database = store.localDataSource
      ? reached(ctx.resources)
      : reached(globalResources) ?? reached(ctx.resources);
    if (database === null) return null;
    const table = store.sessionTable;
    return {
      // Unquoted in Tomcat's SQL, a table name is the same table in any case (PostgreSQL folds it, SQLite ignores it).
      key: `DataSourceStore\0${database}\0${table.toLowerCase()}\0${app}`,
      at: `the table [${table}] of data source [${store.dataSourceName}] under the application key [${app}]`,
      own: "its own sessionTable or data source",
    };
  }
  if (store?.className === "RedisStore") {
    return {
      key: `RedisStore\0${store.url}\0${store.keyPrefix}\0${app}`,
      // The url without its user and password.
      at: `the Redis keys [${store.keyPrefix}:{${app}}:*] at [${store.url.replace(/\/\/[^@/]*@/, "//")}]`,
      own: "its own keyPrefix",
    };
  }
  return null;
}

export function checkSessionPersistenceClashes(
  services: ServiceConfig[],
  v: Validator,
  globalResources: readonly ResourceConfig[] = [],
  baseDir = ".",
): void {
  const taken = new Map<string, { name: string; workDir: string }>();
  const sharedTaken = new Map<string, string>();
  services.forEach((service, si) =>
    service.engine?.hosts?.forEach((host, hi) =>
      host.contexts?.forEach((ctx, ci) => {
        const name = `${host.name}${ctx.path || "/"}${services.length > 1 ? ` of service ${service.name}` : ""}`;
        const path: PathSeg[] = ["server", "services", si, "engine", "hosts", hi, "contexts", ci, "manager"];
        const app = applicationName(managerName(service.engine.name, host.name, ctx.path));
        const shared = sharedPlaceOf(ctx, app, globalResources, baseDir);
        if (shared) {
          const other = sharedTaken.get(shared.key);
          if (other === undefined) sharedTaken.set(shared.key, name);
          else {
            v.error(
              "config.sessionPersistenceClash",
              [...path, "store"],
              `context ${name}: its sessions would be kept in ${shared.at}, as context ${other}'s are: each would load the other's sessions, by the ids clients send, as its own`,
              `the key is /<Engine>/<Host><context path>: give the engines distinct names, or one context ${shared.own}`,
            );
          }
        }
        const place = placeOf(ctx);
        if (!place) return;
        const key = `${place.kind}\0${place.at}`;
        const other = taken.get(key);
        if (other === undefined) {
          taken.set(key, { name, workDir: resolve(ctx.workDir) });
          return;
        }
        v.error(
          "config.sessionPersistenceClash",
          [...path, ...place.attr],
          place.kind === "pathname"
            ? `context ${name}: the session persistence file [${place.at}] is also context ${other.name}'s: each would restore the sessions the other saved as its own (and overwrite them)`
            : `context ${name}: the FileStore directory [${place.at}] is also context ${other.name}'s: each would load the other's sessions, by the ids clients send, as its own`,
          // One work directory: the same host and path in two services whose engines share a name, or one workDir.
          place.inWorkDir && other.workDir === resolve(ctx.workDir)
            ? `the two contexts share the work directory [${other.workDir}] (work/<Engine>/<Host>/<context> unless workDir is set): give the engines distinct names, or a context its own workDir`
            : place.kind === "pathname"
            ? "give each context its own pathname (a relative pathname lies in the context's own work directory)"
            : "give each context its own directory (a relative directory lies in the context's own work directory), or use a DataSourceStore, which keeps contexts apart in one table",
        );
      })
    )
  );
}
