/**
 * A small test/dev certificate authority: a root CA, server and client certificates carrying
 * the OCSP responder URL in authorityInfoAccess and a CRL distribution point (what the SSL
 * how-to's openssl.cnf `[v3_issued]` section writes), a delegated OCSP signing certificate, and
 * CRLs. Everything is returned as PEM, ready for `openssl ocsp`, `openssl verify` and bobcat.
 */
import { isIP } from "node:net";
import type { Extension, GeneralName, Name, X509Certificate } from "@peculiar/x509";
import { toArrayBuffer, toHex } from "../keystore/bytes.ts";
import { parseCertificate, spkiOf } from "../keystore/certs.ts";
import * as der from "../keystore/der.ts";
import {
  defaultHash,
  generateKeyPair,
  importPrivateKey,
  type KeyAlgorithm,
  type KeyInfo,
  keyInfo,
  signingAlgorithm,
} from "../keystore/keys.ts";
import { PasswordRequiredError, pemPrivateKey, PRIVATE_KEY_LABELS } from "../keystore/pem-keys.ts";
import { parsePem, toPem } from "../keystore/pem.ts";
import { randomSerial } from "../keystore/selfsigned.ts";
import { x509 } from "../keystore/x509.ts";
import { BobcatError } from "../../util/errors.ts";

export type CaKeyType = KeyAlgorithm;

/** A CA (or any issued certificate) as PEM text: the certificate and its unencrypted PKCS#8 key. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

export interface IssuedCertificate extends CaMaterial {
  /** Serial number, upper-case hex, as openssl's index.txt and `openssl x509 -serial` write it. */
  serial: string;
  /** The certificate itself, parsed. */
  cert: X509Certificate;
}

export interface CreateCaOptions {
  /** Distinguished name, e.g. `CN=bobcat Test CA,O=bobcat`. */
  subject: string;
  /** RSA 2048 (default) or EC P-256. */
  keyType?: CaKeyType;
  /** Validity in days (default 3650). */
  days?: number;
}

export interface IssueOptions {
  ca: CaMaterial;
  subject: string;
  /** `dns:name`, `ip:addr`, `email:addr`, `uri:url`, or a bare host name or IP address. */
  san?: string[];
  keyType?: CaKeyType;
  /** Validity in days (default 375, the how-to's `-days 375`). */
  days?: number;
  /** Written as authorityInfoAccess `OCSP;URI:<url>`, as the how-to's openssl.cnf does. */
  ocspUrl?: string;
  /** Written as crlDistributionPoints `URI:<url>`. */
  crlUrl?: string;
  /** extendedKeyUsage clientAuth (default false). */
  clientAuth?: boolean;
  /** extendedKeyUsage serverAuth (default: true unless clientAuth is set). */
  serverAuth?: boolean;
}

export interface RevokedEntry {
  /** Hex serial number (case and sign padding do not matter). */
  serial: string;
  /** Revocation time (default: now). */
  date?: Date;
  /** CRL reason name: keyCompromise, superseded, ... (see CRL_REASONS). */
  reason?: string;
}

/** The reason names openssl's index.txt understands, with their CRLReason codes. */
export const CRL_REASONS: Record<string, number> = {
  unspecified: 0,
  keyCompromise: 1,
  CACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
};

const OID_OCSP_NOCHECK = "1.3.6.1.5.5.7.48.1.5";
const OID_CRL_NUMBER = "2.5.29.20";
const DAY = 86_400_000;
/** Back-dated so a verifier whose clock runs a little behind accepts a certificate at once. */
const BACKDATE_MS = 60_000;

export function crlReasonCode(name: string): number {
  const hit = Object.entries(CRL_REASONS).find(([n]) => n.toLowerCase() === name.toLowerCase());
  if (!hit) {
    throw new BobcatError("ca.badReason", `unknown revocation reason "${name}"`, {
      fix: `use one of: ${Object.keys(CRL_REASONS).join(", ")}`,
    });
  }
  return hit[1];
}

/** The canonical spelling of a reason name (index.txt and CRLs want exactly these). */
export const crlReasonName = (name: string) =>
  Object.keys(CRL_REASONS).find((n) => n.toLowerCase() === name.toLowerCase()) ?? name;

interface KeyPair {
  pkcs8: Uint8Array;
  info: KeyInfo;
}

interface Signer extends KeyPair {
  cert: X509Certificate;
}

async function loadSigner(ca: CaMaterial): Promise<Signer> {
  const certBlock = parsePem(ca.certPem).find((b) => b.label === "CERTIFICATE");
  const keyBlock = parsePem(ca.keyPem).find((b) => PRIVATE_KEY_LABELS.includes(b.label));
  if (!certBlock) throw new BobcatError("ca.badCertificate", "the CA certificate PEM has no CERTIFICATE block");
  if (!keyBlock) throw new BobcatError("ca.badKey", "the CA key PEM has no PRIVATE KEY block");
  let pkcs8: Uint8Array;
  try {
    pkcs8 = pemPrivateKey(keyBlock, undefined);
  } catch (e) {
    if (e instanceof PasswordRequiredError) {
      throw new BobcatError(
        "ca.encryptedKey",
        "the CA key is encrypted; this helper signs with unencrypted keys only",
        { fix: "decrypt it first: openssl pkey -in ca-key.pem -out ca-key.pem" },
      );
    }
    throw new BobcatError("ca.badKey", `the CA key cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const cert = parseCertificate(certBlock.der, "the CA certificate");
  const info = await keyInfo(pkcs8);
  if (toHex(info.spki) !== toHex(spkiOf(cert))) {
    throw new BobcatError("ca.keyMismatch", `the CA key does not belong to the CA certificate [${cert.subject}]`, {
      fix: "pass the key file that was created with this certificate",
    });
  }
  return { cert, pkcs8, info };
}

async function newKey(type: CaKeyType = "RSA") {
  if (type !== "RSA" && type !== "EC") {
    throw new BobcatError("ca.badKeyType", `unknown key type "${type}"`, { fix: "use RSA or EC" });
  }
  return await generateKeyPair(type, type === "RSA" ? 2048 : "P-256");
}

function generalName(entry: string): GeneralName {
  const m = /^(dns|ip|email|uri):(.+)$/i.exec(entry);
  const [type, value] = m
    ? [m[1].toLowerCase(), m[2]]
    : [isIP(entry.replace(/^\[|\]$/g, "")) ? "ip" : "dns", entry.replace(/^\[|\]$/g, "")];
  if (type === "ip" && !isIP(value)) {
    throw new BobcatError("ca.badSan", `"${value}" in subjectAltName is not an IP address`, {
      fix: "write ip:127.0.0.1 or ip:::1",
    });
  }
  if (!value || /\s/.test(value)) {
    throw new BobcatError("ca.badSan", `"${entry}" is not a valid subjectAltName entry`, {
      fix: "write dns:host.example, ip:127.0.0.1, email:a@b.example or uri:https://...",
    });
  }
  return new x509.GeneralName(type === "uri" ? "url" : (type as "dns" | "ip" | "email"), value);
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1) {
    throw new BobcatError("ca.badDays", `validity of ${days} days is not a positive whole number`);
  }
  return days;
}

function parseName(subject: string): void {
  const bad = (why: string, cause?: unknown) =>
    new BobcatError("ca.badSubject", `"${subject}" is not a distinguished name (${why})`, {
      cause,
      fix: "write it as CN=name,O=organisation (attribute names in upper case)",
    });
  let values: string[];
  try {
    values = new x509.Name(subject).toJSON().flatMap((rdn) => Object.values(rdn).flat());
  } catch (e) {
    throw bad((e as Error).message, e);
  }
  // The parser skips what it cannot read, so every written attribute must come back with a value.
  const written = subject.split(/(?<!\\)[,+]/).length;
  if (values.length !== written || values.some((v) => v === "")) throw bad("every part must be TYPE=value");
}

/** authorityKeyIdentifier=keyid: the issuer's own subjectKeyIdentifier, so chains link by key as well as by name. */
async function authorityKeyId(issuer: X509Certificate): Promise<Extension> {
  const ski = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return await x509.AuthorityKeyIdentifierExtension.create(toArrayBuffer(spkiOf(issuer)));
}

async function sign(
  issuer: KeyPair & { name: string | Name },
  subjectKey: KeyPair,
  subject: string,
  days: number,
  extensions: Extension[],
): Promise<IssuedCertificate> {
  const hash = defaultHash(issuer.info);
  const now = Date.now();
  const serial = randomSerial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject,
    issuer: issuer.name,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + checkDays(days) * DAY),
    publicKey: toArrayBuffer(subjectKey.info.spki),
    signingKey: await importPrivateKey(issuer.pkcs8, issuer.info, hash),
    signingAlgorithm: signingAlgorithm(issuer.info, hash),
    extensions: [...extensions, await x509.SubjectKeyIdentifierExtension.create(toArrayBuffer(subjectKey.info.spki))],
  });
  return {
    certPem: toPem("CERTIFICATE", new Uint8Array(cert.rawData)),
    keyPem: toPem("PRIVATE KEY", subjectKey.pkcs8),
    serial: serial.toUpperCase(),
    cert,
  };
}

/** A self-signed root CA that may sign certificates, CRLs and (directly) OCSP responses. */
export async function createCa(opts: CreateCaOptions): Promise<IssuedCertificate> {
  parseName(opts.subject);
  const key = await newKey(opts.keyType);
  const KU = x509.KeyUsageFlags;
  return await sign({ ...key, name: opts.subject }, key, opts.subject, opts.days ?? 3650, [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(KU.keyCertSign | KU.cRLSign | KU.digitalSignature, true),
  ]);
}

/** A server and/or client certificate signed by `ca`, with AIA (OCSP) and CRL distribution point when given. */
export async function issueCertificate(opts: IssueOptions): Promise<IssuedCertificate> {
  parseName(opts.subject);
  const signer = await loadSigner(opts.ca);
  const key = await newKey(opts.keyType);
  const KU = x509.KeyUsageFlags;
  const clientAuth = opts.clientAuth ?? false;
  const serverAuth = opts.serverAuth ?? !clientAuth;
  const usages = [
    ...(serverAuth ? [x509.ExtendedKeyUsage.serverAuth] : []),
    ...(clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : []),
  ];
  // The how-to's [v3_issued] also sets every keyUsage bit, keyCertSign included, on a CA:FALSE
  // certificate; a leaf needs only signing (and RSA key transport), so that part is not copied.
  const extensions: Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      key.info.type === "RSA" ? KU.digitalSignature | KU.keyEncipherment : KU.digitalSignature,
      true,
    ),
    await authorityKeyId(signer.cert),
  ];
  if (usages.length) extensions.push(new x509.ExtendedKeyUsageExtension(usages));
  if (opts.san?.length) extensions.push(new x509.SubjectAlternativeNameExtension(opts.san.map(generalName)));
  if (opts.ocspUrl) {
    extensions.push(
      new x509.AuthorityInfoAccessExtension({
        ocsp: [new x509.GeneralName("url", checkUrl(opts.ocspUrl, "OCSP responder"))],
      }),
    );
  }
  if (opts.crlUrl) {
    extensions.push(new x509.CRLDistributionPointsExtension([checkUrl(opts.crlUrl, "CRL distribution point")]));
  }
  return await sign({ ...signer, name: signer.cert.subjectName }, key, opts.subject, opts.days ?? 375, extensions);
}

function checkUrl(url: string, what: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === "http:" || u.protocol === "https:") return url;
  } catch {
    // reported below
  }
  throw new BobcatError("ca.badUrl", `"${url}" is not an http(s) URL for the ${what}`, {
    fix: "write it as http://127.0.0.1:8088",
  });
}

/**
 * A delegated OCSP responder certificate: extendedKeyUsage OCSPSigning, and id-pkix-ocsp-nocheck
 * so clients do not ask the responder about its own certificate (RFC 6960 §4.2.2.2.1).
 */
export async function issueOcspSigner(
  ca: CaMaterial,
  opts: { subject?: string; keyType?: CaKeyType; days?: number } = {},
): Promise<IssuedCertificate> {
  const signer = await loadSigner(ca);
  const cn = signer.cert.subjectName.getField("CN")[0] ?? "CA";
  const subject = opts.subject ?? `CN=${cn.replace(/[,+="\\<>;#]/g, (c) => `\\${c}`)} OCSP Responder`;
  parseName(subject);
  const key = await newKey(opts.keyType ?? signer.info.type);
  return await sign({ ...signer, name: signer.cert.subjectName }, key, subject, opts.days ?? 375, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.ocspSigning]),
    new x509.Extension(OID_OCSP_NOCHECK, false, toArrayBuffer(der.encNull())),
    await authorityKeyId(signer.cert),
  ]);
}

/** A CRL signed by `ca` listing `revoked`, valid for `days` (default 30), numbered `crlNumber` (default 1). */
export async function makeCrl(
  ca: CaMaterial,
  revoked: RevokedEntry[],
  opts: { days?: number; crlNumber?: number } = {},
): Promise<string> {
  const signer = await loadSigner(ca);
  const hash = defaultHash(signer.info);
  const now = Date.now();
  const crlNumber = opts.crlNumber ?? 1;
  if (!Number.isSafeInteger(crlNumber) || crlNumber < 0) {
    throw new BobcatError("ca.badCrlNumber", `CRL number ${crlNumber} is not a non-negative whole number`);
  }
  const crl = await x509.X509CrlGenerator.create({
    issuer: signer.cert.subjectName,
    thisUpdate: new Date(now - BACKDATE_MS),
    nextUpdate: new Date(now + checkDays(opts.days ?? 30) * DAY),
    signingKey: await importPrivateKey(signer.pkcs8, signer.info, hash),
    signingAlgorithm: signingAlgorithm(signer.info, hash),
    extensions: [
      await authorityKeyId(signer.cert),
      new x509.Extension(OID_CRL_NUMBER, false, toArrayBuffer(der.encInt(crlNumber))),
    ],
    entries: revoked.map((r) => ({
      serialNumber: normalSerial(r.serial),
      revocationDate: r.date ?? new Date(now),
      ...(r.reason ? { reason: crlReasonCode(r.reason) } : {}),
    })),
  });
  return toPem("X509 CRL", new Uint8Array(crl.rawData));
}

/** Hex serial without separators or sign padding; rejects anything that is not hex. */
export function normalSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex)) throw new BobcatError("ca.badSerial", `"${serial}" is not a hexadecimal serial number`);
  const stripped = hex.replace(/^(00)+(?=..)/, "");
  return stripped.length % 2 ? "0" + stripped : stripped;
}
