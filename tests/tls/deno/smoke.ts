/**
 * Run by deno.test.ts under Deno: the keystore code on Deno's node:crypto (no RC2, no DES) and
 * WebCrypto. Prints one JSON line with what it loaded.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { loadCertificate } from "../../../src/tls/certificate.ts";
import { generateSelfSigned } from "../../../src/tls/keystore/selfsigned.ts";
import { keytoolMain } from "../../../src/cli/keytool/main.ts";

const fixtures = new URL("../../fixtures/keystores/", import.meta.url).pathname;
const result: Record<string, unknown> = {};
const load = async (name: string, cfg: Record<string, string>) => {
  const r = await loadCertificate(cfg, {});
  createSecureContext({ key: r.keyPem, cert: r.certPem });
  result[name] = `${r.keyType}:${r.chain.length}`;
};
await load("jks", { certificateKeystoreFile: fixtures + "keytool-rsa.jks", certificateKeyAlias: "tomcat" });
await load("jksOwnKeyPassword", {
  certificateKeystoreFile: fixtures + "keytool-rsa.jks",
  certificateKeyAlias: "ec",
  certificateKeyPassword: "ecpass12",
});
await load("p12", { certificateKeystoreFile: fixtures + "keytool-ec.p12" });
await load("p12LegacyRc2", { certificateKeystoreFile: fixtures + "openssl-rsa-legacy.p12" });
await load("pemDesCbc", {
  certificateFile: fixtures + "pem/rsa-cert.pem",
  certificateKeyFile: fixtures + "pem/rsa-key-pkcs1-des.pem",
  certificateKeyPassword: "changeit",
});
await load("pemEcAes", {
  certificateFile: fixtures + "pem/ec-cert.pem",
  certificateKeyFile: fixtures + "pem/ec-key-sec1-aes256.pem",
  certificateKeyPassword: "changeit",
});
try {
  await loadCertificate(
    { certificateKeystoreFile: fixtures + "keytool-rsa.jks", certificateKeystorePassword: "wrong" },
    {},
  );
} catch (e) {
  result.wrongPassword = (e as Error).message;
}
const self = await generateSelfSigned({ hostnames: ["localhost", "127.0.0.1", "::1"] });
createSecureContext({ key: self.keyPem, cert: self.certPem });
result.selfSigned = true;

const dir = mkdtempSync(join(tmpdir(), "bobcat-deno-"));
const quiet = { stdout: { write: () => true }, stderr: { write: () => true }, stdin: [], isTTY: false };
for (const type of ["PKCS12", "JKS"]) {
  const ks = join(dir, `k.${type}`);
  const code = await keytoolMain([
    "-genkeypair",
    "-alias",
    "tomcat",
    "-keyalg",
    "EC",
    "-dname",
    "CN=deno",
    "-keystore",
    ks,
    "-storetype",
    type,
    "-storepass",
    "changeit",
  ], quiet);
  const r = await loadCertificate({ certificateKeystoreFile: ks }, {});
  result[`keytool${type}`] = `${code}:${r.keyType}`;
}
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(result));
