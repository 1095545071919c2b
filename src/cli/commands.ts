/** The long-running and checking commands, kept apart from argument parsing. */
import type { BobcatConfig } from "../config/model.ts";
import { BobcatServer } from "../runtime/server.ts";
import { loadConnectorTls } from "../runtime/tls-material.ts";
import { planConnector, serviceTlsNeeds } from "../runtime/plan.ts";
import { RUNTIME, runtimeLabel } from "../util/runtime.ts";
import { loadHandler } from "../core/handlers.ts";
import { Engine } from "../core/engine.ts";
import { StandardManager } from "../session/standard-manager.ts";
import { locateError, sourceOf } from "../config/validate.ts";
import { contextsOf, loadSessionStores, SERVER_PLATFORM } from "../runtime/server-platform.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { configureLogging, logger } from "../util/log.ts";
import { whenParentExits } from "../runtime/parent-watch.ts";
import { printError } from "./errors.ts";
import { globalDataSources } from "../runtime/server.ts";
import { createDataSources, type DataSources, lookupDataSource } from "../datasource/index.ts";
import type { AcmeService } from "../acme/service.ts";
import { certificateRows, formatRows, type ServedHost } from "../acme/inventory.ts";
import { acmeService, describeRequest, servedHosts } from "./acme.ts";
import { useSessionTurns } from "../session/turns.ts";
import { workerTurns } from "../runtime/worker-turns.ts";
import { markWorkerLogs, WORKER, workerCount, workerProblems, workerStarted } from "../runtime/worker-env.ts";

import { mark } from "../util/timing.ts";
import { exit, onSignal } from "../util/host/proc.ts";
/**
 * The same signal twice within this time is one event delivered twice: a terminal's Ctrl-C or a
 * service manager's SIGTERM reaches the whole process group, and the launcher forwards its copy
 * a moment later. A person pressing Ctrl-C twice is slower than this.
 */
const SAME_SIGNAL_MS = 100;

/**
 * Runs until SIGINT/SIGTERM, or until the parent that started it exits (see parent-watch.ts);
 * a second signal exits at once. Resolves to the exit status.
 */
export async function startFromConfig(
  config: BobcatConfig,
  reloadConfig?: () => Promise<BobcatConfig>,
): Promise<number> {
  // server.workers > 1: this process supervises that many workers (src/runtime/workers.ts).
  const workers = workerCount(config);
  if (workers > 1 && WORKER === undefined) {
    return await (await import("../runtime/workers.ts")).runPrimary(config, workers);
  }
  markWorkerLogs();
  // A worker's sessions take turns with the other workers' through the primary.
  if (WORKER !== undefined) useSessionTurns(workerTurns());
  const server = new BobcatServer(config, { reloadConfig });
  // The handlers are installed before start: a SIGTERM that arrives once the first connector
  // listens (or while the rest start) must stop gracefully, not kill the process by default.
  let handle: (sig: string) => void;
  const early: string[] = [];
  handle = (sig) => {
    early.push(sig);
    if (early.length > 1) exit(130);
  };
  onSignal("SIGINT", () => handle("SIGINT"));
  onSignal("SIGTERM", () => handle("SIGTERM"));
  await server.start();
  workerStarted();
  return new Promise<number>((resolve) => {
    let signals = 0;
    let last = { sig: "", at: 0 };
    const stopOn = (sig: string) => {
      const now = Date.now();
      if (sig === last.sig && now - last.at < SAME_SIGNAL_MS) return;
      last = { sig, at: now };
      signals++;
      mark(`${sig}`);
      if (signals > 1) {
        logger("connector").warn(`${sig} again: exiting without waiting`);
        exit(130);
      }
      logger("connector").info(
        sig.startsWith("SIG")
          ? `${sig} received: stopping (requests in flight may finish; ${sig} again to force)`
          : `${sig}: stopping (requests in flight may finish)`,
      );
      server.stop().then(
        () => resolve(0),
        (e) => {
          printError(e);
          resolve(1);
        },
      );
    };
    handle = stopOn;
    if (early.length > 0) stopOn(early[0]!);
    // The parent exiting stops bobcat as SIGTERM would; once stopping, it is no reason to hurry.
    whenParentExits(() => signals === 0 && stopOn("the process that started bobcat exited"));
    // SIGHUP re-reads keystores and certificates, as Tomcat's reloadSslHostConfigs does.
    onSignal("SIGHUP", () => {
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
  for (const warning of config.warnings ?? []) log.warn(warning);
  const errors: BobcatError[] = [];
  const collect = (e: unknown) => {
    if (e instanceof BobcatErrors) errors.push(...e.errors);
    else if (e instanceof BobcatError) errors.push(e);
    else throw e;
  };
  const checkSources = async (ds: DataSources | undefined) => {
    if (!ds) return;
    await ds.check();
    for (const name of ds.names()) log.info(`data source ${name}: reachable`);
  };
  const global = globalDataSources(config);
  const served = new Map<string, ServedHost[]>();
  let acme: AcmeService | undefined;
  try {
    try {
      errors.push(...workerProblems(config));
    } catch (e) {
      collect(e);
    }
    // ACME: what would be requested, and what is stored; the CA is not contacted.
    try {
      acme = await acmeService(config, global);
      await acme.prepare();
      for (const m of acme.certs) log.info(describeRequest(m));
    } catch (e) {
      acme = undefined;
      collect(e);
    }
    await loadSessionStores(contextsOf(config)).catch(collect);
    for (const service of config.server.services) {
      for (const c of service.connectors) {
        try {
          const tls = await loadConnectorTls(c, config.baseDir, acme);
          const plan = planConnector(c, tls, RUNTIME, runtimeLabel(), serviceTlsNeeds(service));
          log.info(`${c.name}: ${plan.reason}`);
          if (tls) served.set(c.name, tls.hosts.map((h) => ({ connector: c.name, config: h.config, certs: h.certs })));
        } catch (e) {
          collect(e);
        }
      }
      // Contexts are built as run builds them, so session manager attributes are checked. A
      // PersistentManager starts and stops (loading the handler too), which checks its store's
      // directory or table and touches no session; a StandardManager is not started, since start
      // reads and deletes its persistence file.
      let engine: Engine;
      try {
        engine = Engine.fromConfig(config, service, {
          globalDataSources: global,
          platform: SERVER_PLATFORM,
        });
      } catch (e) {
        collect(e);
        continue;
      }
      // RewriteValve rules: read and parsed as start reads them.
      await engine.loadRewrites().catch(collect);
      for (const c of engine.contexts) {
        const cfg = c.config;
        if (cfg.docBase && !cfg.handler && cfg.welcomeFiles.length === 0 && !cfg.listings) {
          errors.push(
            new BobcatError(
              "check.welcomeFiles",
              `context ${cfg.path || "/"}: the welcome file list is empty, so a request for ${
                cfg.path || ""
              }/ or any directory answers 404`,
              {
                where: sourceOf(cfg).attr("welcomeFiles"),
                fix:
                  "list the files a directory request is answered with: welcomeFiles: [index.html] (web.xml: <welcome-file-list>; a JSP welcome file needs a handler)",
              },
            ),
          );
        }
        try {
          if (c.sessions.manager.hasStore) {
            await c.start();
            await c.sessions.manager.stop();
          } else if (c.config.handler) {
            await loadHandler(c.config.handler, c.config, { engine: c.engine, host: c.host.config }, {
              platform: SERVER_PLATFORM,
            });
          }
          if (c.sessions.manager instanceof StandardManager) {
            await c.sessions.manager.checkPersistenceFile().catch((e) =>
              Promise.reject(locateError(e, [c.config.manager]))
            );
          }
          await checkSources(c.dataSources);
        } catch (e) {
          collect(e);
        } finally {
          await c.dataSources?.close();
        }
      }
    }
    await checkSources(global);
  } catch (e) {
    collect(e);
  } finally {
    await global.close();
  }
  if (errors.length > 0) {
    printError(new BobcatErrors(errors, `${config.file}: ${errors.length} problem(s) stop this config from running`));
    return false;
  }
  const rows = certificateRows(servedHosts(config, served), acme);
  if (rows.length > 0) console.log(`Certificates:\n${formatRows(rows)}\n`);
  return true;
}

/**
 * `bobcat store init`: creates the session table of every DataSourceStore in the config (or,
 * with --print, prints the CREATE TABLE for its database).
 */
export async function storeInit(config: BobcatConfig, print: boolean): Promise<number> {
  configureLogging(config.logging);
  const global = globalDataSources(config);
  let found = 0;
  const { createTableSql, initStoreTable } = await import("../session/stores/index.ts");
  const { sessionIdChars } = await import("../session/id-generator.ts");
  // The id column fits the longest ids of any context here (contexts may share a table; a wider
  // column costs nothing), and is never narrower than Tomcat's varchar(100).
  const longestId = Math.max(
    0,
    ...config.server.services.flatMap((s) =>
      s.engine.hosts.flatMap((h) => h.contexts).filter((c) =>
        c.manager.className === "PersistentManager" && c.manager.store?.className === "DataSourceStore"
      ).map((c) => sessionIdChars(c.manager.sessionIdGenerator.sessionIdLength, s.engine.jvmRoute))
    ),
  );
  try {
    for (const service of config.server.services) {
      for (const host of service.engine.hosts) {
        for (const ctx of host.contexts) {
          const store = ctx.manager.className === "PersistentManager" ? ctx.manager.store : undefined;
          if (store?.className !== "DataSourceStore") continue;
          found++;
          const local = createDataSources(ctx.resources, { baseDir: config.baseDir });
          try {
            const { className: _c, dataSourceName, localDataSource, ...names } = store;
            const ds = lookupDataSource(dataSourceName, { global, local }, localDataSource);
            const where = `${host.name}${ctx.path || "/"} → ${ds.name} (${ds.location})`;
            const { sessionVersionCol, ...tableNames } = names as typeof names & { sessionVersionCol?: string };
            // consistency: shared adds a version column and an expiry index to the seed's table.
            const shared = (ctx.manager as { consistency?: string }).consistency === "shared" &&
              ds.dialect !== "sqlite";
            const versioned = shared ? await import("../session/stores/versioned-sql.ts") : null;
            const extra = versioned ? versioned.versionDdl(ds.dialect, tableNames, sessionVersionCol) : [];
            if (print) {
              console.log(
                `-- ${where}\n${[createTableSql(ds.dialect, tableNames, true, longestId), ...extra].join(";\n")};\n`,
              );
            } else {
              const sql = await initStoreTable(ds, tableNames, longestId);
              if (versioned) await versioned.initVersionColumns(ds, tableNames, sessionVersionCol);
              console.log(`${where}: table ready\n${[sql, ...extra].join(";\n")}\n`);
            }
          } finally {
            await local.close();
          }
        }
      }
    }
  } finally {
    await global.close();
  }
  if (found === 0) {
    console.error(
      "bobcat store init: no context of this config uses a DataSourceStore (manager.className: PersistentManager, manager.store.className: DataSourceStore)",
    );
    return 1;
  }
  return 0;
}
