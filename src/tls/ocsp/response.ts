/**
 * OCSPResponse parsing and validation (RFC 6960 §3.2, §4.2): the response must be signed by the
 * certificate's issuer or by a responder certificate the issuer signed for id-kp-OCSPSigning,
 * must be about this certificate, must be current, and must echo the request's nonce.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  OCSPResponse,
  OCSPResponseStatus,
  ResponseData,
  type SingleResponse,
} from "@peculiar/asn1-ocsp";
import type { X509Certificate } from "@peculiar/x509";
import { equal, toArrayBuffer } from "../keystore/bytes.ts";
import { namedIssuer, parseCertificate, sameCert, signedBy, spkiOf } from "../keystore/certs.ts";
import * as der from "../keystore/der.ts";
import { x509 } from "../keystore/x509.ts";
import { certIdOf, digest, HASH_OIDS, publicKeyBits, sameCertId, serialHex, serialOf, subjectDer } from "./certid.ts";
import { OcspError } from "./errors.ts";
import { OID_NONCE, requestNonce } from "./request.ts";
import { verifySignature } from "./signature.ts";

export type CertStatus = "good" | "revoked" | "unknown";

export interface OcspResponseInfo {
  status: CertStatus;
  /** Set when revoked. */
  revocationTime?: Date;
  /** CRL reason name (`keyCompromise`, `superseded`, ...) when the responder gave one. */
  reason?: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  producedAt: Date;
  /** Always "successful": other statuses are thrown as OcspError with `responseStatus` set. */
  responseStatus: "successful";
  /** Who signed: the issuer itself, or a delegated OCSP responder certificate. */
  signer: { kind: "issuer" | "delegated"; subject: string };
}

export interface OcspParseOptions {
  cert: X509Certificate;
  issuer: X509Certificate;
  /** The time to judge freshness against (default: now). */
  now?: Date | number;
  /** The request that was sent: when it carried a nonce, the response must echo it. */
  request?: Uint8Array;
  /** Tolerated clock difference for thisUpdate/nextUpdate (default 5 minutes, as OpenSSL's OCSP_check_validity). */
  clockSkewMs?: number;
  /** When the response has no nextUpdate, the oldest thisUpdate accepted (default 1 hour). */
  maxAgeMs?: number;
}

const DEFAULT_CLOCK_SKEW_MS = 5 * 60_000;
export const DEFAULT_MAX_AGE_MS = 60 * 60_000;

const STATUS_ERRORS: Record<
  number,
  {
    code: "ocsp.malformedRequest" | "ocsp.internalError" | "ocsp.tryLater" | "ocsp.sigRequired" | "ocsp.unauthorized";
    name: string;
    fix?: string;
  }
> = {
  [OCSPResponseStatus.malformedRequest]: {
    code: "ocsp.malformedRequest",
    name: "malformedRequest",
    fix: "the responder could not read the request; check that it is an OCSP responder",
  },
  [OCSPResponseStatus.internalError]: { code: "ocsp.internalError", name: "internalError" },
  [OCSPResponseStatus.tryLater]: { code: "ocsp.tryLater", name: "tryLater" },
  [OCSPResponseStatus.sigRequired]: {
    code: "ocsp.sigRequired",
    name: "sigRequired",
    fix: "this responder only answers signed requests, which bobcat does not send",
  },
  [OCSPResponseStatus.unauthorized]: {
    code: "ocsp.unauthorized",
    name: "unauthorized",
    fix: "the responder does not serve this CA; check the certificate's OCSP URL",
  },
};

const REASONS: Record<number, string> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "cACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  8: "removeFromCRL",
  9: "privilegeWithdrawn",
  10: "aACompromise",
};

const malformed = (what: string, cause?: unknown) =>
  new OcspError("ocsp.malformed", `the OCSP response is malformed: ${what}`, {
    cause,
    fix: "check that the URL points to an OCSP responder",
  });

/** A certificate as messages name it: subject and serial. */
export const describeCert = (c: X509Certificate) => `[${c.subject}] (serial ${serialHex(serialOf(c))})`;

/** The raw pieces of a BasicOCSPResponse the signature check needs, exactly as they were encoded. */
interface BasicParts {
  tbs: Uint8Array;
  algorithm: Uint8Array;
  signature: Uint8Array;
  responderByName?: Uint8Array;
  responderByKey?: Uint8Array;
  certs: Uint8Array[];
}

function basicParts(basic: Uint8Array): BasicParts {
  const [tbs, algorithm, signature, certs] = der.seq(der.parse(basic), "BasicOCSPResponse", 3);
  const tbsFields = der.seq(tbs, "ResponseData", 3);
  const rid = tbsFields[0].tag === 0xa0 ? tbsFields[1] : tbsFields[0];
  const parts: BasicParts = {
    tbs: tbs.raw,
    algorithm: algorithm.raw,
    signature: der.bitString(signature, "signature"),
    certs: certs && certs.tag === 0xa0 ? der.seq(certs.children[0], "certs").map((c) => c.raw) : [],
  };
  if (rid.tag === 0xa1) parts.responderByName = der.expect(rid.children[0], der.Tag.SEQUENCE, "responderID byName").raw;
  else if (rid.tag === 0xa2) parts.responderByKey = der.octets(rid.children[0], "responderID byKey");
  else throw new der.Asn1Error("responderID is neither byName nor byKey");
  return parts;
}

function isResponder(cert: X509Certificate, parts: BasicParts): boolean {
  if (parts.responderByKey) return equal(digest("sha1", publicKeyBits(cert)), parts.responderByKey);
  const byName = parts.responderByName!;
  return equal(subjectDer(cert), byName) || new x509.Name(toArrayBuffer(byName)).toString() === cert.subject;
}

/** Picks the signer the ResponderID names and checks it may speak for `issuer` (RFC 6960 §4.2.2.2). */
async function authorizedSigner(
  parts: BasicParts,
  issuer: X509Certificate,
  now: number,
  skew: number,
): Promise<{ cert: X509Certificate; kind: "issuer" | "delegated" }> {
  if (isResponder(issuer, parts)) return { cert: issuer, kind: "issuer" };
  const included = parts.certs.map((raw, i) => {
    try {
      return parseCertificate(raw, `certificate #${i + 1} in the OCSP response`);
    } catch (e) {
      throw malformed((e as Error).message, e);
    }
  });
  const candidate = included.find((c) => isResponder(c, parts));
  if (!candidate) {
    const who = parts.responderByName
      ? `[${new x509.Name(toArrayBuffer(parts.responderByName)).toString()}]`
      : "a key hash";
    throw new OcspError(
      "ocsp.responderNotFound",
      `the OCSP response names responder ${who}, which is neither the issuer [${issuer.subject}] nor a certificate included in the response`,
      {
        fix:
          "configure the responder to sign with the CA key or with a delegated OCSP signing certificate, and to include that certificate (openssl ocsp does unless -resp_no_certs)",
      },
    );
  }
  if (sameCert(candidate, issuer)) return { cert: issuer, kind: "issuer" };
  const notAuthorized = (why: string) =>
    new OcspError(
      "ocsp.responderNotAuthorized",
      `the OCSP responder certificate [${candidate.subject}] may not answer for [${issuer.subject}]: ${why}`,
      {
        fix:
          `sign responses with the CA key, or with a certificate issued by [${issuer.subject}] whose extendedKeyUsage includes OCSPSigning`,
      },
    );
  if (!namedIssuer(candidate, issuer) || (await signedBy(candidate, issuer)) !== true) {
    throw notAuthorized("it was not issued by that CA");
  }
  const eku = candidate.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku || !eku.usages.map(String).includes(id_kp_OCSPSigning)) {
    throw notAuthorized("its extendedKeyUsage does not include OCSPSigning (1.3.6.1.5.5.7.3.9)");
  }
  if (now + skew < candidate.notBefore.getTime() || now - skew > candidate.notAfter.getTime()) {
    throw notAuthorized(
      `it is valid only from ${candidate.notBefore.toISOString()} to ${candidate.notAfter.toISOString()}`,
    );
  }
  return { cert: candidate, kind: "delegated" };
}

function statusError(status: number): OcspError {
  const known = STATUS_ERRORS[status];
  if (!known) return malformed(`unknown responseStatus ${status}`);
  return new OcspError(known.code, `the OCSP responder answered ${known.name} (${status})`, {
    responseStatus: known.name,
    fix: known.fix,
  });
}

function decode(derBytes: Uint8Array): { response: OCSPResponse; basic?: Uint8Array } {
  try {
    der.parse(derBytes); // strict outer structure: no trailing bytes, lengths in range
    const response = AsnConvert.parse(toArrayBuffer(derBytes), OCSPResponse);
    if (response.responseStatus !== OCSPResponseStatus.successful) return { response };
    if (!response.responseBytes) throw new der.Asn1Error("successful response without responseBytes");
    if (response.responseBytes.responseType !== id_pkix_ocsp_basic) {
      throw new OcspError(
        "ocsp.unsupportedResponseType",
        `the OCSP response is of type ${response.responseBytes.responseType}, not the basic type (${id_pkix_ocsp_basic})`,
      );
    }
    return { response, basic: new Uint8Array(response.responseBytes.response.buffer) };
  } catch (e) {
    if (e instanceof OcspError) throw e;
    throw malformed((e as Error).message, e);
  }
}

/**
 * Decodes and validates a DER OCSPResponse for `cert` (issued by `issuer`). Returns the
 * certificate's status; throws OcspError for a non-successful responseStatus and for any
 * response that fails a check.
 */
export async function parseOcspResponse(derBytes: Uint8Array, opts: OcspParseOptions): Promise<OcspResponseInfo> {
  const { cert, issuer } = opts;
  const now = opts.now === undefined ? Date.now() : +opts.now;
  const skew = opts.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const { response, basic } = decode(derBytes);
  if (!basic) throw statusError(response.responseStatus);

  let parts: BasicParts;
  let data: ResponseData;
  try {
    parts = basicParts(basic);
    data = AsnConvert.parse(toArrayBuffer(parts.tbs), ResponseData);
  } catch (e) {
    throw malformed((e as Error).message, e);
  }

  const signer = await authorizedSigner(parts, issuer, now, skew);
  let valid: boolean;
  try {
    valid = await verifySignature(spkiOf(signer.cert), parts.algorithm, parts.signature, parts.tbs);
  } catch (e) {
    if (e instanceof OcspError) throw e;
    throw malformed(`its signature cannot be checked (${(e as Error).message})`, e);
  }
  if (!valid) {
    throw new OcspError(
      "ocsp.badSignature",
      `the OCSP response signature does not verify with the key of [${signer.cert.subject}] (tampered with, or signed by another key)`,
      {
        fix: "the response cannot be trusted; check the responder's signing key and certificate",
      },
    );
  }

  const single = matchingResponse(data.responses, cert, issuer);
  const thisUpdate = single.thisUpdate;
  const nextUpdate = single.nextUpdate;
  if (thisUpdate.getTime() > now + skew) {
    throw new OcspError(
      "ocsp.notYetValid",
      `the OCSP response's thisUpdate ${thisUpdate.toISOString()} is in the future (now ${
        new Date(now).toISOString()
      })`,
      {
        fix: "check the clocks of this machine and of the responder",
      },
    );
  }
  if (nextUpdate) {
    if (nextUpdate < thisUpdate) {
      throw malformed(`nextUpdate ${nextUpdate.toISOString()} is before thisUpdate ${thisUpdate.toISOString()}`);
    }
    if (nextUpdate.getTime() < now - skew) {
      throw new OcspError(
        "ocsp.expired",
        `the OCSP response expired at ${nextUpdate.toISOString()} (nextUpdate; now ${new Date(now).toISOString()})`,
        {
          fix: "the responder serves stale data; check that it is updating its responses",
        },
      );
    }
  } else if (thisUpdate.getTime() < now - (opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS)) {
    throw new OcspError(
      "ocsp.tooOld",
      `the OCSP response has no nextUpdate and its thisUpdate ${thisUpdate.toISOString()} is older than ${
        opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS
      } ms`,
    );
  }

  const sentNonce = opts.request ? requestNonce(opts.request) : undefined;
  if (sentNonce) {
    const echoed = data.responseExtensions?.find((e) => e.extnID === OID_NONCE);
    if (!echoed || !equal(new Uint8Array(echoed.extnValue.buffer), sentNonce)) {
      throw new OcspError(
        "ocsp.nonceMismatch",
        echoed
          ? "the OCSP response carries a different nonce than the request (replayed or mixed up)"
          : "the OCSP request carried a nonce but the response does not echo it",
        {
          fix: echoed ? undefined : "turn the nonce off for responders that serve pre-produced responses",
        },
      );
    }
  }

  const base = {
    thisUpdate,
    nextUpdate,
    producedAt: data.producedAt,
    responseStatus: "successful" as const,
    signer: { kind: signer.kind, subject: signer.cert.subject },
  };
  const st = single.certStatus;
  if (st.revoked) {
    const reason = st.revoked.revocationReason?.reason;
    return {
      status: "revoked",
      revocationTime: st.revoked.revocationTime,
      ...(reason !== undefined ? { reason: REASONS[reason] ?? `reason ${reason}` } : {}),
      ...base,
    };
  }
  if (st.good !== undefined) return { status: "good", ...base };
  if (st.unknown !== undefined) return { status: "unknown", ...base };
  throw malformed("certStatus is none of good, revoked, unknown");
}

function matchingResponse(responses: SingleResponse[], cert: X509Certificate, issuer: X509Certificate): SingleResponse {
  for (const r of responses) {
    const hash = HASH_OIDS[r.certID.hashAlgorithm.algorithm];
    if (!hash) continue;
    const theirs = {
      hash,
      issuerNameHash: new Uint8Array(r.certID.issuerNameHash.buffer),
      issuerKeyHash: new Uint8Array(r.certID.issuerKeyHash.buffer),
      serial: new Uint8Array(r.certID.serialNumber),
    };
    if (sameCertId(certIdOf(cert, issuer, hash), theirs)) return r;
  }
  throw new OcspError(
    "ocsp.certIdMismatch",
    `the OCSP response has no status for ${
      describeCert(cert)
    } issued by [${issuer.subject}] (it answers for ${responses.length} other certificate(s))`,
    {
      fix: "check that the responder serves this CA and that the right issuer certificate was used",
    },
  );
}
