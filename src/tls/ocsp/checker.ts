/**
 * OCSP checks of client certificate chains, Tomcat's `ocspEnabled` with `ocspSoftFail`:
 * every certificate that has its issuer in the chain is asked about at the responder its
 * authorityInfoAccess names. Revoked and unknown are refused, and so is any response that fails
 * validation. When the status cannot be learnt (no responder URL, unreachable, timeout, HTTP
 * error, tryLater, internalError) soft-fail decides, as Java's PKIXRevocationChecker SOFT_FAIL.
 */
import type { X509Certificate } from "@peculiar/x509";
import { isSelfIssued } from "../keystore/certs.ts";
import { logger } from "../../util/log.ts";
import { ocspUrlOf } from "./aia.ts";
import { certIdKey, certIdOf } from "./certid.ts";
import { OcspError } from "./errors.ts";
import { DEFAULT_TIMEOUT_MS, queryOcsp } from "./http.ts";
import { buildOcspRequest } from "./request.ts";
import { describeCert, type OcspResponseInfo, parseOcspResponse } from "./response.ts";

export interface OcspLog {
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface OcspCheckerOptions {
  /** Tomcat's ocspSoftFail: allow (with a warning) when the status cannot be obtained. Default true. */
  softFail?: boolean;
  /** Deadline per responder exchange (Tomcat's ocspTimeout, default 15000 ms). */
  timeoutMs?: number;
  /** Send a nonce and require it echoed. Off by default: responders with pre-produced responses ignore nonces. */
  nonce?: boolean;
  /** Ask this responder instead of the one in each certificate (Java's ocsp.responderURL). */
  responderUrl?: string;
  /** Check only the leaf, not intermediate CA certificates (Java's ONLY_END_ENTITY). */
  onlyEndEntity?: boolean;
  /** How long a response without nextUpdate is reused (default 5 minutes). */
  defaultCacheMs?: number;
  /** Cached statuses kept at most (default 10000; the oldest goes first). */
  maxCacheEntries?: number;
  clockSkewMs?: number;
  /** Clock, for tests (default Date.now). */
  now?: () => number;
  log?: OcspLog;
}

export type OcspCheckStatus = "good" | "revoked" | "unknown" | "unavailable" | "invalid";

export interface OcspCheckResult {
  /** Whether the chain may be accepted. */
  ok: boolean;
  /**
   * good: every checked certificate is good. revoked / unknown: as the responder said.
   * unavailable: no status could be obtained (ok = softFail). invalid: a response failed validation.
   */
  status: OcspCheckStatus;
  /** One line for logs and error pages. */
  reason: string;
  /** The certificate the verdict is about, when not good. */
  certificate?: X509Certificate;
  revocationTime?: Date;
  error?: OcspError;
}

interface CacheEntry {
  info: OcspResponseInfo;
  expiresAt: number;
}

export class OcspChecker {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<OcspResponseInfo>>();
  private readonly opts:
    & Required<
      Pick<
        OcspCheckerOptions,
        "softFail" | "timeoutMs" | "nonce" | "onlyEndEntity" | "defaultCacheMs" | "maxCacheEntries"
      >
    >
    & OcspCheckerOptions;
  private readonly now: () => number;
  private readonly log: OcspLog;

  constructor(opts: OcspCheckerOptions = {}) {
    this.opts = {
      softFail: true,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      nonce: false,
      onlyEndEntity: false,
      defaultCacheMs: 5 * 60_000,
      maxCacheEntries: 10_000,
      ...opts,
    };
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? logger("tls");
  }

  /** Checks `chain` (leaf first, each certificate followed by its issuer). */
  async check(chain: X509Certificate[]): Promise<OcspCheckResult> {
    if (chain.length < 2 || isSelfIssued(chain[0])) {
      const why = chain.length === 0
        ? "no certificate to check"
        : isSelfIssued(chain[0])
        ? `${describeCert(chain[0])} is self-signed: there is no CA whose OCSP responder could vouch for it`
        : `the chain has no issuer for ${describeCert(chain[0])}, so its OCSP status cannot be asked`;
      const error = new OcspError("ocsp.noIssuer", why, {
        fix: "pass the verified chain (getPeerCertificate(true)), leaf first, with the issuing CA",
      });
      return {
        ok: false,
        status: "invalid",
        reason: error.message,
        error,
        ...(chain[0] ? { certificate: chain[0] } : {}),
      };
    }
    const last = this.opts.onlyEndEntity ? 1 : chain.length - 1;
    let unavailable: OcspCheckResult | undefined;
    let checked = 0;
    for (let i = 0; i < last && !isSelfIssued(chain[i]); i++, checked++) {
      const [cert, issuer] = [chain[i], chain[i + 1]];
      let info: OcspResponseInfo;
      try {
        info = await this.statusOf(cert, issuer);
      } catch (e) {
        const error = e instanceof OcspError
          ? e
          : new OcspError("ocsp.malformed", `OCSP check failed: ${(e as Error).message}`, { cause: e });
        const reason = `OCSP status of ${describeCert(cert)} unavailable: ${error.message}`;
        if (!error.transient) return { ok: false, status: "invalid", reason, certificate: cert, error };
        // Keep going: a later certificate in the chain may still be known to be revoked.
        unavailable ??= { ok: this.opts.softFail, status: "unavailable", reason, certificate: cert, error };
        continue;
      }
      if (info.status === "revoked") {
        const why = info.reason ? ` (${info.reason})` : "";
        return {
          ok: false,
          status: "revoked",
          reason: `${describeCert(cert)} was revoked at ${info.revocationTime?.toISOString()}${why}`,
          certificate: cert,
          revocationTime: info.revocationTime,
        };
      }
      if (info.status === "unknown") {
        return {
          ok: false,
          status: "unknown",
          reason: `the OCSP responder does not know ${describeCert(cert)}`,
          certificate: cert,
        };
      }
    }
    if (unavailable) {
      if (unavailable.ok) this.log.warn(`${unavailable.reason}; allowed because ocspSoftFail is true`);
      else this.log.debug(`${unavailable.reason}; refused because ocspSoftFail is false`);
      return unavailable;
    }
    return { ok: true, status: "good", reason: `OCSP status good for ${checked} certificate(s)` };
  }

  /** Drops every cached status (after a CA revokes something and tests want it seen at once). */
  clearCache(): void {
    this.cache.clear();
  }

  private async statusOf(cert: X509Certificate, issuer: X509Certificate): Promise<OcspResponseInfo> {
    const key = certIdKey(certIdOf(cert, issuer));
    const hit = this.cache.get(key);
    if (hit && this.now() < hit.expiresAt) return hit.info;
    if (hit) this.cache.delete(key);
    // Concurrent handshakes by the same client share one request to the responder.
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetchStatus(cert, issuer, key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return await pending;
  }

  private async fetchStatus(cert: X509Certificate, issuer: X509Certificate, key: string): Promise<OcspResponseInfo> {
    const url = this.opts.responderUrl ?? ocspUrlOf(cert);
    if (!url) {
      throw new OcspError(
        "ocsp.noResponderUrl",
        `${describeCert(cert)} names no OCSP responder (no authorityInfoAccess OCSP URI)`,
        {
          fix: "issue certificates with authorityInfoAccess = OCSP;URI:http://..., or set the responder URL explicitly",
        },
      );
    }
    const request = buildOcspRequest(cert, issuer, { nonce: this.opts.nonce });
    const der = await queryOcsp(url, request, { timeoutMs: this.opts.timeoutMs });
    const info = await parseOcspResponse(der, {
      cert,
      issuer,
      now: this.now(),
      request,
      clockSkewMs: this.opts.clockSkewMs,
    });
    const expiresAt = info.nextUpdate?.getTime() ?? this.now() + this.opts.defaultCacheMs;
    if (this.cache.size >= this.opts.maxCacheEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { info, expiresAt });
    this.log.debug(
      `OCSP ${info.status} for ${describeCert(cert)} from ${url}, cached until ${new Date(expiresAt).toISOString()}`,
    );
    return info;
  }
}
