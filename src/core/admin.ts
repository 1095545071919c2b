/**
 * What the built-in manager app may see and do: the running server registers a view of itself
 * here at start (the core knows nothing of listeners; the runtime layer does).
 */
import type { ManagerBase } from "../session/index.ts";

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
}

let current: AdminView | undefined;

export function setAdminView(view: AdminView | undefined): void {
  current = view;
}

export function adminView(): AdminView | undefined {
  return current;
}
