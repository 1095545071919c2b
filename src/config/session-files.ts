/**
 * Where contexts' session managers persist, checked across the whole server: two contexts whose
 * managers write to the same place would each take the other's sessions for its own. With one
 * StandardManager `pathname` file, the last context to stop overwrites the other's sessions and
 * both restore the survivor's at the next start; with one FileStore directory, a context loads
 * any session of the other whose id a client sends. Either way one application's session (its
 * attributes, and with persistAuthentication its login) becomes valid in another. Tomcat starts
 * with such a config and mixes them; bobcat refuses it, naming both contexts. (DataSourceStore
 * keeps contexts apart in one table by its app column.)
 */
import { isAbsolute, resolve } from "../util/host/path.ts";
import type { ContextConfig, ServiceConfig } from "./model.ts";
import type { PathSeg } from "./source.ts";
import type { Validator } from "./validate.ts";

/** The file or directory a context's manager persists to, and the config path that names it. */
interface Place {
  kind: "pathname" | "FileStore directory";
  at: string;
  /** Resolved against the work directory (a relative pathname or directory, or none). */
  inWorkDir: boolean;
  attr: PathSeg[];
}

function placeOf(ctx: ContextConfig): Place | null {
  const m = ctx.manager;
  if (!m || typeof ctx.workDir !== "string") return null;
  const at = (p: string) => (isAbsolute(p) ? resolve(p) : resolve(ctx.workDir, p));
  if (m.className === "StandardManager") {
    if (!m.pathname) return null;
    return { kind: "pathname", at: at(m.pathname), inWorkDir: !isAbsolute(m.pathname), attr: ["pathname"] };
  }
  const store = m.store;
  if (store?.className !== "FileStore") return null;
  return store.directory
    ? {
      kind: "FileStore directory",
      at: at(store.directory),
      inWorkDir: !isAbsolute(store.directory),
      attr: ["store", "directory"],
    }
    : { kind: "FileStore directory", at: resolve(ctx.workDir), inWorkDir: true, attr: ["store"] };
}

export function checkSessionPersistenceClashes(services: ServiceConfig[], v: Validator): void {
  const taken = new Map<string, { name: string; workDir: string }>();
  services.forEach((service, si) =>
    service.engine?.hosts?.forEach((host, hi) =>
      host.contexts?.forEach((ctx, ci) => {
        const place = placeOf(ctx);
        if (!place) return;
        const key = `${place.kind}\0${place.at}`;
        const name = `${host.name}${ctx.path || "/"}${services.length > 1 ? ` of service ${service.name}` : ""}`;
        const other = taken.get(key);
        if (other === undefined) {
          taken.set(key, { name, workDir: resolve(ctx.workDir) });
          return;
        }
        const path: PathSeg[] = ["server", "services", si, "engine", "hosts", hi, "contexts", ci, "manager"];
        v.error(
          "config.sessionPersistenceClash",
          [...path, ...place.attr],
          place.kind === "pathname"
            ? `context ${name}: the session persistence file [${place.at}] is also context ${other.name}'s: each would restore the sessions the other saved as its own (and overwrite them)`
            : `context ${name}: the FileStore directory [${place.at}] is also context ${other.name}'s: each would load the other's sessions, by the ids clients send, as its own`,
          // One work directory: the same host and path in two services whose engines share a name, or one workDir.
          place.inWorkDir && other.workDir === resolve(ctx.workDir)
            ? `the two contexts share the work directory [${other.workDir}] (work/<Engine>/<Host>/<context> unless workDir is set): give the engines distinct names, or a context its own workDir`
            : place.kind === "pathname"
            ? "give each context its own pathname (a relative pathname lies in the context's own work directory)"
            : "give each context its own directory (a relative directory lies in the context's own work directory), or use a DataSourceStore, which keeps contexts apart in one table",
        );
      })
    )
  );
}
