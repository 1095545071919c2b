/**
 * Java KeyStore (JKS), sun.security.provider.JavaKeyStore's format:
 *   magic 0xFEEDFEED, version 2, entry count, entries, SHA-1 digest
 * where the digest covers (password as UTF-16BE || "Mighty Aphrodite" || everything before it),
 * and private keys are protected by Sun's KeyProtector (keyprotector.ts). Java lower-cases JKS
 * aliases, and so does the writer here.
 */
import { createHash } from "node:crypto";
import { concat, equal, utf16be, utf8 } from "./bytes.ts";
import { certDer, parseCertificate } from "./certs.ts";
import { Asn1Error } from "./der.ts";
import { encryptPrivateKeyInfo, epkiAlgorithm } from "./epki.ts";
import type { Keystore, KeystoreEntry } from "./model.ts";
import { unlockKey } from "./model.ts";
import { OID } from "./oids.ts";

export const JKS_MAGIC = 0xfeedfeed;
export const JCEKS_MAGIC = 0xcececece;

/** The stored digest does not match: Java's "Keystore was tampered with, or password was incorrect". */
export class JksIntegrityError extends Error {
  override name = "JksIntegrityError";
}

const WHITENER = utf8("Mighty Aphrodite");

function integrityDigest(password: string, body: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(utf16be(password)).update(WHITENER).update(body).digest());
}

class Reader {
  private pos = 0;
  private view: DataView;
  constructor(private buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get offset() {
    return this.pos;
  }
  private need(n: number, what: string) {
    if (this.pos + n > this.buf.length) {
      throw new Asn1Error(`file ends inside ${what} (offset ${this.pos}, ${this.buf.length} bytes in all)`);
    }
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = Number(this.view.getBigUint64(this.pos));
    this.pos += 8;
    return v;
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** DataInput.readUTF: 2-byte length and modified UTF-8. */
  utf(what: string): string {
    this.need(2, what);
    const len = this.view.getUint16(this.pos);
    this.pos += 2;
    return decodeModifiedUtf8(this.bytes(len, what), what);
  }
}

function decodeModifiedUtf8(b: Uint8Array, what: string): string {
  let s = "";
  for (let i = 0; i < b.length;) {
    const c = b[i++];
    if (c < 0x80) s += String.fromCharCode(c);
    else if ((c & 0xe0) === 0xc0 && i < b.length) s += String.fromCharCode(((c & 0x1f) << 6) | (b[i++] & 0x3f));
    else if ((c & 0xf0) === 0xe0 && i + 1 < b.length) {
      s += String.fromCharCode(((c & 0x0f) << 12) | ((b[i] & 0x3f) << 6) | (b[i + 1] & 0x3f));
      i += 2;
    } else throw new Asn1Error(`${what} is not valid modified UTF-8`);
  }
  return s;
}

function encodeModifiedUtf8(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 1 && c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return concat(Uint8Array.of(out.length >> 8, out.length & 0xff), Uint8Array.from(out));
}

/**
 * Parses a JKS file. With `password` null the integrity digest is not checked (as Java does
 * for a null password); otherwise a mismatch throws JksIntegrityError.
 */
export function readJks(bytes: Uint8Array, password: string | null): Keystore {
  const r = new Reader(bytes);
  const magic = r.u32("the header");
  if (magic !== JKS_MAGIC) throw new Asn1Error("not a JKS keystore (bad magic number)");
  const version = r.u32("the header");
  if (version !== 1 && version !== 2) throw new Asn1Error(`unsupported JKS version ${version}`);
  const count = r.u32("the header");
  const entries: KeystoreEntry[] = [];
  for (let i = 0; i < count; i++) {
    const tag = r.u32(`entry ${i + 1}`);
    const alias = r.utf(`the alias of entry ${i + 1}`);
    const date = new Date(r.u64(`entry ${alias}`));
    const readCert = (what: string) => {
      if (version === 2) {
        const type = r.utf(what);
        if (type !== "X.509") throw new Asn1Error(`${what} has unsupported certificate type ${type}`);
      }
      return parseCertificate(r.bytes(r.u32(what), what), what);
    };
    if (tag === 1) {
      const epki = r.bytes(r.u32(`the key of ${alias}`), `the key of ${alias}`);
      const n = r.u32(`the chain of ${alias}`);
      if (n > 100) throw new Asn1Error(`entry ${alias} claims ${n} chain certificates`);
      const chain = [];
      for (let j = 0; j < n; j++) chain.push(readCert(`certificate ${j + 1} of ${alias}`));
      entries.push({ kind: "privateKey", alias, date, key: { epki: epki.slice() }, chain });
    } else if (tag === 2) {
      entries.push({ kind: "trustedCert", alias, date, cert: readCert(`the certificate of ${alias}`) });
    } else {
      throw new Asn1Error(
        `entry ${alias} has unknown tag ${tag}${tag === 3 ? " (a secret key: that is a JCEKS store)" : ""}`,
      );
    }
  }
  const body = bytes.subarray(0, r.offset);
  const stored = r.bytes(20, "the integrity digest");
  if (r.offset !== bytes.length) {
    throw new Asn1Error(`${bytes.length - r.offset} unexpected byte(s) after the integrity digest`);
  }
  if (password !== null && !equal(integrityDigest(password, body), stored)) {
    throw new JksIntegrityError("Keystore was tampered with, or password was incorrect");
  }
  return { type: "JKS", entries, verified: password !== null };
}

/**
 * Writes a JKS file. Keys already protected by KeyProtector are copied; others are unlocked
 * with `keyPassword(alias)` if needed and protected with it.
 */
export function writeJks(store: Keystore, password: string, keyPassword: (alias: string) => string): Uint8Array {
  const u32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const u64 = (n: number) => concat(u32(Math.floor(n / 2 ** 32)), u32(n >>> 0));
  const cert = (c: Parameters<typeof certDer>[0]) =>
    concat(encodeModifiedUtf8("X.509"), u32(certDer(c).length), certDer(c));
  const parts: Uint8Array[] = [u32(JKS_MAGIC), u32(2), u32(store.entries.length)];
  for (const e of store.entries) {
    const head = concat(encodeModifiedUtf8(e.alias.toLowerCase()), u64(e.date.getTime()));
    if (e.kind === "trustedCert") {
      parts.push(u32(2), head, cert(e.cert));
      continue;
    }
    const pw = keyPassword(e.alias);
    const epki = "epki" in e.key && epkiAlgorithm(e.key.epki) === OID.sunKeyProtector
      ? e.key.epki
      : encryptPrivateKeyInfo(unlockKey(e, pw), pw, "jks");
    parts.push(u32(1), head, u32(epki.length), epki, u32(e.chain.length), ...e.chain.map(cert));
  }
  const body = concat(...parts);
  return concat(body, integrityDigest(password, body));
}
