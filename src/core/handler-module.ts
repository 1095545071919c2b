/**
 * Handler modules from files, for a server (the platform's importModule): the module a
 * context's `handler: PATH` names is imported from disk. Resolving provided handlers, built-in
 * apps and a module's exports is src/core/handlers.ts, which edge runtimes use without this file.
 */
import { pathToFileURL } from "node:url";
import type { Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { fileKind } from "../util/files.ts";
import { BobcatError, type Where } from "../util/errors.ts";

export type { FetchHandler, LoadedHandler } from "./handlers.ts";

export async function importHandlerModule(spec: string, where: Where): Promise<Record<string, unknown>> {
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
  try {
    return await import(pathToFileURL(spec).href);
  } catch (e) {
    throw new BobcatError("handler.loadFailed", `handler module ${spec} failed to load: ${(e as Error).message}`, {
      where,
      fix: "run the module on its own to see the full error",
      cause: e,
    });
  }
}
