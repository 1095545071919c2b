/**
 * Certificates from a file or stdin as keytool accepts them: PEM (one or more blocks, text
 * around them allowed), DER, or a PKCS#7 bundle (`-----BEGIN PKCS7-----` or DER), which is how
 * many CAs send a reply with its chain.
 */
import type { X509Certificate } from "@peculiar/x509";
import { readFile } from "node:fs/promises";
import { concat, toArrayBuffer } from "../../tls/keystore/bytes.ts";
import { parseCertificate } from "../../tls/keystore/certs.ts";
import * as der from "../../tls/keystore/der.ts";
import { looksLikePem, parsePem } from "../../tls/keystore/pem.ts";
import { x509 } from "../../tls/keystore/x509.ts";
import { KeytoolError } from "./args.ts";
import type { Ctx } from "./context.ts";

const SIGNED_DATA = "1.2.840.113549.1.7.2";

function pkcs7(bytes: Uint8Array): X509Certificate[] {
  try {
    return [...new x509.X509Certificates(toArrayBuffer(bytes))];
  } catch (e) {
    throw new KeytoolError(`Input is not a valid PKCS#7 certificate bundle: ${(e as Error).message}`);
  }
}

export function parseCertificates(bytes: Uint8Array): X509Certificate[] {
  if (looksLikePem(bytes)) {
    const blocks = parsePem(new TextDecoder().decode(bytes));
    const certs: X509Certificate[] = [];
    for (const b of blocks) {
      if (b.label === "CERTIFICATE" || b.label === "X509 CERTIFICATE") {
        certs.push(parseCertificate(b.der, `the certificate on line ${b.line}`));
      } else if (b.label === "PKCS7") certs.push(...pkcs7(b.der));
    }
    if (!certs.length) throw new KeytoolError("Input not an X.509 certificate");
    return certs;
  }
  try {
    const node = der.parse(bytes);
    const first = node.children[0];
    if (first?.tag === der.Tag.OID && der.oidOf(first, "content type") === SIGNED_DATA) return pkcs7(bytes);
    return [parseCertificate(bytes, "the input")];
  } catch (e) {
    if (e instanceof KeytoolError) throw e;
    throw new KeytoolError("Input not an X.509 certificate");
  }
}

/** The bytes of `-file`/`-infile`, or stdin when the option is absent (as keytool reads). */
export async function readInput(ctx: Ctx, opt: string): Promise<Uint8Array> {
  const path = ctx.args.values[opt];
  if (path !== undefined) {
    try {
      return new Uint8Array(await readFile(path));
    } catch {
      throw new KeytoolError(`File not found: ${path}`);
    }
  }
  const chunks: Uint8Array[] = [];
  for await (const c of ctx.io.stdin) chunks.push(typeof c === "string" ? new TextEncoder().encode(c) : c);
  return concat(...chunks);
}
