/**
 * bobcat's core as one fetch handler for edge runtimes (`"bobcat/edge"`): Cloudflare Workers,
 * `deno serve`, Bun. The platform terminates TLS and owns the listener; the handler routes
 * Engine › Host › Context, applies security constraints and sessions, and runs the handlers it
 * is given. The first service's engine starts on the first request (never at module load).
 *
 * Store writes a request sets off go to the platform's waitUntil (Workers' `ctx.waitUntil`, the
 * third argument of `fetch`; or `options.waitUntil`); elsewhere the handler keeps them referenced
 * until they settle (`settled()`), as a long-lived `deno serve` or Bun process lets them finish.
 */
import { type AdminView, contextViews } from "../core/admin.ts";
import type { ConnectionInfo, ConnectorInfo } from "../core/context.ts";
import { Engine } from "../core/engine.ts";
import { errorPage } from "../core/error-page.ts";
import { loadConfigText, type LoadOptions } from "../config/load.ts";
import * as yamlReader from "../config/source-yaml.ts";
import * as tomlReader from "../config/source-toml.ts";
import { useTomlReader, useYamlReader } from "../config/source.ts";
import type { BobcatConfig, ConnectorConfig } from "../config/model.ts";
import type { DataSources } from "../datasource/resources.ts";
import { logger } from "../util/log.ts";
import { VERSION } from "../version.ts";
import { EDGE_PLATFORM } from "./platform.ts";
import { onWorkerd } from "./postgres.ts";

const log = logger("edge");

export interface HandlerOptions extends LoadOptions {
  /** The config as YAML or TOML text (`configName` names it in messages), or as a loaded `config`. */
  configText?: string;
  configName?: string;
  config?: BobcatConfig;
  /** Handler objects by the spec a context names in `handler:` (e.g. "app:main"). */
  handlers?: Record<string, unknown>;
  /**
   * Where the platform's waitUntil is not the third argument of `fetch` (Workers), give it here.
   * Without either, background work is kept referenced until it settles.
   */
  waitUntil?: (work: Promise<unknown>) => void;
}

/** What Workers pass as `fetch`'s third argument. */
export interface ExecutionContextLike {
  waitUntil(work: Promise<unknown>): void;
}

export interface EdgeHandler {
  /** Workers: `fetch(request, env, ctx)`; `deno serve`: `fetch(request, info)`; Bun: `fetch(request, server)`. */
  fetch(request: Request, envOrInfo?: unknown, ctx?: ExecutionContextLike): Promise<Response>;
  /** Resolves once the background work kept alive by the handler itself (no waitUntil) has settled. */
  settled(): Promise<void>;
  /** Stops the engine: sessions go to their stores (PersistentManager with saveOnRestart), data sources close. */
  close(): Promise<void>;
}

interface Started {
  engine: Engine;
  globalDataSources: DataSources;
  http: ConnectorInfo;
  https: ConnectorInfo;
  /** Milliseconds between background runs (session expiry, store sweeps). */
  backgroundMs: number;
  lastBackground: number;
}

/** The Workers `env` bindings that are strings (vars and secrets), for `${env.NAME}`. */
function stringBindings(env: unknown): Record<string, string> | undefined {
  if (!env || typeof env !== "object") return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === "string") out[k] = v;
  return out;
}

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (onWorkerd()) return "workerd (Cloudflare Workers)";
  if (g.Deno) return `Deno ${g.Deno.version.deno} (edge handler)`;
  if (g.Bun) return `Bun ${g.Bun.version} (edge handler)`;
  return "edge handler";
}

/**
 * The TCP peer: `deno serve` passes it in `info.remoteAddr`, Bun through `server.requestIP`;
 * on Workers it is Cloudflare's `cf-connecting-ip`, which Cloudflare sets itself. Other
 * forwarded headers are not the peer: a RemoteIpValve reads them where a proxy is trusted.
 */
function peerOf(request: Request, second: unknown): { addr: string; port: number } {
  const info = second as { remoteAddr?: { hostname?: string; port?: number } } | null | undefined;
  if (info?.remoteAddr?.hostname !== undefined) {
    return { addr: info.remoteAddr.hostname, port: info.remoteAddr.port ?? 0 };
  }
  const server = second as { requestIP?: (r: Request) => { address: string; port: number } | null } | null | undefined;
  if (typeof server?.requestIP === "function") {
    const ip = server.requestIP(request);
    if (ip) return { addr: ip.address, port: ip.port };
  }
  if (onWorkerd()) return { addr: request.headers.get("cf-connecting-ip") ?? "", port: 0 };
  return { addr: "", port: 0 };
}

/**
 * The core as one fetch handler: the first service's engine, with the connector chosen by the
 * request's scheme. Nothing happens at module load or here; the engine starts on the first
 * request (edge runtimes allow no I/O or randomness outside one).
 */
// Edge runtimes have no Bun.YAML and no top-level await everywhere: the readers are static here.
useYamlReader(yamlReader);
useTomlReader(tomlReader);

export function createHandler(options: HandlerOptions): EdgeHandler {
  let ready: Promise<Started> | undefined;
  const pending = new Set<Promise<unknown>>();
  let engine: Engine | undefined;

  const view: AdminView = {
    version: VERSION,
    get runtime() {
      return runtimeName();
    },
    connectors: () => [],
    contexts: () => (engine ? contextViews([engine]) : []),
    reloadTls: async () => ({
      reloaded: [],
      failed: ["the edge platform terminates TLS: there are no certificates here to reload"],
    }),
  };

  const init = async (envArg: unknown): Promise<Started> => {
    const loadOptions: LoadOptions = {
      ...options,
      baseDir: options.baseDir ?? "/",
      env: options.env ?? stringBindings(envArg),
    };
    let config = options.config;
    if (!config) {
      if (options.configText === undefined) throw new TypeError("createHandler: give configText or config");
      config = loadConfigText(options.configName ?? "<configText>", options.configText, loadOptions);
    }
    const service = config.server.services[0]!;
    const globalResources = config.server.globalNamingResources?.resources ?? [];
    const globalDataSources = EDGE_PLATFORM.createDataSources(globalResources, {
      baseDir: config.baseDir,
      path: "server.globalNamingResources.resources",
    });
    const e = Engine.fromConfig(config, service, {
      globalDataSources,
      platform: EDGE_PLATFORM,
      handlers: options.handlers,
      admin: () => view,
    });
    await e.start({ timer: false });
    engine = e;
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
      engine: e,
      globalDataSources,
      http: info(service.connectors.find((c) => !c.SSLEnabled), false),
      https: info(service.connectors.find((c) => c.SSLEnabled), true),
      backgroundMs: service.engine.backgroundProcessorDelay * 1000,
      lastBackground: Date.now(),
    };
  };

  const keep = (work: Promise<unknown>): void => {
    const tracked = work.catch((e) => log.error(`background work failed: ${(e as Error)?.stack ?? e}`)).finally(() =>
      pending.delete(tracked)
    );
    pending.add(tracked);
  };

  return {
    async fetch(request, envOrInfo, ctx) {
      let started: Started;
      try {
        started = await (ready ??= init(envOrInfo));
      } catch (e) {
        ready = undefined;
        log.error(`bobcat could not start: ${(e as Error)?.stack ?? e}`);
        return errorPage(500, "The server could not start; its log says why.");
      }
      const waitUntil = typeof ctx?.waitUntil === "function"
        ? (work: Promise<unknown>) =>
          ctx.waitUntil(work.catch((e) => log.error(`background work failed: ${(e as Error)?.stack ?? e}`)))
        : options.waitUntil ?? keep;
      const peer = peerOf(request, envOrInfo);
      const conn: ConnectionInfo = { remoteAddr: peer.addr, remotePort: peer.port, waitUntil };
      const secure = request.url.startsWith("https:");
      const res = await started.engine.handle(request, secure ? started.https : started.http, conn);
      // Session expiry and store sweeps run between requests: a timer outside a request may never fire here.
      const now = Date.now();
      if (now - started.lastBackground >= started.backgroundMs) {
        started.lastBackground = now;
        waitUntil(started.engine.backgroundProcess());
      }
      return res;
    },
    async settled() {
      while (pending.size) await Promise.all([...pending]);
    },
    async close() {
      const started = await ready?.catch(() => undefined);
      ready = undefined;
      engine = undefined;
      if (!started) return;
      await this.settled();
      await started.engine.stop();
      await started.globalDataSources.close();
    },
  };
}
