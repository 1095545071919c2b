/**
 * Every OCSP failure is an OcspError with a stable code. `transient` marks the failures that
 * Tomcat's `ocspSoftFail` (Java's PKIXRevocationChecker SOFT_FAIL) may let through: the
 * responder could not be reached or answered tryLater / internalError. A response that is wrong
 * (bad signature, wrong certificate, stale) is never transient: soft-fail must not excuse forgery.
 */
import { BobcatError } from "../../util/errors.ts";

export type OcspErrorCode =
  | "ocsp.noResponderUrl"
  | "ocsp.badUrl"
  | "ocsp.unreachable"
  | "ocsp.timeout"
  | "ocsp.http"
  | "ocsp.tooLarge"
  | "ocsp.malformed"
  | "ocsp.malformedRequest"
  | "ocsp.internalError"
  | "ocsp.tryLater"
  | "ocsp.sigRequired"
  | "ocsp.unauthorized"
  | "ocsp.unsupportedResponseType"
  | "ocsp.unsupportedAlgorithm"
  | "ocsp.responderNotFound"
  | "ocsp.responderNotAuthorized"
  | "ocsp.badSignature"
  | "ocsp.certIdMismatch"
  | "ocsp.notYetValid"
  | "ocsp.expired"
  | "ocsp.tooOld"
  | "ocsp.nonceMismatch"
  | "ocsp.noIssuer";

const TRANSIENT = new Set<OcspErrorCode>([
  "ocsp.noResponderUrl",
  "ocsp.unreachable",
  "ocsp.timeout",
  "ocsp.http",
  "ocsp.internalError",
  "ocsp.tryLater",
]);

export class OcspError extends BobcatError {
  declare readonly code: OcspErrorCode;
  /** The responder's OCSPResponseStatus name, when it answered with a non-successful one. */
  readonly responseStatus?: string;
  constructor(
    code: OcspErrorCode,
    message: string,
    opts: { fix?: string; cause?: unknown; responseStatus?: string } = {},
  ) {
    super(code, message, { fix: opts.fix, cause: opts.cause });
    this.name = "OcspError";
    this.responseStatus = opts.responseStatus;
  }

  /** True for failures soft-fail may excuse: no answer, or an answer of tryLater / internalError. */
  get transient(): boolean {
    return TRANSIENT.has(this.code);
  }
}
