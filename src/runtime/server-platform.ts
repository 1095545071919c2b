/**
 * The platform of a server (Bun, Deno, Node): static docBases, handler modules from files,
 * access log files, StandardManager's persistence file, FileStore and every data source
 * (SQLite files, PostgreSQL, MySQL). Edge runtimes use src/edge/platform.ts instead.
 */
import { readTextFile, realpathSync, statSync } from "../util/host/fs.ts";
import { join, sep } from "../util/host/path.ts";
import { AccessLog } from "../core/access-log.ts";
import { importHandlerModule } from "../core/handler-module.ts";
import type { Platform } from "../core/platform.ts";
import { BUILTIN_APPS } from "../apps/index.ts";
import { createDataSources } from "../datasource/index.ts";
import { StandardManager } from "../session/standard-manager.ts";
import type { BobcatConfig, ContextConfig } from "../config/model.ts";
import { WORKER } from "./worker-env.ts";

type ServerStores = typeof import("./server-stores.ts");
let stores: ServerStores | undefined;

/**
 * Loads PersistentManager and the store classes if one of `contexts` has a PersistentManager;
 * called before engines are built (start, check, store init) and before a context is deployed.
 */
export async function loadSessionStores(contexts: Iterable<Pick<ContextConfig, "manager">>): Promise<void> {
  for (const c of contexts) {
    if (c.manager.className === "PersistentManager") {
      stores ??= await import("./server-stores.ts");
      return;
    }
  }
}

/** Every context of a config (those appBase deployment added included). */
export function contextsOf(config: BobcatConfig): ContextConfig[] {
  return config.server.services.flatMap((s) => s.engine?.hosts.flatMap((h) => h.contexts) ?? []);
}

function serverStores(): ServerStores {
  if (stores) return stores;
  // Bun can load a module synchronously (the CLI's build for Deno has no such require: see
  // src/config/source.ts's tomlReader); elsewhere loadSessionStores must have run.
  if ((globalThis as { Bun?: unknown }).Bun !== undefined) {
    return (stores = require("./server-stores.ts") as ServerStores);
  }
  throw new Error("bobcat: a PersistentManager was made before loadSessionStores() loaded the stores");
}

/**
 * The static-file server (DefaultServlet: ranges, conditional requests, listings, MIME types),
 * imported with the first request for a docBase file, so a server whose contexts have no docBase
 * never loads it (about 200 KiB of heap on Bun, bench/startup.ts).
 */
let staticFiles: typeof import("../core/static/index.ts") | undefined;

export const SERVER_PLATFORM: Platform = {
  name: "a server",
  builtinApps: BUILTIN_APPS,
  createManager: (config, context) =>
    config.className === "PersistentManager"
      // In a worker, a concurrent change of one attribute by another worker is refused, not overwritten.
      ? serverStores().createPersistentManager(
        config,
        WORKER !== undefined
          ? { ...context, stores: serverStores().SERVER_STORES, sameAttributeConflicts: "refuse" }
          : { ...context, stores: serverStores().SERVER_STORES },
      )
      : new StandardManager(config, context),
  createDataSources,
  importModule: importHandlerModule,
  serveStatic: (req, relPath, opts) =>
    staticFiles
      ? staticFiles.serveStatic(req, relPath, opts)
      : import("../core/static/index.ts").then((m) => (staticFiles = m).serveStatic(req, relPath, opts)),
  accessLog: (valve) => new AccessLog(valve),
  readTextFile,
  statResource(docBase, relPath) {
    try {
      const root = realpathSync(docBase);
      const real = realpathSync(join(root, relPath));
      if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
      const st = statSync(real);
      return { isFile: st.isFile, isDirectory: st.isDirectory, size: st.size };
    } catch {
      return null;
    }
  },
};
