/**
 * Every certificate a server serves, whatever its source (PEM files, keystore, ACME): the rows
 * of the manager app's certificate list and of `bobcat check`, and the daily warning for
 * certificates close to expiry.
 */
import type { LoadedCertificate } from "../tls/certificate.ts";
import { CertificateInfo } from "../tls/keystore/cert-info.ts";
import { logger } from "../util/log.ts";
import type { AcmeService } from "./service.ts";
import type { SSLHostConfig } from "../config/model.ts";
import { backgroundInterval, type BackgroundTimer } from "../util/background-timer.ts";

export interface CertificateRow {
  connector: string;
  hostName: string;
  source: "file" | "keystore" | "acme" | "acme (temporary)";
  detail: string;
  names: string[];
  issuer: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  nextRenewal?: string;
  /** The CA's suggested renewal window for this certificate (ACME Renewal Information, RFC 9773). */
  renewalWindow?: { start: string; end: string; explanationURL?: string; checkedAt: string };
  lastError?: string;
}

export interface ServedHost {
  connector: string;
  config: SSLHostConfig;
  certs: LoadedCertificate[];
}

export function certificateRows(hosts: ServedHost[], acme?: AcmeService): CertificateRow[] {
  const rows: CertificateRow[] = [];
  for (const h of hosts) {
    const m = h.config.acme ? acme?.managedFor(h.config) : undefined;
    const ari = m?.ari && m.current && !m.current.temporary ? m.ari : undefined;
    for (const c of h.certs) {
      const leaf = c.chain[0]!;
      const info = leaf instanceof CertificateInfo ? leaf : new CertificateInfo(new Uint8Array(leaf.rawData));
      const sans = info.subjectAltNames;
      rows.push({
        connector: h.connector,
        hostName: h.config.hostName,
        source: m
          ? (m.current?.temporary ? "acme (temporary)" : "acme")
          : /keystore/i.test(c.source)
          ? "keystore"
          : "file",
        detail: c.source,
        names: sans.length ? sans : [leaf.subject],
        issuer: leaf.issuer,
        notBefore: leaf.notBefore.toISOString(),
        notAfter: leaf.notAfter.toISOString(),
        daysLeft: Math.floor((leaf.notAfter.getTime() - Date.now()) / 86_400_000 * 10) / 10,
        nextRenewal: m ? new Date(m.nextAttempt || Date.now()).toISOString() : undefined,
        renewalWindow: ari
          ? {
            start: new Date(ari.start).toISOString(),
            end: new Date(ari.end).toISOString(),
            ...(ari.explanationURL ? { explanationURL: ari.explanationURL } : {}),
            checkedAt: new Date(ari.checkedAt).toISOString(),
          }
          : undefined,
        lastError: m?.state.lastError,
      });
    }
  }
  return rows;
}

/** The table `bobcat check` prints. */
export function formatRows(rows: CertificateRow[]): string {
  const head = [
    "connector",
    "host",
    "source",
    "names",
    "issuer",
    "not after",
    "days left",
    "next renewal",
    "renewal window (ARI)",
    "last error",
  ];
  const body = rows.map((r) => [
    r.connector,
    r.hostName,
    r.source,
    r.names.join(","),
    r.issuer,
    r.notAfter,
    String(r.daysLeft),
    r.nextRenewal ?? "-",
    r.renewalWindow ? `${r.renewalWindow.start}/${r.renewalWindow.end}` : "-",
    r.lastError ?? "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

const WARN_DAYS = 7;

/**
 * Once a day per certificate: a warning for one within 7 days of expiry (for short-lived ACME
 * certificates, within the last third of their life, when their renewal is overdue).
 */
export class ExpiryWarner {
  private readonly warned = new Map<string, number>();
  private timer?: BackgroundTimer;
  private readonly log = logger("tls");

  constructor(private readonly rows: () => CertificateRow[]) {}

  start(): void {
    this.check();
    this.timer = backgroundInterval(() => this.check(), 3_600_000);
  }

  check(now = Date.now()): void {
    for (const r of this.rows()) {
      if (r.source === "acme (temporary)") continue;
      const na = Date.parse(r.notAfter);
      const life = na - Date.parse(r.notBefore);
      const threshold = Math.min(WARN_DAYS * 86_400_000, life / 3);
      if (na - now > threshold) continue;
      const key = `${r.connector}|${r.hostName}|${r.notAfter}`;
      if ((this.warned.get(key) ?? 0) > now - 86_400_000) continue;
      this.warned.set(key, now);
      this.log.warn(
        `${r.connector} SSLHostConfig "${r.hostName}": the certificate for ${r.names.join(", ")} (${r.source}) ${
          na < now ? "has expired" : "expires"
        } ${r.notAfter} (${r.daysLeft} days left)${
          r.source === "acme"
            ? `; ACME renewal ${r.lastError ? `keeps failing: ${r.lastError}` : "is overdue"}`
            : "; replace it and reload (SIGHUP or the manager's reload)"
        }`,
      );
    }
  }

  stop(): void {
    this.timer?.cancel();
  }
}
