/**
 * What the place an engine runs in offers beyond web-standard APIs. A server has files: static
 * docBases, handler modules loaded from files, access log files, StandardManager's persistence
 * file, FileStore and SQLite data sources (src/runtime/server-platform.ts). An edge runtime has none
 * of them (src/edge/platform.ts). The engine asks its platform and imports none of these itself,
 * so `bobcat/edge` never loads a module that touches the file system.
 */
import type { AccessLogValveConfig, ContextConfig, EngineConfig, HostConfig, ManagerConfig } from "../config/model.ts";
import type { ManagerContext } from "../session/config.ts";
import type { AdminView } from "./admin.ts";
import type { BobcatContext } from "./context.ts";
import type { DataSources, DataSourceScopes, DataSourcesOptions, ResourceConfig } from "../datasource/resources.ts";
import type { ManagerBase } from "../session/manager-base.ts";
import type { Where } from "../util/errors.ts";
import type { AccessEntry } from "./access-log.ts";
import type { StaticOptions } from "./static/index.ts";

export interface AccessLogWriter {
  log(entry: AccessEntry): void;
  close(): Promise<void>;
}

export type FetchHandler = (request: Request, ctx: BobcatContext) => Response | Promise<Response>;

/** Where a built-in app is mounted: its engine and host (names, aliases, valves), and its server's view. */
export interface AppScope {
  engine: EngineConfig;
  host: HostConfig;
  /** What the manager app shows and does: the view of the server (or edge handler) this engine belongs to. */
  admin?: () => AdminView | undefined;
}

/** A built-in app (`handler: bobcat:<name>`): the core only calls them; src/apps has them. */
export type BuiltinApp = (
  context: ContextConfig,
  scope: AppScope,
) => { fetch: FetchHandler } | FetchHandler | Promise<{ fetch: FetchHandler } | FetchHandler>;

export interface Platform {
  /** For messages: "a server", "an edge runtime". */
  readonly name: string;
  /** The session manager of a context's `<Manager>`, with what the context supplies. */
  createManager(config: ManagerConfig, context: ManagerContext): ManagerBase;
  /** The `<Resource>`s of one scope (nothing is opened yet). */
  createDataSources(resources: readonly ResourceConfig[], options: DataSourcesOptions): DataSources;
  /** Imports a handler module file; absent where there are no files (handlers are then given as objects). */
  importModule?(path: string, where: Where): Promise<Record<string, unknown>>;
  /** Serves a context's static docBase; absent where there are no files. */
  serveStatic?(req: Request, relPath: string, opts: StaticOptions): Promise<Response | null>;
  /** Reads a text file (a realm's tomcat-users.xml, an error page); absent where there are no files. */
  readTextFile?(path: string): Promise<string>;
  /**
   * What `relPath` (decoded, normalised, "/..." ) names below `docBase`, for a RewriteCond's
   * -f/-d/-s; null when nothing, or when it leads (by a link) outside docBase. Absent without files.
   */
  statResource?(docBase: string, relPath: string): { isFile: boolean; isDirectory: boolean; size: number } | null;
  /** The built-in apps by name, addressed as `handler: bobcat:<name>`. */
  builtinApps?: Readonly<Record<string, BuiltinApp>>;
  /** An AccessLogValve; absent where there are no log files. */
  accessLog?(valve: AccessLogValveConfig): AccessLogWriter;
}
