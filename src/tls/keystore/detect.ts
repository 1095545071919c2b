/** Keystore type from the file's first bytes, so a mislabelled store still opens (Java 9+ "dual format" does the same for JKS/PKCS12). */
import { JCEKS_MAGIC, JKS_MAGIC } from "./jks.ts";
import { looksLikePem } from "./pem.ts";

export type DetectedType = "JKS" | "JCEKS" | "PKCS12" | "PEM" | "unknown";

export function detectStoreType(bytes: Uint8Array): DetectedType {
  if (bytes.length >= 4) {
    const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
    if (magic === JKS_MAGIC) return "JKS";
    if (magic === JCEKS_MAGIC) return "JCEKS";
  }
  // A PFX is a DER SEQUENCE whose first element is INTEGER 3.
  if (bytes[0] === 0x30 && bytes.length > 8) {
    const lenBytes = bytes[1] & 0x80 ? 1 + (bytes[1] & 0x7f) : 1;
    const at = 1 + lenBytes;
    if (bytes[at] === 0x02 && bytes[at + 1] === 0x01 && bytes[at + 2] === 0x03) return "PKCS12";
  }
  if (looksLikePem(bytes)) return "PEM";
  return "unknown";
}
