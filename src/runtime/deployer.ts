/**
 * autoDeploy and reloadable while running, as Tomcat's HostConfig.check and the context's
 * background reload do: every POLL_MS the watched directories and files (deploy.ts) are
 * compared with the last scan; when something changed the config is loaded again and each
 * context compared with the running one: a new application is deployed, a changed one (its
 * config, web.xml, context.xml, or — reloadable — its handler module) is redeployed with its
 * sessions persisted and restored (when its manager persists them), a removed one undeployed.
 * The other contexts are not touched, so their sessions go on. A config that no longer loads is logged and changes nothing.
 */
import { rm } from "../util/host/fs.ts";
import type { BobcatConfig, ContextConfig } from "../config/model.ts";
import { type DeployedContext, type DeployRecord, fingerprint, handlerFilesOf, mtime } from "../config/deploy.ts";
import { deployRecords } from "../config/catalina.ts";
import type { Engine } from "../core/engine.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import { backgroundTimeout, type BackgroundTimer } from "../util/background-timer.ts";
import { loadSessionStores } from "./server-platform.ts";

const log = logger("core");
// A deployment's conversion notes go where the start logs them (cli checkConfig).
const configLog = logger("config");

/** How often appBase and the watched files are checked. */
export const POLL_MS = 2000;

export class AutoDeployer {
  private timer?: BackgroundTimer;
  private last: string;
  private record: DeployRecord;
  private config: BobcatConfig;
  private readonly signatures = new Map<string, string>();
  private stopped = false;
  private running?: Promise<void>;

  constructor(
    config: BobcatConfig,
    private readonly engines: Engine[],
    private readonly reload: () => Promise<BobcatConfig>,
  ) {
    this.config = config;
    this.record = deployRecords.get(config)!;
    this.last = this.fingerprint();
    for (const [key, ctx] of this.contextsOf(config)) this.signatures.set(key, this.signature(ctx));
  }

  /** Is there anything to watch: a host with autoDeploy, or a reloadable context? */
  static wanted(config: BobcatConfig): boolean {
    const record = deployRecords.get(config);
    if (!record) return false;
    return record.autoDeployHosts.length > 0 ||
      config.server.services.some((s) => s.engine.hosts.some((h) => h.contexts.some((c) => c.reloadable)));
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.scan().catch((e) => log.error(`autoDeploy: ${(e as Error)?.stack ?? e}`)).finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = backgroundTimeout(tick, POLL_MS);
      });
    };
    this.timer = backgroundTimeout(tick, POLL_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  private handlerFiles(config: BobcatConfig): string[] {
    return [...this.contextsOf(config).values()].filter((c) => c.reloadable).flatMap((c) =>
      handlerFilesOf(c.handler, c.docBase)
    );
  }

  private fingerprint(): string {
    return fingerprint(this.record, this.handlerFiles(this.config));
  }

  /** "service index|host name|path" → context config. */
  private contextsOf(config: BobcatConfig): Map<string, ContextConfig> {
    const out = new Map<string, ContextConfig>();
    config.server.services.forEach((s, si) => {
      for (const h of s.engine.hosts) for (const c of h.contexts) out.set(`${si}|${h.name.toLowerCase()}|${c.path}`, c);
    });
    return out;
  }

  /** What the context was made from, as the last load recorded it (none for a context the config lists with no docBase). */
  private deployedOf(ctx: ContextConfig): DeployedContext | undefined {
    const host = this.config.server.services.flatMap((s) => s.engine.hosts).find((h) => h.contexts.includes(ctx));
    return this.record.contexts.find((d) => d.host === host?.name && d.path === ctx.path);
  }

  /** What makes a context the same: its config, the files it was made from, and (reloadable) its handler's files. */
  private signature(ctx: ContextConfig): string {
    const deployed = this.deployedOf(ctx);
    const files = [...(deployed?.watched ?? []), ...this.record.watchedFiles];
    if (ctx.reloadable) files.push(...handlerFilesOf(ctx.handler, ctx.docBase));
    return JSON.stringify(ctx) + "\n" + files.map((f) => `${f}:${mtime(f)}`).join("\n");
  }

  async scan(): Promise<void> {
    const now = this.fingerprint();
    if (now === this.last) return;
    let next: BobcatConfig;
    try {
      next = await this.reload();
    } catch (e) {
      const text = e instanceof BobcatErrors
        ? e.errors.map((x) => x.format()).join("\n  ")
        : e instanceof BobcatError
        ? e.format()
        : String(e);
      log.error(`autoDeploy: the changed applications are not deployed, the running ones go on:\n  ${text}`);
      this.last = now;
      return;
    }
    const autoHosts = new Set(this.record.autoDeployHosts.map((h) => h.toLowerCase()));
    this.config = next;
    this.record = deployRecords.get(next)!;
    this.last = this.fingerprint();
    const wanted = this.contextsOf(next);
    for (const [key, ctx] of wanted) {
      const [si, host] = key.split("|") as [string, string];
      const sig = this.signature(ctx);
      const before = this.signatures.get(key);
      if (before === sig) continue;
      if (!autoHosts.has(host) && !(before !== undefined && ctx.reloadable)) continue;
      const engine = this.engines[Number(si)]!;
      const what = `${host}${ctx.path || "/"}`;
      // What its files' conversion said, as the start logs it: the (re)deployment read them again.
      const deployed = this.deployedOf(ctx);
      for (const note of deployed?.notes ?? []) configLog.info(note);
      for (const warning of deployed?.warnings ?? []) configLog.warn(warning);
      try {
        await loadSessionStores([ctx]);
        await engine.deploy(host, ctx);
        this.signatures.set(key, sig);
        log.info(
          `autoDeploy: ${before === undefined ? "deployed" : "redeployed"} ${what} (${ctx.docBase ?? ctx.handler})`,
        );
      } catch (e) {
        this.signatures.delete(key);
        log.error(`autoDeploy: ${what} could not be deployed: ${e instanceof BobcatError ? e.format() : e}`);
      }
    }
    for (const key of [...this.signatures.keys()]) {
      if (wanted.has(key)) continue;
      const [si, host, path] = key.split("|") as [string, string, string];
      if (!autoHosts.has(host)) continue;
      const old = await this.engines[Number(si)]!.undeploy(host, path);
      this.signatures.delete(key);
      if (old) {
        // Tomcat deletes an undeployed application's work directory, persisted sessions and all.
        await rm(old.config.workDir, { recursive: true, force: true }).catch(() => {});
        log.info(`autoDeploy: undeployed ${host}${path || "/"}`);
      }
    }
  }
}
