/**
 * OCSP stapling material for a server certificate: fetches a response from the responder the
 * certificate names, validates it, and keeps it until nextUpdate. It refreshes ahead of
 * nextUpdate in the background; when the responder fails it keeps stapling the last response
 * while that is still valid, and staples nothing once it has expired. It knows nothing of TLS
 * servers: the runtime adapter hands `current()` to Node's `OCSPRequest` event.
 */
import type { X509Certificate } from "@peculiar/x509";
import type { CertSummary } from "../keystore/cert-info.ts";
import { x509 } from "../keystore/x509.ts";
import { logger } from "../../util/log.ts";
import { ocspUrlOf } from "./aia.ts";
import type { OcspLog } from "./checker.ts";
import { OcspError } from "./errors.ts";
import { DEFAULT_TIMEOUT_MS, queryOcsp } from "./http.ts";
import { buildOcspRequest } from "./request.ts";
import { DEFAULT_MAX_AGE_MS, describeCert, type OcspResponseInfo, parseOcspResponse } from "./response.ts";

export interface OcspStaplerOptions {
  /** Refresh this long before nextUpdate (default: half-way between thisUpdate and nextUpdate). */
  refreshMarginMs?: number;
  /** Wait after a failed fetch before trying again (default 60 s). */
  retryMs?: number;
  /** Deadline per responder exchange (default 15000 ms). */
  timeoutMs?: number;
  /** Ask this responder instead of the one in the certificate. */
  responderUrl?: string;
  /** How long a response without nextUpdate is stapled (default 1 hour). */
  defaultValidityMs?: number;
  clockSkewMs?: number;
  /** Clock, for tests (default Date.now). */
  now?: () => number;
  log?: OcspLog & { info(msg: string): void };
}

/** Never schedule sooner than this, so a response that is about to expire cannot cause a busy loop. */
const MIN_DELAY_MS = 1_000;

interface Staple {
  der: Uint8Array;
  info: OcspResponseInfo;
  validUntil: number;
}

export class OcspStapler {
  /** The responder asked. */
  readonly url: string;
  private staple: Staple | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending: Promise<boolean> | undefined;
  private stopped = false;
  private refreshAt: number | null = null;
  private readonly now: () => number;
  private readonly log: OcspLog & { info(msg: string): void };

  readonly leaf: X509Certificate;
  readonly issuer: X509Certificate;

  /** Certificates as loaded (CertificateInfo from files) are parsed here with @peculiar/x509. */
  constructor(
    leaf: CertSummary,
    issuer: CertSummary,
    private readonly opts: OcspStaplerOptions = {},
  ) {
    this.leaf = leaf instanceof x509.X509Certificate ? leaf : new x509.X509Certificate(leaf.rawData);
    this.issuer = issuer instanceof x509.X509Certificate ? issuer : new x509.X509Certificate(issuer.rawData);
    const url = opts.responderUrl ?? ocspUrlOf(leaf);
    if (!url) {
      throw new OcspError(
        "ocsp.noResponderUrl",
        `${
          describeCert(this.leaf)
        } names no OCSP responder (no authorityInfoAccess OCSP URI), so there is nothing to staple`,
        {
          fix: "issue the certificate with authorityInfoAccess = OCSP;URI:http://..., or turn ocspStapling off",
        },
      );
    }
    this.url = url;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? logger("tls");
  }

  /** Fetches the first response and starts the background refresh. Resolves true when there is a response to staple. */
  async start(): Promise<boolean> {
    this.stopped = false;
    return await this.refresh();
  }

  /** The DER OCSPResponse to staple now, or null when there is no valid one. */
  current(): Uint8Array | null {
    if (this.staple && this.now() >= this.staple.validUntil) {
      this.log.warn(
        `OCSP staple for ${describeCert(this.leaf)} expired at ${
          new Date(this.staple.validUntil).toISOString()
        } and was not renewed; stapling nothing`,
      );
      this.staple = null;
    }
    return this.staple?.der ?? null;
  }

  /** The validated response behind `current()`, if any. */
  get response(): OcspResponseInfo | null {
    return this.current() ? this.staple!.info : null;
  }

  /** When the next background fetch is due (ms since the epoch), or null when none is scheduled. */
  get nextRefreshAt(): number | null {
    return this.refreshAt;
  }

  /** Fetches now (sharing a fetch already under way). Resolves true when a fresh response was obtained. */
  refresh(): Promise<boolean> {
    this.pending ??= this.fetch().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** Cancels the background refresh; `current()` keeps answering from what was fetched. */
  stop(): void {
    this.stopped = true;
    this.schedule(null);
  }

  private async fetch(): Promise<boolean> {
    const who = `${describeCert(this.leaf)} from ${this.url}`;
    try {
      const request = buildOcspRequest(this.leaf, this.issuer);
      const der = await queryOcsp(this.url, request, { timeoutMs: this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
      const info = await parseOcspResponse(der, {
        cert: this.leaf,
        issuer: this.issuer,
        now: this.now(),
        request,
        clockSkewMs: this.opts.clockSkewMs,
        maxAgeMs: this.opts.defaultValidityMs,
      });
      if (info.status === "unknown") {
        return this.failed(
          who,
          "the responder does not know this certificate (status unknown); check that it serves the CA that issued it",
        );
      }
      const validUntil = info.nextUpdate?.getTime() ??
        info.thisUpdate.getTime() + (this.opts.defaultValidityMs ?? DEFAULT_MAX_AGE_MS);
      this.staple = { der, info, validUntil };
      const margin = this.opts.refreshMarginMs ?? (validUntil - info.thisUpdate.getTime()) / 2;
      this.schedule(validUntil - margin);
      const line = `OCSP staple for ${who}: ${info.status}, valid until ${
        new Date(validUntil).toISOString()
      }, next refresh ${this.refreshAt ? new Date(this.refreshAt).toISOString() : "not scheduled"}`;
      if (info.status === "revoked") {
        this.log.warn(`${line} — the server certificate is REVOKED; clients will refuse it`);
      } else this.log.info(line);
      return true;
    } catch (e) {
      return this.failed(who, e instanceof Error ? e.message : String(e));
    }
  }

  private failed(who: string, msg: string): false {
    const kept = this.current()
      ? `still stapling the response valid until ${new Date(this.staple!.validUntil).toISOString()}`
      : "nothing to staple";
    this.schedule(this.now() + (this.opts.retryMs ?? 60_000));
    this.log.warn(
      `OCSP staple fetch for ${who} failed: ${msg}; ${kept}; retrying at ${
        this.refreshAt ? new Date(this.refreshAt).toISOString() : "never (stopped)"
      }`,
    );
    return false;
  }

  private schedule(at: number | null): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.refreshAt = null;
    if (at === null || this.stopped) return;
    const delay = Math.max(at - this.now(), MIN_DELAY_MS);
    this.refreshAt = this.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, delay);
    this.timer.unref();
  }
}
