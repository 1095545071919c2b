/**
 * CertID (RFC 6960 §4.1.1): hash of the issuer's subject DN, hash of the issuer's public key
 * bits, and the certificate's serial number. Requests use SHA-1, as every responder expects
 * (openssl ocsp looks certificates up by the SHA-1 CertID unless told otherwise); responses are
 * matched in whatever hash the responder chose.
 */
import { createHash } from "node:crypto";
import type { X509Certificate } from "@peculiar/x509";
import { equal, toHex } from "../keystore/bytes.ts";
import * as der from "../keystore/der.ts";
import { OID } from "../keystore/oids.ts";

export type CertIdHash = "sha1" | "sha256" | "sha384" | "sha512";

export const HASH_OIDS: Record<string, CertIdHash> = {
  [OID.sha1]: "sha1",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
};
const OID_OF: Record<CertIdHash, string> = {
  sha1: OID.sha1,
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};

export interface CertIdParts {
  hash: CertIdHash;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /** Content octets of the serial INTEGER, as the certificate encodes them. */
  serial: Uint8Array;
}

/** TBSCertificate fields after the optional [0] version: serial, signature, issuer, validity, subject, spki. */
function tbsFields(cert: X509Certificate): der.Node[] {
  const [tbs] = der.seq(der.parse(new Uint8Array(cert.rawData)), "certificate", 3);
  const fields = der.seq(tbs, "tbsCertificate", 6);
  return fields[0].tag === 0xa0 ? fields.slice(1) : fields;
}

export const serialOf = (cert: X509Certificate) =>
  der.expect(tbsFields(cert)[0], der.Tag.INTEGER, "serial number").value;
/** The subject Name as encoded in the certificate (ResponderID byName is compared against it). */
export const subjectDer = (cert: X509Certificate) => tbsFields(cert)[4].raw;

/** The public key bits (BIT STRING content without the unused-bits octet): what KeyHash and issuerKeyHash hash. */
export function publicKeyBits(cert: X509Certificate): Uint8Array {
  const [, bits] = der.seq(tbsFields(cert)[5], "subjectPublicKeyInfo", 2);
  return der.bitString(bits, "subjectPublicKey");
}

export const digest = (hash: CertIdHash, data: Uint8Array) => new Uint8Array(createHash(hash).update(data).digest());

export function certIdOf(cert: X509Certificate, issuer: X509Certificate, hash: CertIdHash = "sha1"): CertIdParts {
  return {
    hash,
    issuerNameHash: digest(hash, subjectDer(issuer)),
    issuerKeyHash: digest(hash, publicKeyBits(issuer)),
    serial: serialOf(cert),
  };
}

/** DER CertID, as it goes into a Request. */
export function encodeCertId(id: CertIdParts): Uint8Array {
  return der.encSeq(
    der.encAlg(OID_OF[id.hash], null),
    der.encOctets(id.issuerNameHash),
    der.encOctets(id.issuerKeyHash),
    der.tlv(der.Tag.INTEGER, id.serial),
  );
}

/** Serial numbers compare as integers: a leading 00 octet (sign padding) is not significant. */
function sameSerial(a: Uint8Array, b: Uint8Array): boolean {
  const strip = (x: Uint8Array) => {
    let i = 0;
    while (i < x.length - 1 && x[i] === 0) i++;
    return x.subarray(i);
  };
  return equal(strip(a), strip(b));
}

export function sameCertId(a: CertIdParts, b: CertIdParts): boolean {
  return a.hash === b.hash && equal(a.issuerNameHash, b.issuerNameHash) && equal(a.issuerKeyHash, b.issuerKeyHash) &&
    sameSerial(a.serial, b.serial);
}

/** Upper-case hex without sign padding: how openssl's index.txt and `openssl x509 -serial` print serials. */
export function serialHex(serial: Uint8Array): string {
  let i = 0;
  while (i < serial.length - 1 && serial[i] === 0) i++;
  return toHex(serial.subarray(i)).toUpperCase();
}

/** Cache key for a certificate's status: its SHA-1 CertID. */
export function certIdKey(id: CertIdParts): string {
  return `${toHex(id.issuerNameHash)}:${toHex(id.issuerKeyHash)}:${serialHex(id.serial)}`;
}
