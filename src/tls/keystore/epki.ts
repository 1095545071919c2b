/**
 * EncryptedPrivateKeyInfo in every flavour a keystore holds: Sun KeyProtector (JKS), PBES2 and
 * the PKCS#12 PBE schemes (PKCS#12 shrouded key bags, `ENCRYPTED PRIVATE KEY` PEM).
 */
import { PaddingError } from "./ciphers.ts";
import * as der from "./der.ts";
import { KeyProtectorError, protect, recover } from "./keyprotector.ts";
import { OID } from "./oids.ts";
import * as pbe from "./pbe.ts";

export class WrongPasswordError extends Error {
  override name = "WrongPasswordError";
}

export function epkiAlgorithm(epki: Uint8Array): string {
  const [alg] = der.seq(der.parse(epki), "EncryptedPrivateKeyInfo", 2);
  return der.oidOf(der.seq(alg, "key encryption algorithm", 1)[0], "key encryption algorithm");
}

/** Returns the PKCS#8 DER, or throws WrongPasswordError / UnsupportedAlgorithmError / Asn1Error. */
export function decryptPrivateKeyInfo(epki: Uint8Array, password: string): Uint8Array {
  const [alg, data] = der.seq(der.parse(epki), "EncryptedPrivateKeyInfo", 2);
  const encrypted = der.octets(data, "encrypted key");
  const oid = der.oidOf(der.seq(alg, "key encryption algorithm", 1)[0], "key encryption algorithm");
  let plain: Uint8Array;
  try {
    plain = oid === OID.sunKeyProtector ? recover(encrypted, password) : pbe.decrypt(alg, encrypted, password);
  } catch (e) {
    if (e instanceof PaddingError || e instanceof KeyProtectorError) throw new WrongPasswordError("Cannot recover key");
    throw e;
  }
  // A wrong password can still end in valid-looking padding (1 in 256); the structure cannot.
  try {
    der.seq(der.parse(plain), "PKCS#8 private key", 3);
  } catch {
    throw new WrongPasswordError("Cannot recover key");
  }
  return plain;
}

/** `"jks"` protects with Sun's KeyProtector, anything else with PBES2 or a PKCS#12 scheme. */
export function encryptPrivateKeyInfo(
  pkcs8: Uint8Array,
  password: string,
  how: "jks" | pbe.EncryptOptions,
): Uint8Array {
  if (how === "jks") return der.encSeq(der.encAlg(OID.sunKeyProtector, null), der.encOctets(protect(pkcs8, password)));
  const { algId, ciphertext } = pbe.encrypt(pkcs8, password, how);
  return der.encSeq(algId, der.encOctets(ciphertext));
}
