/**
 * The platform of a server (Bun, Deno, Node): static docBases, handler modules from files,
 * access log files, StandardManager's persistence file, FileStore and every data source
 * (SQLite files, PostgreSQL, MySQL). Edge runtimes use src/edge/platform.ts instead.
 */
import { realpathSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { AccessLog } from "../core/access-log.ts";
import { importHandlerModule } from "../core/handler-module.ts";
import type { Platform } from "../core/platform.ts";
import { serveStatic } from "../core/static/index.ts";
import { BUILTIN_APPS } from "../apps/index.ts";
import { createDataSources } from "../datasource/index.ts";
import { SERVER_STORES, StandardManager } from "../session/index.ts";
import { createPersistentManager } from "../session/consistency.ts";
import { WORKER } from "./worker-env.ts";

export const SERVER_PLATFORM: Platform = {
  name: "a server",
  builtinApps: BUILTIN_APPS,
  createManager: (config, context) =>
    config.className === "PersistentManager"
      // In a worker, a concurrent change of one attribute by another worker is refused, not overwritten.
      ? createPersistentManager(
        config,
        WORKER !== undefined
          ? { ...context, stores: SERVER_STORES, sameAttributeConflicts: "refuse" }
          : { ...context, stores: SERVER_STORES },
      )
      : new StandardManager(config, context),
  createDataSources,
  importModule: importHandlerModule,
  serveStatic,
  accessLog: (valve) => new AccessLog(valve),
  readTextFile: (path) => readFile(path, "utf8"),
  statResource(docBase, relPath) {
    try {
      const root = realpathSync(docBase);
      const real = realpathSync(join(root, relPath));
      if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
      const st = statSync(real);
      return { isFile: st.isFile(), isDirectory: st.isDirectory(), size: st.size };
    } catch {
      return null;
    }
  },
};
