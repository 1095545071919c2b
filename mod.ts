/**
 * bobcat's public API for scripts (`"bobcat"`): the server and the config. The fetch handler for
 * edge runtimes is `"bobcat/edge"` (edge.ts).
 *
 *   import { createServer } from "bobcat";
 *   const server = await createServer({ configFile: "server.yaml", handlers: { "app:main": app } });
 *   console.log(server.urls);                                           // listening
 *   await server.stop();
 */
export type * from "./src/config/model.ts";
export type { BobcatContext, ConnectionInfo, ConnectorInfo, HttpSession, Principal } from "./src/core/context.ts";
export type { FetchHandler } from "./src/core/handlers.ts";
export type { SessionListener } from "./src/session/types.ts";
export { BobcatError, BobcatErrors } from "./src/util/errors.ts";
export { loadConfigText, type LoadOptions } from "./src/config/load.ts";
export { loadConfigFile } from "./src/config/load-file.ts";
export { BobcatServer, type ServerSetup } from "./src/runtime/server.ts";
export { createServer, type ServerOptions } from "./src/api/server.ts";
export { registerSerializable } from "./src/session/serializer.ts";

import { loadConfigReaders } from "./src/config/yaml-reader.ts";
// loadConfigText is synchronous: a script's config of any kind (TOML, YAML beyond the plain subset)
// needs the readers at hand where they cannot be loaded synchronously (Deno, Node). The CLI's
// start loads them only when its config needs them (src/config/yaml-reader.ts).
await loadConfigReaders();
