/**
 * The `acme` element of an SSLHostConfig (its type, AcmeConfig, is inferred from the schema):
 * the names it asks for, the CA directory it names, and the checks that span its attributes.
 * Pure, so the loader checks it without importing the ACME client (src/acme).
 */
import type { AcmeConfig } from "./model.ts";

export const DIRECTORIES: Record<string, string> = {
  letsencrypt: "https://acme-v02.api.letsencrypt.org/directory",
  production: "https://acme-v02.api.letsencrypt.org/directory",
  "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
  staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
};

export const CHALLENGE_TYPES = ["tls-alpn-01", "http-01", "dns-01"] as const;
export type ChallengeType = typeof CHALLENGE_TYPES[number];

/** The directory URL an `acme.directory` value stands for. */
export function directoryUrl(a: AcmeConfig): string {
  return DIRECTORIES[a.directory.toLowerCase()] ?? a.directory;
}

/** The names the certificate is for: the hostName (unless `_default_`), then `names`, lower-cased, once each. */
export function acmeNames(hostName: string, a: AcmeConfig): string[] {
  const all = [...(hostName === "_default_" ? [] : [hostName]), ...a.names].map((n) =>
    n.toLowerCase().replace(/\.$/, "")
  );
  return [...new Set(all)];
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Why a name cannot be on a publicly issued certificate, or null. */
export function nameProblem(name: string): string | null {
  const bare = name.startsWith("*.") ? name.slice(2) : name;
  if (bare.includes("*")) return `"${name}": a wildcard is only allowed as the whole first label (*.example.com)`;
  if (/^[0-9.]+$/.test(bare) || bare.includes(":")) return `"${name}" is an IP address; ACME here issues DNS names`;
  const labels = bare.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || bare.length > 253) {
    return `"${name}" is not a fully qualified DNS name`;
  }
  return null;
}

export interface AcmeProblem {
  attribute: string;
  message: string;
  fix: string;
}

/** The checks that span the element's attributes (the schema checked each one). */
export function acmeProblems(hostName: string, a: AcmeConfig): AcmeProblem[] {
  const out: AcmeProblem[] = [];
  if (!a.termsOfServiceAgreed) {
    out.push({
      attribute: "termsOfServiceAgreed",
      message: `the CA's terms of service must be agreed to before bobcat can register an account at ${
        directoryUrl(a)
      }`,
      fix: "read the CA's terms, then set termsOfServiceAgreed: true",
    });
  }
  const url = directoryUrl(a);
  if (!DIRECTORIES[a.directory.toLowerCase()]) {
    let ok = false;
    try {
      ok = new URL(url).protocol === "https:";
    } catch {
      ok = false;
    }
    if (!ok) {
      out.push({
        attribute: "directory",
        message: `"${a.directory}" is neither a known CA name nor an https:// directory URL`,
        fix: `use letsencrypt, letsencrypt-staging, or the CA's directory URL (https://.../directory)`,
      });
    }
  }
  const names = acmeNames(hostName, a);
  if (names.length === 0) {
    out.push({
      attribute: "names",
      message: "the SSLHostConfig _default_ has no name to ask a certificate for",
      fix: "give the SSLHostConfig a hostName, or list the names: names: [www.example.com]",
    });
  }
  for (const n of names) {
    const p = nameProblem(n);
    if (p) out.push({ attribute: "names", message: p, fix: "list DNS names such as www.example.com" });
  }
  const bad = a.challengeTypes.filter((t) => !(CHALLENGE_TYPES as readonly string[]).includes(t));
  if (bad.length > 0 || a.challengeTypes.length === 0) {
    out.push({
      attribute: "challengeTypes",
      message: bad.length ? `unknown challenge type(s): ${bad.join(", ")}` : "no challenge type is allowed",
      fix: "list some of: tls-alpn-01, http-01, dns-01",
    });
  }
  const wildcard = names.find((n) => n.startsWith("*."));
  if (wildcard && (!a.challengeTypes.includes("dns-01") || !a.dnsHook)) {
    out.push({
      attribute: "dnsHook",
      message: `the wildcard name ${wildcard} can only be validated by dns-01, which needs a dnsHook`,
      fix: "set dnsHook: a module exporting present(name, value) and cleanup(name, value), and allow dns-01",
    });
  }
  if (a.challengeTypes.length === 1 && a.challengeTypes[0] === "dns-01" && !a.dnsHook) {
    out.push({
      attribute: "dnsHook",
      message: "dns-01 is the only challenge type allowed, but there is no dnsHook to publish the TXT records",
      fix: "set dnsHook: path/to/hook.ts, or allow http-01",
    });
  }
  if (!!a.eabKeyId !== !!a.eabHmacKey) {
    out.push({
      attribute: a.eabKeyId ? "eabHmacKey" : "eabKeyId",
      message: "External Account Binding needs both eabKeyId and eabHmacKey",
      fix: "copy both values from the CA's account page",
    });
  }
  return out;
}
