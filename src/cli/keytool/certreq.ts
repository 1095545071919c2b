/**
 * -certreq: a PKCS#10 request for a key entry, signed with its key. Like keytool, it carries the
 * entry certificate's subject and its SAN, key usage, extended key usage and basic constraints
 * as requested extensions, with -dname and -ext overriding them.
 */
import { writeFile } from "node:fs/promises";
import { findEntry } from "../../tls/keystore/index.ts";
import { importPrivateKey, importPublicKey, keyInfo, signingAlgorithm } from "../../tls/keystore/keys.ts";
import { toPem } from "../../tls/keystore/pem.ts";
import { x509 } from "../../tls/keystore/x509.ts";
import { KeytoolError } from "./args.ts";
import type { Ctx } from "./context.ts";
import { parseDname } from "../../tls/certgen/dname.ts";
import { parseExtensions } from "../../tls/certgen/ext.ts";
import { chooseHash } from "../../tls/certgen/sign.ts";
import { openStore, unlockEntry } from "./store.ts";

const CARRIED = ["2.5.29.17", "2.5.29.15", "2.5.29.37", "2.5.29.19"];

export async function certreq(ctx: Ctx): Promise<number> {
  const { values, multi } = ctx.args;
  const h = await openStore(ctx);
  const alias = values.alias ?? "mykey";
  const entry = findEntry(h.store, alias);
  if (!entry) throw new KeytoolError(`Alias <${alias}> does not exist`);
  if (entry.kind !== "privateKey") {
    throw new KeytoolError(`Alias <${alias}> has no key`, "a CSR needs a key entry: create one with -genkeypair");
  }
  const pkcs8 = await unlockEntry(ctx, h, entry);
  const info = await keyInfo(pkcs8);
  const hash = chooseHash(info, values.sigalg);
  const leaf = entry.chain[0];
  const overrides = parseExtensions(multi.ext ?? []);
  const carried = (leaf?.extensions ?? []).filter((e) =>
    CARRIED.includes(e.type) && !overrides.some((o) => o.type === e.type)
  );
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: values.dname !== undefined ? parseDname(values.dname) : leaf?.subjectName ?? parseDname(`CN=${alias}`),
    keys: { privateKey: await importPrivateKey(pkcs8, info, hash), publicKey: await importPublicKey(info, hash) },
    signingAlgorithm: signingAlgorithm(info, hash),
    extensions: [...carried, ...overrides],
  });
  const pem = toPem("NEW CERTIFICATE REQUEST", new Uint8Array(csr.rawData));
  if (values.file !== undefined) await writeFile(values.file, pem);
  else ctx.io.stdout.write(pem);
  return 0;
}
