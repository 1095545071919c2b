/**
 * StandardManager without its persistence file: sessions live in memory only, for as long as
 * the process (or an edge runtime's isolate) does. Edge runtimes have no files, so their
 * StandardManager is this one; `pathname` is accepted and has no effect.
 */
import { ManagerBase } from "./manager-base.ts";
import {
  managerArguments,
  type ManagerContext,
  type StandardManagerConfig,
  type StandardManagerOptions,
} from "./config.ts";

export class MemoryManager extends ManagerBase<StandardManagerConfig> {
  constructor(config: StandardManagerConfig, context: ManagerContext);
  constructor(options?: StandardManagerOptions);
  constructor(options: StandardManagerOptions | StandardManagerConfig = {}, context?: ManagerContext) {
    const args = managerArguments("StandardManager", options, context);
    super(args.config, args.context);
  }

  protected async startInternal(): Promise<void> {}

  protected async stopInternal(): Promise<void> {}
}
