/**
 * bobcat's public API for scripts and edge runtimes.
 *
 *   import { createServer } from "bobcat";
 *   const server = await createServer({ configFile: "server.yaml" });   // listening
 *   await server.stop();
 *
 *   import { createHandler } from "bobcat";                             // edge: no listeners
 *   export default createHandler({ configText, handlers: { "app:main": honoApp } });
 */
import { loadConfigFile, loadConfigText, type LoadOptions } from "./src/config/load.ts";
import type { BobcatConfig, ConnectorConfig } from "./src/config/model.ts";
import { Engine } from "./src/core/engine.ts";
import { provideHandler } from "./src/core/handler-module.ts";
import type { ConnectorInfo } from "./src/core/context.ts";
import { BobcatServer, globalDataSources } from "./src/runtime/server.ts";

export type * from "./src/config/model.ts";
export type { BobcatContext, HttpSession, Principal, ConnectionInfo, ConnectorInfo } from "./src/core/context.ts";
export type { FetchHandler } from "./src/core/handler-module.ts";
export { BobcatError, BobcatErrors } from "./src/util/errors.ts";
export { loadConfigFile, loadConfigText, BobcatServer };

export interface ServerOptions extends LoadOptions {
  /** A YAML/TOML file; or give `configText` (+ optional `configName` for messages); or `config`. */
  configFile?: string;
  configText?: string;
  configName?: string;
  config?: BobcatConfig;
  /** Handler objects by the spec a context names in `handler:` (e.g. "app:main"). */
  handlers?: Record<string, unknown>;
  /** Apply the config's logging section (default true). */
  configureLogging?: boolean;
}

async function resolveConfig(o: ServerOptions): Promise<BobcatConfig> {
  for (const [spec, h] of Object.entries(o.handlers ?? {})) provideHandler(spec, h);
  if (o.config) return o.config;
  if (o.configFile) return loadConfigFile(o.configFile, o);
  if (o.configText !== undefined) return loadConfigText(o.configName ?? "<configText>", o.configText, o);
  throw new TypeError("createServer/createHandler: give configFile, configText or config");
}

/** Loads the config, opens keystores, starts every connector. Resolves once all listen. */
export async function createServer(options: ServerOptions): Promise<BobcatServer> {
  const server = new BobcatServer(await resolveConfig(options));
  return server.start({ configureLogging: options.configureLogging });
}

/**
 * The core as one fetch handler, for edge runtimes and tests: the first service's engine,
 * with the connector chosen by the request's scheme (TLS is the platform's business there).
 * Engines start lazily on the first request.
 */
export function createHandler(options: ServerOptions): { fetch(request: Request, env?: unknown, ctx?: unknown): Promise<Response> } {
  let ready: Promise<{ engine: Engine; http: ConnectorInfo; https: ConnectorInfo }> | undefined;
  const init = async () => {
    const config = await resolveConfig(options);
    const service = config.server.services[0]!;
    const engine = new Engine(service, { strictServletCompliance: config.server.strictServletCompliance, baseDir: config.baseDir, globalDataSources: globalDataSources(config) });
    await engine.start();
    const info = (c: ConnectorConfig | undefined, secure: boolean): ConnectorInfo => ({
      name: c?.name ?? (secure ? "edge-https" : "edge-http"),
      port: c?.port ?? (secure ? 443 : 80),
      scheme: secure ? "https" : "http",
      secure,
      redirectPort: c?.redirectPort ?? 443,
      proxyName: c?.proxyName,
      proxyPort: c?.proxyPort,
    });
    return {
      engine,
      http: info(service.connectors.find((c) => !c.SSLEnabled), false),
      https: info(service.connectors.find((c) => c.SSLEnabled), true),
    };
  };
  return {
    async fetch(request) {
      const { engine, http, https } = await (ready ??= init());
      const secure = request.url.startsWith("https:");
      const addr = request.headers.get("cf-connecting-ip") ?? request.headers.get("x-real-ip") ?? "";
      return engine.handle(request, secure ? https : http, { remoteAddr: addr, remotePort: 0 });
    },
  };
}
