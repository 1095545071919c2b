/** OCSPRequest (RFC 6960 §4.1): one certificate per request, unsigned, optionally with a nonce (RFC 8954). */
import type { X509Certificate } from "@peculiar/x509";
import { randomBytes } from "../keystore/bytes.ts";
import * as der from "../keystore/der.ts";
import { certIdOf, encodeCertId } from "./certid.ts";
import { OcspError } from "./errors.ts";

export const OID_NONCE = "1.3.6.1.5.5.7.48.1.2";

export interface OcspRequestOptions {
  /** Add a 32-byte random nonce; the response must then echo it (replay protection). */
  nonce?: boolean;
}

export function buildOcspRequest(
  cert: X509Certificate,
  issuer: X509Certificate,
  opts: OcspRequestOptions = {},
): Uint8Array {
  const request = der.encSeq(encodeCertId(certIdOf(cert, issuer, "sha1")));
  const parts = [der.encSeq(request)];
  if (opts.nonce) {
    // RFC 8954 §2.1: the extension value is an OCTET STRING holding the nonce OCTET STRING.
    const ext = der.encSeq(der.encOid(OID_NONCE), der.encOctets(der.encOctets(randomBytes(32))));
    parts.push(der.encExplicit(2, der.encSeq(ext)));
  }
  return der.encSeq(der.encSeq(...parts));
}

/** The nonce extension value (extnValue octets) of a request, or undefined when it has none. */
export function requestNonce(requestDer: Uint8Array): Uint8Array | undefined {
  try {
    const [tbs] = der.seq(der.parse(requestDer), "OCSPRequest", 1);
    const exts = der.context(der.seq(tbs, "TBSRequest", 1), 2);
    if (!exts) return undefined;
    for (const ext of der.seq(exts.children[0], "requestExtensions")) {
      const f = der.seq(ext, "extension", 2);
      if (der.oidOf(f[0], "extension id") === OID_NONCE) return der.octets(f[f.length - 1], "nonce");
    }
    return undefined;
  } catch (e) {
    throw new OcspError(
      "ocsp.malformed",
      `the OCSP request given to check the nonce is not valid DER (${(e as Error).message})`,
      { cause: e },
    );
  }
}
