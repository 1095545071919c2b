/**
 * `bobcat acme status|renew|revoke` and the ACME part of `bobcat check`. `check` and `status`
 * never contact the CA; `renew` and `revoke` do. A running bobcat that shares the store answers
 * the challenges of `renew` (its plain connectors read tokens from the store) and picks the new
 * certificate up from the store.
 */
import type { BobcatConfig } from "../config/model.ts";
import type { AcmeService, ManagedCert } from "../acme/service.ts";
import { certificateRows, formatRows, type ServedHost } from "../acme/inventory.ts";
import { globalDataSources } from "../runtime/server.ts";
import { configureLogging } from "../util/log.ts";
import type { DataSources } from "../datasource/index.ts";
import { type CommandDef, commandHelp, CONFIG_OPTIONS } from "./options.ts";

/** `bobcat acme`'s arguments and options: the table its parser and its --help read. */
export const ACME_COMMAND = {
  name: "acme",
  args: "status|renew|revoke [NAME]",
  positionals: { min: 1, max: 2 },
  summary: "status|renew|revoke: certificates obtained over ACME (bobcat acme --help)",
  about: `Subcommands:
  status   the certificates of the config's acme elements as stored: names, issuer, validity,
           next renewal, last error (does not contact the CA)
  renew    order new certificates now (all, or the one for NAME) and store them; a running
           bobcat sharing the store answers the challenges and loads them
  revoke   revoke the current certificate (all, or the one for NAME) at the CA`,
  options: CONFIG_OPTIONS,
  properties: true,
} as const satisfies CommandDef;

/** The ACME client and its certificate code are imported only by commands that use them. */
export async function acmeService(config: BobcatConfig, ds: DataSources): Promise<AcmeService> {
  const hosts = config.server.services.flatMap((s) => s.connectors.flatMap((c) => c.sslHostConfigs));
  const { AcmeService } = await import("../acme/service.ts");
  return new AcmeService(hosts, ds, async () => {});
}

/** What `bobcat check` says about an acme element: what it would request, from whom, kept where. */
export function describeRequest(m: ManagedCert): string {
  const c = m.config;
  return `ACME ${m.hostName}: would request ${m.names.join(", ")} from ${m.directory} (key ${c.keyType}; challenges ${
    c.challengeTypes.join(", ")
  }; account ${c.email ?? "without e-mail"}${
    c.eabKeyId ? `, EAB key id ${c.eabKeyId}` : ""
  }; store ${m.store.location}); now: ${
    m.current?.temporary
      ? "no valid certificate stored (a temporary self-signed one would be served until the CA issues one)"
      : `stored certificate valid until ${m.current?.chain[0]!.notAfter.toISOString()}`
  }`;
}

export function servedHosts(config: BobcatConfig, byConnector: Map<string, ServedHost[]>): ServedHost[] {
  return config.server.services.flatMap((s) => s.connectors.flatMap((c) => byConnector.get(c.name) ?? []));
}

export async function acmeMain(
  config: BobcatConfig,
  sub: string | undefined,
  name: string | undefined,
): Promise<number> {
  configureLogging(config.logging);
  const ds = globalDataSources(config);
  try {
    const acme = await acmeService(config, ds);
    if (!acme.active) {
      console.error("bobcat acme: no SSLHostConfig of this config has an acme element");
      return 1;
    }
    await acme.prepare();
    if (sub === "status") {
      const hosts: ServedHost[] = config.server.services.flatMap((s) =>
        s.connectors.flatMap((c) =>
          c.sslHostConfigs.filter((h) => h.acme).map((h) => ({
            connector: c.name,
            config: h,
            certs: [acme.material(h)],
          }))
        )
      );
      for (const m of acme.certs) console.log(describeRequest(m));
      console.log(formatRows(certificateRows(hosts, acme)));
      return 0;
    }
    if (sub === "renew") {
      // The CLI answers nothing itself: challenges go through the store to the running server.
      for (const m of acme.certs) {
        m.challenges = m.config.challengeTypes.filter((t) =>
          t === "http-01" || (t === "dns-01" && m.config.dnsHook)
        ) as typeof m.challenges;
      }
      const lines = await acme.renew(name);
      for (const l of lines) console.log(l);
      return lines.some((l) => /failed|not obtained/.test(l)) ? 1 : 0;
    }
    if (sub === "revoke") {
      for (const l of await acme.revoke(name)) console.log(l);
      return 0;
    }
    console.error(commandHelp(ACME_COMMAND));
    return 2;
  } finally {
    await ds.close();
  }
}
