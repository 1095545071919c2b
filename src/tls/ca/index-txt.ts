/**
 * openssl's CA database, index.txt, as `openssl ca` writes it and `openssl ocsp -index` reads it:
 * one tab-separated line per certificate —
 *   status (V valid, R revoked, E expired) · expiry · revocation time[,reason] · serial (hex) · file · subject
 * Times are ASN.1 UTCTime text (YYMMDDHHMMSSZ), GeneralizedTime from 2050 on.
 */
import type { X509Certificate } from "@peculiar/x509";
import { BobcatError } from "../../util/errors.ts";
import { serialHex, serialOf } from "../ocsp/certid.ts";
import { crlReasonCode, crlReasonName, normalSerial, type RevokedEntry } from "./issue.ts";

export interface IndexEntry {
  status: "V" | "R" | "E";
  expires: Date;
  revoked?: Date;
  reason?: string;
  /** Upper-case hex, no sign padding (openssl's BN_bn2hex). */
  serial: string;
  /** openssl writes "unknown" here. */
  file: string;
  /** One-line form: /C=JP/O=bobcat/CN=name. */
  subject: string;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function asn1Time(d: Date): string {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${
    pad(d.getUTCSeconds())
  }Z`;
  return y >= 1950 && y < 2050 ? `${pad(y % 100)}${rest}` : `${pad(y, 4)}${rest}`;
}

function parseAsn1Time(s: string, where: string): Date {
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new BobcatError("ca.badIndex", `${where}: "${s}" is not a time of the form YYMMDDHHMMSSZ`);
  let year = Number(m[1]);
  if (m[1].length === 2) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** openssl's one-line subject: each RDN as /type=value, in encoded order. */
function onelineSubject(cert: X509Certificate): string {
  return cert.subjectName.toJSON().map((rdn) =>
    Object.entries(rdn).map(([type, values]) => values.map((v) => `${type}=${v.replace(/\//g, "\\/")}`).join("+")).join(
      "",
    )
  ).map((s) => "/" + s).join("");
}

export function entryFor(cert: X509Certificate): IndexEntry {
  return {
    status: "V",
    expires: cert.notAfter,
    serial: serialHex(serialOf(cert)),
    file: "unknown",
    subject: onelineSubject(cert),
  };
}

export function formatIndex(entries: IndexEntry[]): string {
  return entries.map((e) => {
    const rev = e.status === "R" && e.revoked
      ? asn1Time(e.revoked) + (e.reason ? `,${crlReasonName(e.reason)}` : "")
      : "";
    return [e.status, asn1Time(e.expires), rev, e.serial, e.file, e.subject].join("\t") + "\n";
  }).join("");
}

export function parseIndex(text: string, file = "index.txt"): IndexEntry[] {
  const out: IndexEntry[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${file}:${i + 1}`;
    const f = line.split("\t");
    if (f.length !== 6 || !["V", "R", "E"].includes(f[0])) {
      throw new BobcatError(
        "ca.badIndex",
        `${where}: not an openssl index line (6 tab-separated fields starting with V, R or E)`,
        { fix: "restore index.txt from a backup, or re-create the CA" },
      );
    }
    const entry: IndexEntry = {
      status: f[0] as IndexEntry["status"],
      expires: parseAsn1Time(f[1], where),
      serial: normalSerial(f[3]),
      file: f[4],
      subject: f[5],
    };
    if (entry.status === "R") {
      const [time, reason] = f[2].split(",");
      entry.revoked = parseAsn1Time(time, where);
      if (reason) {
        crlReasonCode(reason);
        entry.reason = crlReasonName(reason);
      }
    }
    out.push(entry);
  });
  return out;
}

/** Marks `serial` revoked; returns false when it is not in the index. Revoking twice keeps the first time. */
export function revokeEntry(
  entries: IndexEntry[],
  serial: string,
  opts: { date?: Date; reason?: string } = {},
): boolean {
  const hex = normalSerial(serial);
  const e = entries.find((x) => x.serial === hex);
  if (!e) return false;
  if (e.status !== "R") {
    if (opts.reason) crlReasonCode(opts.reason);
    Object.assign(e, {
      status: "R",
      revoked: opts.date ?? new Date(),
      ...(opts.reason ? { reason: crlReasonName(opts.reason) } : {}),
    });
  }
  return true;
}

/** The revoked entries in the form makeCrl takes. */
export function revokedOf(entries: IndexEntry[]): RevokedEntry[] {
  return entries.filter((e) => e.status === "R").map((e) => ({ serial: e.serial, date: e.revoked, reason: e.reason }));
}
