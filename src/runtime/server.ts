/**
 * A running bobcat: engines, connectors and their back-ends, start-up and graceful stop.
 * Start-up is all or nothing: keystores, handlers and every listener must succeed, otherwise
 * what was started is stopped again and the error is thrown (never half-configured).
 */
import type { BobcatConfig, ConnectorConfig } from "../config/model.ts";
import { Engine } from "../core/engine.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { configureLogging, logger } from "../util/log.ts";
import { ConnectorPipeline } from "./connector.ts";
import { RUNTIME, runtimeLabel, type RuntimeName } from "../util/runtime.ts";
import { type BackendOptions, type Listener, negotiates } from "./listener.ts";
import { type Plan, planConnector, serviceTlsNeeds } from "./plan.ts";
import { type ConnectorTls, loadConnectorTls } from "./tls-material.ts";
import { VERSION } from "../version.ts";
import { type AdminView, contextViews } from "../core/admin.ts";
import { createDataSources, type DataSources } from "../datasource/index.ts";
import { contextsOf, loadSessionStores, SERVER_PLATFORM } from "./server-platform.ts";
import { AutoDeployer } from "./deployer.ts";
import type { AcmeService, ChallengeSupport, ManagedCert } from "../acme/service.ts";
import { type CertificateRow, certificateRows, ExpiryWarner } from "../acme/inventory.ts";
import { LoopLag, MetricsWriter, RequestMetrics } from "../core/metrics.ts";
import { writeMetrics } from "./metrics-view.ts";
import { reloadOtherWorkers } from "./worker-env.ts";
import { setJitPolicy } from "../util/jit-policy.ts";
import { mark } from "../util/timing.ts";
import { warmDenoTlsRandom } from "./deno-tls-warmup.ts";

const log = logger("connector");

export interface RunningConnector {
  config: ConnectorConfig;
  plan: Plan;
  pipeline: ConnectorPipeline;
  listener: Listener;
  tls?: ConnectorTls;
  /** The URL a client would use on this machine, e.g. https://localhost:8443/. */
  url: string;
}

export interface StartOptions {
  /** Apply the config's logging section (the CLI does; embedding scripts may not want it). */
  configureLogging?: boolean;
  runtime?: RuntimeName;
}

export interface ServerSetup {
  /** Handler objects by the spec a context names in `handler:` (e.g. "app:main"), for this server only. */
  handlers?: Readonly<Record<string, unknown>>;
  /** Loads the config again, for autoDeploy and reloadable (the CLI gives it; without it nothing is watched). */
  reloadConfig?: () => Promise<BobcatConfig>;
}

/**
 * One server: its own engines, connectors, sessions, handlers and manager view, so several can
 * run in one process. A script sees what it needs: `urls`, `stop()`, `reloadTls()`.
 */
export class BobcatServer {
  private readonly engines: Engine[] = [];
  private readonly connectors: RunningConnector[] = [];
  /** `server.globalNamingResources.resources`, shared by every context (opened on first use). */
  private readonly globalDataSources: DataSources;
  private readonly view: AdminView;
  private stopped?: Promise<void>;
  private deployer?: AutoDeployer;
  /** Certificates of SSLHostConfigs with `acme` (none: it does nothing). */
  private acme?: AcmeService;
  private readonly expiry = new ExpiryWarner(() => this.certificates());
  private readonly requestMetrics = new RequestMetrics();
  private readonly loopLag = new LoopLag();

  constructor(
    readonly config: BobcatConfig,
    private readonly setup: ServerSetup = {},
  ) {
    this.globalDataSources = globalDataSources(config);
    this.view = this.adminView();
  }

  /** The URL of each listening connector as a client on this machine would use it, e.g. `https://localhost:8443/`. */
  get urls(): string[] {
    return this.connectors.map((c) => c.url);
  }

  async start(opts: StartOptions = {}): Promise<this> {
    if (opts.configureLogging !== false) configureLogging(this.config.logging);
    for (const note of this.config.notes) logger("config").info(note);
    for (const warning of this.config.warnings ?? []) logger("config").warn(warning);
    const runtime = opts.runtime ?? RUNTIME;
    log.info(`bobcat ${VERSION} on ${runtimeLabel()}, base ${this.config.baseDir}`);
    try {
      // Everything that can fail for configuration reasons happens before anything listens.
      const prepared: Array<{ c: ConnectorConfig; tls?: ConnectorTls; plan: Plan; engine: Engine }> = [];
      const errors: BobcatError[] = [];
      const tlsHosts = this.config.server.services.flatMap((s) => s.connectors.flatMap((c) => c.sslHostConfigs));
      // Off the event loop, while the rest of the start goes on (see deno-tls-warmup.ts).
      if (runtime === "deno" && RUNTIME === "deno" && tlsHosts.length > 0) warmDenoTlsRandom();
      // The ACME client (and @peculiar/x509 with it) only where an SSLHostConfig has `acme`.
      if (tlsHosts.some((h) => h.acme)) {
        const { AcmeService } = await import("../acme/service.ts");
        this.acme = new AcmeService(tlsHosts, this.globalDataSources, (h) => this.reloadTls(h).then(() => {}));
        // From the store or temporary self-signed: never waits for the CA.
        await this.acme.prepare();
      }
      await loadSessionStores(contextsOf(this.config));
      for (const service of this.config.server.services) {
        const engine = Engine.fromConfig(this.config, service, {
          globalDataSources: this.globalDataSources,
          globalResources: this.config.server.globalNamingResources?.resources ?? [],
          platform: SERVER_PLATFORM,
          handlers: this.setup.handlers,
          admin: () => this.view,
          requestMetrics: this.requestMetrics,
        });
        this.engines.push(engine);
        // Persisted sessions are read while the TLS material and the handlers load.
        for (const c of engine.contexts) c.sessions.manager.prefetch();
        for (const c of service.connectors) {
          try {
            const tls = await loadConnectorTls(c, this.config.baseDir, this.acme);
            prepared.push({
              c,
              tls,
              plan: planConnector(c, tls, runtime, runtimeLabel(), serviceTlsNeeds(service)),
              engine,
            });
          } catch (e) {
            if (e instanceof BobcatErrors) errors.push(...e.errors);
            else if (e instanceof BobcatError) errors.push(e);
            else throw e;
          }
        }
      }
      if (errors.length > 0) throw new BobcatErrors(errors, `${errors.length} problem(s) stop bobcat from starting`);
      mark("TLS material loaded");
      for (const engine of this.engines) await engine.start();
      mark("engines started (handlers, session managers)");
      this.loopLag.start();
      for (const p of prepared) {
        const pipeline = new ConnectorPipeline(p.c, p.engine, p.tls);
        const acme = this.acme?.active ? this.acme : undefined;
        // HTTP-01 on plain connectors, before any context or redirect sees the request.
        if (acme && !p.c.SSLEnabled) pipeline.acmeChallenge = (token) => acme.http01Answer(token);
        // TLS-ALPN-01 where the back-end chooses certificates per handshake (node:tls).
        // (Deno's node:http2 agrees ALPN from a fixed list set at start, so it cannot.)
        if (acme && p.plan.backend === "node-compat" && runtime !== "deno" && p.tls?.hosts.some((h) => h.config.acme)) {
          pipeline.acmeTlsAlpn = (name) => acme.tlsAlpnAnswer(name);
        }
        const listener = await startBackend(p.plan, { config: p.c, tls: p.tls, pipeline }, runtime);
        pipeline.setPort(listener.port);
        const host = p.c.address && p.c.address !== "0.0.0.0" && p.c.address !== "::" ? p.c.address : "localhost";
        const url = `${p.c.scheme}://${host.includes(":") ? `[${host}]` : host}:${listener.port}/`;
        this.connectors.push({ config: p.c, plan: p.plan, pipeline, listener, tls: p.tls, url });
        log.info(`${p.c.name} listening on ${url} — ${p.plan.reason}; negotiates ${negotiates(p.c)}`);
        mark(`${p.c.name} listening`);
      }
      // Persisted sessions left to be checked in the background are, from now on.
      for (const engine of this.engines) for (const c of engine.contexts) c.sessions.manager.serving();
      if (this.setup.reloadConfig && AutoDeployer.wanted(this.config)) {
        this.deployer = new AutoDeployer(this.config, this.engines, this.setup.reloadConfig);
        this.deployer.start();
      }
      if (this.acme?.active) this.acme.start((m) => this.challengeSupport(m));
      this.expiry.start();
      // Start-up is over: request handling tiers up as usual (src/util/jit-policy.ts).
      setJitPolicy(1);
    } catch (e) {
      await this.stop(0);
      throw e;
    }
    return this;
  }

  private adminView(): AdminView {
    return {
      version: VERSION,
      runtime: runtimeLabel(),
      connectors: () =>
        this.connectors.map((c) => ({
          name: c.config.name,
          url: c.url,
          backend: c.plan.backend,
          reason: c.plan.reason,
          tlsHosts: c.tls?.hosts.map((h) => h.hostName) ?? [],
          active: c.pipeline.active,
          queued: c.pipeline.limiter.queued,
          rejected: c.pipeline.limiter.rejected,
        })),
      contexts: () => contextViews(this.engines),
      // The manager app's reload: with server.workers > 1 the primary passes it to the other workers.
      reloadTls: (hostName) => {
        reloadOtherWorkers();
        return this.reloadTls(hostName);
      },
      certificates: () => this.certificates(),
      renewCertificate: (name) => this.acme?.active ? this.acme.renew(name) : Promise.resolve([]),
      metrics: () => {
        const out = new MetricsWriter();
        writeMetrics(out, {
          version: VERSION,
          runtime: runtimeLabel(),
          requests: this.requestMetrics,
          lag: this.loopLag,
          connectors: () =>
            this.connectors.map((c) => ({
              name: c.config.name,
              backend: c.plan.backend,
              pipeline: c.pipeline,
              tls: c.tls,
            })),
          contexts: () => contextViews(this.engines),
        });
        return out.text();
      },
    };
  }

  /** Every certificate served, whatever its source (the manager app's list). */
  certificates(): CertificateRow[] {
    return certificateRows(
      this.connectors.flatMap((c) =>
        (c.tls?.hosts ?? []).map((h) => ({ connector: c.config.name, config: h.config, certs: h.certs }))
      ),
      this.acme,
    );
  }

  /** Which ACME challenges this server can answer for a certificate's names. */
  private challengeSupport(m: ManagedCert): ChallengeSupport {
    const serving = this.connectors.filter((c) => c.tls?.hosts.some((h) => this.acme!.managedFor(h.config) === m));
    const services = this.config.server.services.filter((s) => serving.some((c) => s.connectors.includes(c.config)));
    const plain = this.connectors.filter((c) =>
      !c.config.SSLEnabled && services.some((s) => s.connectors.includes(c.config))
    );
    // acme-tls/1 needs the certificate chosen per handshake with the client's ALPN list in view:
    // node:tls on Bun and Node (the node-compat back-end) can; Bun.serve, Deno.serve and Deno's
    // node:http2 (ALPN from a fixed list) cannot.
    const unable = serving.filter((c) => !c.pipeline.acmeTlsAlpn);
    const tlsAlpn01 = serving.length > 0 && unable.length === 0;
    const why = RUNTIME === "deno"
      ? `no back-end of ${runtimeLabel()} can (its TLS servers agree ALPN from a fixed list); Bun and Node can, on node-compat`
      : `${
        unable.map((c) => c.config.name).join(", ")
      } runs on the native back-end, which cannot choose a certificate by ALPN (BOBCAT_BACKEND=node-compat can)`;
    const detail = [
      plain.length ? `http-01 on ${plain.map((c) => c.config.name).join(", ")}` : "no plain HTTP connector for http-01",
      tlsAlpn01
        ? `tls-alpn-01 on ${serving.map((c) => c.config.name).join(", ")} (node-compat back-end)`
        : `tls-alpn-01 not answered: ${why}`,
    ].join("; ");
    return { http01: plain.length > 0, tlsAlpn01, detail };
  }

  /**
   * Tomcat's reloadSslHostConfigs: re-reads every TLS connector's keystores and PEM files (or
   * only the connectors with an SSLHostConfig for `hostName`) and gives new handshakes the new
   * material; connections in flight go on. A connector whose new material fails to load keeps
   * its old one. Returns one line per connector.
   */
  async reloadTls(hostName?: string): Promise<{ reloaded: string[]; failed: string[] }> {
    const reloaded: string[] = [];
    const failed: string[] = [];
    const want = hostName?.toLowerCase();
    for (const c of this.connectors) {
      if (!c.tls) continue;
      if (want && !c.tls.hosts.some((h) => h.hostName === want)) continue;
      try {
        const next = (await loadConnectorTls(c.config, this.config.baseDir, this.acme))!;
        const service = this.config.server.services.find((s) => s.connectors.includes(c.config))!;
        const plan = planConnector(c.config, next, RUNTIME, runtimeLabel(), serviceTlsNeeds(service));
        if (plan.backend !== c.plan.backend) {
          throw new BobcatError(
            "tls.reloadNeedsRestart",
            `the new TLS material needs the ${plan.backend} back-end (${plan.reason}); restart bobcat to switch`,
          );
        }
        await c.listener.reloadTls(next);
        c.pipeline.setTls(next);
        c.tls = next;
        const line = `${c.config.name}: reloaded ${
          next.hosts.map((h) => `${h.hostName} (${h.certs.map((x) => x.source).join(", ")})`).join("; ")
        }`;
        log.info(line);
        reloaded.push(line);
      } catch (e) {
        const text = e instanceof BobcatErrors
          ? e.errors.map((x) => x.format()).join("; ")
          : e instanceof BobcatError
          ? e.format()
          : String(e);
        const line = `${c.config.name}: kept the old TLS material: ${text}`;
        log.error(line);
        failed.push(line);
      }
    }
    return { reloaded, failed };
  }

  /** Stop accepting, let requests in flight finish (up to the timeout), then stop the engines. */
  stop(timeoutSeconds = this.config.server.gracefulStopTimeout): Promise<void> {
    this.stopped ??= (async () => {
      await this.deployer?.stop();
      this.expiry.stop();
      await this.acme?.stop();
      for (const c of this.connectors) {
        c.pipeline.stopping = true;
        await c.listener.stopAccepting();
      }
      // WebSockets get 1001 once what is queued for them is written, within the stop timeout.
      await Promise.all(this.connectors.map((c) => c.pipeline.webSockets?.closeAll(timeoutSeconds * 1000)));
      const drained = await Promise.all(this.connectors.map((c) => c.pipeline.drain(timeoutSeconds * 1000)));
      if (drained.includes(false)) log.warn(`requests still running after ${timeoutSeconds}s were cut off`);
      await Promise.all(this.connectors.map((c) => c.listener.closeAll()));
      // Managers write their sessions to their stores here, so data sources close last.
      for (const e of this.engines) await e.stop();
      this.loopLag.stop();
      await this.globalDataSources.close();
      if (this.connectors.length > 0) log.info("bobcat stopped");
    })();
    return this.stopped;
  }
}

export function globalDataSources(config: BobcatConfig): DataSources {
  return createDataSources(config.server.globalNamingResources?.resources ?? [], {
    baseDir: config.baseDir,
    path: "server.globalNamingResources.resources",
  });
}

async function startBackend(plan: Plan, opts: BackendOptions, runtime: RuntimeName): Promise<Listener> {
  // Each back-end is imported when a connector needs it (node:http2 and node:tls cost start-up time).
  if (plan.backend === "node-compat") return (await import("./node-compat.ts")).startNodeCompat(opts);
  if (runtime === "bun") return (await import("./bun.ts")).startBunNative(opts);
  if (runtime === "deno") return (await import("./deno.ts")).startDenoNative(opts);
  throw new Error(`no native back-end on ${runtime}`);
}
