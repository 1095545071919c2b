/**
 * Loads a context's handler: a module whose default export (or `app`/`fetch` export) is a
 * Hono app, an object with `fetch(request, ctx)`, or a plain function. Built-in apps are
 * named `bobcat:<name>` and are bundled, so the single executable carries them.
 */
import { pathToFileURL } from "node:url";
import type { Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { fileKind } from "../util/files.ts";
import type { ContextConfig } from "../config/model.ts";
import type { BobcatContext } from "./context.ts";
import { BUILTIN_APPS, type AppScope } from "../apps/index.ts";
import { BobcatError } from "../util/errors.ts";
import { sourceOf } from "../config/validate.ts";
import type { SessionListener } from "../session/index.ts";

export type FetchHandler = (request: Request, ctx: BobcatContext) => Response | Promise<Response>;

export interface LoadedHandler {
  handler: FetchHandler;
  /** The module's `sessionListeners` export: objects with sessionCreated, attributeAdded, ... */
  sessionListeners: SessionListener[];
}

/** Handlers given as objects (embedding, edge runtimes without a file system), by spec name. */
const provided = new Map<string, unknown>();
export function provideHandler(spec: string, handler: unknown): void {
  provided.set(spec, handler);
}

/** `scope` (the context's engine and host) is handed to built-in apps. */
export async function loadHandler(spec: string, context: ContextConfig, scope: AppScope): Promise<LoadedHandler> {
  const where = sourceOf(context).attr("handler");
  if (provided.has(spec)) return { handler: toHandler(provided.get(spec), spec, where), sessionListeners: listenersOf(provided.get(spec)) };
  if (spec.startsWith("bobcat:")) {
    const name = spec.slice("bobcat:".length);
    const app = BUILTIN_APPS[name];
    if (!app) {
      throw new BobcatError("handler.unknownBuiltin", `there is no built-in app "${name}"`, {
        where,
        fix: `use one of: ${Object.keys(BUILTIN_APPS).map((n) => `bobcat:${n}`).join(", ")}`,
      });
    }
    return { handler: toHandler(app(context, scope), spec, where), sessionListeners: [] };
  }
  let st: Stats;
  try {
    st = await stat(spec);
  } catch {
    throw new BobcatError("handler.notFound", `handler module ${spec} does not exist`, {
      where,
      fix: "check the handler path (relative paths resolve against the base directory, --base)",
    });
  }
  if (!st.isFile()) {
    // Importing a FIFO would wait forever for a writer.
    throw new BobcatError("handler.notRegularFile", `handler module ${spec} is ${fileKind(st)}, not a regular file`, {
      where,
      fix: "point handler at a .ts or .js module file",
    });
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(spec).href);
  } catch (e) {
    throw new BobcatError("handler.loadFailed", `handler module ${spec} failed to load: ${(e as Error).message}`, {
      where,
      fix: "run the module on its own to see the full error",
      cause: e,
    });
  }
  const handler = toHandler(mod.default ?? mod.app ?? (mod.fetch ? { fetch: mod.fetch } : undefined), spec, where);
  const listeners = mod.sessionListeners ?? [];
  if (!Array.isArray(listeners)) {
    throw new BobcatError("handler.badListeners", `handler module ${spec}: sessionListeners must be an array of listener objects`, { where, fix: "export const sessionListeners = [{ sessionCreated(event) { ... } }]" });
  }
  return { handler, sessionListeners: listeners as SessionListener[] };
}

function listenersOf(value: unknown): SessionListener[] {
  const l = (value as { sessionListeners?: unknown } | null)?.sessionListeners;
  return Array.isArray(l) ? (l as SessionListener[]) : [];
}

function toHandler(value: unknown, spec: string, where: ReturnType<ReturnType<typeof sourceOf>["attr"]>): FetchHandler {
  if (value && typeof (value as { fetch?: unknown }).fetch === "function") {
    const target = value as { fetch: FetchHandler };
    return target.fetch.bind(target);
  }
  if (typeof value === "function") return value as FetchHandler;
  throw new BobcatError("handler.noExport", `handler module ${spec} exports no fetch handler`, {
    where,
    fix: "export default a Hono app, an object with fetch(request, ctx), or a function (request, ctx) => Response",
  });
}
