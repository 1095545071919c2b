/**
 * What start-up needs of a certificate — subject, issuer, validity, serial, public key, the OCSP
 * responder — read with the small DER reader, and signatures checked with node:crypto's
 * X509Certificate (Bun and Deno both have it). Loading @peculiar/x509 and its ASN.1 schemas
 * costs about 20 MiB and a good part of start-up, so serving a PEM certificate does without it;
 * code that needs the full object (keytool, OCSP, ACME, client certificates) parses `rawData`
 * with @peculiar/x509 itself. Names print as @peculiar/x509 prints them ("C=JP, O=x, CN=y"), so
 * messages read the same whichever parsed the certificate.
 */
import type { X509Certificate as NodeX509 } from "node:crypto";
import { nodeCrypto } from "../../util/node-crypto.ts";
import { equal, toArrayBuffer, toHex } from "./bytes.ts";
import * as der from "./der.ts";
import { Asn1Error } from "./der.ts";
import { webVerify } from "./web-verify.ts";

const ON_DENO = (globalThis as { Deno?: unknown }).Deno !== undefined;

/** The fields shared by CertificateInfo and @peculiar/x509's X509Certificate. */
export interface CertSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hex of the serial number's content octets. */
  readonly serialNumber: string;
  /** The certificate's DER. */
  readonly rawData: ArrayBuffer;
}

/** @peculiar/x509's short names (its default NameIdentifier). */
const NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.6": "C",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "E",
  "2.5.4.42": "G",
  "2.5.4.43": "I",
  "2.5.4.4": "SN",
  "2.5.4.12": "T",
};

/** The same escaping as @peculiar/x509's Name.toString (RFC 4514 specials; the first control character as \XX). */
function escapeValue(s: string): string {
  return s
    .replace(/([,+"\\<>;])/g, "\\$1")
    .replace(/^([ #])/, "\\$1")
    .replace(/([ ]$)/, "\\$1")
    .replace(/([\r\n\t])/, (c) => `\\${toHex(new TextEncoder().encode(c)).toUpperCase()}`);
}

function stringValue(node: der.Node): string | undefined {
  const v = node.value;
  switch (node.tag) {
    case 0x0c: // UTF8String
      return new TextDecoder().decode(v);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString
    case 0x1a: // VisibleString
      return String.fromCharCode(...v);
    case 0x1e: { // BMPString
      let s = "";
      for (let i = 0; i + 1 < v.length; i += 2) s += String.fromCharCode((v[i]! << 8) | v[i + 1]!);
      return s;
    }
    case 0x1c: { // UniversalString
      let s = "";
      for (let i = 0; i + 3 < v.length; i += 4) {
        s += String.fromCodePoint(((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0);
      }
      return s;
    }
  }
  return undefined;
}

/** A Name as @peculiar/x509 prints it: RDNs in order, joined by ", ", multi-valued ones by "+". */
export function nameToString(name: der.Node): string {
  return der.seq(name, "name").map((rdn) =>
    rdn.children.map((atv) => {
      const [type, value] = der.seq(atv, "attribute", 2);
      const oid = der.oidOf(type, "attribute type");
      const text = stringValue(value!);
      return `${NAMES[oid] ?? oid}=${text === undefined ? `#${toHex(value!.raw)}` : escapeValue(text)}`;
    }).join("+")
  ).join(", ");
}

function time(node: der.Node | undefined, what: string): Date {
  if (!node || (node.tag !== der.Tag.UTC_TIME && node.tag !== der.Tag.GENERALIZED_TIME)) {
    throw new Asn1Error(`${what} is not a time`);
  }
  const s = String.fromCharCode(...node.value);
  const m = node.tag === der.Tag.UTC_TIME
    ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/.exec(s)
    : /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(s);
  if (!m) throw new Asn1Error(`${what} [${s}] is not a valid time`);
  let year = Number(m[1]);
  if (node.tag === der.Tag.UTC_TIME) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
}

const AIA = "1.3.6.1.5.5.7.1.1";
const SAN = "2.5.29.17";

/** An iPAddress GeneralName: dotted IPv4, or IPv6 with the longest run of zero groups as "::". */
function formatIp(b: Uint8Array): string {
  if (b.length === 4) return [...b].join(".");
  if (b.length !== 16) return toHex(b);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}
const OCSP_METHOD = "1.3.6.1.5.5.7.48.1";

export class CertificateInfo implements CertSummary {
  readonly rawData: ArrayBuffer;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
  /** DER of the subject and issuer Names, for byte-wise chain links. */
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  /** The SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  readonly #extensions: der.Node | undefined;
  #node?: NodeX509;

  /** Throws Asn1Error for anything that is not a well-formed certificate. */
  constructor(bytes: Uint8Array) {
    const [tbs] = der.seq(der.parse(bytes), "certificate", 3);
    const fields = der.seq(tbs, "tbsCertificate", 6);
    const rest = fields[0]!.tag === 0xa0 ? fields.slice(1) : fields;
    const [serial, , issuer, validity, subject, spki] = rest;
    const [nb, na] = der.seq(validity, "validity", 2);
    der.seq(spki, "subjectPublicKeyInfo", 2);
    this.rawData = toArrayBuffer(bytes);
    this.serialNumber = toHex(der.expect(serial, der.Tag.INTEGER, "serialNumber").value);
    this.issuer = nameToString(issuer!);
    this.subject = nameToString(subject!);
    this.issuerDer = issuer!.raw;
    this.subjectDer = subject!.raw;
    this.notBefore = time(nb, "notBefore");
    this.notAfter = time(na, "notAfter");
    this.spki = spki!.raw;
    this.#extensions = rest.slice(6).find((n) => n.tag === 0xa3)?.children[0];
  }

  /** The extnValue (contents of the OCTET STRING) of an extension, or undefined. */
  extension(oid: string): Uint8Array | undefined {
    for (const ext of this.#extensions?.children ?? []) {
      const parts = ext.children;
      if (parts[0] && der.oidOf(parts[0], "extnID") === oid) return der.octets(parts[parts.length - 1], "extnValue");
    }
    return undefined;
  }

  /** The first http(s) OCSP responder URI of authorityInfoAccess. */
  get ocspUrl(): string | undefined {
    const aia = this.extension(AIA);
    if (!aia) return undefined;
    for (const ad of der.seq(der.parse(aia), "authorityInfoAccess")) {
      const [method, location] = ad.children;
      if (!method || der.oidOf(method, "accessMethod") !== OCSP_METHOD) continue;
      if (location?.tag !== 0x86) continue; // [6] uniformResourceIdentifier
      const uri = String.fromCharCode(...location.value);
      if (/^https?:\/\//i.test(uri)) return uri;
    }
    return undefined;
  }

  /**
   * subjectAltName entries as @peculiar/x509 gives their values: DNS names, e-mail addresses,
   * URIs, IP addresses (IPv6 in RFC 5952 form) and directory names; other kinds are left out.
   */
  get subjectAltNames(): string[] {
    const san = this.extension(SAN);
    if (!san) return [];
    const out: string[] = [];
    for (const gn of der.seq(der.parse(san), "subjectAltName")) {
      if (gn.tag === 0x81 || gn.tag === 0x82 || gn.tag === 0x86) out.push(String.fromCharCode(...gn.value));
      else if (gn.tag === 0x87) out.push(formatIp(gn.value));
      else if (gn.tag === 0xa4 && gn.children[0]) out.push(nameToString(gn.children[0]));
    }
    return out;
  }

  /** node:crypto's view of the certificate (made on first use). */
  get node(): NodeX509 {
    return this.#node ??= new (nodeCrypto().X509Certificate)(new Uint8Array(this.rawData));
  }

  get isSelfIssued(): boolean {
    return namedIssuer(this, this);
  }
}

/** Parses a certificate, turning any failure into Asn1Error naming `what`. */
export function parseCertificateInfo(bytes: Uint8Array, what: string): CertificateInfo {
  try {
    return new CertificateInfo(bytes);
  } catch (e) {
    throw new Asn1Error(`${what} is not a valid X.509 certificate (${(e as Error).message})`);
  }
}

/** Issuer of `cert` has the subject of `issuer` (byte-wise, as RFC 5280 allows for well-formed names). */
export function namedIssuer(cert: CertificateInfo, issuer: CertificateInfo): boolean {
  return equal(cert.issuerDer, issuer.subjectDer) || cert.issuer === issuer.subject;
}

/**
 * `false` only when the signature is checked and wrong; what cannot be checked counts as unknown.
 * On Deno Web Crypto checks the usual algorithms (src/tls/keystore/web-verify.ts), so that a
 * chain does not load Deno's Node layer; node:crypto checks the rest, and everything on Bun and
 * Node (where it is native).
 */
export async function signedBy(cert: CertificateInfo, issuer: CertificateInfo): Promise<boolean | undefined> {
  if (ON_DENO) {
    try {
      const checked = await webVerify(new Uint8Array(cert.rawData), issuer.spki);
      if (checked !== undefined) return checked;
    } catch { /* not a key or signature Web Crypto reads: node:crypto's view below */ }
  }
  try {
    return cert.node.verify(issuer.node.publicKey);
  } catch {
    return undefined;
  }
}

/** How the links of a chain are checked, for each library's certificate object. */
export interface LinkChecks<C> {
  namedIssuer(cert: C, issuer: C): boolean;
  /** `false` only when the signature is checked and wrong. */
  signedBy(cert: C, issuer: C): Promise<boolean | undefined>;
}

/** The first link (index of the child) whose issuer does not match or whose signature fails. */
export async function firstBrokenLink<C extends { readonly subject: string; readonly issuer: string }>(
  chain: C[],
  checks: LinkChecks<C>,
): Promise<{ index: number; reason: string } | undefined> {
  for (let i = 0; i + 1 < chain.length; i++) {
    const [child, parent] = [chain[i]!, chain[i + 1]!];
    if (!checks.namedIssuer(child, parent)) {
      return {
        index: i,
        reason: `certificate #${
          i + 1
        } [${child.subject}] is issued by [${child.issuer}], but the next certificate is [${parent.subject}]`,
      };
    }
    if ((await checks.signedBy(child, parent)) === false) {
      return {
        index: i,
        reason: `certificate #${
          i + 1
        } [${child.subject}] names [${parent.subject}] as issuer but its signature does not verify with that certificate's key`,
      };
    }
  }
  return undefined;
}

/** firstBrokenLink of a chain read by parseCertificateInfo. */
export function brokenLink(chain: CertificateInfo[]): Promise<{ index: number; reason: string } | undefined> {
  return firstBrokenLink(chain, { namedIssuer, signedBy });
}
