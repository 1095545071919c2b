/**
 * PKCS#12 (RFC 7292) as keytool and OpenSSL read and write it: a MAC over the authenticated
 * safe, safe contents in plain or password-encrypted ContentInfos, key bags, shrouded key bags
 * and certificate bags, friendlyName as the alias and localKeyId tying keys to certificates.
 * keytool marks trusted-certificate entries with Oracle's trusted-key-usage attribute; stores
 * with no keys and no such marks (truststores made by OpenSSL) expose every certificate as
 * trusted, so they remain useful.
 */
import { createHmac } from "node:crypto";
import { equal, randomBytes, toHex, utf8 } from "./bytes.ts";
import { buildPath, certDer, type Certificate, parseCertificate, sameCert } from "./certs.ts";
import { PaddingError } from "./ciphers.ts";
import * as der from "./der.ts";
import { encryptPrivateKeyInfo, epkiAlgorithm } from "./epki.ts";
import { type Keystore, type KeystoreEntry, type PrivateKeyEntry, unlockKey } from "./model.ts";
import { OID } from "./oids.ts";
import * as pbe from "./pbe.ts";

/** The MAC does not verify, or an encrypted safe does not decrypt: "keystore password was incorrect". */
export class Pkcs12PasswordError extends Error {
  override name = "Pkcs12PasswordError";
}
/** The password is right (a safe decrypts) but the MAC does not match: the file was modified. */
export class Pkcs12IntegrityError extends Error {
  override name = "Pkcs12IntegrityError";
}

interface Bag {
  type: string;
  value: der.Node;
  friendlyName?: string;
  localKeyId?: Uint8Array;
  trusted: boolean;
}

const HASH_LEN: Record<pbe.HashName, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

function contentInfo(node: der.Node, what: string): { type: string; content?: der.Node } {
  const [type, content] = der.seq(node, what, 1);
  const explicit = content ? der.expect(content, 0xa0, `${what} content`).children[0] : undefined;
  return { type: der.oidOf(type, `${what} type`), content: explicit };
}

function readBags(safeContents: Uint8Array, bags: Bag[], depth = 0): void {
  if (depth > 4) throw new der.Asn1Error("safe contents nested too deep");
  for (const node of der.seq(der.parse(safeContents), "SafeContents")) {
    const [idNode, valueNode, attrsNode] = der.seq(node, "SafeBag", 2);
    const type = der.oidOf(idNode, "bag type");
    const value = der.expect(valueNode, 0xa0, "bag value").children[0];
    if (!value) throw new der.Asn1Error("empty bag value");
    if (type === OID.safeContentsBag) {
      readBags(value.raw, bags, depth + 1);
      continue;
    }
    const bag: Bag = { type, value, trusted: false };
    for (const attr of attrsNode ? der.expect(attrsNode, der.Tag.SET, "bag attributes").children : []) {
      const [attrId, values] = der.seq(attr, "bag attribute", 2);
      const id = der.oidOf(attrId, "attribute type");
      const first = der.expect(values, der.Tag.SET, "attribute values").children[0];
      if (id === OID.friendlyName) bag.friendlyName = der.bmpString(first, "friendlyName");
      else if (id === OID.localKeyId) bag.localKeyId = der.octets(first, "localKeyId");
      else if (id === OID.oracleTrustedKeyUsage) bag.trusted = true;
    }
    bags.push(bag);
  }
}

function macHash(oid: string): pbe.HashName {
  const h = pbe.HASH_BY_OID[oid];
  if (!h) throw new pbe.UnsupportedAlgorithmError(`PKCS#12 MAC digest ${oid}`);
  return h;
}

function computeMac(
  hash: pbe.HashName,
  password: string,
  salt: Uint8Array,
  iterations: number,
  data: Uint8Array,
): Uint8Array {
  const key = pbe.pkcs12Kdf(hash, password, salt, 3, iterations, HASH_LEN[hash]);
  return new Uint8Array(createHmac(hash, key).update(data).digest());
}

/** Java keeps the entry date in localKeyId as "Time <millis>". */
function dateFromKeyId(id: Uint8Array | undefined): Date {
  const m = id && /^Time (\d{1,15})$/.exec(new TextDecoder().decode(id));
  return m ? new Date(Number(m[1])) : new Date();
}

export function readPkcs12(bytes: Uint8Array, password: string): Keystore {
  const pfx = der.seq(der.parsePrefix(bytes), "PFX", 2);
  const version = der.smallInt(pfx[0], "PFX version");
  if (version !== 3) throw new der.Asn1Error(`PFX version ${version} (expected 3)`);
  const auth = contentInfo(pfx[1], "authSafe");
  if (auth.type !== OID.data) throw new pbe.UnsupportedAlgorithmError("public-key-signed PKCS#12 files");
  const authSafeBytes = der.octetsBer(auth.content, "authSafe data");

  let macOk = true;
  if (pfx[2]) {
    const [digestInfo, saltNode, iterNode] = der.seq(pfx[2], "MacData", 2);
    const [digestAlg, digest] = der.seq(digestInfo, "MAC DigestInfo", 2);
    const hash = macHash(der.oidOf(der.seq(digestAlg, "MAC algorithm", 1)[0], "MAC algorithm"));
    const iterations = iterNode ? der.smallInt(iterNode, "MAC iteration count") : 1;
    const mac = computeMac(hash, password, der.octets(saltNode, "MAC salt"), iterations, authSafeBytes);
    macOk = equal(mac, der.octets(digest, "MAC value"));
  }

  const bags: Bag[] = [];
  let decrypted = false;
  for (const ci of der.seq(der.parse(authSafeBytes), "AuthenticatedSafe")) {
    const { type, content } = contentInfo(ci, "safe");
    if (type === OID.data) readBags(der.octetsBer(content, "safe data"), bags);
    else if (type === OID.encryptedData) {
      const [, eci] = der.seq(content, "EncryptedData", 2);
      const [, alg, data] = der.seq(eci, "EncryptedContentInfo", 2);
      if (!data) continue; // detached content: nothing stored here
      const ciphertext = data.constructed ? der.octetsBer({ ...data, tag: 0x24 }, "encrypted content") : data.value;
      let plain: Uint8Array;
      try {
        plain = pbe.decrypt(alg, ciphertext, password);
        der.parse(plain);
      } catch (e) {
        if (!macOk && (e instanceof PaddingError || e instanceof der.Asn1Error)) {
          throw new Pkcs12PasswordError("keystore password was incorrect");
        }
        // The MAC proves the password, so a safe that does not decrypt is damaged.
        if (e instanceof PaddingError) {
          throw new der.Asn1Error("an encrypted safe does not decrypt although the password is right");
        }
        throw e;
      }
      decrypted = true;
      readBags(plain, bags);
    } else if (type === OID.envelopedData) {
      throw new pbe.UnsupportedAlgorithmError("public-key-encrypted (enveloped) PKCS#12 safes");
    } else throw new der.Asn1Error(`unknown safe content type ${type}`);
  }
  if (!macOk) {
    if (decrypted) {
      throw new Pkcs12IntegrityError(
        "Integrity check failed: the MAC does not match although the password decrypts the file",
      );
    }
    throw new Pkcs12PasswordError("keystore password was incorrect");
  }
  return { type: "PKCS12", entries: assemble(bags), verified: true };
}

function assemble(bags: Bag[]): KeystoreEntry[] {
  const certs: { cert: Certificate; bag: Bag }[] = [];
  for (const [i, bag] of bags.entries()) {
    if (bag.type !== OID.certBag) continue;
    const [certType, certValue] = der.seq(bag.value, "CertBag", 2);
    if (der.oidOf(certType, "certificate type") !== OID.x509Certificate) continue; // SDSI certificates: nobody uses them
    const inner = der.expect(certValue, 0xa0, "certificate value").children[0];
    certs.push({ cert: parseCertificate(der.octetsBer(inner, "certificate"), `certificate bag ${i + 1}`), bag });
  }
  const keyBags = bags.filter((b) => b.type === OID.keyBag || b.type === OID.pkcs8ShroudedKeyBag);
  const pool = certs.map((c) => c.cert);
  const entries: KeystoreEntry[] = [];
  for (const [i, bag] of keyBags.entries()) {
    let leaf = bag.localKeyId && certs.find((c) => c.bag.localKeyId && equal(c.bag.localKeyId, bag.localKeyId!))?.cert;
    if (!leaf && keyBags.length === 1) {
      // No localKeyId: the one end-entity certificate, i.e. one that issued nothing else here.
      const ends = pool.filter((c) => !pool.some((o) => o !== c && o.issuer === c.subject && !sameCert(o, c)));
      if (ends.length === 1) leaf = ends[0];
    }
    const alias = bag.friendlyName ?? (bag.localKeyId ? toHex(bag.localKeyId) : String(i + 1));
    const key = bag.type === OID.keyBag ? { pkcs8: bag.value.raw.slice() } : { epki: bag.value.raw.slice() };
    entries.push({
      kind: "privateKey",
      alias,
      date: dateFromKeyId(bag.localKeyId),
      key,
      chain: leaf ? buildPath(leaf, pool).path : [],
    });
  }
  const marked = certs.filter((c) => c.bag.trusted);
  const trusted = keyBags.length === 0 && marked.length === 0 ? certs : marked;
  for (const [i, { cert, bag }] of trusted.entries()) {
    entries.push({
      kind: "trustedCert",
      alias: bag.friendlyName ?? cert.subjectName.getField("CN")[0] ?? String(i + 1),
      date: dateFromKeyId(bag.localKeyId),
      cert,
    });
  }
  return entries;
}

export interface Pkcs12WriteOptions {
  /** pbeWithSHAAnd40BitRC2-CBC certificates, pbeWithSHAAnd3-KeyTripleDES-CBC keys, SHA-1 MAC: what older tools and `openssl pkcs12 -legacy` write. */
  legacy?: boolean;
  iterations?: number;
}

function attrs(...list: [string, Uint8Array][]): Uint8Array {
  return der.encSet(...list.map(([oid, value]) => der.encSeq(der.encOid(oid), der.encSet(value))));
}

function bag(type: string, value: Uint8Array, attributes: Uint8Array): Uint8Array {
  return der.encSeq(der.encOid(type), der.encExplicit(0, value), attributes);
}

function dataInfo(content: Uint8Array): Uint8Array {
  return der.encSeq(der.encOid(OID.data), der.encExplicit(0, der.encOctets(content)));
}

/**
 * Writes PKCS#12 as keytool 17 does: certificates in a PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC)
 * encrypted safe, keys in shrouded key bags with the same scheme, a SHA-256 MAC, 10000
 * iterations. Keys are encrypted with the store password (keytool allows no other for PKCS12).
 */
export function writePkcs12(
  store: Keystore,
  password: string,
  keyPassword: (alias: string) => string,
  opts: Pkcs12WriteOptions = {},
): Uint8Array {
  const iterations = opts.iterations ?? (opts.legacy ? 2048 : 10000);
  const keyScheme: pbe.EncryptOptions = opts.legacy ? { scheme: OID.pbeSHA1And3DES, iterations } : { iterations };
  const certScheme: pbe.EncryptOptions = opts.legacy ? { scheme: OID.pbeSHA1And40RC2, iterations } : { iterations };
  const keyBags: Uint8Array[] = [];
  const certBags: Uint8Array[] = [];
  const written: Certificate[] = [];
  const certBag = (c: Certificate, attributes: Uint8Array) =>
    bag(
      OID.certBag,
      der.encSeq(der.encOid(OID.x509Certificate), der.encExplicit(0, der.encOctets(certDer(c)))),
      attributes,
    );

  for (const e of store.entries) {
    const name = der.encBmp(e.alias);
    if (e.kind === "trustedCert") {
      certBags.push(
        certBag(
          e.cert,
          attrs([OID.friendlyName, name], [OID.oracleTrustedKeyUsage, der.encOid(OID.anyExtendedKeyUsage)]),
        ),
      );
      written.push(e.cert);
      continue;
    }
    const keyId = der.encOctets(utf8(`Time ${e.date.getTime()}`));
    keyBags.push(
      bag(
        OID.pkcs8ShroudedKeyBag,
        shroud(e, password, keyPassword(e.alias), keyScheme),
        attrs([OID.friendlyName, name], [OID.localKeyId, keyId]),
      ),
    );
    e.chain.forEach((c, i) => {
      if (i === 0) certBags.push(certBag(c, attrs([OID.friendlyName, name], [OID.localKeyId, keyId])));
      else if (!written.some((w) => sameCert(w, c))) certBags.push(certBag(c, attrs()));
      written.push(c);
    });
  }

  const safes: Uint8Array[] = [];
  if (certBags.length) {
    const { algId, ciphertext } = pbe.encrypt(der.encSeq(...certBags), password, certScheme);
    const eci = der.encSeq(der.encOid(OID.data), algId, der.encImplicit(0, ciphertext));
    safes.push(der.encSeq(der.encOid(OID.encryptedData), der.encExplicit(0, der.encSeq(der.encInt(0), eci))));
  }
  if (keyBags.length) safes.push(dataInfo(der.encSeq(...keyBags)));
  const authSafe = der.encSeq(...safes);

  const hash: pbe.HashName = opts.legacy ? "sha1" : "sha256";
  const salt = randomBytes(20);
  const mac = computeMac(hash, password, salt, iterations, authSafe);
  const macData = der.encSeq(
    der.encSeq(der.encAlg(hash === "sha1" ? OID.sha1 : OID.sha256, null), der.encOctets(mac)),
    der.encOctets(salt),
    der.encInt(iterations),
  );
  return der.encSeq(der.encInt(3), dataInfo(authSafe), macData);
}

/** An EncryptedPrivateKeyInfo for a shrouded bag: kept if it already uses a PKCS#12-capable scheme and the store password, else re-encrypted. */
function shroud(
  e: PrivateKeyEntry,
  storePassword: string,
  keyPassword: string,
  scheme: pbe.EncryptOptions,
): Uint8Array {
  if ("epki" in e.key && pbe.isPbeAlgorithm(epkiAlgorithm(e.key.epki)) && keyPassword === storePassword) {
    return e.key.epki;
  }
  return encryptPrivateKeyInfo(unlockKey(e, keyPassword), storePassword, scheme);
}
