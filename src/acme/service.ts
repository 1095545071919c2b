/**
 * Automatic HTTPS: one AcmeService per server obtains and renews the certificates of the
 * SSLHostConfigs that have an `acme` element, through acme-client (RFC 8555).
 *
 * - Start-up never waits for the CA: a valid certificate in the store is served at once; a name
 *   without one gets a temporary self-signed certificate until the CA's arrives.
 * - Renewal when two thirds of the lifetime have passed, or inside the CA's ACME Renewal
 *   Information window (RFC 9773) when its directory offers `renewalInfo`: the window is checked
 *   at once after issuance and at start-up, then again after each Retry-After (at least
 *   renewalInfoMinInterval, at most a day), and renewal happens at a random moment inside it
 *   (at once when it has passed); the new order names the certificate it `replaces`. A failure
 *   keeps the old certificate and is retried with exponential backoff (retryDelay, doubling, at
 *   most a day; a rateLimited error waits for its Retry-After).
 * - Several instances sharing a store: a lock in the store lets one order; the others load
 *   what it stored. Challenge answers go to the store too, so any instance can answer.
 */
import { createHash, createPublicKey, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import type { SSLHostConfig } from "../config/model.ts";
import type { DataSources } from "../datasource/index.ts";
import type { LoadedCertificate } from "../tls/certificate.ts";
import { generateSelfSigned } from "../tls/keystore/selfsigned.ts";
import { x509 } from "../tls/keystore/x509.ts";
import type { X509Certificate } from "@peculiar/x509";
import { BobcatError } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import { acmeNames, type ChallengeType, directoryUrl } from "../config/acme.ts";
import type { AcmeConfig } from "../config/model.ts";
import { type AcmeStore, DirectoryStore, PostgresStore, segment } from "./store.ts";

const log = logger("acme");
const DAY = 86_400_000;
/** RFC 9773 §4.3.3: after a long-term error (or no Retry-After), check again in six hours. */
const ARI_LONG_TERM_MS = 6 * 3_600_000;
const LOCK_TTL_MS = 10 * 60_000;
const STORE_CHECK_MS = 30_000;

// deno-lint-ignore no-explicit-any
type AcmeLib = any;
let acmeLib: Promise<AcmeLib> | undefined;
/** acme-client, loaded on first use (a server without acme never loads it). */
function lib(): Promise<AcmeLib> {
  acmeLib ??= import("acme-client").then((m) => {
    const a = (m as { default?: AcmeLib }).default ?? m;
    // bobcat retries itself (backoff capped at a day, Retry-After of rateLimited): no sleeping inside a request.
    a.axios.defaults.acmeSettings.retryMaxAttempts = 0;
    a.axios.interceptors.response.use((
      r: { status: number; headers: Record<string, string>; data?: unknown; config?: { ariRequest?: boolean } },
    ) => {
      if (r.config?.ariRequest) return r; // a renewalInfo check is not the order's problem
      const type = (r.data as { type?: string } | undefined)?.type;
      if (r.status >= 400 && typeof type === "string") {
        lastProblem = { type, status: r.status, retryAfter: r.headers["retry-after"] };
      }
      return r;
    });
    return a;
  });
  return acmeLib;
}
/** The last ACME problem document seen (orders run one at a time per process). */
let lastProblem: { type: string; status: number; retryAfter?: string } | undefined;

export interface CertState {
  lastError?: string;
  lastErrorAt?: string;
  failures?: number;
  /** The order lock's owner when this certificate was obtained. */
  obtainedBy?: string;
}

export interface Material {
  certPem: string;
  keyPem: string;
  chain: X509Certificate[];
  temporary: boolean;
}

export interface ManagedCert {
  /** `<ca>/<first name>`: the store key prefix. */
  id: string;
  hostName: string;
  names: string[];
  config: AcmeConfig;
  directory: string;
  store: AcmeStore;
  current?: Material;
  /** When the next attempt (issue, renew, or look in the store) is due, epoch ms. */
  nextAttempt: number;
  /** When renewal is planned for the current certificate (for display). */
  renewAt?: number;
  /** The CA's renewal window for the current certificate (RFC 9773), when it offers one. */
  ari?: AriWindow;
  /** When the current certificate's renewalInfo is checked next, epoch ms (0: at once). */
  ariNextCheck?: number;
  /** Consecutive temporary failures of renewalInfo checks (for their backoff). */
  ariFailures?: number;
  state: CertState;
  busy?: Promise<void>;
  storeCheckedAt?: number;
  /** Chosen at start: which challenge types can be answered for these names. */
  challenges: ChallengeType[];
}

/** A suggested renewal window (RFC 9773 §4.2) for one certificate, as kept in state.json. */
export interface AriWindow {
  /** The certificate it is for: base64url(AKI keyIdentifier) "." base64url(serial). */
  certId: string;
  start: number;
  end: number;
  explanationURL?: string;
  /** When the CA said so, epoch ms. */
  checkedAt: number;
}

export interface ChallengeSupport {
  /** A plain HTTP connector of the service answers /.well-known/acme-challenge/. */
  http01: boolean;
  /** Every TLS connector serving this host can answer acme-tls/1 (node-compat). */
  tlsAlpn01: boolean;
  /** For the start-up line. */
  detail: string;
}

export class AcmeService {
  readonly certs: ManagedCert[] = [];
  private readonly byHost = new Map<SSLHostConfig, ManagedCert>();
  private readonly stores = new Map<string, AcmeStore>();
  private readonly http01 = new Map<string, string>();
  private readonly alpn = new Map<string, { certPem: string; keyPem: string }>();
  private readonly owner = `${process.pid}-${randomUUID()}`;
  private ticker?: ReturnType<typeof setInterval>;
  private stopped = false;
  /** Orders run one at a time in a process. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    hosts: SSLHostConfig[],
    private readonly dataSources: DataSources,
    /** Gives connections the new certificate of an SSLHostConfig (BobcatServer.reloadTls). */
    private readonly swap: (hostName: string) => Promise<void>,
  ) {
    for (const h of hosts) {
      if (!h.acme) continue;
      const names = acmeNames(h.hostName, h.acme);
      const directory = directoryUrl(h.acme);
      const id = `${segment(directory)}/${segment(names[0]!.replace("*", "_wildcard_"))}`;
      const existing = this.certs.find((m) => m.id === id && m.names.join() === names.join());
      if (existing) {
        this.byHost.set(h, existing);
        continue;
      }
      const m: ManagedCert = {
        id,
        hostName: h.hostName,
        names,
        config: h.acme,
        directory,
        store: this.storeFor(h.acme),
        nextAttempt: 0,
        state: {},
        challenges: [],
      };
      this.certs.push(m);
      this.byHost.set(h, m);
    }
  }

  get active(): boolean {
    return this.certs.length > 0;
  }

  private storeFor(a: AcmeConfig): AcmeStore {
    const key = a.dataSourceName ? `ds:${a.dataSourceName}` : `dir:${a.storeDirectory}`;
    let s = this.stores.get(key);
    if (!s) {
      if (a.dataSourceName) {
        const ds = this.dataSources.get(a.dataSourceName);
        if (!ds || ds.dialect !== "postgres") {
          throw new BobcatError(
            "acme.dataSource",
            `acme dataSourceName [${a.dataSourceName}] ${
              ds ? `is ${ds.dialect}, not PostgreSQL` : "names no global resource"
            }`,
            {
              where: { attribute: "dataSourceName" },
              fix:
                "define it in server.globalNamingResources.resources with url: postgres://..., or use storeDirectory (a directory every instance shares)",
            },
          );
        }
        s = new PostgresStore(ds);
      } else s = new DirectoryStore(a.storeDirectory);
      this.stores.set(key, s);
    }
    return s;
  }

  managedFor(h: SSLHostConfig): ManagedCert | undefined {
    return this.byHost.get(h);
  }

  /**
   * Before anything listens: each certificate from the store when it is there and usable,
   * otherwise a temporary self-signed one. Never contacts the CA.
   */
  async prepare(): Promise<void> {
    for (const m of this.certs) {
      let stored: Material | undefined;
      try {
        stored = await this.loadStored(m);
        const s = await m.store.get(`${m.id}/state.json`);
        if (s) {
          const { ari, ...state } = JSON.parse(s) as CertState & { ari?: AriWindow };
          m.state = state;
          // The last window the CA gave for the stored certificate (checked again once running).
          if (stored && ari && ari.end > ari.start && ari.certId === certIdOrUndefined(stored.chain[0]!)) m.ari = ari;
        }
      } catch (e) {
        log.warn(`${m.names.join(", ")}: the store ${m.store.location} cannot be read now: ${(e as Error).message}`);
      }
      if (stored && stored.chain[0]!.notAfter.getTime() > Date.now()) {
        m.current = stored;
        this.plan(m);
        m.ariNextCheck = 0;
        log.info(
          `${m.names.join(", ")}: serving the stored certificate (${stored.chain[0]!.issuer}, until ${
            stored.chain[0]!.notAfter.toISOString()
          }); renewal planned for ${new Date(m.renewAt!).toISOString()}${
            m.ari
              ? ` (inside the CA's renewal window ${new Date(m.ari.start).toISOString()} – ${
                new Date(m.ari.end).toISOString()
              })`
              : ""
          }`,
        );
      } else {
        m.current = await temporary(m);
        m.nextAttempt = 0;
        log.info(
          `${
            m.names.join(", ")
          }: no valid certificate yet: serving a temporary self-signed one until ${m.directory} issues one`,
        );
      }
    }
  }

  /** The certificate to serve for an SSLHostConfig with acme. */
  material(h: SSLHostConfig): LoadedCertificate {
    const m = this.byHost.get(h);
    if (!m?.current) throw new Error(`acme: no material for ${h.hostName} (prepare() not run)`);
    const c = m.current;
    return {
      keyPem: c.keyPem,
      certPem: c.certPem,
      chain: c.chain,
      keyType: m.config.keyType.startsWith("RSA") ? "RSA" : "EC",
      warnings: [],
      source: c.temporary
        ? `temporary self-signed certificate (ACME ${m.directory} pending)`
        : `ACME ${m.directory} (${m.store.location})`,
    };
  }

  /** After the listeners are up: which challenges each certificate can use, then the background work. */
  start(support: (m: ManagedCert) => ChallengeSupport): void {
    for (const m of this.certs) {
      const s = support(m);
      m.challenges = (m.config.challengeTypes as ChallengeType[]).filter((t) =>
        t === "http-01"
          ? s.http01 && !m.names.some((n) => n.startsWith("*."))
          : t === "tls-alpn-01"
          ? s.tlsAlpn01 && !m.names.some((n) => n.startsWith("*."))
          : !!m.config.dnsHook
      );
      const line = `${m.names.join(", ")}: ACME ${m.directory}; challenges: ${
        m.challenges.join(", ") || "none"
      } (${s.detail})`;
      if (m.challenges.length === 0) {
        log.error(
          `${line}: no allowed challenge can be answered here: add a plain HTTP connector to the service (http-01), use the node-compat back-end (tls-alpn-01), or set dnsHook (dns-01)`,
        );
      } else log.info(line);
    }
    this.ticker = setInterval(() => this.tick(), 1000);
    (this.ticker as { unref?: () => void }).unref?.();
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const m of this.certs) {
      if (m.busy || m.challenges.length === 0) continue;
      if (m.nextAttempt <= now) {
        m.busy = this.attempt(m, false).finally(() => (m.busy = undefined));
      } else if (m.ariNextCheck !== undefined && m.ariNextCheck <= now && m.current && !m.current.temporary) {
        m.busy = this.checkAri(m).finally(() => (m.busy = undefined));
      } else if (now - (m.storeCheckedAt ?? now) > STORE_CHECK_MS) {
        // Another instance (or `bobcat acme renew`) may have stored a newer certificate.
        m.storeCheckedAt = now;
        m.busy = this.adopt(m).then(() => {}, () => {}).finally(() => (m.busy = undefined));
      }
      m.storeCheckedAt ??= now;
    }
  }

  /** The key authorization for an HTTP-01 token, from this instance or the shared store. */
  async http01Answer(token: string): Promise<string | undefined> {
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) return undefined;
    const mine = this.http01.get(token);
    if (mine) return mine;
    for (const s of this.stores.values()) {
      const v = await s.get(`challenges/${token}`).catch(() => undefined);
      if (v) return v;
    }
    return undefined;
  }

  /**
   * The acme-tls/1 certificate for a name this instance is validating now (synchronous: asked
   * in the TLS handshake). Only the instance that placed the order answers TLS-ALPN-01; HTTP-01
   * answers go through the store to every instance.
   */
  tlsAlpnAnswer(name: string): { certPem: string; keyPem: string } | undefined {
    return this.alpn.size ? this.alpn.get(name) : undefined;
  }

  /** `bobcat acme renew` and the manager's renew button: order now, whatever the schedule. */
  async renew(name?: string): Promise<string[]> {
    const targets = this.select(name);
    const out: string[] = [];
    for (const m of targets) {
      await m.busy;
      const p = this.attempt(m, true);
      m.busy = p.finally(() => (m.busy = undefined));
      await p;
      out.push(
        m.state.lastError && !m.current?.temporary && m.state.lastErrorAt &&
          Date.parse(m.state.lastErrorAt) > Date.now() - 60_000
          ? `${m.names.join(", ")}: renewal failed: ${m.state.lastError}`
          : `${m.names.join(", ")}: ${
            m.current?.temporary ? "not obtained" : "certificate until " + m.current!.chain[0]!.notAfter.toISOString()
          }`,
      );
    }
    return out;
  }

  /** Revokes the current certificate of each selected name at the CA, and orders a new one on the next tick. */
  async revoke(name?: string): Promise<string[]> {
    const out: string[] = [];
    for (const m of this.select(name)) {
      const c = m.current ?? await this.loadStored(m);
      if (!c || c.temporary) {
        out.push(`${m.names.join(", ")}: no certificate from the CA to revoke`);
        continue;
      }
      const client = await this.client(m);
      await client.revokeCertificate(c.certPem);
      await m.store.delete(`${m.id}/cert.pem`);
      out.push(`${m.names.join(", ")}: revoked ${c.chain[0]!.serialNumber} at ${m.directory}`);
      log.warn(out[out.length - 1]!);
      m.nextAttempt = 0;
    }
    return out;
  }

  private select(name?: string): ManagedCert[] {
    if (!name) return this.certs;
    const n = name.toLowerCase();
    const found = this.certs.filter((m) => m.names.includes(n) || m.hostName === n);
    if (found.length === 0) {
      throw new BobcatError("acme.unknownName", `no acme certificate is for "${name}"`, {
        fix: `use one of: ${this.certs.flatMap((m) => m.names).join(", ") || "(none configured)"}`,
      });
    }
    return found;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    await Promise.all(this.certs.map((m) => m.busy?.catch(() => {})));
  }

  /** Reads cert.pem/key.pem; a damaged or mismatched pair is set aside (and logged), never served. */
  private async loadStored(m: ManagedCert): Promise<Material | undefined> {
    const [certPem, keyPem] = await Promise.all([
      m.store.get(`${m.id}/cert.pem`),
      m.store.get(`${m.id}/key.pem`),
    ]);
    if (!certPem || !keyPem) return undefined;
    try {
      const mat = parseMaterial(certPem, keyPem, false);
      const leaf = mat.chain[0]!;
      const sans = leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((n) =>
        n.value.toLowerCase()
      ) ?? [];
      if (!m.names.every((n) => sans.includes(n))) return undefined; // names changed in the config: order anew
      return mat;
    } catch (e) {
      const a = await m.store.setAside(`${m.id}/cert.pem`);
      const b = await m.store.setAside(`${m.id}/key.pem`);
      log.error(
        `${m.names.join(", ")}: the stored certificate or key is damaged (${
          (e as Error).message
        }); set aside as ${a} and ${b}, a new one will be ordered`,
      );
      return undefined;
    }
  }

  /** One attempt: adopt a newer stored certificate, or take the lock and order. Never throws. */
  private async attempt(m: ManagedCert, force: boolean): Promise<void> {
    let locked = false;
    const lockKey = `locks/${m.id.replace("/", "_")}`;
    try {
      if (!force && (await this.adopt(m))) return;
      locked = await m.store.tryLock(lockKey, this.owner, LOCK_TTL_MS);
      if (!locked) {
        // Another instance is ordering: look for its certificate soon.
        m.nextAttempt = Date.now() + Math.min(m.config.retryDelay * 1000, 2000);
        log.debug(`${m.names.join(", ")}: another instance holds the order lock; waiting for its certificate`);
        return;
      }
      if (!force && (await this.adopt(m))) return;
      const run = this.queue.then(() => this.order(m));
      this.queue = run.catch(() => {});
      await run;
      m.state = { obtainedBy: this.owner };
      await this.saveState(m);
    } catch (e) {
      this.failed(m, e);
      await this.saveState(m);
    } finally {
      if (locked) await m.store.unlock(lockKey, this.owner).catch(() => {});
    }
  }

  /** A certificate in the store that is newer than ours and not yet due: serve it. */
  private async adopt(m: ManagedCert): Promise<boolean> {
    const stored = await this.loadStored(m);
    if (!stored) return false;
    const cur = m.current;
    const newer = !cur || cur.temporary || stored.chain[0]!.notAfter > cur.chain[0]!.notAfter;
    // Judged by its own schedule: the current certificate's renewal window says nothing of it.
    if (!newer || renewalTime(stored) <= Date.now()) return false;
    await this.install(m, stored, "loaded from the store");
    return true;
  }

  private async install(m: ManagedCert, mat: Material, how: string): Promise<void> {
    m.current = mat;
    m.ari = undefined;
    this.plan(m);
    const leaf = mat.chain[0]!;
    log.info(
      `${
        m.names.join(", ")
      }: certificate ${how} (${leaf.issuer}, ${leaf.notBefore.toISOString()} – ${leaf.notAfter.toISOString()}); next renewal ${
        new Date(m.renewAt!).toISOString()
      }`,
    );
    await this.swap(m.hostName);
    // RFC 9773 §4.3: the renewal information of a new certificate is fetched at once; the old
    // one's is never asked for again.
    m.ariFailures = 0;
    m.ariNextCheck = 0;
  }

  /** Next renewal: two thirds of the lifetime with jitter, or inside the ARI window. */
  private plan(m: ManagedCert): void {
    m.renewAt = renewalTime(m.current!, m.ari);
    m.nextAttempt = m.renewAt;
  }

  /** state.json: failures, last error, and the CA's renewal window of the current certificate. */
  private async saveState(m: ManagedCert): Promise<void> {
    await m.store.put(`${m.id}/state.json`, JSON.stringify({ ...m.state, ...(m.ari ? { ari: m.ari } : {}) }))
      .catch(() => {});
  }

  private failed(m: ManagedCert, e: unknown): void {
    const problem = lastProblem;
    lastProblem = undefined;
    // The next attempt reads the account again; one the CA no longer knows is registered anew (same key).
    this.accountClients.clear();
    if (problem?.type.endsWith(":accountDoesNotExist")) void this.forgetAccountUrl(m);
    m.state.failures = (m.state.failures ?? 0) + 1;
    m.state.lastError = `${(e as Error)?.message ?? e}${problem ? ` (${problem.type})` : ""}`;
    m.state.lastErrorAt = new Date().toISOString();
    let delay = Math.min(DAY, m.config.retryDelay * 1000 * 2 ** Math.min(m.state.failures - 1, 20));
    if (problem?.type.endsWith(":rateLimited") && problem.retryAfter) {
      const ra = retryAfterMs(problem.retryAfter);
      if (ra !== undefined) delay = Math.max(delay, ra);
    }
    m.nextAttempt = Date.now() + delay;
    log.error(
      `${
        m.names.join(", ")
      }: ACME order at ${m.directory} failed (attempt ${m.state.failures}): ${m.state.lastError}; ${
        m.current && !m.current.temporary ? "the current certificate keeps serving; " : ""
      }retrying in ${Math.round(delay / 1000)} s`,
    );
  }

  private accountClients = new Map<string, Promise<AcmeLib>>();

  private async forgetAccountUrl(m: ManagedCert): Promise<void> {
    const k = `${segment(m.directory)}/account.json`;
    const text = await m.store.get(k).catch(() => undefined);
    if (!text) return;
    const a = JSON.parse(text);
    delete a.url;
    await m.store.put(k, JSON.stringify(a)).catch(() => {});
    log.warn(`the CA ${m.directory} no longer knows bobcat's account; it will be registered again`);
  }

  /** The account for this CA (and store): key from the store, or a new one registered now. */
  private client(m: ManagedCert): Promise<AcmeLib> {
    const key = `${m.store.location}|${m.directory}`;
    let c = this.accountClients.get(key);
    if (!c) {
      c = this.newClient(m);
      this.accountClients.set(key, c);
      c.catch(() => this.accountClients.delete(key));
    }
    return c;
  }

  private async newClient(m: ManagedCert): Promise<AcmeLib> {
    const acme = await lib();
    await trust(acme, m.config.directoryTrustFile);
    const accountKeyName = `${segment(m.directory)}/account.json`;
    let account: { keyPem: string; url?: string } | undefined;
    const text = await m.store.get(accountKeyName);
    if (text) {
      try {
        account = JSON.parse(text);
        createPublicKey(account!.keyPem);
      } catch {
        const aside = await m.store.setAside(accountKeyName);
        log.error(`the ACME account file is damaged; set aside as ${aside}; registering a new account`);
        account = undefined;
      }
    }
    if (!account) {
      account = { keyPem: (await acme.crypto.createPrivateEcdsaKey()).toString() };
      await m.store.put(accountKeyName, JSON.stringify(account));
    }
    const client = new acme.Client({
      directoryUrl: m.directory,
      accountKey: account.keyPem,
      accountUrl: account.url,
      ...(m.config.eabKeyId
        ? { externalAccountBinding: { kid: m.config.eabKeyId, hmacKey: m.config.eabHmacKey } }
        : {}),
    });
    if (!account.url) {
      try {
        await client.createAccount({
          termsOfServiceAgreed: m.config.termsOfServiceAgreed,
          ...(m.config.email ? { contact: [`mailto:${m.config.email}`] } : {}),
        });
      } catch (e) {
        throw new Error(`registering an account: ${(e as Error).message}${eabHint(m.config, lastProblem?.type)}`);
      }
      account.url = client.getAccountUrl();
      await m.store.put(accountKeyName, JSON.stringify(account));
      log.info(`registered ACME account ${account.url} at ${m.directory}`);
    }
    return client;
  }

  private async order(m: ManagedCert): Promise<void> {
    const acme = await lib();
    const client = await this.client(m);
    const keyPem: string =
      (m.config.keyType === "EC-P256"
        ? await acme.crypto.createPrivateEcdsaKey("P-256")
        : await acme.crypto.createPrivateRsaKey(Number(m.config.keyType.slice(4)))).toString();
    const [, csr] = await acme.crypto.createCsr({
      commonName: m.names.find((n) => !n.startsWith("*.")),
      altNames: m.names,
    }, keyPem);
    const hook = m.config.dnsHook ? await loadHook(m.config.dnsHook) : undefined;
    // RFC 9773 §5: a renewal names the certificate it replaces, when the CA speaks ARI.
    const cur = m.current && !m.current.temporary ? m.current.chain[0]! : undefined;
    const replaces = cur && cur.notAfter.getTime() > Date.now() && (await this.directoryDoc(m).catch(() => undefined))
        ?.renewalInfo
      ? certIdOrUndefined(cur)
      : undefined;
    log.info(
      `${m.names.join(", ")}: ordering a certificate from ${m.directory} (${m.challenges.join(", ")})${
        replaces ? `, replacing ${replaces}` : ""
      }`,
    );
    // acme-client's auto() places the order itself: this view of the client adds "replaces" to it.
    const orderClient = Object.create(client);
    orderClient.createOrder = async (data: Record<string, unknown>) => {
      if (!replaces) return await client.createOrder(data);
      try {
        return await client.createOrder({ ...data, replaces });
      } catch (e) {
        // Another order (another instance, `bobcat acme renew`) replaced it already: order plainly.
        if (!lastProblem?.type.endsWith(":alreadyReplaced")) throw e;
        lastProblem = undefined;
        log.warn(
          `${m.names.join(", ")}: the CA says ${replaces} has already been replaced (${
            (e as Error).message
          }); ordering without "replaces"`,
        );
        return await client.createOrder(data);
      }
    };
    const certPem: string = await orderClient.auto({
      csr,
      email: m.config.email,
      termsOfServiceAgreed: m.config.termsOfServiceAgreed,
      skipChallengeVerification: true,
      challengePriority: m.challenges,
      challengeCreateFn: async (
        authz: { identifier: { value: string } },
        ch: { type: string; token: string },
        ka: string,
      ) => {
        const name = authz.identifier.value.toLowerCase();
        if (ch.type === "http-01") {
          this.http01.set(ch.token, ka);
          await m.store.put(`challenges/${ch.token}`, ka);
        } else if (ch.type === "tls-alpn-01") {
          this.alpn.set(name, await alpnCertificate(name, ka));
        } else if (ch.type === "dns-01") {
          await hook!.present(`_acme-challenge.${name}`, ka);
        }
      },
      challengeRemoveFn: async (
        authz: { identifier: { value: string } },
        ch: { type: string; token: string },
        ka: string,
      ) => {
        const name = authz.identifier.value.toLowerCase();
        if (ch.type === "http-01") {
          this.http01.delete(ch.token);
          await m.store.delete(`challenges/${ch.token}`);
        } else if (ch.type === "tls-alpn-01") {
          this.alpn.delete(name);
        } else if (ch.type === "dns-01") {
          await hook!.cleanup?.(`_acme-challenge.${name}`, ka);
        }
      },
    });
    const mat = parseMaterial(certPem, keyPem, false);
    // The key first: a reader that sees the new certificate then finds its key.
    await m.store.put(`${m.id}/key.pem`, keyPem);
    await m.store.put(`${m.id}/cert.pem`, certPem);
    m.state = {};
    await this.install(m, mat, "obtained");
  }

  /** The CA's directory object (for renewalInfo, which acme-client does not know). */
  private async directoryDoc(m: ManagedCert): Promise<{ renewalInfo?: string }> {
    const acme = await lib();
    await trust(acme, m.config.directoryTrustFile);
    const r = await acme.axios.get(m.directory, { ariRequest: true });
    return (r.data ?? {}) as { renewalInfo?: string };
  }

  /**
   * RFC 9773 §4: asks the CA for the current certificate's suggested renewal window and plans
   * the renewal at a random moment inside it (kept while the window stays the same); the next
   * check follows the CA's Retry-After, within [renewalInfoMinInterval, a day]. A temporary
   * failure (network, 5xx) is retried with backoff, any other after six hours; the window known
   * before, or two thirds of the lifetime, stays the plan meanwhile. Never throws.
   */
  private async checkAri(m: ManagedCert): Promise<void> {
    const cur = m.current;
    if (!cur || cur.temporary) return;
    const leaf = cur.chain[0]!;
    const now = Date.now();
    const minMs = m.config.renewalInfoMinInterval * 1000;
    const certId = certIdOrUndefined(leaf);
    // Never for an expired certificate (§4.3), nor for one without an AKI (no certID).
    if (!certId || leaf.notAfter.getTime() <= now) {
      m.ariNextCheck = undefined;
      return;
    }
    let next = ARI_LONG_TERM_MS;
    try {
      const dir = await this.directoryDoc(m);
      if (!dir.renewalInfo) {
        // The CA offers no renewal information (it may start to: its directory is read again in a day).
        if (m.ari) {
          m.ari = undefined;
          this.plan(m);
          await this.saveState(m);
        }
        m.ariNextCheck = Date.now() + DAY;
        return;
      }
      const acme = await lib();
      const url = `${dir.renewalInfo.replace(/\/$/, "")}/${certId}`;
      const r = await acme.axios.get(url, { ariRequest: true, validateStatus: null });
      if (r.status >= 500) throw new Error(`HTTP ${r.status} from ${url}`);
      if (r.status !== 200) throw Object.assign(new Error(`HTTP ${r.status} from ${url}`), { longTerm: true });
      let body: { suggestedWindow?: { start?: string; end?: string }; explanationURL?: string };
      try {
        body = typeof r.data === "string" ? JSON.parse(r.data) : r.data;
      } catch {
        throw Object.assign(new Error(`${url} answered no JSON`), { longTerm: true });
      }
      const start = Date.parse(body?.suggestedWindow?.start ?? "");
      const end = Date.parse(body?.suggestedWindow?.end ?? "");
      // §4.2: a window whose end is not after its start counts as no answer.
      if (Number.isNaN(start) || Number.isNaN(end) || end <= start) {
        throw Object.assign(
          new Error(`${url} gave no valid suggestedWindow (${JSON.stringify(body?.suggestedWindow)})`),
          {
            longTerm: true,
          },
        );
      }
      const ra = r.headers?.["retry-after"] ? retryAfterMs(String(r.headers["retry-after"])) : undefined;
      if (ra !== undefined) next = ra;
      const explanationURL = typeof body.explanationURL === "string" ? body.explanationURL : undefined;
      const same = m.ari?.certId === certId && m.ari.start === start && m.ari.end === end;
      m.ari = { certId, start, end, checkedAt: Date.now(), ...(explanationURL ? { explanationURL } : {}) };
      m.ariFailures = 0;
      if (!same) {
        m.renewAt = renewalTime(cur, m.ari);
        // Renewal stays subject to the backoff of failed orders.
        m.nextAttempt = m.state.failures ? Math.max(m.renewAt, m.nextAttempt) : m.renewAt;
        log.info(
          `${m.names.join(", ")}: the CA suggests renewing between ${new Date(start).toISOString()} and ${
            new Date(end).toISOString()
          } (ACME Renewal Information${explanationURL ? `, see ${explanationURL}` : ""}); renewal planned for ${
            new Date(m.nextAttempt).toISOString()
          }`,
        );
      } else log.debug(`${m.names.join(", ")}: renewal window unchanged (${certId})`);
      await this.saveState(m);
    } catch (e) {
      // §4.3.3: a 4xx or an invalid answer is a long-term error (six hours); the network or a 5xx
      // is temporary (backoff from renewalInfoMinInterval).
      const err = e as { longTerm?: boolean; response?: { status?: number } };
      const temporary = !err.longTerm && !(err.response?.status && err.response.status < 500);
      if (temporary) {
        m.ariFailures = (m.ariFailures ?? 0) + 1;
        next = Math.min(ARI_LONG_TERM_MS, minMs * 2 ** Math.min(m.ariFailures - 1, 20));
      }
      const line = `${m.names.join(", ")}: no renewal information (${(e as Error).message}); checking again in ${
        Math.round(Math.max(minMs, Math.min(DAY, next)) / 1000)
      } s`;
      if (temporary) log.debug(line);
      else log.warn(line);
    }
    m.ariNextCheck = Date.now() + Math.max(minMs, Math.min(DAY, next));
  }
}

/**
 * RFC 8737 §3: a self-signed certificate for the name with the critical id-pe-acmeIdentifier
 * extension holding SHA-256 of the key authorization. (acme-client's createAlpnCertificate marks
 * its key for certificate signing only, which BoringSSL (Bun) refuses to handshake with.)
 */
async function alpnCertificate(name: string, keyAuthorization: string): Promise<{ certPem: string; keyPem: string }> {
  const digest = createHash("sha256").update(keyAuthorization).digest();
  const acmeIdentifier = new x509.Extension("1.3.6.1.5.5.7.1.31", true, new Uint8Array([0x04, 0x20, ...digest]));
  return await generateSelfSigned({ hostnames: [name], keyType: "EC", days: 1, extensions: [acmeIdentifier] });
}

/** What to do when the CA refused to register the account and External Account Binding is the likely cause. */
function eabHint(c: AcmeConfig, problem: string | undefined): string {
  if (problem?.endsWith(":externalAccountRequired")) {
    return " — this CA requires External Account Binding: set eabKeyId and eabHmacKey from the CA's account page";
  }
  if (c.eabKeyId && (problem?.endsWith(":unauthorized") || problem?.endsWith(":malformed"))) {
    return ` — the CA refused the External Account Binding: check that eabKeyId (${c.eabKeyId}) and eabHmacKey are the pair the CA gave (the HMAC key as given, base64url)`;
  }
  return "";
}

/** ariCertId, or undefined for a certificate without an authority key identifier. */
function certIdOrUndefined(leaf: X509Certificate): string | undefined {
  try {
    return ariCertId(leaf);
  } catch {
    return undefined;
  }
}

/** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial DER bytes). */
export function ariCertId(leaf: X509Certificate): string {
  const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  if (!aki) throw new Error("the certificate has no authority key identifier");
  const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  let serial = Buffer.from(leaf.serialNumber, "hex");
  if (serial[0]! & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]);
  return `${b64u(Buffer.from(aki, "hex"))}.${b64u(serial)}`;
}

/** Two thirds of the lifetime, less up to 1/30 of it (at most an hour) of jitter; or a random moment in the ARI window. */
export function renewalTime(mat: Material, ari?: { start: number; end: number }): number {
  if (ari && ari.end > ari.start) return ari.start + Math.random() * (ari.end - ari.start);
  const nb = mat.chain[0]!.notBefore.getTime();
  const na = mat.chain[0]!.notAfter.getTime();
  const life = na - nb;
  return nb + (life * 2) / 3 - Math.random() * Math.min(life / 30, 3_600_000);
}

function retryAfterMs(v: string): number | undefined {
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function parseMaterial(certPem: string, keyPem: string, temporary: boolean): Material {
  const blocks = certPem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error("no certificate in the PEM text");
  const chain = blocks.map((b) => new x509.X509Certificate(b));
  const pub = createPublicKey(keyPem).export({ type: "spki", format: "der" });
  if (!Buffer.from(chain[0]!.publicKey.rawData).equals(Buffer.from(pub))) {
    throw new Error("the key does not belong to the certificate");
  }
  return { certPem: blocks.join("\n") + "\n", keyPem, chain, temporary };
}

async function temporary(m: ManagedCert): Promise<Material> {
  const { keyPem, certPem } = await generateSelfSigned({
    hostnames: m.names,
    keyType: m.config.keyType.startsWith("RSA") ? "RSA" : "EC",
    days: 7,
  });
  return parseMaterial(certPem, keyPem, true);
}

const trusted = new Set<string>();
/** The directory's HTTPS is checked against the system roots plus directoryTrustFile. */
async function trust(acme: AcmeLib, file: string | undefined): Promise<void> {
  if (!file || trusted.has(file)) return;
  trusted.add(file);
  const extra: string[] = [];
  for (const f of trusted) extra.push(await readFile(f, "utf8"));
  // Imported here: reading node:tls's root certificates costs start-up time a server without ACME never needs.
  const [{ Agent }, { rootCertificates }] = await Promise.all([import("node:https"), import("node:tls")]);
  acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, ...extra], keepAlive: false });
}

interface DnsHook {
  present(name: string, value: string): Promise<void> | void;
  cleanup?(name: string, value: string): Promise<void> | void;
}

async function loadHook(file: string): Promise<DnsHook> {
  const mod = await import(pathToFileURL(file).href);
  const hook = (mod.default && typeof mod.default.present === "function" ? mod.default : mod) as DnsHook;
  if (typeof hook.present !== "function") {
    throw new BobcatError("acme.dnsHook", `the dnsHook ${file} exports no present(name, value) function`, {
      where: { attribute: "dnsHook" },
      fix: "export async function present(name, value) and cleanup(name, value) that set and remove the TXT record",
    });
  }
  return hook;
}

export function fingerprint(c: X509Certificate): string {
  return createHash("sha256").update(new Uint8Array(c.rawData)).digest("hex");
}
