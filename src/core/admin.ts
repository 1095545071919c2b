/**
 * What the built-in manager app may see and do: the running server (or edge handler) hands a
 * view of itself to its engines, which pass it to their built-in apps (the core knows nothing
 * of listeners; the runtime layer does). Each server has its own: there is no process-wide view.
 */
import type { ContextConfig } from "../config/model.ts";
import type { ManagerBase } from "../session/manager-base.ts";
import type { CertificateRow } from "../acme/inventory.ts";

/** What contextViews reads of an engine (an Engine has it; the engine imports this module). */
interface EngineShape {
  config: { name: string };
  hosts: readonly {
    config: { name: string };
    contexts: readonly { path: string; config: ContextConfig; sessions: { manager: ManagerBase } }[];
  }[];
}

export interface ConnectorView {
  name: string;
  url: string;
  backend: string;
  reason: string;
  tlsHosts: string[];
  active: number;
  queued: number;
  rejected: number;
}

export interface ContextView {
  engine: string;
  host: string;
  path: string;
  name: string;
  docBase?: string;
  handler?: string;
  sessionTimeout: number;
  manager: ManagerBase;
}

export interface AdminView {
  version: string;
  runtime: string;
  connectors(): ConnectorView[];
  contexts(): ContextView[];
  reloadTls(hostName?: string): Promise<{ reloaded: string[]; failed: string[] }>;
  /** Every certificate served (files, keystores, ACME); absent on edge runtimes. */
  certificates?(): CertificateRow[];
  /** Order ACME certificates now (all, or those for one name); one line each. */
  renewCertificate?(name?: string): Promise<string[]>;
  /** Prometheus text exposition of the server's metrics (servers only; not on the edge). */
  metrics?(): string;
}

/** The contexts of these engines as the manager app lists them. */
export function contextViews(engines: readonly EngineShape[]): ContextView[] {
  return engines.flatMap((e) =>
    e.hosts.flatMap((h) =>
      h.contexts.map((c) => ({
        engine: e.config.name,
        host: h.config.name,
        path: c.path,
        name: c.config.name,
        docBase: c.config.docBase,
        handler: c.config.handler,
        sessionTimeout: c.config.sessionTimeout,
        manager: c.sessions.manager,
      }))
    )
  );
}
