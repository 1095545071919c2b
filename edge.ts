/**
 * `"bobcat/edge"`: bobcat's core as one fetch handler for edge runtimes (Cloudflare Workers,
 * `deno serve`, Bun). It imports nothing that listens or touches files, node:sqlite or
 * node:http2, and does nothing at module load.
 *
 *   import { createHandler } from "bobcat/edge";
 *   export default createHandler({ configText, handlers: { "app:main": app } });
 */
export { createHandler, type EdgeHandler, type ExecutionContextLike, type HandlerOptions } from "./src/edge/handler.ts";
export type { BobcatContext, HttpSession, Principal } from "./src/core/context.ts";
export type { FetchHandler } from "./src/core/handlers.ts";
export type { SessionListener } from "./src/session/types.ts";
export type { BobcatConfig } from "./src/config/model.ts";
export { loadConfigText, type LoadOptions } from "./src/config/load.ts";
export { BobcatError, BobcatErrors } from "./src/util/errors.ts";
export { registerSerializable } from "./src/session/serializer.ts";
