/**
 * A PEM file seen as a keystore, for `keytool -importkeystore` to and from PEM: each private key
 * with the certificates that belong to it (matched by public key, then chained by issuer), and
 * any other certificate as a trusted entry. Aliases come from the `friendlyName:` lines OpenSSL
 * prints before each block, or from `alias:` lines this writer adds.
 */
import { buildPath, type Certificate, certPem, parseCertificate, sameCert, spkiOf } from "./certs.ts";
import { equal } from "./bytes.ts";
import { encryptPrivateKeyInfo } from "./epki.ts";
import { keyInfo } from "./keys.ts";
import type { Keystore, KeystoreEntry } from "./model.ts";
import { unlockKey } from "./model.ts";
import { parsePem, toPem } from "./pem.ts";
import { pemPrivateKey, PRIVATE_KEY_LABELS } from "./pem-keys.ts";

function aliasFrom(preamble: string): string | undefined {
  return /^\s*(?:friendlyName|alias):\s*(.+?)\s*$/m.exec(preamble)?.[1];
}

export async function readPemStore(text: string, password: string | null): Promise<Keystore> {
  const blocks = parsePem(text);
  const keys: { alias?: string; pkcs8: Uint8Array }[] = [];
  const certs: { alias?: string; cert: Certificate }[] = [];
  for (const b of blocks) {
    if (PRIVATE_KEY_LABELS.includes(b.label)) {
      keys.push({ alias: aliasFrom(b.preamble), pkcs8: pemPrivateKey(b, password ?? undefined) });
    } else if (b.label === "CERTIFICATE") {
      certs.push({ alias: aliasFrom(b.preamble), cert: parseCertificate(b.der, `the certificate on line ${b.line}`) });
    }
  }
  const pool = certs.map((c) => c.cert);
  const used: Certificate[] = [];
  const entries: KeystoreEntry[] = [];
  for (const [i, k] of keys.entries()) {
    const { spki } = await keyInfo(k.pkcs8);
    const leaf = pool.find((c) => equal(spkiOf(c), spki));
    const chain = leaf ? buildPath(leaf, pool).path : [];
    used.push(...chain);
    const alias = k.alias ?? certs.find((c) => c.cert === leaf)?.alias ??
      (keys.length === 1 ? "mykey" : `mykey${i + 1}`);
    entries.push({ kind: "privateKey", alias, date: new Date(), key: { pkcs8: k.pkcs8 }, chain });
  }
  // Named certificates are trusted entries even when a chain uses them (keytool stores the CA
  // both ways); unnamed ones are trusted only when no chain does.
  const leaves = entries.flatMap((e) => (e.kind === "privateKey" ? e.chain.slice(0, 1) : []));
  for (const [i, c] of certs.entries()) {
    if (leaves.some((l) => sameCert(l, c.cert)) || (!c.alias && used.some((u) => sameCert(u, c.cert)))) continue;
    entries.push({
      kind: "trustedCert",
      alias: c.alias ?? c.cert.subjectName.getField("CN")[0] ?? `cert${i + 1}`,
      date: new Date(),
      cert: c.cert,
    });
  }
  return { type: "PEM", entries, verified: true };
}

/** Keys are written as encrypted PKCS#8 (PBES2, AES-256) unless `password` is empty. */
export function writePemStore(store: Keystore, password: string, keyPassword: (alias: string) => string): string {
  let out = "";
  for (const e of store.entries) {
    out += `alias: ${e.alias}\n`;
    if (e.kind === "trustedCert") {
      out += certPem(e.cert);
      continue;
    }
    const pkcs8 = unlockKey(e, keyPassword(e.alias));
    out += password
      ? toPem("ENCRYPTED PRIVATE KEY", encryptPrivateKeyInfo(pkcs8, password, {}))
      : toPem("PRIVATE KEY", pkcs8);
    for (const c of e.chain) out += `subject: ${c.subject}\n` + certPem(c);
  }
  return out;
}
