/** -list, -printcert and -exportcert: showing and extracting certificates in keytool's format. */
import type { X509Certificate } from "@peculiar/x509";
import { writeFile } from "node:fs/promises";
import { certDer, certPem } from "../../tls/keystore/certs.ts";
import { entryTypeName, findEntry, type KeystoreEntry } from "../../tls/keystore/index.ts";
import { KeytoolError } from "./args.ts";
import { certificateText, fingerprint, listDate } from "./cert-text.ts";
import { parseCertificates, readInput } from "./certfile.ts";
import type { Ctx } from "./context.ts";
import { jksWarning, openStore } from "./store.ts";

const STARS = "*******************************************";
const certsOf = (e: KeystoreEntry) => (e.kind === "trustedCert" ? [e.cert] : e.chain);

function detailed(e: KeystoreEntry, rfc: boolean): string {
  let s = `Alias name: ${e.alias}\nCreation date: ${listDate(e.date)}\nEntry type: ${entryTypeName(e)}\n`;
  const certs = certsOf(e);
  const body = (c: X509Certificate) => (rfc ? certPem(c) : certificateText(c));
  if (e.kind === "privateKey") {
    s += `Certificate chain length: ${certs.length}\n`;
    certs.forEach((c, i) => (s += `Certificate[${i + 1}]:\n${body(c)}`));
  } else s += `\n${body(certs[0])}`;
  return s + `\n\n${STARS}\n${STARS}\n\n\n`;
}

export async function list(ctx: Ctx): Promise<number> {
  const h = await openStore(ctx, { passwordOptional: true });
  const { flags, values } = ctx.args;
  const verbose = flags.has("v") || flags.has("rfc");
  let entries = [...h.store.entries].sort((a, b) => a.alias.toLowerCase().localeCompare(b.alias.toLowerCase()));
  if (values.alias !== undefined) {
    const e = findEntry(h.store, values.alias);
    if (!e) throw new KeytoolError(`Alias <${values.alias}> does not exist`);
    entries = [e];
  } else {
    ctx.out(`Keystore type: ${h.type}\nKeystore provider: bobcat\n`);
    ctx.out(`Your keystore contains ${entries.length} ${entries.length === 1 ? "entry" : "entries"}\n`);
  }
  for (const e of entries) {
    if (verbose) ctx.io.stdout.write(detailed(e, flags.has("rfc") && !flags.has("v")));
    else {
      ctx.out(`${e.alias}, ${listDate(e.date)}, ${entryTypeName(e)}, `);
      const c = certsOf(e)[0];
      if (c) ctx.out(`Certificate fingerprint (SHA-256): ${fingerprint(c, "sha256")}`);
    }
  }
  if (!h.store.verified) {
    ctx.info("\n*****************  WARNING WARNING WARNING  *****************");
    ctx.info("* The integrity of the information stored in your keystore  *");
    ctx.info("* has NOT been verified!  In order to verify its integrity, *");
    ctx.info("* you must provide your keystore password.                  *");
    ctx.info("*****************  WARNING WARNING WARNING  *****************\n");
  }
  if (h.type === "JKS") jksWarning(ctx, h.path);
  return 0;
}

export async function printcert(ctx: Ctx): Promise<number> {
  const certs = parseCertificates(await readInput(ctx, "file"));
  const rfc = ctx.args.flags.has("rfc");
  certs.forEach((c, i) => {
    if (certs.length > 1) ctx.out(`Certificate[${i + 1}]:`);
    ctx.io.stdout.write(rfc ? certPem(c) : certificateText(c) + (i + 1 < certs.length ? "\n" : ""));
  });
  return 0;
}

export async function exportcert(ctx: Ctx): Promise<number> {
  const h = await openStore(ctx, { passwordOptional: true });
  const alias = ctx.args.values.alias ?? "mykey";
  const e = findEntry(h.store, alias);
  if (!e) throw new KeytoolError(`Alias <${alias}> does not exist`);
  const cert = certsOf(e)[0];
  if (!cert) throw new KeytoolError(`Alias <${alias}> has no certificate`);
  const out = ctx.args.flags.has("rfc") ? new TextEncoder().encode(certPem(cert)) : certDer(cert);
  const file = ctx.args.values.file;
  if (file === undefined) ctx.io.stdout.write(out);
  else {
    await writeFile(file, out);
    ctx.info(`Certificate stored in file <${file}>`);
  }
  return 0;
}
