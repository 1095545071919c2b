/**
 * The platform of an edge runtime (Cloudflare Workers, `deno serve`, Bun's fetch handlers): no
 * files, so no docBase, handler module files, access log files, StandardManager persistence
 * file, FileStore or SQLite. Sessions live in the isolate's memory (StandardManager) or in
 * PostgreSQL (PersistentManager with a DataSourceStore), reached over TCP where the runtime has
 * sockets. Nothing here imports a module that touches a listener or the file system.
 */
import type { Platform } from "../core/platform.ts";
import { BUILTIN_APPS } from "../apps/index.ts";
import {
  type DataSources,
  type DataSourcesOptions,
  makeDataSources,
  type ResourceConfig,
} from "../datasource/resources.ts";
import { MemoryManager } from "../session/memory-manager.ts";
import { PersistentManager } from "../session/persistent-manager.ts";
import { BobcatError } from "../util/errors.ts";
import { openEdgePostgres } from "./postgres.ts";

export const EDGE_PLATFORM: Platform = {
  name: "an edge runtime",
  builtinApps: BUILTIN_APPS,
  createManager(config, context) {
    if (config.className !== "PersistentManager") return new MemoryManager(config, context);
    if (config.store?.className === "FileStore") {
      throw new BobcatError(
        "platform.noFileStore",
        `${context.name}: FileStore keeps sessions in files, which an edge runtime does not have`,
        {
          where: { attribute: "className" },
          fix:
            "use manager.store: { className: DataSourceStore, dataSourceName: <a postgres:// resource> }, or StandardManager (sessions in this isolate's memory)",
        },
      );
    }
    return new PersistentManager(config, context);
  },
  createDataSources(resources: readonly ResourceConfig[], options: DataSourcesOptions): DataSources {
    const sources = makeDataSources(resources, options, openEdgePostgres);
    for (const name of sources.names()) {
      const ds = sources.get(name)!;
      if (ds.dialect === "postgres") continue;
      throw new BobcatError(
        "platform.noDriver",
        `data source [${ds}]: ${
          ds.dialect === "sqlite"
            ? "SQLite keeps its database in a file, which an edge runtime does not have"
            : "an edge runtime has no MySQL driver here"
        }`,
        {
          where: { path: options.path, attribute: "url" },
          fix: "use a postgres:// resource (PostgreSQL over TCP), or keep sessions in memory with StandardManager",
        },
      );
    }
    return sources;
  },
};
