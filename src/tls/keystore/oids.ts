/** Object identifiers used by the keystore formats. */
export const OID = {
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecPublicKey: "1.2.840.10045.2.1",
  dsa: "1.2.840.10040.4.1",
  ed25519: "1.3.101.112",
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  secp521r1: "1.3.132.0.35",

  // PKCS#5 v2
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSHA1: "1.2.840.113549.2.7",
  hmacWithSHA224: "1.2.840.113549.2.8",
  hmacWithSHA256: "1.2.840.113549.2.9",
  hmacWithSHA384: "1.2.840.113549.2.10",
  hmacWithSHA512: "1.2.840.113549.2.11",
  aes128cbc: "2.16.840.1.101.3.4.1.2",
  aes192cbc: "2.16.840.1.101.3.4.1.22",
  aes256cbc: "2.16.840.1.101.3.4.1.42",
  desEde3cbc: "1.2.840.113549.3.7",
  desCbc: "1.3.14.3.2.7",

  // PKCS#12 PBE
  pbeSHA1And3DES: "1.2.840.113549.1.12.1.3",
  pbeSHA1And2DES: "1.2.840.113549.1.12.1.4",
  pbeSHA1And128RC2: "1.2.840.113549.1.12.1.5",
  pbeSHA1And40RC2: "1.2.840.113549.1.12.1.6",

  // Sun's JKS key protection ("KeyProtector")
  sunKeyProtector: "1.3.6.1.4.1.42.2.17.1.1",

  // digests
  sha1: "1.3.14.3.2.26",
  sha224: "2.16.840.1.101.3.4.2.4",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",

  // PKCS#7 / PKCS#12 containers and bags
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  envelopedData: "1.2.840.113549.1.7.3",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  pkcs8ShroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  crlBag: "1.2.840.113549.1.12.10.1.4",
  secretBag: "1.2.840.113549.1.12.10.1.5",
  safeContentsBag: "1.2.840.113549.1.12.10.1.6",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  /** Oracle's "trusted key usage" attribute: keytool marks trustedCertEntry bags with it. */
  oracleTrustedKeyUsage: "2.16.840.1.113894.746875.1.1",
  anyExtendedKeyUsage: "2.5.29.37.0",
} as const;

export const CURVES: Record<string, { name: "P-256" | "P-384" | "P-521"; bits: number }> = {
  [OID.prime256v1]: { name: "P-256", bits: 256 },
  [OID.secp384r1]: { name: "P-384", bits: 384 },
  [OID.secp521r1]: { name: "P-521", bits: 521 },
};
