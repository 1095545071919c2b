/** Built-in apps, addressed as `handler: bobcat:<name>` in a context. */
import type { BuiltinApp } from "../core/platform.ts";
import { rootApp } from "./root.ts";
import { managerApp } from "./manager.ts";

/** Every platform of a server or edge runtime offers these (its `builtinApps`). */
export const BUILTIN_APPS: Record<string, BuiltinApp> = {
  root: rootApp,
  manager: managerApp,
};
