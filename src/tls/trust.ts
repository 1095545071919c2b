/**
 * What verifies client certificates for one SSLHostConfig: trust anchors from a truststore
 * (JKS/PKCS12), a PEM bundle or a directory of PEM files, and the CRLs to check against.
 * Loaded before anything listens, with the same kind of errors as keystores.
 */
import { readdir } from "node:fs/promises";
import { readRegularFile, UnreadableFileError } from "../util/files.ts";
import { join } from "node:path";
import type { X509Certificate, X509Crl } from "@peculiar/x509";
import type { SSLHostConfig } from "../config/model.ts";
import { sourceOf } from "../config/validate.ts";
import { BobcatError } from "../util/errors.ts";
import { certPem } from "./keystore/certs.ts";
import { keystoreError, readKeystore } from "./keystore/index.ts";
import { looksLikePem, parsePem } from "./keystore/pem.ts";
import { x509 } from "./keystore/x509.ts";

export interface ClientTrust {
  anchors: X509Certificate[];
  /** The anchors as PEM, for the TLS stack's `ca` option. */
  caPems: string[];
  crls: X509Crl[];
}

export async function loadClientTrust(h: SSLHostConfig): Promise<ClientTrust | undefined> {
  if (h.certificateVerification === "none") return undefined;
  const src = sourceOf(h);
  const anchors: X509Certificate[] = [];
  if (h.truststoreFile) {
    const bytes = await readOrFail(h.truststoreFile, "truststoreFile", src.attr("truststoreFile"));
    let keyAliases: string[] = [];
    try {
      const store = await readKeystore(bytes, h.truststorePassword ?? null, h.truststoreType);
      // As in Java (and so Tomcat), a truststore trusts its trusted-certificate entries only;
      // the chain of a private key entry is that key's, not a statement of trust.
      for (const e of store.entries) if (e.kind === "trustedCert") anchors.push(e.cert);
      keyAliases = store.entries.flatMap((e) => (e.kind === "trustedCert" ? [] : [e.alias]));
    } catch (e) {
      const err = keystoreError(e, h.truststoreType ?? "truststore");
      throw new BobcatError(err.code, `truststore ${h.truststoreFile}: ${err.message}`, {
        where: src.attr("truststoreFile"),
        fix: err.fix ?? "check truststorePassword",
      });
    }
    if (anchors.length === 0 && keyAliases.length > 0) {
      throw new BobcatError(
        "trust.noTrustedEntries",
        `truststore ${h.truststoreFile} holds only private key entries (${
          keyAliases.join(", ")
        }) and no trusted certificate entry, so it trusts nothing (Java: the trustAnchors parameter must be non-empty)`,
        {
          where: src.attr("truststoreFile"),
          fix:
            `import the CA that issues client certificates as a trusted entry: bobcat keytool -importcert -alias ca -file ca.pem -keystore ${h.truststoreFile}`,
        },
      );
    }
  }
  if (h.caCertificateFile) {
    anchors.push(
      ...parseCerts(
        await readOrFail(h.caCertificateFile, "caCertificateFile", src.attr("caCertificateFile")),
        h.caCertificateFile,
        src.attr("caCertificateFile"),
      ),
    );
  }
  if (h.caCertificatePath) {
    let names: string[];
    try {
      names = (await readdir(h.caCertificatePath)).filter((n) => /\.(pem|crt|cer|\d+)$/i.test(n)).sort();
    } catch {
      throw new BobcatError("trust.notFound", `caCertificatePath ${h.caCertificatePath} is not a readable directory`, {
        where: src.attr("caCertificatePath"),
        fix: "point caCertificatePath at a directory of PEM CA certificates",
      });
    }
    for (const n of names) {
      const file = join(h.caCertificatePath, n);
      anchors.push(
        ...parseCerts(
          await readOrFail(file, "caCertificatePath", src.attr("caCertificatePath")),
          file,
          src.attr("caCertificatePath"),
        ),
      );
    }
  }
  if (anchors.length === 0 && h.certificateVerification !== "optionalNoCA") {
    throw new BobcatError(
      "trust.empty",
      `certificateVerification is ${h.certificateVerification} but no trusted CA certificates are configured (the trustAnchors parameter must be non-empty)`,
      {
        where: src.attr("certificateVerification"),
        fix:
          "set truststoreFile (JKS/PKCS12 with trusted certificate entries) or caCertificateFile (PEM), or use optionalNoCA",
      },
    );
  }
  const crls: X509Crl[] = [];
  if (h.certificateRevocationListFile) {
    const file = h.certificateRevocationListFile;
    const where = src.attr("certificateRevocationListFile");
    const bytes = await readOrFail(file, "certificateRevocationListFile", where);
    try {
      const ders = looksLikePem(bytes)
        ? parsePem(new TextDecoder().decode(bytes)).filter((b) => b.label === "X509 CRL").map((b) => b.der)
        : [bytes];
      if (ders.length === 0) throw new Error("no X509 CRL block found");
      for (const der of ders) crls.push(new x509.X509Crl(new Uint8Array(der)));
    } catch (e) {
      throw new BobcatError(
        "trust.badCrl",
        `certificateRevocationListFile ${file} is not a readable CRL: ${(e as Error).message}`,
        {
          where,
          fix: "give a PEM (-----BEGIN X509 CRL-----) or DER CRL, e.g. from `openssl ca -gencrl`",
        },
      );
    }
    for (const crl of crls) {
      const issuer = anchors.find((a) => a.subject === crl.issuer);
      if (issuer && !(await crl.verify({ publicKey: issuer.publicKey }).catch(() => false))) {
        throw new BobcatError(
          "trust.badCrl",
          `the CRL in ${file} from ${crl.issuer} does not verify with that CA's key`,
          {
            where,
            fix: "use the CRL the CA itself published",
          },
        );
      }
    }
  }
  return { anchors, caPems: anchors.map(certPem), crls };
}

function parseCerts(
  bytes: Uint8Array,
  file: string,
  where: ReturnType<ReturnType<typeof sourceOf>["attr"]>,
): X509Certificate[] {
  try {
    const blocks = parsePem(new TextDecoder().decode(bytes)).filter((b) =>
      b.label === "CERTIFICATE" || b.label === "TRUSTED CERTIFICATE"
    );
    if (blocks.length === 0) throw new Error("no CERTIFICATE block found");
    return blocks.map((b) => new x509.X509Certificate(new Uint8Array(b.der)));
  } catch (e) {
    throw new BobcatError(
      "trust.badCertificate",
      `${file} holds no readable PEM certificate: ${(e as Error).message}`,
      {
        where,
        fix: "give PEM certificates (-----BEGIN CERTIFICATE-----)",
      },
    );
  }
}

async function readOrFail(
  file: string,
  attribute: string,
  where: ReturnType<ReturnType<typeof sourceOf>["attr"]>,
): Promise<Uint8Array> {
  try {
    return await readRegularFile(file);
  } catch (e) {
    if (e instanceof UnreadableFileError) {
      throw new BobcatError("trust.notRegularFile", `${attribute} ${e.message}`, {
        where,
        fix: "give a regular file of certificates (not a pipe, device or directory) of a sensible size",
      });
    }
    throw new BobcatError("trust.notFound", `${attribute} ${file} does not exist or cannot be read`, {
      where,
      fix: `check the path (relative paths resolve against the base directory)`,
    });
  }
}
