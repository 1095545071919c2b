/**
 * The SSL/TLS how-to's walk-through with `bobcat keytool` in place of keytool: genkey alias
 * tomcat, certreq, a CA (openssl) signs it, import the root as "root" with -trustcacerts,
 * import the reply as "tomcat", then the server's loader serves leaf + intermediate.
 * The same keystore is checked with the real keytool and openssl.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCertificate } from "../../src/tls/certificate.ts";
import { x509 } from "../../src/tls/keystore/x509.ts";
import { bobcatKeytool, cleanupScratch, PW, scratch, tool } from "./helpers.ts";

afterAll(cleanupScratch);

/** Signs a CSR with the fixture intermediate CA, keeping the requested extensions (SAN). */
function caSign(dir: string, csr: string, out: string): void {
  const r = tool("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    join(dir, "int.crt"),
    "-CAkey",
    join(dir, "int.key"),
    "-days",
    "365",
    "-sha256",
    "-copy_extensions",
    "copy",
    "-set_serial",
    "0x4242",
    "-out",
    out,
  ]);
  expect(r.status).toBe(0);
}

function makeCa(dir: string): void {
  const sh = `set -e; cd ${dir}
cat > ext.cnf <<'X'
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
X
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -subj "/CN=Walkthrough Root CA" -days 365 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" -out root.crt 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout int.key -subj "/CN=Walkthrough Intermediate CA" -out int.csr 2>/dev/null
openssl x509 -req -in int.csr -CA root.crt -CAkey root.key -set_serial 7 -days 365 -extfile ext.cnf -extensions ca_ext -out int.crt 2>/dev/null`;
  expect(tool("bash", ["-c", sh]).status).toBe(0);
}

for (const storetype of ["PKCS12", "JKS"]) {
  describe(`the how-to with a ${storetype} keystore`, () => {
    const dir = scratch();
    const ks = join(dir, `keystore.${storetype === "JKS" ? "jks" : "p12"}`);
    const kt = (...a: string[]) => bobcatKeytool([...a, "-keystore", ks, "-storepass", PW]);

    test("keytool -genkey -alias tomcat -keyalg RSA", async () => {
      makeCa(dir);
      const r = await kt(
        "-genkey",
        "-alias",
        "tomcat",
        "-keyalg",
        "RSA",
        "-storetype",
        storetype,
        "-dname",
        "CN=www.mysite.org, OU=Web, O=Example, C=JP",
        "-ext",
        "SAN=dns:www.mysite.org,dns:localhost,ip:127.0.0.1",
      );
      expect(r.code).toBe(0);
      expect(r.err).toContain(
        "Generating 2,048 bit RSA key pair and self-signed certificate (SHA256withRSA) with a validity of 90 days",
      );
    });
    test("keytool -certreq -keyalg RSA -alias tomcat -file certreq.csr; openssl req -verify accepts it", async () => {
      const r = await kt("-certreq", "-keyalg", "RSA", "-alias", "tomcat", "-file", join(dir, "certreq.csr"));
      expect(r.code).toBe(0);
      const v = tool("openssl", ["req", "-verify", "-noout", "-in", join(dir, "certreq.csr")]);
      expect(v.status).toBe(0);
      expect(v.stdout + v.stderr).toContain("verify OK");
      const text = tool("openssl", ["req", "-noout", "-text", "-in", join(dir, "certreq.csr")]).stdout;
      expect(text).toContain("CN = www.mysite.org");
      expect(text).toContain("DNS:www.mysite.org");
    });
    test("the reply cannot be installed before the CA's root is trusted", async () => {
      caSign(dir, join(dir, "certreq.csr"), join(dir, "reply.crt"));
      const r = await kt("-import", "-alias", "tomcat", "-file", join(dir, "reply.crt"));
      expect(r.code).toBe(1);
      expect(r.err).toContain("keytool error: Failed to establish chain from reply");
    });
    test("keytool -import -alias root -trustcacerts -file <chain certificate>", async () => {
      const r = await kt("-import", "-alias", "root", "-trustcacerts", "-noprompt", "-file", join(dir, "root.crt"));
      expect(r.code).toBe(0);
      expect(r.err).toContain("Certificate was added to keystore");
      const i = await kt("-import", "-alias", "intermediate", "-trustcacerts", "-file", join(dir, "int.crt"));
      expect(i.code).toBe(0); // issued by a trusted root: no question asked
    });
    test("keytool -import -alias tomcat -file <your certificate>", async () => {
      const r = await kt("-import", "-alias", "tomcat", "-file", join(dir, "reply.crt"));
      expect(r.code).toBe(0);
      expect(r.err).toContain("Certificate reply was installed in keystore");
    });
    test("the server loads leaf + intermediate (+ root) from it", async () => {
      const r = await loadCertificate(
        { certificateKeystoreFile: ks, certificateKeystorePassword: PW, type: "RSA" },
        {},
      );
      expect(r.chain.map((c) => new x509.X509Certificate(c.rawData).subjectName.getField("CN")[0])).toEqual([
        "www.mysite.org",
        "Walkthrough Intermediate CA",
        "Walkthrough Root CA",
      ]);
      expect(r.source).toEndWith("alias tomcat");
      writeFileSync(join(dir, "served.pem"), r.certPem);
      const chk = tool("openssl", [
        "verify",
        "-CAfile",
        join(dir, "root.crt"),
        "-untrusted",
        join(dir, "served.pem"),
        join(dir, "served.pem"),
      ]);
      expect(chk.stdout).toContain("OK");
    });
    test("the real keytool and openssl read the result", () => {
      const l = tool("keytool", ["-list", "-v", "-keystore", ks, "-storepass", PW]);
      expect(l.status).toBe(0);
      expect(l.stdout).toContain(`Keystore type: ${storetype}`);
      expect(l.stdout).toContain("Your keystore contains 3 entries");
      expect(l.stdout).toMatch(
        /Alias name: tomcat\nCreation date: .*\nEntry type: PrivateKeyEntry\nCertificate chain length: 3/,
      );
      expect(l.stdout).toMatch(/Alias name: root\nCreation date: .*\nEntry type: trustedCertEntry/);
      if (storetype === "PKCS12") {
        const o = tool("openssl", ["pkcs12", "-info", "-nokeys", "-in", ks, "-passin", `pass:${PW}`]);
        expect(o.status).toBe(0);
        expect(o.stdout).toContain("friendlyName: tomcat");
        expect(o.stdout).toContain("subject=C = JP, O = Example, OU = Web, CN = www.mysite.org");
      }
    });
  });
}

test("the real keytool installs a reply on a bobcat-made key, and bobcat reads that back", async () => {
  const dir = scratch();
  makeCa(dir);
  const ks = join(dir, "mixed.p12");
  expect(
    (await bobcatKeytool([
      "-genkeypair",
      "-alias",
      "tomcat",
      "-keyalg",
      "EC",
      "-dname",
      "CN=localhost",
      "-keystore",
      ks,
      "-storepass",
      PW,
    ])).code,
  ).toBe(0);
  expect(
    (await bobcatKeytool([
      "-certreq",
      "-alias",
      "tomcat",
      "-file",
      join(dir, "req.csr"),
      "-keystore",
      ks,
      "-storepass",
      PW,
    ])).code,
  ).toBe(0);
  caSign(dir, join(dir, "req.csr"), join(dir, "leaf.crt"));
  writeFileSync(
    join(dir, "reply.pem"),
    readFileSync(join(dir, "leaf.crt"), "utf8") + readFileSync(join(dir, "int.crt"), "utf8"),
  );
  expect(
    tool("keytool", [
      "-importcert",
      "-alias",
      "root",
      "-noprompt",
      "-file",
      join(dir, "root.crt"),
      "-keystore",
      ks,
      "-storepass",
      PW,
    ]).status,
  ).toBe(0);
  const imp = tool("keytool", [
    "-importcert",
    "-alias",
    "tomcat",
    "-file",
    join(dir, "reply.pem"),
    "-keystore",
    ks,
    "-storepass",
    PW,
  ]);
  expect(imp.stdout + imp.stderr).toContain("Certificate reply was installed in keystore");
  const r = await loadCertificate({ certificateKeystoreFile: ks }, {});
  expect(r.keyType).toBe("EC");
  expect(r.chain.map((c) => new x509.X509Certificate(c.rawData).subjectName.getField("CN")[0])).toEqual([
    "localhost",
    "Walkthrough Intermediate CA",
    "Walkthrough Root CA",
  ]);
});
