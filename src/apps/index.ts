/** Built-in apps, addressed as `handler: bobcat:<name>` in a context. */
import type { ContextConfig, EngineConfig, HostConfig } from "../config/model.ts";
import type { FetchHandler } from "../core/handlers.ts";
import type { AdminView } from "../core/admin.ts";
import { rootApp } from "./root.ts";
import { managerApp } from "./manager.ts";

/** Where a built-in app is mounted: its engine and host (names, aliases, valves), and its server's view. */
export interface AppScope {
  engine: EngineConfig;
  host: HostConfig;
  /** What the manager app shows and does: the view of the server (or edge handler) this engine belongs to. */
  admin?: () => AdminView | undefined;
}

export type BuiltinApp = (context: ContextConfig, scope: AppScope) => { fetch: FetchHandler } | FetchHandler;

export const BUILTIN_APPS: Record<string, BuiltinApp> = {
  root: rootApp,
  manager: managerApp,
};
