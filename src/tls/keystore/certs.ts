/** Certificate parsing and chain links, with failures turned into Asn1Error for clean reporting. */
import { equal, toArrayBuffer } from "./bytes.ts";
import { firstBrokenLink } from "./cert-info.ts";
import * as der from "./der.ts";
import { Asn1Error } from "./der.ts";
import { toPem } from "./pem.ts";
import type { X509Certificate } from "@peculiar/x509";
import { x509 } from "./x509.ts";

export type Certificate = X509Certificate;

/**
 * Parses a certificate and touches the fields @peculiar/x509 decodes lazily, so a damaged one
 * fails here, as Asn1Error, rather than later inside some getter.
 */
export function parseCertificate(bytes: Uint8Array, what: string): Certificate {
  try {
    const cert = new x509.X509Certificate(toArrayBuffer(bytes));
    void [cert.subject, cert.issuer, cert.notBefore, cert.notAfter, cert.serialNumber, cert.extensions];
    tbsFields(bytes);
    return cert;
  } catch (e) {
    throw new Asn1Error(`${what} is not a valid X.509 certificate (${(e as Error).message})`);
  }
}

/** TBSCertificate fields after the optional [0] version: serial, signature, issuer, validity, subject, spki, ... */
function tbsFields(bytes: Uint8Array): der.Node[] {
  const [tbs] = der.seq(der.parse(bytes), "certificate", 3);
  const fields = der.seq(tbs, "tbsCertificate", 6);
  const rest = fields[0].tag === 0xa0 ? fields.slice(1) : fields;
  der.seq(rest[5], "subjectPublicKeyInfo", 2);
  return rest;
}

export const certDer = (c: Certificate) => new Uint8Array(c.rawData);
export const certPem = (c: Certificate) => toPem("CERTIFICATE", certDer(c));
export const sameCert = (a: Certificate, b: Certificate) => equal(certDer(a), certDer(b));
/** The SubjectPublicKeyInfo DER, read directly (the library's PublicKey rejects keys it cannot map to WebCrypto). */
export const spkiOf = (c: Certificate) => tbsFields(certDer(c))[5].raw;

/** Issuer of `cert` has the subject of `issuer` (byte-wise, as RFC 5280 allows for well-formed names). */
export function namedIssuer(cert: Certificate, issuer: Certificate): boolean {
  return equal(new Uint8Array(cert.issuerName.toArrayBuffer()), new Uint8Array(issuer.subjectName.toArrayBuffer())) ||
    cert.issuer === issuer.subject;
}

export const isSelfIssued = (c: Certificate) => namedIssuer(c, c);

/** `false` only when the signature is checked and wrong; algorithms WebCrypto lacks count as unknown (`undefined`). */
export async function signedBy(cert: Certificate, issuer: Certificate): Promise<boolean | undefined> {
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return undefined;
  }
}

/** Orders `pool` into a path from `leaf` by issuer names; returns the path (leaf first) and what did not fit. */
export function buildPath(leaf: Certificate, pool: Certificate[]): { path: Certificate[]; unused: Certificate[] } {
  const path = [leaf];
  const rest = pool.filter((c) => !sameCert(c, leaf));
  for (let cur = leaf; !isSelfIssued(cur);) {
    const i = rest.findIndex((c) => namedIssuer(cur, c));
    if (i < 0) break;
    cur = rest.splice(i, 1)[0];
    path.push(cur);
  }
  return { path, unused: rest };
}

/** firstBrokenLink of a chain parsed by @peculiar/x509, its signatures checked by that library. */
export function brokenLink(chain: Certificate[]): Promise<{ index: number; reason: string } | undefined> {
  return firstBrokenLink(chain, { namedIssuer, signedBy });
}
