/** The OCSP responder a certificate names in authorityInfoAccess (`OCSP;URI:...` in openssl.cnf). */
import { CertificateInfo, type CertSummary } from "../keystore/cert-info.ts";

/**
 * The first http(s) OCSP URI in the certificate's authorityInfoAccess, or undefined. Read from
 * the DER (any certificate object with `rawData` will do), so start-up needs no @peculiar/x509.
 */
export function ocspUrlOf(cert: CertSummary): string | undefined {
  const info = cert instanceof CertificateInfo ? cert : new CertificateInfo(new Uint8Array(cert.rawData));
  return info.ocspUrl;
}
