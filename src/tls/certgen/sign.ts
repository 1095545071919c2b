/**
 * Issuing certificates as keytool's -genkeypair (self-signed) and -gencert (signed by a key
 * entry) do: keytool's signature algorithm names, -startdate syntax and -validity in days. The
 * command itself is src/cli/keytool; dname.ts and ext.ts parse its -dname and -ext values.
 */
import type { Extension, Name, X509Certificate } from "@peculiar/x509";
import { toArrayBuffer } from "../keystore/bytes.ts";
import {
  defaultHash,
  importPrivateKey,
  javaSigAlgName,
  type KeyInfo,
  type SignatureHash,
  signingAlgorithm,
} from "../keystore/keys.ts";
import { randomSerial } from "../keystore/selfsigned.ts";
import { x509 } from "../keystore/x509.ts";
import { CertParameterError } from "./errors.ts";

/** Resolves -sigalg (e.g. SHA384withRSA) against the signing key, or keytool's default for it. */
export function chooseHash(info: KeyInfo, sigalg: string | undefined): SignatureHash {
  if (sigalg === undefined) return defaultHash(info);
  const m = /^SHA-?(1|256|384|512)with(RSA|ECDSA)$/i.exec(sigalg.trim());
  if (!m) {
    throw new CertParameterError(
      `Unsupported signature algorithm: ${sigalg} (use SHA256withRSA, SHA384withRSA, SHA512withRSA, SHA256withECDSA, SHA384withECDSA or SHA512withECDSA)`,
    );
  }
  const keyAlg = m[2].toUpperCase() === "RSA" ? "RSA" : "EC";
  if (keyAlg !== info.type) {
    throw new CertParameterError(`Signature algorithm ${sigalg} does not fit a ${info.type} key`);
  }
  return (m[1] === "1" ? "SHA-1" : `SHA-${m[1]}`) as SignatureHash;
}

export const sigAlgLabel = (info: KeyInfo, hash: SignatureHash) => javaSigAlgName(info.type, hash);

/**
 * keytool's -startdate: "[+-]nnn[ymdHMS]" steps relative to now (e.g. "-1d", "+1y-1m"),
 * or an absolute "yyyy/mm/dd [HH:MM:SS]" / "HH:MM:SS" (UTC here).
 */
export function parseStartDate(s: string | undefined, now = new Date()): Date {
  if (s === undefined) return now;
  if (/^([+-]\d+[ymdHMS])+$/.test(s)) {
    const d = new Date(now);
    for (const [, sign, n, unit] of s.matchAll(/([+-])(\d+)([ymdHMS])/g)) {
      const v = (sign === "-" ? -1 : 1) * Number(n);
      if (unit === "y") d.setUTCFullYear(d.getUTCFullYear() + v);
      else if (unit === "m") d.setUTCMonth(d.getUTCMonth() + v);
      else if (unit === "d") d.setUTCDate(d.getUTCDate() + v);
      else if (unit === "H") d.setUTCHours(d.getUTCHours() + v);
      else if (unit === "M") d.setUTCMinutes(d.getUTCMinutes() + v);
      else d.setUTCSeconds(d.getUTCSeconds() + v);
    }
    return d;
  }
  const m = /^(?:(\d{4})\/(\d{2})\/(\d{2}))?\s*(?:(\d{2}):(\d{2}):(\d{2}))?$/.exec(s.trim());
  if (!m || (!m[1] && !m[4])) throw new CertParameterError(`Illegal startdate value: ${s}`);
  const [y, mo, d] = m[1]
    ? [Number(m[1]), Number(m[2]) - 1, Number(m[3])]
    : [now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()];
  const [h, mi, se] = m[4] ? [Number(m[4]), Number(m[5]), Number(m[6])] : [0, 0, 0];
  return new Date(Date.UTC(y, mo, d, h, mi, se));
}

export function parseValidity(s: string | undefined): number {
  if (s === undefined) return 90;
  if (!/^\d+$/.test(s) || Number(s) < 1) {
    throw new CertParameterError(`Illegal validity value: ${s} (a number of days)`);
  }
  return Number(s);
}

export interface IssueParams {
  subject: Name;
  issuer: Name;
  /** SubjectPublicKeyInfo of the certified key. */
  spki: Uint8Array;
  signerPkcs8: Uint8Array;
  signerInfo: KeyInfo;
  hash: SignatureHash;
  notBefore: Date;
  days: number;
  extensions: Extension[];
}

export async function issueCertificate(p: IssueParams): Promise<X509Certificate> {
  return await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: p.subject,
    issuer: p.issuer,
    notBefore: p.notBefore,
    notAfter: new Date(p.notBefore.getTime() + p.days * 86_400_000),
    publicKey: toArrayBuffer(p.spki),
    signingKey: await importPrivateKey(p.signerPkcs8, p.signerInfo, p.hash),
    signingAlgorithm: signingAlgorithm(p.signerInfo, p.hash),
    extensions: p.extensions,
  });
}

/** keytool adds a SubjectKeyIdentifier (SHA-1 of the key bits) to what it issues. */
export async function subjectKeyIdentifier(spki: Uint8Array): Promise<Extension> {
  return await x509.SubjectKeyIdentifierExtension.create(toArrayBuffer(spki));
}
