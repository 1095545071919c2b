/**
 * A `<Certificate>` turned into what a TLS stack needs: an unencrypted PKCS#8 key and the
 * certificate chain as PEM, leaf first. Follows Tomcat's SSLUtilBase: a keystore (JKS or PKCS12)
 * when any certificateKeystore* attribute is set, PEM files when certificateFile and friends
 * are, and the JDK's wording for the classic failures, with the file, attribute and a fix.
 *
 * Keystore type: the file's content decides. Java 9+ opens a PKCS12 file configured as JKS and
 * vice versa ("dual format"), so a certificateKeystoreType that disagrees with the content is a
 * warning, not an error. PKCS11 and other types are refused.
 */
import type { CertificateEntry } from "../config/model.ts";
import { formatBytes, MAX_CONFIG_FILE_BYTES, readRegularFile, UnreadableFileError } from "../util/files.ts";
import { join } from "../util/host/path.ts";
import { homedir } from "../util/host/proc.ts";
import { BobcatError, type Where } from "../util/errors.ts";
import { brokenLink, type CertificateInfo, type CertSummary, parseCertificateInfo } from "./keystore/cert-info.ts";
import { equal } from "./keystore/bytes.ts";
import { Asn1Error } from "./keystore/der.ts";
import { WrongPasswordError } from "./keystore/epki.ts";
// Keystores (JKS, PKCS12) are read with @peculiar/x509: imported when a Certificate uses one.
import type { Keystore, PrivateKeyEntry } from "./keystore/index.ts";
import { keyInfo, spkiFingerprint, UnsupportedKeyError } from "./keystore/keys.ts";
import { parsePem, type PemBlock, toPem } from "./keystore/pem.ts";
import { PasswordRequiredError, pemPrivateKey, PRIVATE_KEY_LABELS } from "./keystore/pem-keys.ts";
import { UnsupportedAlgorithmError } from "./keystore/pbe.ts";

/** Keys are Tomcat's `<Certificate>` attribute names. Paths are absolute (the config layer resolves them). */
/**
 * A `<Certificate>`'s attributes, as the schema defines them; every one optional here (library
 * use), and the keystore type any string (loadCertificate explains types it cannot read).
 */
export type CertificateConfig = Partial<Omit<CertificateEntry, "createSelfSigned" | "certificateKeystoreType">> & {
  certificateKeystoreType?: string;
};

export interface LoadedCertificate {
  /** Unencrypted PKCS#8 PEM private key. */
  keyPem: string;
  /** Leaf then intermediates, PEM, in order: what the TLS stack serves. */
  certPem: string;
  /**
   * Same order as certPem. From files: CertificateInfo (no @peculiar/x509 at start-up); from
   * ACME: @peculiar/x509 certificates. Parse `rawData` for more than these fields.
   */
  chain: CertSummary[];
  keyType: "RSA" | "EC";
  /** E.g. an expired or not-yet-valid certificate, an ignored provider, a mislabelled keystore type. */
  warnings: string[];
  /** Human description, e.g. "PKCS12 keystore /abs/x.p12 alias tomcat". */
  source: string;
}

/** Tomcat 11's default store password (Tomcat 12 drops it). */
export const DEFAULT_KEYSTORE_PASSWORD = "changeit";

const KEYSTORE_ATTRIBUTES = [
  "certificateKeystoreFile",
  "certificateKeystorePassword",
  "certificateKeystorePasswordFile",
  "certificateKeystoreType",
  "certificateKeystoreProvider",
] as const;
const PEM_ATTRIBUTES = ["certificateFile", "certificateKeyFile", "certificateChainFile"] as const;

type Attr = keyof CertificateConfig;

function fail(
  code: string,
  message: string,
  where: Where,
  attribute: Attr | undefined,
  fix: string,
  cause?: unknown,
): BobcatError {
  return new BobcatError(code, message, { where: attribute ? { ...where, attribute } : where, fix, cause });
}

async function readConfigFile(
  path: string,
  attribute: Attr,
  where: Where,
  what: string,
  code: string,
  fix: string,
): Promise<Uint8Array> {
  try {
    return await readRegularFile(path);
  } catch (e) {
    if (e instanceof UnreadableFileError) {
      throw fail(
        e.code === "ETOOLARGE" ? "certificate.fileTooLarge" : "certificate.notRegularFile",
        `${what} [${path}] ${e.reason} (from ${attribute})`,
        where,
        attribute,
        `point ${attribute} at a regular file (not a pipe, device or directory) of at most ${
          formatBytes(MAX_CONFIG_FILE_BYTES)
        }`,
        e,
      );
    }
    const errno = (e as { code?: string }).code;
    const why = errno === "ENOENT"
      ? "does not exist"
      : errno === "EISDIR"
      ? "is a directory"
      : errno === "EACCES"
      ? "cannot be read (permission denied)"
      : `cannot be read (${(e as Error).message})`;
    throw fail(code, `${what} [${path}] ${why} (from ${attribute})`, where, attribute, fix, e);
  }
}

/** Tomcat reads the first line of a password file, as UTF-8. */
async function passwordFromFile(path: string, attribute: Attr, where: Where): Promise<string> {
  const bytes = await readConfigFile(
    path,
    attribute,
    where,
    "Password file",
    "certificate.fileNotFound",
    `create the file with the password on its first line, or set ${attribute.replace(/File$/, "")} instead`,
  );
  return new TextDecoder().decode(bytes).replace(/^\uFEFF/, "").split(/\r?\n/)[0];
}

export async function loadCertificate(cfg: CertificateConfig, where: Where): Promise<LoadedCertificate> {
  const usesKeystore = KEYSTORE_ATTRIBUTES.some((a) => cfg[a] !== undefined);
  const usesPem = PEM_ATTRIBUTES.some((a) => cfg[a] !== undefined);
  if (usesKeystore && usesPem) {
    const k = KEYSTORE_ATTRIBUTES.find((a) => cfg[a] !== undefined)!;
    const p = PEM_ATTRIBUTES.find((a) => cfg[a] !== undefined)!;
    throw fail(
      "certificate.mixedStyles",
      `This Certificate sets both ${k} (keystore) and ${p} (PEM files); it must use one or the other`,
      where,
      p,
      "keep either the certificateKeystore* attributes or the certificateFile/certificateKeyFile/certificateChainFile attributes",
    );
  }
  try {
    if (usesKeystore) return await fromKeystore(cfg, where);
    if (usesPem) return await fromPem(cfg, where);
  } catch (e) {
    // Every failure reaches the user as a BobcatError, whatever library threw it.
    if (e instanceof BobcatError) throw e;
    throw fail(
      "certificate.unreadable",
      `Cannot load the certificate: ${(e as Error)?.message ?? e}`,
      where,
      undefined,
      "the key or certificate files are damaged or in an unsupported format: restore them or re-create them",
      e,
    );
  }
  throw fail(
    "certificate.notConfigured",
    "SSLHostConfig attribute certificateFile must be defined when using an SSL connector",
    where,
    "certificateFile",
    "set certificateFile (and certificateKeyFile) to PEM files, or certificateKeystoreFile to a JKS or PKCS12 keystore; `bobcat keytool -genkeypair -alias tomcat -keyalg RSA -keystore conf/localhost.p12` makes one",
  );
}

// ---------------------------------------------------------------- keystores

async function fromKeystore(cfg: CertificateConfig, where: Where): Promise<LoadedCertificate> {
  const { detectStoreType, keystoreError, parseStoreType, readKeystore, unlockKey } = await import(
    "./keystore/index.ts"
  );
  const warnings: string[] = [];
  const path = cfg.certificateKeystoreFile ?? join(homedir(), ".keystore");
  const fileAttr: Attr = "certificateKeystoreFile";
  const declared = cfg.certificateKeystoreType === undefined ? undefined : (() => {
    try {
      return parseStoreType(cfg.certificateKeystoreType!);
    } catch (e) {
      const b = e as BobcatError;
      throw fail(b.code, b.message, where, "certificateKeystoreType", b.fix ?? "");
    }
  })();
  if (cfg.certificateKeystoreFile === "" || cfg.certificateKeystoreFile?.toUpperCase() === "NONE") {
    throw fail(
      "keystore.unsupportedType",
      `certificateKeystoreFile [${cfg.certificateKeystoreFile}] means a keystore without a file (a PKCS11 token), which bobcat does not support`,
      where,
      fileAttr,
      "export the key and certificate from the token to a PKCS12 file or PEM files and configure those",
    );
  }
  if (declared === "PEM") {
    throw fail(
      "keystore.unsupportedType",
      "certificateKeystoreType PEM is not a keystore type",
      where,
      "certificateKeystoreType",
      "for PEM files use certificateFile, certificateKeyFile and certificateChainFile instead of certificateKeystore*",
    );
  }
  if (cfg.certificateKeystoreProvider !== undefined) {
    warnings.push(
      `certificateKeystoreProvider [${cfg.certificateKeystoreProvider}] is ignored: bobcat reads JKS and PKCS12 keystores itself`,
    );
  }

  const storePassAttr: Attr = cfg.certificateKeystorePasswordFile !== undefined
    ? "certificateKeystorePasswordFile"
    : "certificateKeystorePassword";
  const storePass = cfg.certificateKeystorePasswordFile !== undefined
    ? await passwordFromFile(cfg.certificateKeystorePasswordFile, "certificateKeystorePasswordFile", where)
    : cfg.certificateKeystorePassword ?? DEFAULT_KEYSTORE_PASSWORD;

  const bytes = await readConfigFile(
    path,
    fileAttr,
    where,
    cfg.certificateKeystoreFile === undefined ? "Keystore file (the default ${user.home}/.keystore)" : "Keystore file",
    "keystore.notFound",
    `check the path (relative paths resolve against the base directory); create a keystore with: bobcat keytool -genkeypair -alias tomcat -keyalg RSA -keystore ${path}`,
  );

  const detected = detectStoreType(bytes);
  if (detected === "PEM") {
    throw fail(
      "keystore.wrongType",
      `Keystore file [${path}] is a PEM file, not a JKS or PKCS12 keystore`,
      where,
      fileAttr,
      "for PEM files use certificateFile (and certificateKeyFile, certificateChainFile) instead of certificateKeystoreFile",
    );
  }
  if (declared && (detected === "JKS" || detected === "PKCS12") && declared !== detected) {
    warnings.push(
      `certificateKeystoreType is ${declared} but [${path}] is a ${detected} keystore; it was loaded as ${detected} (as Java 9+ does)`,
    );
  }

  let store: Keystore;
  try {
    store = await readKeystore(bytes, storePass, declared ?? "PKCS12");
  } catch (e) {
    const b = e as BobcatError;
    if (b.code === "keystore.badPassword") {
      throw fail(
        b.code,
        `Cannot open keystore [${path}]: ${b.message}`,
        where,
        storePassAttr,
        `set ${storePassAttr} to the password the keystore was created with (passwords are case-sensitive; the default is "${DEFAULT_KEYSTORE_PASSWORD}"); check it with: bobcat keytool -list -keystore ${path}`,
        e,
      );
    }
    throw fail(
      b.code,
      `Cannot open keystore [${path}]: ${b.message}`,
      where,
      b.code === "keystore.unsupportedType" ? "certificateKeystoreType" : fileAttr,
      b.fix ?? "",
      e,
    );
  }

  const entry = await selectKeyEntry(store, cfg.certificateKeyAlias, path, where);
  const keyPassAttr: Attr = cfg.certificateKeyPasswordFile !== undefined
    ? "certificateKeyPasswordFile"
    : cfg.certificateKeyPassword !== undefined
    ? "certificateKeyPassword"
    : storePassAttr;
  const keyPass = cfg.certificateKeyPasswordFile !== undefined
    ? await passwordFromFile(cfg.certificateKeyPasswordFile, "certificateKeyPasswordFile", where)
    : cfg.certificateKeyPassword ?? storePass;
  let pkcs8: Uint8Array;
  try {
    pkcs8 = unlockKey(entry, keyPass);
  } catch (e) {
    const b = keystoreError(e, store.type);
    if (b.code === "keystore.badKeyPassword") {
      throw fail(
        b.code,
        `Cannot recover key [${entry.alias}] in keystore [${path}]: the key password is wrong`,
        where,
        keyPassAttr === storePassAttr ? "certificateKeyPassword" : keyPassAttr,
        keyPassAttr === storePassAttr
          ? `the key has its own password (keytool -keypass): set certificateKeyPassword (or certificateKeyPasswordFile) to it`
          : opensWith(() => unlockKey(entry, storePass))
          ? `the key is protected with the keystore password (keytool does that for every ${store.type} key, ignoring -keypass): remove ${keyPassAttr}`
          : `set ${keyPassAttr} to the password the key was created with (keytool -keypass); without it the keystore password is used`,
        e,
      );
    }
    throw fail(
      b.code,
      `Cannot read key [${entry.alias}] in keystore [${path}]: ${b.message}`,
      where,
      fileAttr,
      b.fix ?? "",
      e,
    );
  }
  const source = `${store.type} keystore ${path} alias ${entry.alias}`;
  let chain: CertificateInfo[];
  try {
    chain = entry.chain.map((c, i) =>
      parseCertificateInfo(new Uint8Array(c.rawData), `certificate #${i + 1} of key entry [${entry.alias}]`)
    );
  } catch (e) {
    throw fail(
      "keystore.corrupt",
      `Cannot read keystore [${path}]: ${(e as Error).message}`,
      where,
      fileAttr,
      "the keystore is damaged: restore it from a backup, or re-import the certificate chain",
      e,
    );
  }
  const misfiled = chain.length === 1 ? replyUnderAnotherAlias(store, chain[0]!) : undefined;
  if (misfiled) {
    warnings.push(
      `key entry [${entry.alias}] of [${path}] holds only its self-signed certificate, while the trusted entry ` +
        `[${misfiled.alias}] holds a certificate for the same key issued by [${misfiled.issuer}]: the CA reply was ` +
        `imported under another alias, so clients get the self-signed one. Import it under the key's alias: ` +
        `bobcat keytool -exportcert -alias ${misfiled.alias} -file reply.crt -keystore ${path}; then -delete -alias ` +
        `${misfiled.alias}; then -importcert -alias ${entry.alias} -file reply.crt`,
    );
  }
  return await finish(pkcs8, chain, source, warnings, cfg, where, {
    cert: fileAttr,
    fixChain:
      `re-import the CA reply with the full chain: bobcat keytool -importcert -alias ${entry.alias} -file <reply> -keystore ${path}`,
  });
}

/** Whether `unlock` succeeds (to tell which password a failed unlock wanted). */
function opensWith(unlock: () => unknown): boolean {
  try {
    unlock();
    return true;
  } catch {
    return false;
  }
}

/**
 * The SSL how-to's CA reply imported with `-alias root`'s sibling instead of the key's alias
 * (`keytool -import -alias mycert`): a trusted entry for the key entry's own public key, issued by
 * someone else, while the key entry keeps its self-signed certificate. Tomcat serves that
 * self-signed certificate without a word.
 */
function replyUnderAnotherAlias(
  store: Keystore,
  leaf: CertificateInfo,
): { alias: string; issuer: string } | undefined {
  if (!equal(leaf.subjectDer, leaf.issuerDer)) return undefined;
  for (const e of store.entries) {
    if (e.kind !== "trustedCert") continue;
    let info: CertificateInfo;
    try {
      info = parseCertificateInfo(new Uint8Array(e.cert.rawData), `trusted entry [${e.alias}]`);
    } catch {
      continue; // a damaged trusted entry is no reply; the key entry is what is served
    }
    if (equal(info.spki, leaf.spki) && !equal(info.subjectDer, info.issuerDer)) {
      return { alias: e.alias, issuer: info.issuer };
    }
  }
  return undefined;
}

async function selectKeyEntry(
  store: Keystore,
  alias: string | undefined,
  path: string,
  where: Where,
): Promise<PrivateKeyEntry> {
  const { entryTypeName, findEntry } = await import("./keystore/index.ts");
  const list = store.entries.map((e) => `${e.alias} (${entryTypeName(e)})`).join(", ");
  const keyAliases = store.entries.filter((e) => e.kind === "privateKey").map((e) => e.alias);
  if (alias !== undefined) {
    const e = findEntry(store, alias);
    if (e?.kind === "privateKey") return e;
    throw fail(
      "keystore.aliasNotKey",
      `Alias name [${alias}] does not identify a key entry in keystore [${path}]; ` +
        (store.entries.length ? `it holds: ${list}` : "it is empty"),
      where,
      "certificateKeyAlias",
      keyAliases.length
        ? `set certificateKeyAlias to ${keyAliases.map((a) => `"${a}"`).join(" or ")} (aliases are case-insensitive)`
        : "this keystore has no private key: point certificateKeystoreFile at the keystore that holds the server's key",
    );
  }
  const first = store.entries.find((e): e is PrivateKeyEntry => e.kind === "privateKey");
  if (first) return first;
  if (store.entries.length === 0) {
    throw fail(
      "keystore.noKeys",
      `No aliases for private keys found in key store [${path}]: it is empty`,
      where,
      "certificateKeystoreFile",
      `create a key entry: bobcat keytool -genkeypair -alias tomcat -keyalg RSA -keystore ${path}`,
    );
  }
  throw fail(
    "keystore.noKeys",
    `Alias name [null] does not identify a key entry: keystore [${path}] holds only trusted certificates (${list})`,
    where,
    "certificateKeystoreFile",
    "this is a truststore; point certificateKeystoreFile at the keystore that holds the server's private key and certificate",
  );
}

// ---------------------------------------------------------------- PEM files

async function pemBlocks(path: string, attribute: Attr, where: Where): Promise<PemBlock[]> {
  const bytes = await readConfigFile(
    path,
    attribute,
    where,
    "File",
    "certificate.fileNotFound",
    "check the path (relative paths resolve against the base directory)",
  );
  try {
    return parsePem(new TextDecoder().decode(bytes));
  } catch (e) {
    throw fail(
      "pem.corrupt",
      `[${path}] is not a readable PEM file: ${(e as Error).message}`,
      where,
      attribute,
      "the file is truncated or damaged: restore it from the original",
      e,
    );
  }
}

function certsOf(blocks: PemBlock[], path: string, attribute: Attr, where: Where): CertificateInfo[] {
  return blocks.filter((b) => b.label === "CERTIFICATE").map((b) => {
    try {
      return parseCertificateInfo(b.der, `the certificate on line ${b.line} of [${path}]`);
    } catch (e) {
      throw fail(
        "pem.corrupt",
        (e as Error).message,
        { ...where },
        attribute,
        "the certificate is damaged: restore it from what the CA sent",
        e,
      );
    }
  });
}

async function fromPem(cfg: CertificateConfig, where: Where): Promise<LoadedCertificate> {
  const warnings: string[] = [];
  const certFile = cfg.certificateFile;
  if (certFile === undefined) {
    throw fail(
      "certificate.notConfigured",
      "SSLHostConfig attribute certificateFile must be defined when using an SSL connector",
      where,
      "certificateFile",
      "set certificateFile to the PEM file with the server certificate (certificateKeyFile and certificateChainFile alone are not enough)",
    );
  }
  const keyFile = cfg.certificateKeyFile ?? certFile;
  const keyAttr: Attr = cfg.certificateKeyFile !== undefined ? "certificateKeyFile" : "certificateFile";
  const certBlocks = await pemBlocks(certFile, "certificateFile", where);
  const keyBlocks = keyFile === certFile ? certBlocks : await pemBlocks(keyFile, "certificateKeyFile", where);

  const keyBlock = keyBlocks.find((b) => PRIVATE_KEY_LABELS.includes(b.label));
  if (!keyBlock) {
    throw fail(
      "pem.noKey",
      `[${keyFile}] contains no private key (no "BEGIN PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY" or "ENCRYPTED PRIVATE KEY" block)`,
      where,
      keyAttr,
      keyAttr === "certificateFile"
        ? "set certificateKeyFile to the PEM file with the private key"
        : "point certificateKeyFile at the private key that belongs to the certificate",
    );
  }
  const passAttr: Attr = cfg.certificateKeyPasswordFile !== undefined
    ? "certificateKeyPasswordFile"
    : "certificateKeyPassword";
  const keyPass = cfg.certificateKeyPasswordFile !== undefined
    ? await passwordFromFile(cfg.certificateKeyPasswordFile, "certificateKeyPasswordFile", where)
    : cfg.certificateKeyPassword;
  let pkcs8: Uint8Array;
  try {
    pkcs8 = pemPrivateKey(keyBlock, keyPass);
  } catch (e) {
    if (e instanceof PasswordRequiredError) {
      throw fail(
        "pem.noPassword",
        `A password is required to decrypt the private key in [${keyFile}]`,
        where,
        "certificateKeyPassword",
        "set certificateKeyPassword (or certificateKeyPasswordFile) to the key's password, or store the key unencrypted: openssl pkey -in key.pem -out key-plain.pem",
        e,
      );
    }
    if (e instanceof WrongPasswordError) {
      throw fail(
        "pem.badPassword",
        `Cannot decrypt the private key in [${keyFile}]: the password is wrong`,
        where,
        passAttr,
        `set ${passAttr} to the password the key was encrypted with (passwords are case-sensitive)`,
        e,
      );
    }
    if (e instanceof UnsupportedAlgorithmError) {
      throw fail(
        "pem.unsupported",
        `The private key in [${keyFile}] uses an unsupported format: ${e.message}`,
        where,
        keyAttr,
        "convert it: openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-pkcs8.pem",
        e,
      );
    }
    if (e instanceof Asn1Error) {
      throw fail(
        "pem.corrupt",
        `The private key on line ${keyBlock.line} of [${keyFile}] is damaged: ${e.message}`,
        where,
        keyAttr,
        "restore the key file from the original",
        e,
      );
    }
    throw e;
  }

  const certs = certsOf(certBlocks, certFile, "certificateFile", where);
  if (certs.length === 0) {
    throw fail(
      "pem.noCertificate",
      `[${certFile}] contains no certificate (no "BEGIN CERTIFICATE" block)`,
      where,
      "certificateFile",
      "set certificateFile to the PEM file with the server certificate",
    );
  }
  const chain = [...certs];
  let chainSrc = "";
  if (cfg.certificateChainFile !== undefined) {
    const extra = certsOf(
      await pemBlocks(cfg.certificateChainFile, "certificateChainFile", where),
      cfg.certificateChainFile,
      "certificateChainFile",
      where,
    );
    if (extra.length && equal(new Uint8Array(extra[0]!.rawData), new Uint8Array(certs[0]!.rawData))) {
      // A "fullchain.pem" given as the chain file repeats the server certificate (Tomcat users hit this with Let's Encrypt).
      warnings.push(
        `certificateChainFile [${cfg.certificateChainFile}] starts with the server certificate itself; that copy was skipped (use chain.pem, not fullchain.pem)`,
      );
      extra.shift();
    }
    chain.push(...extra);
    chainSrc = `, chain ${cfg.certificateChainFile}`;
  }
  const source = `PEM key ${keyFile}, certificate ${certFile}${chainSrc}`;
  return await finish(pkcs8, chain, source, warnings, cfg, where, {
    cert: cfg.certificateChainFile !== undefined ? "certificateChainFile" : "certificateFile",
    fixChain:
      "list the intermediates in order, each followed by the one that issued it (certificateChainFile must not repeat the server certificate)",
  });
}

// ---------------------------------------------------------------- common checks

async function finish(
  pkcs8: Uint8Array,
  chain: CertificateInfo[],
  source: string,
  warnings: string[],
  cfg: CertificateConfig,
  where: Where,
  hints: { cert: Attr; fixChain: string },
): Promise<LoadedCertificate> {
  let info;
  try {
    info = await keyInfo(pkcs8);
  } catch (e) {
    if (e instanceof UnsupportedKeyError) {
      throw fail(
        "certificate.unsupportedKey",
        `${source}: ${e.message}`,
        where,
        hints.cert,
        "use an RSA or EC (P-256, P-384, P-521) key",
        e,
      );
    }
    throw fail(
      "certificate.corruptKey",
      `${source}: the private key is damaged (${(e as Error).message})`,
      where,
      hints.cert,
      "restore the key from the original",
      e,
    );
  }
  if (cfg.type && cfg.type !== "UNDEFINED" && cfg.type !== info.type) {
    throw fail(
      "certificate.typeMismatch",
      `Certificate type is ${cfg.type} but ${source} holds an ${info.type} key`,
      where,
      "type",
      `set type to ${info.type} (or remove it)`,
    );
  }
  if (chain.length === 0) {
    throw fail(
      "certificate.noCertificate",
      `${source}: the key entry has no certificate`,
      where,
      hints.cert,
      hints.fixChain,
    );
  }
  const leaf = chain[0];
  let leafKey: string;
  try {
    leafKey = spkiFingerprint(leaf.spki);
  } catch (e) {
    throw fail(
      "certificate.corrupt",
      `${source}: the certificate [${leaf.subject}] has an unreadable public key (${(e as Error).message})`,
      where,
      hints.cert,
      "restore the certificate from what the CA sent",
      e,
    );
  }
  if (leafKey !== spkiFingerprint(info.spki)) {
    throw fail(
      "certificate.keyMismatch",
      `${source}: the certificate [${leaf.subject}] does not match the private key`,
      where,
      hints.cert,
      "use the certificate that was issued for this key (compare `openssl x509 -noout -pubkey -in cert.pem` with `openssl pkey -pubout -in key.pem`)",
    );
  }
  const broken = await brokenLink(chain);
  if (broken) {
    throw fail(
      "certificate.chainBroken",
      `${source}: the certificate chain does not link up: ${broken.reason}`,
      where,
      hints.cert,
      hints.fixChain,
    );
  }
  const now = Date.now();
  for (const [i, c] of chain.entries()) {
    const which = i === 0 ? "certificate" : `chain certificate #${i + 1}`;
    if (c.notAfter.getTime() < now) {
      warnings.push(`${which} [${c.subject}] expired on ${c.notAfter.toISOString()} (${source})`);
    } else if (c.notBefore.getTime() > now) {
      warnings.push(`${which} [${c.subject}] is not valid until ${c.notBefore.toISOString()} (${source})`);
    }
  }
  return {
    keyPem: toPem("PRIVATE KEY", pkcs8),
    certPem: chain.map((c) => toPem("CERTIFICATE", new Uint8Array(c.rawData))).join(""),
    chain,
    keyType: info.type,
    warnings,
    source,
  };
}
