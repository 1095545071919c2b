/** Built-in apps, addressed as `handler: bobcat:<name>` in a context. */
import type { ContextConfig, EngineConfig, HostConfig } from "../config/model.ts";
import type { FetchHandler } from "../core/handler-module.ts";
import { rootApp } from "./root.ts";
import { managerApp } from "./manager.ts";

/** Where a built-in app is mounted: its engine and host (names, aliases, valves). */
export interface AppScope {
  engine: EngineConfig;
  host: HostConfig;
}

export type BuiltinApp = (context: ContextConfig, scope: AppScope) => { fetch: FetchHandler } | FetchHandler;

export const BUILTIN_APPS: Record<string, BuiltinApp> = {
  root: rootApp,
  manager: managerApp,
};
