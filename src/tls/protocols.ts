/**
 * Tomcat's `protocols` syntax (`TLSv1.2+TLSv1.3`, `+TLSv1.3`, `all`, `all-TLSv1.1`, `TLSv1.2,TLSv1.3`)
 * turned into the TLS versions bobcat enables. Versions below TLS 1.2 are never enabled
 * (a modern JDK refuses them too); asking only for those is an error.
 */
import { BobcatError, type Where } from "../util/errors.ts";

export type TlsVersion = "TLSv1.2" | "TLSv1.3";
const ALL = ["SSLv2Hello", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
const SUPPORTED: readonly string[] = ["TLSv1.2", "TLSv1.3"];

export interface ParsedProtocols {
  versions: TlsVersion[];
  warnings: string[];
}

export function parseProtocols(value: string, where: Where = {}): ParsedProtocols {
  const warnings: string[] = [];
  const enabled = new Set<string>();
  // "a,b" lists names; "+a-b" adds and removes ("all-TLSv1.1"). Only the latter needs prefixes.
  const commaList = value.includes(",");
  const items = value.split(/(?=[+-](?:TLS|SSL|all))|[,\s]+/i).map((t) => t.trim()).filter((t) => t);
  let first = true;
  for (const raw of items) {
    const sign = raw[0] === "+" || raw[0] === "-" ? raw[0] : "";
    const name = sign ? raw.slice(1) : raw;
    if (!sign && !first && !commaList) {
      warnings.push(`protocol [${name}] has no + or - prefix; it is added (write +${name})`);
    }
    const names = name.toLowerCase() === "all" ? ALL : [name];
    for (const n of names) {
      const canonical = ALL.find((a) => a.toLowerCase() === n.toLowerCase());
      if (!canonical) {
        warnings.push(`protocol [${n}] is not a TLS version bobcat knows and was skipped`);
        continue;
      }
      if (sign === "-") enabled.delete(canonical);
      else enabled.add(canonical);
    }
    first = false;
  }
  const versions = [...enabled].filter((p): p is TlsVersion => SUPPORTED.includes(p));
  const old = [...enabled].filter((p) => !SUPPORTED.includes(p));
  if (old.length > 0 && value.toLowerCase().trim() !== "all" && !/^all/i.test(value.trim())) {
    warnings.push(
      `${old.join(", ")} ${old.length > 1 ? "are" : "is"} insecure and never enabled; only TLSv1.2 and TLSv1.3 are`,
    );
  }
  if (versions.length === 0) {
    throw new BobcatError(
      "tls.noProtocols",
      `None of the [protocols] specified are supported by the SSL engine : [[${[...enabled].join(", ") || value}]]`,
      {
        where: { ...where, attribute: "protocols" },
        fix: 'use "TLSv1.2+TLSv1.3" (the default), "+TLSv1.3" or "+TLSv1.2"',
      },
    );
  }
  return { versions: versions.sort() as TlsVersion[], warnings };
}
