/** OCSP for bobcat: request/response codec with signature checks, client-certificate checks, server stapling. */
export { ocspUrlOf } from "./aia.ts";
export {
  OcspChecker,
  type OcspCheckerOptions,
  type OcspCheckResult,
  type OcspCheckStatus,
  type OcspLog,
} from "./checker.ts";
export { OcspError, type OcspErrorCode } from "./errors.ts";
export { queryOcsp, type QueryOptions } from "./http.ts";
export { buildOcspRequest, type OcspRequestOptions } from "./request.ts";
export { type CertStatus, type OcspParseOptions, type OcspResponseInfo, parseOcspResponse } from "./response.ts";
export { OcspStapler, type OcspStaplerOptions } from "./stapler.ts";
