/** Certificates printed the way `keytool -list -v` and `-printcert` print them. */
import type { Extension, X509Certificate } from "@peculiar/x509";
import { createHash } from "node:crypto";
import { fromHex } from "../../tls/keystore/bytes.ts";
import { certDer, spkiOf } from "../../tls/keystore/certs.ts";
import * as der from "../../tls/keystore/der.ts";
import { CURVES, OID } from "../../tls/keystore/oids.ts";
import { x509 } from "../../tls/keystore/x509.ts";
import { javaName } from "../../tls/certgen/dname.ts";

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const p2 = (n: number) => String(n).padStart(2, "0");

/** java.util.Date#toString, in UTC: "Sat Nov 21 07:53:44 UTC 2026". */
export function javaDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${
    p2(d.getUTCMinutes())
  }:${p2(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/** keytool -list's entry date: "Nov 21, 2026". */
export function listDate(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`;
}

export function fingerprint(cert: X509Certificate, hash: "sha1" | "sha256"): string {
  return createHash(hash).update(certDer(cert)).digest("hex").toUpperCase().match(/../g)!.join(":");
}

const CURVE_NAMES: Record<string, string> = {
  [OID.prime256v1]: "secp256r1",
  [OID.secp384r1]: "secp384r1",
  [OID.secp521r1]: "secp521r1",
};

/** "2048-bit RSA key", "384-bit EC (secp384r1) key". */
export function publicKeyDescription(spki: Uint8Array): string {
  try {
    const [alg, key] = der.seq(der.parse(spki), "public key", 2);
    const [oidNode, params] = der.seq(alg, "algorithm", 1);
    const oid = der.oidOf(oidNode, "algorithm");
    if (oid === OID.rsaEncryption) {
      const n = der.unsignedIntBytes(der.seq(der.parse(der.bitString(key, "key")), "RSA key", 2)[0], "modulus");
      return `${(n.length - 1) * 8 + (32 - Math.clz32(n[0]))}-bit RSA key`;
    }
    if (oid === OID.ecPublicKey) {
      const curve = der.oidOf(params, "curve");
      return `${CURVES[curve]?.bits ?? "?"}-bit EC (${CURVE_NAMES[curve] ?? curve}) key`;
    }
    return `${oid} key`;
  } catch {
    return "unknown key";
  }
}

export function sigAlgName(cert: X509Certificate): string {
  let a: { name: string; hash?: { name: string } };
  try {
    a = cert.signatureAlgorithm as typeof a;
  } catch {
    return "unknown";
  }
  const hash = a.hash?.name.replace("-", "") ?? "";
  if (a.name === "RSASSA-PKCS1-v1_5") return `${hash}withRSA`;
  if (a.name === "ECDSA") return `${hash}withECDSA`;
  if (a.name === "RSA-PSS") return "RSASSA-PSS";
  return a.name;
}

/** Java's HexDumpEncoder layout. */
function hexDump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const hex = [...row].map((x, i) => x.toString(16).toUpperCase().padStart(2, "0") + (i === 7 ? "  " : "")).join(" ");
    const ascii = [...row].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : ".")).join("");
    lines.push(`${off.toString(16).toUpperCase().padStart(4, "0")}: ${hex.padEnd(49)} ${ascii}`);
  }
  return lines.join("\n");
}

const KU_NAMES = [
  "DigitalSignature",
  "Non_repudiation",
  "Key_Encipherment",
  "Data_Encipherment",
  "Key_Agreement",
  "Key_CertSign",
  "Crl_Sign",
  "Encipher_Only",
  "Decipher_Only",
];
const EKU_NAMES: Record<string, string> = {
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.8": "timeStamping",
  "1.3.6.1.5.5.7.3.9": "OCSPSigning",
  "2.5.29.37.0": "anyExtendedKeyUsage",
};

function ipText(v: string): string {
  // Java prints IPv6 uncompressed: 0:0:0:0:0:0:0:1
  if (!v.includes(":")) return v;
  const [head, tail = ""] = v.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = v.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return groups.map((g) => parseInt(g, 16).toString(16)).join(":");
}

function extensionBody(e: Extension): string {
  try {
    if (e instanceof x509.BasicConstraintsExtension) {
      return `BasicConstraints:[\n  CA:${e.ca}\n  PathLen: ${e.ca ? (e.pathLength ?? "no limit") : "undefined"}\n]`;
    }
    if (e instanceof x509.KeyUsagesExtension) {
      return `KeyUsage [\n${KU_NAMES.filter((_, i) => e.usages & (1 << i)).map((n) => `  ${n}\n`).join("")}]`;
    }
    if (e instanceof x509.ExtendedKeyUsageExtension) {
      return `ExtendedKeyUsages [\n${e.usages.map((u) => `  ${EKU_NAMES[String(u)] ?? u}\n`).join("")}]`;
    }
    if (e instanceof x509.SubjectAlternativeNameExtension) {
      const label: Record<string, string> = {
        dns: "DNSName",
        ip: "IPAddress",
        email: "RFC822Name",
        url: "URIName",
        dn: "DirectoryName",
      };
      return `SubjectAlternativeName [\n${
        e.names.items.map((n) => `  ${label[n.type] ?? n.type}: ${n.type === "ip" ? ipText(n.value) : n.value}\n`).join(
          "",
        )
      }]`;
    }
    if (e instanceof x509.SubjectKeyIdentifierExtension) {
      return `SubjectKeyIdentifier [\nKeyIdentifier [\n${hexDump(fromHex(e.keyId))}\n]\n]`;
    }
    if (e instanceof x509.AuthorityKeyIdentifierExtension && e.keyId) {
      return `AuthorityKeyIdentifier [\nKeyIdentifier [\n${hexDump(fromHex(e.keyId))}\n]\n]`;
    }
  } catch {
    // fall through to the raw dump
  }
  return hexDump(new Uint8Array(e.value));
}

/** The -v block for one certificate (without the "Certificate[n]:" header). */
export function certificateText(cert: X509Certificate): string {
  const lines = [
    `Owner: ${javaName(cert.subjectName)}`,
    `Issuer: ${javaName(cert.issuerName)}`,
    `Serial number: ${cert.serialNumber.replace(/^0+(?=.)/, "").toLowerCase()}`,
    `Valid from: ${javaDate(cert.notBefore)} until: ${javaDate(cert.notAfter)}`,
    "Certificate fingerprints:",
    `\t SHA1: ${fingerprint(cert, "sha1")}`,
    `\t SHA256: ${fingerprint(cert, "sha256")}`,
    `Signature algorithm name: ${sigAlgName(cert)}`,
    `Subject Public Key Algorithm: ${publicKeyDescription(spkiOf(cert))}`,
    `Version: 3`,
  ];
  if (cert.extensions.length) {
    lines.push("", "Extensions: ", "");
    cert.extensions.forEach((e, i) =>
      lines.push(`#${i + 1}: ObjectId: ${e.type} Criticality=${e.critical}`, extensionBody(e), "")
    );
  }
  return lines.join("\n") + "\n";
}
