/**
 * A context's handler: an object given to this engine (`handlers: { "app:main": app }`), a
 * built-in app (`bobcat:<name>`, bundled, so the single executable carries them), or a module
 * file the platform imports (src/core/handler-module.ts on a server). A handler is a Hono app,
 * an object with `fetch(request, ctx)`, or a plain function.
 */
import type { ContextConfig } from "../config/model.ts";
import { BobcatError, type Where } from "../util/errors.ts";
import { sourceOf } from "../config/validate.ts";
import type { SessionListener } from "../session/types.ts";
import type { AppScope, FetchHandler, Platform } from "./platform.ts";

export type { FetchHandler } from "./platform.ts";

export interface LoadedHandler {
  handler: FetchHandler;
  /** The module's `sessionListeners` export: objects with sessionCreated, attributeAdded, ... */
  sessionListeners: SessionListener[];
}

/** Where a context's handler may come from, besides the built-in apps. */
export interface HandlerSources {
  /** Handler objects by the spec a context names in `handler:` (e.g. "app:main"), for this engine only. */
  provided?: Readonly<Record<string, unknown>>;
  platform: Pick<Platform, "name" | "importModule" | "builtinApps">;
}

/** `scope` (the context's engine, host and admin view) is handed to built-in apps. */
export async function loadHandler(
  spec: string,
  context: ContextConfig,
  scope: AppScope,
  sources: HandlerSources,
): Promise<LoadedHandler> {
  const where = sourceOf(context).attr("handler");
  const provided = sources.provided;
  if (provided && Object.hasOwn(provided, spec)) {
    return { handler: toHandler(provided[spec], spec, where), sessionListeners: listenersOf(provided[spec]) };
  }
  if (spec.startsWith("bobcat:")) {
    const name = spec.slice("bobcat:".length);
    const BUILTIN_APPS = sources.platform.builtinApps ?? {};
    const app = Object.hasOwn(BUILTIN_APPS, name) ? BUILTIN_APPS[name] : undefined;
    if (!app) {
      throw new BobcatError("handler.unknownBuiltin", `there is no built-in app "${name}"`, {
        where,
        fix: `use one of: ${Object.keys(BUILTIN_APPS).map((n) => `bobcat:${n}`).join(", ")}`,
      });
    }
    return { handler: toHandler(await app(context, scope), spec, where), sessionListeners: [] };
  }
  const named = provided ? Object.keys(provided) : [];
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) || !sources.platform.importModule) {
    throw new BobcatError(
      "handler.notProvided",
      sources.platform.importModule
        ? `handler "${spec}" was not given to this server`
        : `handler "${spec}": ${sources.platform.name} cannot load handler modules from files`,
      {
        where,
        fix: `pass the handler object as handlers: { "${spec}": app } to createServer/createHandler` +
          (named.length ? ` (given: ${named.map((n) => `"${n}"`).join(", ")})` : ""),
      },
    );
  }
  return fromModule(await sources.platform.importModule(spec, where), spec, where);
}

/** A module's default export (or `app`/`fetch` export) and its `sessionListeners`. */
export function fromModule(mod: Record<string, unknown>, spec: string, where: Where): LoadedHandler {
  const handler = toHandler(mod.default ?? mod.app ?? (mod.fetch ? { fetch: mod.fetch } : undefined), spec, where);
  const listeners = mod.sessionListeners ?? [];
  if (!Array.isArray(listeners)) {
    throw new BobcatError(
      "handler.badListeners",
      `handler module ${spec}: sessionListeners must be an array of listener objects`,
      { where, fix: "export const sessionListeners = [{ sessionCreated(event) { ... } }]" },
    );
  }
  return { handler, sessionListeners: listeners as SessionListener[] };
}

function listenersOf(value: unknown): SessionListener[] {
  const l = (value as { sessionListeners?: unknown } | null)?.sessionListeners;
  return Array.isArray(l) ? (l as SessionListener[]) : [];
}

function toHandler(value: unknown, spec: string, where: Where): FetchHandler {
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
