/** `bobcat keytool`: each command, keytool's wording, and interoperability with the real keytool and openssl. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { findEntry, readKeystore } from "../../src/tls/keystore/index.ts";
import { bobcatKeytool, cleanupScratch, fixture, fixtureBytes, pem, PW, scratch, tool } from "./helpers.ts";

afterAll(cleanupScratch);
const read = async (path: string, pw = PW) => await readKeystore(new Uint8Array(readFileSync(path)), pw);

describe("-genkeypair", () => {
  test("defaults: PKCS12, EC P-384 with SHA384withECDSA, 90 days, SubjectKeyIdentifier", async () => {
    const ks = join(scratch(), "a.p12");
    const r = await bobcatKeytool([
      "-genkeypair",
      "-alias",
      "server",
      "-keyalg",
      "EC",
      "-dname",
      "CN=localhost",
      "-keystore",
      ks,
      "-storepass",
      PW,
    ]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(
      "Generating 384 bit EC (secp384r1) key pair and self-signed certificate (SHA384withECDSA) with a validity of 90 days\n\tfor: CN=localhost",
    );
    const v = tool("keytool", ["-list", "-v", "-keystore", ks, "-storepass", PW]);
    expect(v.stdout).toContain("Keystore type: PKCS12");
    expect(v.stdout).toContain("Subject Public Key Algorithm: 384-bit EC (secp384r1) key");
    expect(v.stdout).toContain("Signature algorithm name: SHA384withECDSA");
    expect(v.stdout).toContain("SubjectKeyIdentifier");
    const s = await read(ks);
    const cert = (findEntry(s, "server") as { chain: { notBefore: Date; notAfter: Date }[] }).chain[0];
    expect(Math.round((cert.notAfter.getTime() - cert.notBefore.getTime()) / 86_400_000)).toBe(90);
  });
  test("the default keystore is ~/.keystore and the default alias mykey", () => {
    const home = scratch();
    const script = `import { keytoolMain } from ${
      JSON.stringify(resolve("src/cli/keytool/main.ts"))
    }; process.exit(await keytoolMain(["-genkeypair", "-keyalg", "RSA", "-dname", "CN=x", "-storepass", "changeit"]));`;
    const r = tool(process.execPath, ["-e", script], { env: { HOME: home } });
    expect(r.status).toBe(0);
    expect(existsSync(join(home, ".keystore"))).toBe(true);
    expect(tool("keytool", ["-list", "-keystore", join(home, ".keystore"), "-storepass", PW]).stdout).toContain(
      "mykey,",
    );
  });
  test("-keysize, -groupname, -sigalg, -validity, -ext, and a JKS key password of its own", async () => {
    const ks = join(scratch(), "b.jks");
    const args = ["-keystore", ks, "-storepass", PW, "-storetype", "JKS"];
    expect(
      (await bobcatKeytool([
        "-genkeypair",
        "-alias",
        "big",
        "-keyalg",
        "RSA",
        "-keysize",
        "3072",
        "-sigalg",
        "SHA384withRSA",
        "-validity",
        "10",
        "-dname",
        "CN=big, O=Bobcat, C=JP",
        "-ext",
        "SAN=dns:big.example,ip:::1",
        "-ext",
        "EKU=serverAuth,clientAuth",
        ...args,
      ])).code,
    ).toBe(0);
    expect(
      (await bobcatKeytool([
        "-genkeypair",
        "-alias",
        "ec",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-keypass",
        "ecpass12",
        "-dname",
        "CN=ec",
        ...args,
      ])).code,
    ).toBe(0);
    const v = tool("keytool", ["-list", "-v", "-keystore", ks, "-storepass", PW]);
    expect(v.stdout).toContain("Keystore type: JKS");
    expect(v.stdout).toContain("Owner: CN=big, O=Bobcat, C=JP");
    expect(v.stdout).toContain("3072-bit RSA key");
    expect(v.stdout).toContain("SHA384withRSA");
    expect(v.stdout).toContain("DNSName: big.example");
    expect(v.stdout).toContain("IPAddress: 0:0:0:0:0:0:0:1");
    expect(v.stdout).toContain("clientAuth");
    expect(v.stdout).toContain("256-bit EC (secp256r1) key");
    // The real keytool can use the key only with its own password.
    expect(
      tool("keytool", ["-certreq", "-alias", "ec", "-keystore", ks, "-storepass", PW, "-keypass", "ecpass12"]).stdout,
    ).toContain("BEGIN NEW CERTIFICATE REQUEST");
    expect(
      tool("keytool", ["-certreq", "-alias", "ec", "-keystore", ks, "-storepass", PW, "-keypass", "wrongpass"]).stdout,
    ).toContain("Cannot recover key");
  });
  test("PKCS12 ignores a different -keypass with keytool's warning", async () => {
    const ks = join(scratch(), "c.p12");
    const r = await bobcatKeytool([
      "-genkeypair",
      "-alias",
      "a",
      "-keyalg",
      "EC",
      "-dname",
      "CN=a",
      "-keypass",
      "other12",
      "-keystore",
      ks,
      "-storepass",
      PW,
    ]);
    expect(r.err).toContain(
      "Different store and key passwords not supported for PKCS12 KeyStores. Ignoring user-specified -keypass value.",
    );
    expect(tool("keytool", ["-certreq", "-alias", "a", "-keystore", ks, "-storepass", PW]).status).toBe(0);
  });
  test("errors: no -keyalg, alias exists, short password, bad -dname", async () => {
    const ks = join(scratch(), "d.p12");
    const base = ["-keystore", ks, "-storepass", PW, "-dname", "CN=x"];
    expect((await bobcatKeytool(["-genkeypair", ...base])).err).toContain("The -keyalg option must be specified.");
    await bobcatKeytool(["-genkeypair", "-alias", "x", "-keyalg", "EC", ...base]);
    expect((await bobcatKeytool(["-genkeypair", "-alias", "X", "-keyalg", "EC", ...base])).err).toContain(
      "Key pair not generated, alias <X> already exists",
    );
    const short = await bobcatKeytool([
      "-genkeypair",
      "-keyalg",
      "EC",
      "-dname",
      "CN=x",
      "-keystore",
      join(scratch(), "e.p12"),
      "-storepass",
      "abc",
    ]);
    expect(short.err).toContain("Keystore password must be at least 6 characters");
    expect(
      (await bobcatKeytool([
        "-genkeypair",
        "-alias",
        "y",
        "-keyalg",
        "EC",
        "-keystore",
        ks,
        "-storepass",
        PW,
        "-dname",
        "FOO=bar",
      ])).err,
    ).toContain("Unrecognized keyword FOO");
  });
  test("prompts for the distinguished name when -dname is missing", async () => {
    const ks = join(scratch(), "f.p12");
    const answers = ["Duke\n", "Java\n", "Oracle\n", "Santa Clara\n", "CA\n", "US\n", "yes\n"];
    const r = await bobcatKeytool(["-genkeypair", "-keyalg", "EC", "-keystore", ks, "-storepass", PW], {
      input: answers,
    });
    expect(r.code).toBe(0);
    expect(r.err).toContain("What is your first and last name?");
    expect(r.err).toContain("Is CN=Duke, OU=Java, O=Oracle, L=Santa Clara, ST=CA, C=US correct?");
    expect(tool("keytool", ["-list", "-v", "-keystore", ks, "-storepass", PW]).stdout).toContain(
      "Owner: CN=Duke, OU=Java, O=Oracle, L=Santa Clara, ST=CA, C=US",
    );
  });
});

describe("-list", () => {
  test("summary in keytool's words, sorted by alias", async () => {
    const r = await bobcatKeytool(["-list", "-keystore", fixture("keytool-rsa.p12"), "-storepass", PW]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Keystore type: PKCS12\n");
    expect(r.out).toContain("Your keystore contains 4 entries\n");
    expect(r.out).toMatch(
      /intermediate, \w{3} \d{1,2}, \d{4}, trustedCertEntry, \nCertificate fingerprint \(SHA-256\): ([0-9A-F]{2}:){31}[0-9A-F]{2}\n/,
    );
    expect(r.out.indexOf("intermediate,")).toBeLessThan(r.out.indexOf("tomcat,"));
    // Same fingerprints as the real keytool prints.
    const real = tool("keytool", ["-list", "-keystore", fixture("keytool-rsa.p12"), "-storepass", PW]).stdout;
    const fps = (s: string) => s.match(/\(SHA-256\): \S+/g)!.sort();
    expect(fps(r.out)).toEqual(fps(real));
  });
  test("-v and -rfc", async () => {
    const v = await bobcatKeytool([
      "-list",
      "-v",
      "-alias",
      "tomcat",
      "-keystore",
      fixture("keytool-rsa.jks"),
      "-storepass",
      PW,
    ]);
    expect(v.out).toContain("Alias name: tomcat\n");
    expect(v.out).toContain(
      "Entry type: PrivateKeyEntry\nCertificate chain length: 2\nCertificate[1]:\nOwner: CN=localhost, OU=Tests, O=Bobcat\nIssuer: CN=Bobcat Test Intermediate CA, O=Bobcat Tests\n",
    );
    const real =
      tool("keytool", ["-list", "-v", "-alias", "tomcat", "-keystore", fixture("keytool-rsa.jks"), "-storepass", PW])
        .stdout;
    for (
      const line of [
        "Serial number:",
        "Valid from:",
        "\t SHA1:",
        "\t SHA256:",
        "Signature algorithm name:",
        "Subject Public Key Algorithm:",
      ]
    ) {
      expect(v.out.split("\n").filter((l) => l.startsWith(line))).toEqual(
        real.split("\n").filter((l) => l.startsWith(line)),
      );
    }
    const rfc = await bobcatKeytool([
      "-list",
      "-rfc",
      "-alias",
      "root",
      "-keystore",
      fixture("keytool-rsa.jks"),
      "-storepass",
      PW,
    ]);
    expect(rfc.out).toContain("-----BEGIN CERTIFICATE-----");
    expect(rfc.out).toContain(readFileSync(pem("root-ca.pem"), "utf8").trim());
  });
  test("wrong passwords and unknown aliases", async () => {
    const jks = await bobcatKeytool(["-list", "-keystore", fixture("keytool-rsa.jks"), "-storepass", "wrongpw"]);
    expect(jks.code).toBe(1);
    expect(jks.err).toContain("keytool error: Keystore was tampered with, or password was incorrect");
    const p12 = await bobcatKeytool(["-list", "-keystore", fixture("keytool-rsa.p12"), "-storepass", "wrongpw"]);
    expect(p12.err).toContain("keytool error: keystore password was incorrect");
    const alias = await bobcatKeytool([
      "-list",
      "-alias",
      "nosuch",
      "-keystore",
      fixture("keytool-rsa.p12"),
      "-storepass",
      PW,
    ]);
    expect(alias.err).toContain("keytool error: Alias <nosuch> does not exist");
    const nofile = await bobcatKeytool(["-list", "-keystore", "/nonexistent/x.p12", "-storepass", PW]);
    expect(nofile.err).toContain("Keystore file does not exist: /nonexistent/x.p12");
  });
  test("a JKS listed without its password warns that integrity was not verified", async () => {
    const r = await bobcatKeytool(["-list", "-keystore", fixture("keytool-rsa.jks")], { input: ["\n"] });
    expect(r.code).toBe(0);
    expect(r.out).toContain("Your keystore contains 3 entries");
    expect(r.err).toContain("has NOT been verified!");
  });
  test("passwords from the terminal, :env and :file", async () => {
    const typed = await bobcatKeytool(["-list", "-keystore", fixture("keytool-ec.p12")], { input: ["changeit\n"] });
    expect(typed.err).toContain("Enter keystore password:");
    expect(typed.out).toContain("Your keystore contains 2 entries");
    process.env.BOBCAT_TEST_STOREPASS = PW;
    expect(
      (await bobcatKeytool([
        "-list",
        "-keystore",
        fixture("keytool-ec.p12"),
        "-storepass:env",
        "BOBCAT_TEST_STOREPASS",
      ])).code,
    ).toBe(0);
    expect(
      (await bobcatKeytool(["-list", "-keystore", fixture("keytool-ec.p12"), "-storepass:file", pem("password.txt")]))
        .code,
    ).toBe(0);
    expect(
      (await bobcatKeytool(["-list", "-keystore", fixture("keytool-ec.p12"), "-storepass:env", "BOBCAT_TEST_NOPE"]))
        .err,
    ).toContain("Cannot find environment variable: BOBCAT_TEST_NOPE");
    const none = await bobcatKeytool(["-list", "-keystore", fixture("keytool-ec.p12")]);
    expect(none.code).toBe(1);
    expect(none.err).toContain("No password given for -storepass");
  });
});

describe("-exportcert and -printcert", () => {
  test("DER and -rfc, identical to the real keytool's output", async () => {
    const dir = scratch();
    const args = ["-alias", "tomcat", "-keystore", fixture("keytool-rsa.p12"), "-storepass", PW];
    const der = await bobcatKeytool(["-exportcert", ...args, "-file", join(dir, "a.der")]);
    expect(der.err).toContain(`Certificate stored in file <${join(dir, "a.der")}>`);
    tool("keytool", ["-exportcert", ...args, "-file", join(dir, "b.der")]);
    expect(readFileSync(join(dir, "a.der"))).toEqual(readFileSync(join(dir, "b.der")));
    const rfc = await bobcatKeytool(["-exportcert", "-rfc", ...args]);
    // Java's MIME encoder ends base64 lines with CRLF; bobcat writes plain LF PEM.
    expect(rfc.out).toBe(tool("keytool", ["-exportcert", "-rfc", ...args]).stdout.replace(/\r\n/g, "\n"));
  });
  test("-printcert reads PEM chains and DER", async () => {
    const r = await bobcatKeytool(["-printcert", "-file", pem("ca-chain.pem")]);
    expect(r.out).toContain("Certificate[1]:\nOwner: CN=Bobcat Test Intermediate CA, O=Bobcat Tests");
    expect(r.out).toContain("Certificate[2]:\nOwner: CN=Bobcat Test Root CA, O=Bobcat Tests");
    expect(r.out).toContain("BasicConstraints:[\n  CA:true\n  PathLen: no limit\n]");
  });
});

describe("editing a store", () => {
  test("-delete and -changealias (JKS key with its own password)", async () => {
    const ks = join(scratch(), "e.jks");
    writeFileSync(ks, fixtureBytes("keytool-rsa.jks"));
    const common = ["-keystore", ks, "-storepass", PW];
    expect((await bobcatKeytool(["-delete", "-alias", "root", ...common])).code).toBe(0);
    const bad = await bobcatKeytool(["-changealias", "-alias", "ec", "-destalias", "ec2", ...common]);
    expect(bad.err).toContain("Cannot recover key");
    expect(
      (await bobcatKeytool(["-changealias", "-alias", "ec", "-destalias", "ec2", "-keypass", "ecpass12", ...common]))
        .code,
    ).toBe(0);
    expect((await bobcatKeytool(["-changealias", "-alias", "tomcat", "-destalias", "ec2", ...common])).err).toContain(
      "Target alias <ec2> already exists",
    );
    const l = tool("keytool", ["-list", ...common]).stdout;
    expect(l).toContain("Your keystore contains 2 entries");
    expect(l).toContain("ec2,");
    expect(tool("keytool", ["-certreq", "-alias", "ec2", "-keypass", "ecpass12", ...common]).stdout).toContain(
      "BEGIN NEW CERTIFICATE REQUEST",
    );
  });
  test("-storepasswd re-protects PKCS12 keys; the real keytool opens the store with the new password", async () => {
    const ks = join(scratch(), "f.p12");
    writeFileSync(ks, fixtureBytes("keytool-rsa.p12"));
    expect((await bobcatKeytool(["-storepasswd", "-new", "newpass99", "-keystore", ks, "-storepass", PW])).code).toBe(
      0,
    );
    expect(tool("keytool", ["-list", "-keystore", ks, "-storepass", "newpass99"]).stdout).toContain(
      "Your keystore contains 4 entries",
    );
    expect(tool("keytool", ["-certreq", "-alias", "tomcat", "-keystore", ks, "-storepass", "newpass99"]).status).toBe(
      0,
    );
    expect((await bobcatKeytool(["-storepasswd", "-new", "abc", "-keystore", ks, "-storepass", "newpass99"])).err)
      .toContain("at least 6 characters");
  });
  test("-storepasswd on JKS keeps key passwords; -keypasswd changes one", async () => {
    const ks = join(scratch(), "g.jks");
    writeFileSync(ks, fixtureBytes("keytool-rsa.jks"));
    expect((await bobcatKeytool(["-storepasswd", "-new", "newpass99", "-keystore", ks, "-storepass", PW])).code).toBe(
      0,
    );
    expect(
      (await bobcatKeytool([
        "-keypasswd",
        "-alias",
        "ec",
        "-keypass",
        "ecpass12",
        "-new",
        "ecpass34",
        "-keystore",
        ks,
        "-storepass",
        "newpass99",
      ])).code,
    ).toBe(0);
    expect(
      tool("keytool", ["-certreq", "-alias", "ec", "-keystore", ks, "-storepass", "newpass99", "-keypass", "ecpass34"])
        .status,
    ).toBe(0);
    expect(
      tool("keytool", ["-certreq", "-alias", "tomcat", "-keystore", ks, "-storepass", "newpass99", "-keypass", PW])
        .status,
    ).toBe(0);
  });
});

describe("-importcert", () => {
  test("a self-signed certificate needs a yes without -noprompt", async () => {
    const ks = join(scratch(), "t.p12");
    const no = await bobcatKeytool([
      "-importcert",
      "-alias",
      "root",
      "-file",
      pem("root-ca.pem"),
      "-keystore",
      ks,
      "-storepass",
      PW,
    ], { input: ["no\n"] });
    expect(no.out).toContain("Owner: CN=Bobcat Test Root CA");
    expect(no.err).toContain("Trust this certificate? [no]:");
    expect(no.err).toContain("Certificate was not added to keystore");
    const yes = await bobcatKeytool([
      "-importcert",
      "-alias",
      "root",
      "-file",
      pem("root-ca.pem"),
      "-keystore",
      ks,
      "-storepass",
      PW,
    ], { input: ["yes\n"] });
    expect(yes.err).toContain("Certificate was added to keystore");
    const dup = await bobcatKeytool([
      "-importcert",
      "-alias",
      "root",
      "-file",
      pem("root-ca.pem"),
      "-keystore",
      ks,
      "-storepass",
      PW,
      "-noprompt",
    ]);
    expect(dup.err).toContain("Certificate not imported, alias <root> already exists");
    // keytool lists it as trustedCertEntry: the Oracle trusted-key-usage attribute is there.
    expect(tool("keytool", ["-list", "-keystore", ks, "-storepass", PW]).stdout).toContain("root, ");
    expect(tool("keytool", ["-list", "-keystore", ks, "-storepass", PW]).stdout).toContain("trustedCertEntry");
    expect(tool("openssl", ["pkcs12", "-info", "-nokeys", "-in", ks, "-passin", `pass:${PW}`]).stdout).toContain(
      "2.16.840.1.113894.746875.1.1",
    );
  });
  test("a reply for another key is refused", async () => {
    const ks = join(scratch(), "r.p12");
    await bobcatKeytool([
      "-genkeypair",
      "-alias",
      "tomcat",
      "-keyalg",
      "RSA",
      "-dname",
      "CN=x",
      "-keystore",
      ks,
      "-storepass",
      PW,
    ]);
    const r = await bobcatKeytool([
      "-importcert",
      "-alias",
      "tomcat",
      "-file",
      pem("rsa-fullchain.pem"),
      "-keystore",
      ks,
      "-storepass",
      PW,
    ]);
    expect(r.err).toContain("keytool error: Public keys in reply and keystore don't match");
  });
});

describe("-importkeystore", () => {
  test("JKS → PKCS12 (per alias, with a source key password), read by keytool and openssl", async () => {
    const dest = join(scratch(), "out.p12");
    const base = [
      "-importkeystore",
      "-srckeystore",
      fixture("keytool-rsa.jks"),
      "-srcstorepass",
      PW,
      "-destkeystore",
      dest,
      "-deststorepass",
      PW,
    ];
    expect((await bobcatKeytool([...base, "-srcalias", "tomcat"])).code).toBe(0);
    const r = await bobcatKeytool([...base, "-srcalias", "ec", "-srckeypass", "ecpass12", "-destalias", "eckey"]);
    expect(r.err).toContain("Entry for alias eckey successfully imported.");
    expect((await bobcatKeytool([...base, "-srcalias", "root"])).code).toBe(0);
    const l = tool("keytool", ["-list", "-keystore", dest, "-storepass", PW]).stdout;
    expect(l).toContain("Your keystore contains 3 entries");
    expect(l).toMatch(/eckey, .*PrivateKeyEntry/);
    const o = tool("openssl", ["pkcs12", "-in", dest, "-passin", `pass:${PW}`, "-nodes"]);
    expect(o.status).toBe(0);
    expect(o.stdout.match(/BEGIN PRIVATE KEY/g)?.length).toBe(2);
  });
  test("PKCS12 → JKS → PEM → PKCS12 keeps keys and chains", async () => {
    const dir = scratch();
    const hop = async (src: string, dest: string, type: string) =>
      (await bobcatKeytool([
        "-importkeystore",
        "-srckeystore",
        src,
        "-srcstorepass",
        PW,
        "-destkeystore",
        dest,
        "-deststoretype",
        type,
        "-deststorepass",
        PW,
        "-noprompt",
      ])).code;
    expect(await hop(fixture("keytool-rsa.p12"), join(dir, "a.jks"), "JKS")).toBe(0);
    expect(await hop(join(dir, "a.jks"), join(dir, "b.pem"), "PEM")).toBe(0);
    expect(await hop(join(dir, "b.pem"), join(dir, "c.p12"), "PKCS12")).toBe(0);
    expect(tool("keytool", ["-list", "-keystore", join(dir, "a.jks"), "-storepass", PW]).stdout).toContain(
      "Your keystore contains 4 entries",
    );
    expect(readFileSync(join(dir, "b.pem"), "utf8")).toContain("BEGIN ENCRYPTED PRIVATE KEY");
    expect(tool("openssl", ["pkey", "-in", join(dir, "b.pem"), "-passin", `pass:${PW}`, "-noout"]).status).toBe(0);
    const s = await read(join(dir, "c.p12"));
    const e = findEntry(s, "tomcat");
    expect(e?.kind === "privateKey" && e.chain.length).toBe(3);
    expect(s.entries.length).toBe(4);
  });
  test("in-place migration JKS → PKCS12 keeps the old file", async () => {
    const ks = join(scratch(), "old.jks");
    writeFileSync(ks, fixtureBytes("keytool-ec.jks"));
    const r = await bobcatKeytool([
      "-importkeystore",
      "-srckeystore",
      ks,
      "-destkeystore",
      ks,
      "-deststoretype",
      "pkcs12",
      "-srcstorepass",
      PW,
    ]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`Migrated "${ks}" to PKCS12. The JKS keystore is backed up as "${ks}.old".`);
    expect(tool("keytool", ["-list", "-keystore", ks, "-storepass", PW]).stdout).toContain("Keystore type: PKCS12");
    expect(existsSync(`${ks}.old`)).toBe(true);
  });
});

test("-gencert signs a CSR: openssl verifies the result and it imports back as a reply", async () => {
  const dir = scratch();
  const ca = join(dir, "ca.p12");
  const srv = join(dir, "server.p12");
  await bobcatKeytool([
    "-genkeypair",
    "-alias",
    "ca",
    "-keyalg",
    "RSA",
    "-dname",
    "CN=Test CA",
    "-ext",
    "BC=ca:true",
    "-ext",
    "KU=keyCertSign,cRLSign",
    "-validity",
    "30",
    "-keystore",
    ca,
    "-storepass",
    PW,
  ]);
  await bobcatKeytool([
    "-genkeypair",
    "-alias",
    "tomcat",
    "-keyalg",
    "EC",
    "-groupname",
    "secp256r1",
    "-dname",
    "CN=localhost",
    "-keystore",
    srv,
    "-storepass",
    PW,
  ]);
  await bobcatKeytool([
    "-certreq",
    "-alias",
    "tomcat",
    "-file",
    join(dir, "s.csr"),
    "-keystore",
    srv,
    "-storepass",
    PW,
  ]);
  const g = await bobcatKeytool([
    "-gencert",
    "-alias",
    "ca",
    "-infile",
    join(dir, "s.csr"),
    "-outfile",
    join(dir, "s.crt"),
    "-rfc",
    "-ext",
    "SAN=dns:localhost",
    "-ext",
    "EKU=serverAuth",
    "-keystore",
    ca,
    "-storepass",
    PW,
  ]);
  expect(g.code).toBe(0);
  await bobcatKeytool([
    "-exportcert",
    "-rfc",
    "-alias",
    "ca",
    "-file",
    join(dir, "ca.crt"),
    "-keystore",
    ca,
    "-storepass",
    PW,
  ]);
  const v = tool("openssl", ["verify", "-CAfile", join(dir, "ca.crt"), join(dir, "s.crt")]);
  expect(v.stdout).toContain("OK");
  expect(
    (await bobcatKeytool([
      "-importcert",
      "-alias",
      "ca",
      "-noprompt",
      "-file",
      join(dir, "ca.crt"),
      "-keystore",
      srv,
      "-storepass",
      PW,
    ])).code,
  ).toBe(0);
  const imp = await bobcatKeytool([
    "-importcert",
    "-alias",
    "tomcat",
    "-file",
    join(dir, "s.crt"),
    "-keystore",
    srv,
    "-storepass",
    PW,
  ]);
  expect(imp.err).toContain("Certificate reply was installed in keystore");
  const l = tool("keytool", ["-list", "-v", "-alias", "tomcat", "-keystore", srv, "-storepass", PW]).stdout;
  expect(l).toContain("Certificate chain length: 2");
  expect(l).toContain("Issuer: CN=Test CA");
});

test("-J-Dkeystore.pkcs12.legacy writes the legacy algorithms; keytool and openssl -legacy read it", async () => {
  const ks = join(scratch(), "legacy.p12");
  expect(
    (await bobcatKeytool([
      "-genkeypair",
      "-J-Dkeystore.pkcs12.legacy",
      "-alias",
      "old",
      "-keyalg",
      "RSA",
      "-dname",
      "CN=old",
      "-keystore",
      ks,
      "-storepass",
      PW,
    ])).code,
  ).toBe(0);
  const o = tool("openssl", ["pkcs12", "-legacy", "-info", "-in", ks, "-passin", `pass:${PW}`, "-nodes"]);
  expect(o.status).toBe(0);
  expect(o.stderr).toContain("MAC: sha1");
  expect(o.stderr).toContain("pbeWithSHA1And40BitRC2-CBC");
  expect(o.stderr).toContain("pbeWithSHA1And3-KeyTripleDES-CBC");
  expect(o.stdout).toContain("BEGIN PRIVATE KEY");
  expect(tool("keytool", ["-list", "-keystore", ks, "-storepass", PW]).stdout).toContain("old, ");
});

test("help and usage errors", async () => {
  const h = await bobcatKeytool(["-help"]);
  expect(h.out).toContain("-genkeypair");
  expect(h.out).toContain("-importkeystore");
  expect((await bobcatKeytool(["-genkeypair", "-help"])).out).toContain("-groupname");
  const bad = await bobcatKeytool(["-list", "-bogus"]);
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("Illegal option:  -bogus");
  expect((await bobcatKeytool(["-frobnicate"])).err).toContain("Illegal option:  -frobnicate");
});

test("keystores written by bobcat: the real tools read every entry", async () => {
  const dir = scratch();
  for (const type of ["PKCS12", "JKS"]) {
    const ks = join(dir, `all.${type}`);
    const a = ["-keystore", ks, "-storepass", PW, "-storetype", type];
    await bobcatKeytool(["-genkeypair", "-alias", "rsa", "-keyalg", "RSA", "-dname", "CN=rsa", ...a]);
    await bobcatKeytool(["-genkeypair", "-alias", "ec", "-keyalg", "EC", "-dname", "CN=ec", ...a]);
    await bobcatKeytool(["-importcert", "-alias", "root", "-noprompt", "-file", pem("root-ca.pem"), ...a]);
    const l = tool("keytool", ["-list", "-v", "-keystore", ks, "-storepass", PW]);
    expect(l.status).toBe(0);
    expect(l.stdout).toContain(`Keystore type: ${type}`);
    expect(l.stdout).toContain("Your keystore contains 3 entries");
    expect(l.stdout.match(/Entry type: PrivateKeyEntry/g)?.length).toBe(2);
    expect(l.stdout.match(/Entry type: trustedCertEntry/g)?.length).toBe(1);
    if (type === "PKCS12") {
      const o = tool("openssl", ["pkcs12", "-info", "-nokeys", "-in", ks, "-passin", `pass:${PW}`]);
      expect(o.status).toBe(0);
      expect(o.stderr).toContain("MAC: sha256, Iteration 10000");
      expect(o.stderr).toContain("PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256");
      expect(o.stdout.match(/BEGIN CERTIFICATE/g)?.length).toBe(3);
    }
  }
});
