/**
 * X.500 names as keytool writes them: "CN=Duke, OU=Java, O=Oracle, C=US", most specific first.
 * The DER order is the reverse (C first), which is also how OpenSSL prints a name, so both
 * directions are here: parsing a -dname and printing an Owner/Issuer line as keytool does.
 */
import type { Name } from "@peculiar/x509";
import { CertParameterError } from "./errors.ts";
import { x509 } from "../keystore/x509.ts";

/** keytool's attribute keywords; values are what @peculiar/x509 understands (names or OIDs). */
const KEYWORDS: Record<string, string> = {
  CN: "CN",
  C: "C",
  L: "L",
  S: "ST",
  ST: "ST",
  O: "O",
  OU: "OU",
  T: "T",
  DC: "DC",
  STREET: "2.5.4.9",
  UID: "0.9.2342.19200300.100.1.1",
  EMAILADDRESS: "1.2.840.113549.1.9.1",
  EMAIL: "1.2.840.113549.1.9.1",
  SERIALNUMBER: "2.5.4.5",
  GIVENNAME: "2.5.4.42",
  SURNAME: "2.5.4.4",
  INITIALS: "2.5.4.43",
  GENERATION: "2.5.4.44",
  DNQ: "2.5.4.46",
};
const DISPLAY: Record<string, string> = {
  "2.5.4.9": "STREET",
  "0.9.2342.19200300.100.1.1": "UID",
  "1.2.840.113549.1.9.1": "EMAILADDRESS",
  "2.5.4.5": "SERIALNUMBER",
  "2.5.4.42": "GIVENNAME",
  "2.5.4.4": "SURNAME",
  "2.5.4.43": "INITIALS",
  "2.5.4.44": "GENERATION",
  "2.5.4.46": "DNQ",
  E: "EMAILADDRESS",
  ST: "ST",
};

/** Splits on an unescaped, unquoted separator. */
function split(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\" && i + 1 < s.length) {
      cur += c + s[++i];
    } else if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (c === sep && !quoted) {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  if (quoted) throw new CertParameterError(`Unbalanced quotes in distinguished name: ${s}`);
  parts.push(cur);
  return parts;
}

function unescape(v: string): string {
  v = v.trim();
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
  return v.replace(/\\(.)/g, "$1");
}

/** Parses a keytool -dname. Separators may be "," or ";" as X500Name allows. */
export function parseDname(dname: string): Name {
  const rdns = split(dname.replace(/;/g, ","), ",").filter((r) => r.trim() !== "");
  if (rdns.length === 0) throw new CertParameterError(`Empty distinguished name`);
  const json = rdns.map((rdn) => {
    const attrs: Record<string, string[]> = {};
    for (const ava of split(rdn, "+")) {
      const eq = ava.indexOf("=");
      if (eq < 1) throw new CertParameterError(`Incorrect AVA format: ${ava.trim()}`);
      const key = ava.slice(0, eq).trim().toUpperCase();
      const type = KEYWORDS[key] ?? (/^\d+(\.\d+)+$/.test(key) ? key : undefined);
      if (!type) throw new CertParameterError(`Unrecognized keyword ${key} in distinguished name`);
      (attrs[type] ??= []).push(unescape(ava.slice(eq + 1)));
    }
    return attrs;
  });
  return new x509.Name(json.reverse());
}

const escapeValue = (v: string) => (/[,+="\\<>;]/.test(v) || v !== v.trim() ? `"${v.replace(/(["\\])/g, "\\$1")}"` : v);

/** keytool's rendering: most specific first, ", " between RDNs. */
export function javaName(name: Name): string {
  return name.toJSON().reverse().map((rdn) =>
    Object.entries(rdn).map(([k, vs]) => vs.map((v) => `${DISPLAY[k] ?? k}=${escapeValue(v)}`).join(" + ")).join(" + ")
  ).join(", ");
}
