/**
 * -gencert: signs a PKCS#10 request with a key entry, as a small test CA would. The issued
 * certificate gets -ext extensions plus authority and subject key identifiers; the request's
 * own extensions are not copied (keytool copies them only with -ext honored=...).
 */
import type { Pkcs10CertificateRequest } from "@peculiar/x509";
import { writeFile } from "node:fs/promises";
import { toArrayBuffer } from "../../tls/keystore/bytes.ts";
import { certDer, spkiOf } from "../../tls/keystore/certs.ts";
import { findEntry } from "../../tls/keystore/index.ts";
import { keyInfo } from "../../tls/keystore/keys.ts";
import { looksLikePem, parsePem, toPem } from "../../tls/keystore/pem.ts";
import { x509 } from "../../tls/keystore/x509.ts";
import { KeytoolError } from "./args.ts";
import { readInput } from "./certfile.ts";
import type { Ctx } from "./context.ts";
import { parseDname } from "../../tls/certgen/dname.ts";
import { parseExtensions } from "../../tls/certgen/ext.ts";
import {
  chooseHash,
  issueCertificate,
  parseStartDate,
  parseValidity,
  subjectKeyIdentifier,
} from "../../tls/certgen/sign.ts";
import { openStore, unlockEntry } from "./store.ts";

function parseRequest(bytes: Uint8Array): Pkcs10CertificateRequest {
  let der = bytes;
  if (looksLikePem(bytes)) {
    const block = parsePem(new TextDecoder().decode(bytes)).find((b) => /CERTIFICATE REQUEST$/.test(b.label));
    if (!block) throw new KeytoolError("Input is not a certificate request (no BEGIN CERTIFICATE REQUEST block)");
    der = block.der;
  }
  try {
    return new x509.Pkcs10CertificateRequest(toArrayBuffer(der));
  } catch (e) {
    throw new KeytoolError(`Input is not a valid certificate request: ${(e as Error).message}`);
  }
}

export async function gencert(ctx: Ctx): Promise<number> {
  const { values, multi } = ctx.args;
  const days = parseValidity(values.validity);
  const notBefore = parseStartDate(values.startdate);
  const extensions = parseExtensions(multi.ext ?? []);
  const h = await openStore(ctx);
  const alias = values.alias ?? "mykey";
  const entry = findEntry(h.store, alias);
  if (!entry) throw new KeytoolError(`Alias <${alias}> does not exist`);
  if (entry.kind !== "privateKey" || !entry.chain.length) throw new KeytoolError(`Alias <${alias}> has no key`);
  const signerPkcs8 = await unlockEntry(ctx, h, entry);
  const signerInfo = await keyInfo(signerPkcs8);
  const req = parseRequest(await readInput(ctx, "infile"));
  if (!(await req.verify().catch(() => false))) throw new KeytoolError("Certificate request signature does not verify");
  const spki = new Uint8Array(req.publicKey.rawData);
  const issuerCert = entry.chain[0];
  const cert = await issueCertificate({
    subject: values.dname !== undefined ? parseDname(values.dname) : req.subjectName,
    issuer: issuerCert.subjectName,
    spki,
    signerPkcs8,
    signerInfo,
    hash: chooseHash(signerInfo, values.sigalg),
    notBefore,
    days,
    extensions: [
      ...extensions,
      await x509.AuthorityKeyIdentifierExtension.create(toArrayBuffer(spkiOf(issuerCert))),
      await subjectKeyIdentifier(spki),
    ],
  });
  const out = ctx.args.flags.has("rfc") ? new TextEncoder().encode(toPem("CERTIFICATE", certDer(cert))) : certDer(cert);
  if (values.outfile !== undefined) await writeFile(values.outfile, out);
  else ctx.io.stdout.write(out);
  return 0;
}
