/**
 * keytool's -ext option: `name[:critical][=value]`, e.g. `SAN=dns:www.example.com,ip:10.0.0.1`,
 * `BC=ca:true,pathlen:0`, `KU=digitalSignature,keyEncipherment`, `EKU=serverAuth`,
 * `AIA=ocsp:uri:http://127.0.0.1:8088` (the how-to's OCSP responder address).
 */
import type { Extension, GeneralName } from "@peculiar/x509";
import { isIP } from "node:net";
import { CertParameterError } from "./errors.ts";
import { toArrayBuffer } from "../keystore/bytes.ts";
import * as der from "../keystore/der.ts";
import { x509 } from "../keystore/x509.ts";

const KU: [string, number][] = [
  ["digitalSignature", 1],
  ["nonRepudiation", 2],
  ["contentCommitment", 2],
  ["keyEncipherment", 4],
  ["dataEncipherment", 8],
  ["keyAgreement", 16],
  ["keyCertSign", 32],
  ["cRLSign", 64],
  ["encipherOnly", 128],
  ["decipherOnly", 256],
];
const EKU: Record<string, string> = {
  anyextendedkeyusage: "2.5.29.37.0",
  serverauth: "1.3.6.1.5.5.7.3.1",
  clientauth: "1.3.6.1.5.5.7.3.2",
  codesigning: "1.3.6.1.5.5.7.3.3",
  emailprotection: "1.3.6.1.5.5.7.3.4",
  timestamping: "1.3.6.1.5.5.7.3.8",
  ocspsigning: "1.3.6.1.5.5.7.3.9",
};
const NAMES: Record<string, string> = {
  san: "2.5.29.17",
  subjectalternativename: "2.5.29.17",
  bc: "2.5.29.19",
  basicconstraints: "2.5.29.19",
  ku: "2.5.29.15",
  keyusage: "2.5.29.15",
  eku: "2.5.29.37",
  extendedkeyusage: "2.5.29.37",
  aia: "1.3.6.1.5.5.7.1.1",
  authorityinfoaccess: "1.3.6.1.5.5.7.1.1",
};

/** A unique prefix of a name matches it, as in keytool ("digitalsig" → digitalSignature). */
function match<T>(word: string, table: [string, T][], what: string): T {
  const w = word.toLowerCase();
  const exact = table.find(([n]) => n.toLowerCase() === w);
  if (exact) return exact[1];
  const hits = table.filter(([n]) => n.toLowerCase().startsWith(w));
  if (hits.length === 1) return hits[0][1];
  throw new CertParameterError(`Unknown ${what}: ${word}`);
}

function generalName(item: string): GeneralName {
  const colon = item.indexOf(":");
  if (colon < 1) throw new CertParameterError(`Illegal value: ${item} (expected type:value, e.g. dns:localhost)`);
  const type = item.slice(0, colon).toLowerCase();
  const value = item.slice(colon + 1);
  switch (type) {
    case "dns":
      return new x509.GeneralName("dns", value);
    case "ip":
      if (!isIP(value)) throw new CertParameterError(`Illegal value: ${value} is not an IP address`);
      return new x509.GeneralName("ip", value);
    case "email":
      return new x509.GeneralName("email", value);
    case "uri":
      return new x509.GeneralName("url", value);
    default:
      throw new CertParameterError(`Illegal value: ${item} (name types: dns, ip, email, uri)`);
  }
}

/** Parses every -ext; later ones replace earlier ones of the same type. */
export function parseExtensions(specs: string[]): Extension[] {
  const byOid = new Map<string, Extension>();
  for (const spec of specs) {
    const m = /^([A-Za-z]+)(:critical|:c)?(?:=(.*))?$/s.exec(spec.trim());
    if (!m) throw new CertParameterError(`Illegal extension: ${spec}`);
    const oid = NAMES[m[1].toLowerCase()];
    if (!oid) throw new CertParameterError(`Unknown extension type: ${m[1]} (supported: SAN, BC, KU, EKU, AIA)`);
    const critical = !!m[2];
    const items = (m[3] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    let ext: Extension;
    switch (oid) {
      case "2.5.29.17":
        if (!items.length) throw new CertParameterError("SAN needs a value, e.g. SAN=dns:localhost,ip:127.0.0.1");
        ext = new x509.SubjectAlternativeNameExtension(items.map(generalName), critical);
        break;
      case "2.5.29.19": {
        let ca = false;
        let pathLen: number | undefined;
        for (const it of items) {
          const [k, v] = it.split(":").map((s) => s.trim().toLowerCase());
          if (v === undefined && (k === "true" || k === "false")) ca = k === "true";
          else if (k === "ca") ca = v === "true";
          else if (k === "pathlen" && /^\d+$/.test(v ?? "")) pathLen = Number(v);
          else throw new CertParameterError(`Illegal value: ${it} in BasicConstraints`);
        }
        ext = new x509.BasicConstraintsExtension(ca, pathLen, m[2] ? critical : true);
        break;
      }
      case "2.5.29.15":
        if (!items.length) throw new CertParameterError("KU needs a value, e.g. KU=digitalSignature,keyEncipherment");
        ext = new x509.KeyUsagesExtension(items.reduce((f, it) => f | match(it, KU, "KeyUsage"), 0), critical);
        break;
      case "2.5.29.37":
        if (!items.length) throw new CertParameterError("EKU needs a value, e.g. EKU=serverAuth");
        ext = new x509.ExtendedKeyUsageExtension(
          items.map((it) => /^\d+(\.\d+)+$/.test(it) ? it : match(it, Object.entries(EKU), "ExtendedKeyUsage")),
          critical,
        );
        break;
      default: {
        // AuthorityInfoAccess: method:type:value, method ocsp or caIssuers.
        const descs = items.map((it) => {
          const [method, ...rest] = it.split(":");
          const methodOid = method.toLowerCase() === "ocsp"
            ? "1.3.6.1.5.5.7.48.1"
            : method.toLowerCase() === "caissuers"
            ? "1.3.6.1.5.5.7.48.2"
            : undefined;
          if (!methodOid) {
            throw new CertParameterError(`Illegal value: ${it} in AIA (expected ocsp:uri:... or caIssuers:uri:...)`);
          }
          const gn = generalName(rest.join(":"));
          return der.encSeq(der.encOid(methodOid), new Uint8Array(gn.rawData));
        });
        ext = new x509.Extension(oid, critical, toArrayBuffer(der.encSeq(...descs)));
      }
    }
    byOid.set(oid, ext);
  }
  return [...byOid.values()];
}
