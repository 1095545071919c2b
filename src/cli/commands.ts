/** The long-running and checking commands, kept apart from argument parsing. */
import type { BobcatConfig } from "../config/model.ts";
import { BobcatServer } from "../runtime/server.ts";
import { loadConnectorTls } from "../runtime/tls-material.ts";
import { planConnector, serviceTlsNeeds } from "../runtime/plan.ts";
import { RUNTIME, runtimeLabel } from "../runtime/detect.ts";
import { loadHandler } from "../core/handler-module.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { configureLogging, logger } from "../util/log.ts";
import { printError } from "./main.ts";

/** Runs until SIGINT/SIGTERM; a second signal exits at once. Resolves to the exit status. */
export async function startFromConfig(config: BobcatConfig): Promise<number> {
  const server = new BobcatServer(config);
  await server.start();
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: string) => {
      signals++;
      if (signals > 1) {
        logger("connector").warn(`${sig} again: exiting without waiting`);
        process.exit(130);
      }
      logger("connector").info(`${sig} received: stopping (requests in flight may finish; ${sig} again to force)`);
      server.stop().then(
        () => resolve(0),
        (e) => {
          printError(e);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    // SIGHUP re-reads keystores and certificates, as Tomcat's reloadSslHostConfigs does.
    process.on("SIGHUP", () => {
      logger("tls").info("SIGHUP received: reloading TLS certificates");
      void server.reloadTls();
    });
  });
}

/** Everything `run` does short of listening. Prints problems; true when the config is usable. */
export async function checkConfig(config: BobcatConfig): Promise<boolean> {
  configureLogging(config.logging);
  const log = logger("config");
  for (const note of config.notes) log.info(note);
  const errors: BobcatError[] = [];
  const collect = (e: unknown) => {
    if (e instanceof BobcatErrors) errors.push(...e.errors);
    else if (e instanceof BobcatError) errors.push(e);
    else throw e;
  };
  for (const service of config.server.services) {
    for (const c of service.connectors) {
      try {
        const tls = await loadConnectorTls(c);
        const plan = planConnector(c, tls, RUNTIME, runtimeLabel(), serviceTlsNeeds(service));
        log.info(`${c.name}: ${plan.reason}`);
      } catch (e) {
        collect(e);
      }
    }
    for (const host of service.engine.hosts) {
      for (const ctx of host.contexts) {
        if (!ctx.handler) continue;
        try {
          await loadHandler(ctx.handler, ctx);
        } catch (e) {
          collect(e);
        }
      }
    }
  }
  if (errors.length > 0) {
    printError(new BobcatErrors(errors, `${config.file}: ${errors.length} problem(s) stop this config from running`));
    return false;
  }
  return true;
}
