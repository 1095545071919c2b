/**
 * Tomcat's `ciphers` (TLS 1.2 and below: an OpenSSL cipher string, or a comma list of OpenSSL or
 * JSSE/IANA names) and `cipherSuites` (TLS 1.3 names), turned into what OpenSSL/BoringSSL take.
 * Unknown names are an error: Tomcat skips them, and a list of nothing but typos then leaves
 * only TLS 1.3 enabled without a word.
 */
import { BobcatError, type Where } from "../util/errors.ts";

/** JSSE/IANA name → OpenSSL name, for the suites a modern server may offer. */
const IANA_TO_OPENSSL: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: "ECDHE-ECDSA-AES128-GCM-SHA256",
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: "ECDHE-RSA-AES128-GCM-SHA256",
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: "ECDHE-ECDSA-AES256-GCM-SHA384",
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: "ECDHE-RSA-AES256-GCM-SHA384",
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-RSA-CHACHA20-POLY1305",
  TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: "DHE-RSA-AES128-GCM-SHA256",
  TLS_DHE_RSA_WITH_AES_256_GCM_SHA384: "DHE-RSA-AES256-GCM-SHA384",
  TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256: "DHE-RSA-CHACHA20-POLY1305",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: "ECDHE-ECDSA-AES128-SHA256",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: "ECDHE-RSA-AES128-SHA256",
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384: "ECDHE-ECDSA-AES256-SHA384",
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384: "ECDHE-RSA-AES256-SHA384",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: "ECDHE-ECDSA-AES128-SHA",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: "ECDHE-RSA-AES128-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: "ECDHE-ECDSA-AES256-SHA",
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: "ECDHE-RSA-AES256-SHA",
  TLS_RSA_WITH_AES_128_GCM_SHA256: "AES128-GCM-SHA256",
  TLS_RSA_WITH_AES_256_GCM_SHA384: "AES256-GCM-SHA384",
  TLS_RSA_WITH_AES_128_CBC_SHA256: "AES128-SHA256",
  TLS_RSA_WITH_AES_256_CBC_SHA256: "AES256-SHA256",
  TLS_RSA_WITH_AES_128_CBC_SHA: "AES128-SHA",
  TLS_RSA_WITH_AES_256_CBC_SHA: "AES256-SHA",
};

export const TLS13_SUITES = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_128_CCM_SHA256",
  "TLS_AES_128_CCM_8_SHA256",
];
export const DEFAULT_TLS13_SUITES = TLS13_SUITES.slice(0, 3);

export interface CipherSettings {
  /** TLS 1.2 cipher string for OpenSSL/BoringSSL, or undefined for bobcat's default list. */
  tls12?: string;
  /** TLS 1.3 suites when restricted (only Node's OpenSSL can), else undefined. */
  tls13?: string[];
  warnings: string[];
}

export function parseCipherSettings(
  ciphers: string | undefined,
  cipherSuites: string | undefined,
  where: { ciphers: Where; cipherSuites: Where },
): CipherSettings {
  const warnings: string[] = [];
  let tls12: string | undefined;
  const tls13: string[] = [];
  if (ciphers) {
    const isList = ciphers.includes(",") && !ciphers.includes(":");
    const tokens = ciphers.split(isList ? "," : ":").map((t) => t.trim()).filter((t) => t);
    const kept: string[] = [];
    const unknown: string[] = [];
    for (const t of tokens) {
      if (TLS13_SUITES.includes(t)) {
        tls13.push(t);
        warnings.push(`ciphers: the TLS 1.3 suite ${t} belongs in cipherSuites; it was moved there (as Tomcat does)`);
      } else if (IANA_TO_OPENSSL[t]) {
        kept.push(IANA_TO_OPENSSL[t]);
      } else if (isList && /^(TLS|SSL)_/.test(t)) {
        unknown.push(t);
      } else {
        kept.push(t);
      }
    }
    if (unknown.length > 0) {
      throw new BobcatError("tls.unknownCipher", `None of these [ciphers] are known: ${unknown.join(", ")}`, {
        where: where.ciphers,
        fix:
          "use OpenSSL names (ECDHE-RSA-AES128-GCM-SHA256) or IANA names of ECDHE/DHE suites (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)",
      });
    }
    if (kept.length > 0) tls12 = kept.join(":");
    if (tls12) checkTls12(tls12, where.ciphers);
  }
  if (cipherSuites) {
    for (const t of cipherSuites.split(/[,:]/).map((x) => x.trim()).filter((x) => x)) {
      if (TLS13_SUITES.includes(t)) tls13.push(t);
      else warnings.push(`cipherSuites: ${t} is not a TLS 1.3 suite and was ignored (TLS 1.2 ciphers go in ciphers)`);
    }
    if (tls13.length === 0) {
      throw new BobcatError(
        "tls.unknownCipher",
        `None of the [cipherSuites] specified are TLS 1.3 suites: [${cipherSuites}]`,
        {
          where: where.cipherSuites,
          fix: `use some of: ${DEFAULT_TLS13_SUITES.join(", ")}`,
        },
      );
    }
  }
  const unique = [...new Set(tls13)];
  const restricted = unique.length > 0 &&
    !(unique.length === DEFAULT_TLS13_SUITES.length && DEFAULT_TLS13_SUITES.every((s) => unique.includes(s)));
  return { tls12, tls13: restricted ? unique : undefined, warnings };
}

/** A cipher string that enables no TLS 1.2 suite is refused here, not discovered by clients. */
function checkTls12(cipherString: string, where: Where): void {
  try {
    // node:tls only when a cipher list is configured: loading it costs start-up time.
    process.getBuiltinModule("node:tls").createSecureContext({
      ciphers: cipherString,
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
    });
  } catch (e) {
    throw new BobcatError(
      "tls.noCiphers",
      `None of the [ciphers] specified are supported by the SSL engine : [${cipherString}] (${(e as Error).message})`,
      {
        where,
        fix:
          "check the cipher names (openssl ciphers -v 'STRING' lists what a string selects), or remove ciphers to use bobcat's modern default",
      },
    );
  }
}
