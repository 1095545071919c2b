/**
 * The certificate a first start serves on localhost: self-signed, with every hostname and IP
 * the caller names in subjectAltName (browsers ignore the CN).
 */
import { randomBytes, toHex } from "./bytes.ts";
import {
  defaultHash,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  type KeyAlgorithm,
  signingAlgorithm,
} from "./keys.ts";
import { toPem } from "./pem.ts";
import type { Extension, SubjectAlternativeNameExtension } from "@peculiar/x509";
import { x509 } from "./x509.ts";

export interface SelfSignedOptions {
  /** DNS names and IP literals; the first becomes the CN. */
  hostnames: string[];
  /** RSA 2048 (default, what every client accepts) or EC P-256. */
  keyType?: KeyAlgorithm;
  /** Validity in days from now (default 365). */
  days?: number;
  /** More extensions (the ACME TLS-ALPN-01 acmeIdentifier). */
  extensions?: Extension[];
}

/** A random positive 64-bit serial number, as keytool uses. */
export function randomSerial(): string {
  const b = randomBytes(8);
  b[0] &= 0x7f;
  b[0] |= 0x01;
  return toHex(b);
}

function subjectAltNames(hostnames: string[]): SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension(hostnames.map((h) => {
    const value = h.replace(/^\[|\]$/g, ""); // "[::1]" as written in URLs
    return { type: process.getBuiltinModule("node:net").isIP(value) ? "ip" as const : "dns" as const, value };
  }));
}

export async function generateSelfSigned(opts: SelfSignedOptions): Promise<{ keyPem: string; certPem: string }> {
  if (opts.hostnames.length === 0) throw new RangeError("generateSelfSigned needs at least one hostname");
  const type = opts.keyType ?? "RSA";
  const { pkcs8, info } = await generateKeyPair(type, type === "RSA" ? 2048 : "P-256");
  const hash = defaultHash(info);
  const now = Date.now();
  const cn = opts.hostnames[0].replace(/[,+="\\<>;#]/g, (c) => `\\${c}`);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${cn}`,
    issuer: `CN=${cn}`,
    notBefore: new Date(now - 60_000), // a minute of slack for clients whose clocks run behind
    notAfter: new Date(now + (opts.days ?? 365) * 86_400_000),
    publicKey: await importPublicKey(info, hash),
    signingKey: await importPrivateKey(pkcs8, info, hash),
    signingAlgorithm: signingAlgorithm(info, hash),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        type === "RSA"
          ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
          : x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      subjectAltNames(opts.hostnames),
      await x509.SubjectKeyIdentifierExtension.create(await importPublicKey(info, hash)),
      ...(opts.extensions ?? []),
    ],
  });
  return { keyPem: toPem("PRIVATE KEY", pkcs8), certPem: toPem("CERTIFICATE", new Uint8Array(cert.rawData)) };
}
