/**
 * StandardManager without its persistence file: sessions live in memory only, for as long as
 * the process (or an edge runtime's isolate) does. Edge runtimes have no files, so their
 * StandardManager is this one; `pathname` is accepted and has no effect.
 */
import { ManagerBase } from "./manager-base.ts";
import type { StandardManagerOptions } from "./standard-manager.ts";

const CLASS_NAMES = ["StandardManager", "org.apache.catalina.session.StandardManager"];

export class MemoryManager extends ManagerBase {
  constructor(options: StandardManagerOptions = {}) {
    super(options, "StandardManager", CLASS_NAMES, ["pathname"]);
  }

  protected async startInternal(): Promise<void> {}

  protected async stopInternal(): Promise<void> {}
}
