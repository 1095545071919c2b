/**
 * The in-memory keystore every format reads into and writes from: private-key entries (key plus
 * certificate chain, leaf first) and trusted-certificate entries, in file order. Aliases keep
 * their case but are matched case-insensitively, as Java's JKS and PKCS12 stores do.
 */
import type { Certificate } from "./certs.ts";
import { decryptPrivateKeyInfo } from "./epki.ts";

export type { Certificate };
export type StoreType = "JKS" | "PKCS12" | "PEM";

/** A key as found in a file (encrypted with the key password) or held in memory. */
export type ProtectedKey = { epki: Uint8Array } | { pkcs8: Uint8Array };

export interface PrivateKeyEntry {
  kind: "privateKey";
  alias: string;
  date: Date;
  key: ProtectedKey;
  chain: Certificate[];
}

export interface TrustedCertEntry {
  kind: "trustedCert";
  alias: string;
  date: Date;
  cert: Certificate;
}

export type KeystoreEntry = PrivateKeyEntry | TrustedCertEntry;

export interface Keystore {
  type: StoreType;
  entries: KeystoreEntry[];
  /** False when a JKS was opened without a password, so its integrity was not checked. */
  verified: boolean;
}

export const sameAlias = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function findEntry(store: Keystore, alias: string): KeystoreEntry | undefined {
  return store.entries.find((e) => sameAlias(e.alias, alias));
}

/** The unencrypted PKCS#8 key; throws WrongPasswordError ("Cannot recover key"). */
export function unlockKey(entry: PrivateKeyEntry, password: string): Uint8Array {
  return "pkcs8" in entry.key ? entry.key.pkcs8 : decryptPrivateKeyInfo(entry.key.epki, password);
}

export function entryTypeName(e: KeystoreEntry): string {
  return e.kind === "privateKey" ? "PrivateKeyEntry" : "trustedCertEntry";
}
