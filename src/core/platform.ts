/**
 * What the place an engine runs in offers beyond web-standard APIs. A server has files: static
 * docBases, handler modules loaded from files, access log files, StandardManager's persistence
 * file, FileStore and SQLite data sources (src/core/server-platform.ts). An edge runtime has none
 * of them (src/edge/platform.ts). The engine asks its platform and imports none of these itself,
 * so `bobcat/edge` never loads a module that touches the file system.
 */
import type { AccessLogValveConfig, ManagerConfig } from "../config/model.ts";
import type { ManagerContext } from "../session/config.ts";
import type { DataSources, DataSourcesOptions, ResourceConfig } from "../datasource/resources.ts";
import type { ManagerBase } from "../session/manager-base.ts";
import type { Where } from "../util/errors.ts";
import type { AccessEntry } from "./access-log.ts";
import type { StaticOptions } from "./static/index.ts";

export interface AccessLogWriter {
  log(entry: AccessEntry): void;
  close(): Promise<void>;
}

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
  /** An AccessLogValve; absent where there are no log files. */
  accessLog?(valve: AccessLogValveConfig): AccessLogWriter;
}
