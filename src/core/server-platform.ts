/**
 * The platform of a server (Bun, Deno, Node): static docBases, handler modules from files,
 * access log files, StandardManager's persistence file, FileStore and every data source
 * (SQLite files, PostgreSQL, MySQL). Edge runtimes use src/edge/platform.ts instead.
 */
import { AccessLog } from "./access-log.ts";
import { importHandlerModule } from "./handler-module.ts";
import type { Platform } from "./platform.ts";
import { serveStatic } from "./static/index.ts";
import { createDataSources } from "../datasource/index.ts";
import { StandardManager } from "../session/index.ts";
import { createPersistentManager } from "../session/consistency.ts";

export const SERVER_PLATFORM: Platform = {
  name: "a server",
  createManager: (className, options, dataSources) =>
    className === "PersistentManager"
      ? createPersistentManager({ ...options, dataSources })
      : new StandardManager(options),
  createDataSources,
  importModule: importHandlerModule,
  serveStatic,
  accessLog: (valve) => new AccessLog(valve),
};
