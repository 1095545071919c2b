/**
 * Turns a TLS connector's SSLHostConfigs into loaded keys and chains (through the tls layer),
 * creating the self-signed localhost certificate of the default config on first start.
 * Everything is loaded before anything listens, so a bad keystore stops start-up.
 */
import { existsSync, mkdir } from "../util/host/fs.ts";
import { readRegularTextFile } from "../util/files.ts";
import { CertificateInfo } from "../tls/keystore/cert-info.ts";
import { parsePem } from "../tls/keystore/pem.ts";
import { basename, dirname, isAbsolute } from "../util/host/path.ts";
import { cwd } from "../util/host/proc.ts";
import type { CertificateEntry, ConnectorConfig, SSLHostConfig } from "../config/model.ts";
import { sourceOf } from "../config/validate.ts";
import { loadCertificate, type LoadedCertificate } from "../tls/certificate.ts";
import { parseProtocols, type TlsVersion } from "../tls/protocols.ts";
import type { ClientTrust } from "../tls/trust.ts";
import { type CipherSettings, parseCipherSettings } from "../tls/ciphers.ts";
import type { OcspChecker } from "../tls/ocsp/checker.ts";
import { ocspUrlOf } from "../tls/ocsp/aia.ts";
import { RUNTIME } from "../util/runtime.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import type { AcmeService } from "../acme/service.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";

const log = logger("tls");

export interface TlsHost {
  hostName: string;
  config: SSLHostConfig;
  certs: LoadedCertificate[];
  versions: TlsVersion[];
  /** Set when the host config verifies client certificates. */
  trust?: ClientTrust;
  ciphers: CipherSettings;
  /** OCSP checks of client certificates (ocspEnabled). */
  ocsp?: OcspChecker;
}

export interface ConnectorTls {
  hosts: TlsHost[];
  /** The one served to clients without SNI or with an unknown name. */
  defaultHost: TlsHost;
}

/**
 * A file that does not exist is most often a relative path read against the wrong base: say
 * which base, and spot Tomcat's layout (config in conf/, paths written as conf/...).
 */
function explainMissingFile(e: BobcatError, node: object, baseDir: string): BobcatError {
  if (!/does not exist/.test(e.message)) return e;
  const src = sourceOf(node);
  const attribute = e.where.attribute;
  const raw = attribute ? src.raw(attribute) : undefined;
  if (typeof raw !== "string" || isAbsolute(raw)) return e;
  let fix =
    `"${raw}" was resolved against the base directory ${baseDir}; give an absolute path, or start bobcat with --base DIR`;
  if (basename(baseDir) === "conf" && /^conf[\\/]/.test(raw)) {
    fix = `this looks like Tomcat's layout (paths relative to $CATALINA_BASE, the config in conf/): run with --base ${
      dirname(baseDir)
    }`;
  }
  return new BobcatError(e.code, `${e.message}; relative paths resolve against the base directory ${baseDir}`, {
    where: e.where,
    fix,
    cause: e,
  });
}

export async function loadConnectorTls(
  c: ConnectorConfig,
  baseDir = cwd(),
  acme?: AcmeService,
): Promise<ConnectorTls | undefined> {
  if (!c.SSLEnabled) return undefined;
  const errors: BobcatError[] = [];
  const hosts: TlsHost[] = [];
  for (const h of c.sslHostConfigs) {
    const src = sourceOf(h);
    try {
      const { versions, warnings } = parseProtocols(h.protocols, src.attr("protocols"));
      for (const w of warnings) log.warn(`${c.name} SSLHostConfig "${h.hostName}": ${w}`);
      const certs: LoadedCertificate[] = [];
      for (const cert of h.certificates) {
        try {
          if (cert.createSelfSigned) await ensureSelfSigned(cert);
          const loaded = await loadCertificate(cert, sourceOf(cert).self);
          for (const w of loaded.warnings) log.warn(`${c.name} SSLHostConfig "${h.hostName}": ${w}`);
          certs.push(loaded);
        } catch (e) {
          if (e instanceof BobcatError) errors.push(explainMissingFile(e, cert, baseDir));
          else throw e;
        }
      }
      // ACME: the stored certificate, the one just obtained, or a temporary self-signed one.
      if (h.acme && acme) certs.push(acme.material(h));
      // Client-certificate trust (and @peculiar/x509 with it) only where certificates are verified.
      const trust = h.certificateVerification === "none"
        ? undefined
        : await (await import("../tls/trust.ts")).loadClientTrust(h);
      const ciphers = parseCipherSettings(h.ciphers, h.cipherSuites, {
        ciphers: src.attr("ciphers"),
        cipherSuites: src.attr("cipherSuites"),
      });
      for (const w of ciphers.warnings) log.warn(`${c.name} SSLHostConfig "${h.hostName}": ${w}`);
      if (h.certificateRevocationListFile && h.certificateVerification === "none") {
        log.warn(
          `${c.name} SSLHostConfig "${h.hostName}": certificateRevocationListFile has no effect while certificateVerification is none`,
        );
      }
      if (h.ocspEnabled && h.certificateVerification === "none") {
        log.warn(
          `${c.name} SSLHostConfig "${h.hostName}": ocspEnabled has no effect while certificateVerification is none`,
        );
      }
      const ocsp = h.ocspEnabled && h.certificateVerification !== "none"
        // The OCSP codec (and its ASN.1 schemas) only for connectors that check client certificates.
        ? new (await import("../tls/ocsp/checker.ts")).OcspChecker({
          softFail: h.ocspSoftFail,
          timeoutMs: h.ocspTimeout,
        })
        : undefined;
      warnUnstapled(c.name, h, certs);
      hosts.push({ hostName: h.hostName, config: h, certs, versions, trust, ciphers, ocsp });
    } catch (e) {
      if (e instanceof BobcatError) errors.push(explainMissingFile(e, h, baseDir));
      else throw e;
    }
  }
  if (errors.length > 0) throw new BobcatErrors(errors, `connector ${c.name}: the TLS configuration cannot be used`);
  const defaultHost = hosts.find((h) => h.hostName === c.defaultSSLHostConfigName)!;
  return { hosts, defaultHost };
}

/**
 * ocspStapling unset: certificates that name an OCSP responder are stapled where the runtime
 * can (Node); elsewhere say so once. (ocspStapling: true on Bun/Deno is refused by the plan.)
 */
function warnUnstapled(connector: string, h: SSLHostConfig, certs: LoadedCertificate[]): void {
  if (h.ocspStapling !== undefined || RUNTIME === "node") return;
  for (const cert of certs) {
    const url = ocspUrlOf(cert.chain[0]!);
    if (url) {
      log.warn(
        `${connector} SSLHostConfig "${h.hostName}": the certificate ${
          cert.chain[0]!.subject
        } names the OCSP responder ${url}, but only Node's TLS stack can staple its answers (run with --runtime node, or set ocspStapling: false to silence this)`,
      );
    }
  }
}

/** The default config's certificate: made once, kept in the base directory, reused afterwards. */
async function ensureSelfSigned(cert: CertificateEntry): Promise<void> {
  const certFile = cert.certificateFile;
  const keyFile = cert.certificateKeyFile ?? certFile;
  if (!certFile || !keyFile) {
    throw new BobcatError("tls.selfSigned", "createSelfSigned needs certificateFile and certificateKeyFile", {
      where: sourceOf(cert).attr("createSelfSigned"),
      fix: "set certificateFile and certificateKeyFile to where the certificate should be kept",
    });
  }
  if (existsSync(certFile) && existsSync(keyFile)) {
    if (!(await ownCertificateExpiring(certFile))) return;
    log.info(
      `the self-signed localhost certificate in ${certFile} expires within ${RENEW_DAYS} days: making a new one`,
    );
  } else {
    log.info(`creating a self-signed certificate for localhost in ${certFile} (createSelfSigned: true)`);
  }
  // 397 days: the longest validity browsers accept for a server certificate.
  const { generateSelfSigned } = await import("../tls/keystore/selfsigned.ts");
  const { keyPem, certPem } = await generateSelfSigned({ hostnames: ["localhost", "127.0.0.1", "::1"], days: 397 });
  await mkdir(dirname(certFile), { recursive: true });
  await mkdir(dirname(keyFile), { recursive: true });
  if (keyFile === certFile) {
    await atomicWrite(certFile, keyPem + certPem, 0o600);
  } else {
    await atomicWrite(keyFile, keyPem, 0o600);
    await atomicWrite(certFile, certPem, 0o644);
  }
}

const RENEW_DAYS = 14;

/** A certificate bobcat made (self-signed, CN=localhost) that is about to expire is renewed; others are the user's. */
async function ownCertificateExpiring(file: string): Promise<boolean> {
  try {
    const pem = await readRegularTextFile(file);
    const block = parsePem(pem).find((b) => b.label === "CERTIFICATE");
    if (!block) return false;
    const cert = new CertificateInfo(block.der);
    const own = cert.subject === cert.issuer && /(^|,\s*)CN=localhost(,|$)/.test(cert.subject);
    return own && cert.notAfter.getTime() - Date.now() < RENEW_DAYS * 86_400_000;
  } catch {
    return false;
  }
}

function atomicWrite(file: string, text: string, mode: number): Promise<void> {
  return writeFileAtomic(file, text, { mode, unique: true });
}
