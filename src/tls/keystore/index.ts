/**
 * Reading and writing keystores in any supported format, with every failure turned into a
 * BobcatError whose message is the JDK's wording where Java users know it.
 */
import { BobcatError } from "../../util/errors.ts";
import { PaddingError } from "./ciphers.ts";
import { Asn1Error } from "./der.ts";
import { detectStoreType } from "./detect.ts";
import { WrongPasswordError } from "./epki.ts";
import { JksIntegrityError, readJks, writeJks } from "./jks.ts";
import { UnsupportedKeyError } from "./keys.ts";
import { KeyProtectorError } from "./keyprotector.ts";
import type { Keystore, StoreType } from "./model.ts";
import { UnsupportedAlgorithmError } from "./pbe.ts";
import { PemError } from "./pem.ts";
import { PasswordRequiredError } from "./pem-keys.ts";
import { readPemStore, writePemStore } from "./pem-store.ts";
import {
  Pkcs12IntegrityError,
  Pkcs12PasswordError,
  type Pkcs12WriteOptions,
  readPkcs12,
  writePkcs12,
} from "./pkcs12.ts";

export type { Keystore, KeystoreEntry, PrivateKeyEntry, StoreType, TrustedCertEntry } from "./model.ts";
export { detectStoreType } from "./detect.ts";
export { entryTypeName, findEntry, unlockKey } from "./model.ts";

const SUPPORTED = ["JKS", "PKCS12", "PEM"];

/** Normalises a user-given store type name; throws keystore.unsupportedType for PKCS11 and the like. */
export function parseStoreType(name: string): StoreType {
  const t = name.trim().toUpperCase().replace(/^PKCS#?12$/, "PKCS12");
  if ((SUPPORTED as string[]).includes(t)) return t as StoreType;
  if (t === "PKCS11") {
    throw new BobcatError("keystore.unsupportedType", "Keystore type PKCS11 (hardware tokens) is not supported", {
      fix: "export the key and certificate from the token to a PKCS12 file or PEM files and configure those",
    });
  }
  throw new BobcatError(
    "keystore.unsupportedType",
    `Keystore type [${name}] is not supported (supported: JKS, PKCS12, PEM)`,
    {
      fix:
        `convert it with: keytool -importkeystore -srckeystore <file> -srcstoretype ${name} -destkeystore <new.p12> -deststoretype PKCS12`,
    },
  );
}

/** Translates a parser exception into the user-facing error. */
export function keystoreError(e: unknown, type: string): BobcatError {
  if (e instanceof BobcatError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof JksIntegrityError) {
    return new BobcatError("keystore.badPassword", "Keystore was tampered with, or password was incorrect", {
      fix:
        "use the password the keystore was created with (passwords are case-sensitive); if it is right, the file is damaged: restore it or re-create it",
      cause: e,
    });
  }
  if (e instanceof Pkcs12PasswordError) {
    return new BobcatError("keystore.badPassword", "keystore password was incorrect", {
      fix: "use the password the keystore was created with (passwords are case-sensitive)",
      cause: e,
    });
  }
  if (e instanceof Pkcs12IntegrityError) {
    return new BobcatError(
      "keystore.tampered",
      `${type} keystore integrity check failed: the password is right but the file was modified after it was written`,
      {
        fix: "restore the keystore from a good copy or re-create it",
        cause: e,
      },
    );
  }
  if (e instanceof WrongPasswordError || e instanceof KeyProtectorError || e instanceof PaddingError) {
    return new BobcatError("keystore.badKeyPassword", "Cannot recover key", {
      fix:
        "the key password is wrong: give the password the key was protected with (it defaults to the keystore password)",
      cause: e,
    });
  }
  if (e instanceof PasswordRequiredError) {
    return new BobcatError("keystore.passwordRequired", "A password is required to decrypt the private key", {
      fix: "give the key's password",
      cause: e,
    });
  }
  if (e instanceof UnsupportedAlgorithmError || e instanceof UnsupportedKeyError) {
    return new BobcatError("keystore.unsupportedAlgorithm", `Unsupported in ${type} keystore: ${msg}`, {
      fix: "re-create the keystore with keytool 17 or OpenSSL 3 defaults (PBES2/AES-256, RSA or EC keys)",
      cause: e,
    });
  }
  const detail = e instanceof Asn1Error || e instanceof PemError
    ? msg
    : `${e instanceof Error ? e.name + ": " : ""}${msg}`;
  return new BobcatError("keystore.corrupt", `The file is not a readable ${type} keystore: ${detail}`, {
    fix: "the file is truncated, damaged or of another type: restore it or re-create it",
    cause: e,
  });
}

/**
 * Reads a keystore. The format is taken from the content; `typeHint` only names it in messages
 * when the content is unrecognisable. `password` null skips the JKS integrity check.
 */
export async function readKeystore(bytes: Uint8Array, password: string | null, typeHint?: string): Promise<Keystore> {
  const detected = detectStoreType(bytes);
  const type = detected === "unknown" ? (typeHint ?? "keystore") : detected;
  try {
    switch (detected) {
      case "JKS":
        return readJks(bytes, password);
      case "PKCS12":
        if (password === null) throw new Pkcs12PasswordError("keystore password was incorrect");
        return readPkcs12(bytes, password);
      case "PEM":
        return await readPemStore(new TextDecoder().decode(bytes), password);
      case "JCEKS":
        throw new BobcatError("keystore.unsupportedType", "JCEKS keystores are not supported", {
          fix:
            "convert it: keytool -importkeystore -srckeystore <file> -srcstoretype JCEKS -destkeystore <new.p12> -deststoretype PKCS12",
        });
      default:
        throw new Asn1Error(
          bytes.length === 0 ? "the file is empty" : "it is neither JKS (magic FEEDFEED), PKCS12 (DER) nor PEM text",
        );
    }
  } catch (e) {
    throw keystoreError(e, type);
  }
}

export interface WriteOptions {
  /** Password per key entry (JKS only: PKCS12 and PEM use the store password). Defaults to the store password. */
  keyPassword?: (alias: string) => string;
  pkcs12?: Pkcs12WriteOptions;
}

export function writeKeystore(store: Keystore, type: StoreType, password: string, opts: WriteOptions = {}): Uint8Array {
  const keyPassword = opts.keyPassword ?? (() => password);
  try {
    switch (type) {
      case "JKS":
        return writeJks(store, password, keyPassword);
      case "PKCS12":
        return writePkcs12(store, password, keyPassword, opts.pkcs12);
      case "PEM":
        return new TextEncoder().encode(writePemStore(store, password, keyPassword));
    }
  } catch (e) {
    throw keystoreError(e, type);
  }
}
