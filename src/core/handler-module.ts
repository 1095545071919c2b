/**
 * Handler modules from files, for a server (the platform's importModule): the module a
 * context's `handler: PATH` names is imported from disk. Resolving provided handlers, built-in
 * apps and a module's exports is src/core/handlers.ts, which edge runtimes use without this file.
 */
import { type FileInfo, statSync } from "../util/host/fs.ts";
import { fileKind } from "../util/files.ts";
import { fileUrl } from "../util/file-url.ts";
import { BobcatError, type Where } from "../util/errors.ts";

export type { FetchHandler, LoadedHandler } from "./handlers.ts";

/** The modification time each module had when first imported: a later one is a changed module (reloadable). */
const firstSeen = new Map<string, number>();

export async function importHandlerModule(spec: string, where: Where): Promise<Record<string, unknown>> {
  let st: FileInfo;
  try {
    // Synchronous: a start then makes no asynchronous file call, whose machine code (Bun) or
    // thread pool (Deno) would stay resident for the life of the server (src/util/host/fs.ts).
    st = statSync(spec);
  } catch {
    throw new BobcatError("handler.notFound", `handler module ${spec} does not exist`, {
      where,
      fix: "check the handler path (relative paths resolve against the base directory, --base)",
    });
  }
  if (!st.isFile) {
    // Importing a FIFO would wait forever for a writer.
    throw new BobcatError("handler.notRegularFile", `handler module ${spec} is ${fileKind(st)}, not a regular file`, {
      where,
      fix: "point handler at a .ts or .js module file",
    });
  }
  try {
    // Module caches key on the URL: a module changed since its first import gets a new one.
    const first = firstSeen.get(spec);
    if (first === undefined) firstSeen.set(spec, st.mtimeMs);
    const url = fileUrl(spec);
    if (first === undefined || first === st.mtimeMs) return await import(url);
    // Bun keys its module cache on the path alone (the query is ignored): drop the entry first.
    try {
      // node:module only here (a handler changed since it was loaded): importing it costs Deno
      // ~6 ms of CPU at every start.
      const { createRequire } = await import("node:module");
      delete createRequire(import.meta.url).cache[spec];
    } catch {
      // Deno has no such cache; the query gives it a new module.
    }
    return await import(`${url}?mtime=${st.mtimeMs}`);
  } catch (e) {
    throw new BobcatError("handler.loadFailed", `handler module ${spec} failed to load: ${(e as Error).message}`, {
      where,
      fix: "run the module on its own to see the full error",
      cause: e,
    });
  }
}
