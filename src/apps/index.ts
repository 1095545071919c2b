/** Built-in apps, addressed as `handler: bobcat:<name>` in a context. */
import type { ContextConfig } from "../config/model.ts";
import type { FetchHandler } from "../core/handler-module.ts";
import { rootApp } from "./root.ts";
import { managerApp } from "./manager.ts";

export type BuiltinApp = (context: ContextConfig) => { fetch: FetchHandler } | FetchHandler;

export const BUILTIN_APPS: Record<string, BuiltinApp> = {
  root: rootApp,
  manager: managerApp,
};
