/** Built-in apps, addressed as `handler: bobcat:<name>` in a context. */
import type { BuiltinApp } from "../core/platform.ts";
import { withContentLength } from "./sized.ts";

/**
 * Every platform of a server or edge runtime offers these (its `builtinApps`). Each app (and
 * hono with it) is imported when a context uses it, so a server without them never loads them.
 */
export const BUILTIN_APPS: Record<string, BuiltinApp> = {
  root: async (context) => withContentLength((await import("./root.ts")).rootApp(context)),
  manager: async (context, scope) => withContentLength((await import("./manager.ts")).managerApp(context, scope)),
};
