/** The OCSP responder a certificate names in authorityInfoAccess (`OCSP;URI:...` in openssl.cnf). */
import type { X509Certificate } from "@peculiar/x509";
import { x509 } from "../keystore/x509.ts";

/** The first http(s) OCSP URI in the certificate's authorityInfoAccess, or undefined. */
export function ocspUrlOf(cert: X509Certificate): string | undefined {
  const aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
  return aia?.ocsp.find((n) => n.type === "url" && /^https?:\/\//i.test(n.value))?.value;
}
