/**
 * The test/dev CA (`bobcat ca`): what it issues is accepted by `openssl verify`, carries the
 * OCSP responder URL as the how-to's openssl.cnf writes it, its CRLs are what openssl expects,
 * and its index.txt is the one `openssl ca` writes and `openssl ocsp` serves.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type CaIO, caMain } from "../../src/cli/ca.ts";
import {
  createCa,
  entryFor,
  formatIndex,
  issueCertificate,
  issueOcspSigner,
  makeCrl,
  parseIndex,
  revokeEntry,
} from "../../src/tls/ca/index.ts";
import { BobcatError } from "../../src/util/errors.ts";
import { cleanupScratch, scratch, tool } from "./helpers.ts";

afterAll(cleanupScratch);

function io() {
  const out = { stdout: "", stderr: "" };
  const streams: CaIO = {
    stdout: { write: (s: string) => (out.stdout += s) },
    stderr: { write: (s: string) => (out.stderr += s) },
  };
  return { out, streams };
}

const openssl = (...args: string[]) => tool("openssl", args);
const write = (dir: string, name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("library", () => {
  test("server certificate: verifies against the CA, SAN, EKU, AIA OCSP URI and CRL distribution point", async () => {
    const dir = scratch();
    const ca = await createCa({ subject: "CN=Lib CA,O=bobcat" });
    const server = await issueCertificate({
      ca,
      subject: "CN=localhost",
      san: ["dns:localhost", "ip:127.0.0.1", "www.localhost", "::1"],
      ocspUrl: "http://127.0.0.1:8088",
      crlUrl: "http://127.0.0.1:8089/ca.crl",
    });
    const caFile = write(dir, "ca.pem", ca.certPem);
    const certFile = write(dir, "server.pem", server.certPem);
    const v = openssl("verify", "-CAfile", caFile, "-purpose", "sslserver", certFile);
    expect(v.stdout.trim()).toBe(`${certFile}: OK`);
    const text = openssl("x509", "-in", certFile, "-noout", "-text").stdout;
    expect(text).toContain("Authority Information Access");
    expect(text).toContain("OCSP - URI:http://127.0.0.1:8088");
    expect(text).toContain("X509v3 CRL Distribution Points");
    expect(text).toContain("URI:http://127.0.0.1:8089/ca.crl");
    expect(text).toContain("DNS:localhost, IP Address:127.0.0.1, DNS:www.localhost, IP Address:0:0:0:0:0:0:0:1");
    expect(text).toContain("TLS Web Server Authentication");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(openssl("x509", "-in", certFile, "-noout", "-serial").stdout.trim()).toBe(`serial=${server.serial}`);
    // The key belongs to the certificate.
    const keyFile = write(dir, "server-key.pem", server.keyPem);
    expect(openssl("pkey", "-in", keyFile, "-pubout").stdout).toBe(
      openssl("x509", "-in", certFile, "-noout", "-pubkey").stdout,
    );
  });

  test("EC client certificate and EC CA", async () => {
    const dir = scratch();
    const ca = await createCa({ subject: "CN=EC CA", keyType: "EC", days: 30 });
    const alice = await issueCertificate({ ca, subject: "CN=alice", keyType: "EC", clientAuth: true, days: 7 });
    const caFile = write(dir, "ca.pem", ca.certPem);
    const f = write(dir, "alice.pem", alice.certPem);
    expect(openssl("verify", "-CAfile", caFile, "-purpose", "sslclient", f).status).toBe(0);
    expect(openssl("verify", "-CAfile", caFile, "-purpose", "sslserver", f).status).not.toBe(0);
    const text = openssl("x509", "-in", f, "-noout", "-text").stdout;
    expect(text).toContain("id-ecPublicKey");
    expect(text).toContain("ecdsa-with-SHA256");
    expect(text).not.toContain("Authority Information Access");
    expect(alice.cert.notAfter.getTime() - alice.cert.notBefore.getTime()).toBe(7 * 86_400_000 + 60_000);
  });

  test("OCSP signer: OCSPSigning, ocsp-nocheck, issued by the CA", async () => {
    const dir = scratch();
    const ca = await createCa({ subject: "CN=Signer CA" });
    const signer = await issueOcspSigner(ca);
    const caFile = write(dir, "ca.pem", ca.certPem);
    const f = write(dir, "ocsp.pem", signer.certPem);
    expect(openssl("verify", "-CAfile", caFile, "-purpose", "ocsphelper", f).status).toBe(0);
    const text = openssl("x509", "-in", f, "-noout", "-text").stdout;
    expect(text).toContain("OCSP Signing");
    expect(text).toContain("OCSP No Check");
    expect(signer.cert.subject).toBe("CN=Signer CA OCSP Responder");
  });

  test("CRL: signed by the CA, lists the revoked serials with reasons; openssl verify -crl_check refuses them", async () => {
    const dir = scratch();
    const ca = await createCa({ subject: "CN=CRL CA" });
    const good = await issueCertificate({ ca, subject: "CN=good", clientAuth: true });
    const bad = await issueCertificate({ ca, subject: "CN=bad", clientAuth: true });
    const crl = await makeCrl(ca, [{ serial: bad.serial.toLowerCase(), reason: "superseded" }], {
      crlNumber: 7,
      days: 2,
    });
    const caFile = write(dir, "ca.pem", ca.certPem);
    const crlFile = write(dir, "ca.crl", crl);
    const text = openssl("crl", "-in", crlFile, "-CAfile", caFile, "-noout", "-text");
    expect(text.stderr).toContain("verify OK");
    expect(text.stdout).toContain(`Serial Number: ${bad.serial}`);
    expect(text.stdout).toContain("Superseded");
    expect(text.stdout).toMatch(/CRL Number:\s+7/);
    expect(
      openssl("verify", "-crl_check", "-CRLfile", crlFile, "-CAfile", caFile, write(dir, "good.pem", good.certPem))
        .status,
    ).toBe(0);
    const refused = openssl(
      "verify",
      "-crl_check",
      "-CRLfile",
      crlFile,
      "-CAfile",
      caFile,
      write(dir, "bad.pem", bad.certPem),
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain("certificate revoked");
  });

  test("bad input is refused with a code and a fix", async () => {
    const ca = await createCa({ subject: "CN=Input CA" });
    const other = await createCa({ subject: "CN=Other CA" });
    const cases: [() => Promise<unknown>, string][] = [
      [() => createCa({ subject: "not a dn" }), "ca.badSubject"],
      [() => createCa({ subject: "CN=a,junk" }), "ca.badSubject"],
      [() => createCa({ subject: "CN=" }), "ca.badSubject"],
      [() => createCa({ subject: "CN=x", keyType: "DSA" as never }), "ca.badKeyType"],
      [() => createCa({ subject: "CN=x", days: 0 }), "ca.badDays"],
      [() => issueCertificate({ ca, subject: "CN=x", san: ["ip:not-an-ip"] }), "ca.badSan"],
      [() => issueCertificate({ ca, subject: "CN=x", ocspUrl: "ldap://x" }), "ca.badUrl"],
      [
        () => issueCertificate({ ca: { certPem: ca.certPem, keyPem: other.keyPem }, subject: "CN=x" }),
        "ca.keyMismatch",
      ],
      [() => issueCertificate({ ca: { certPem: ca.certPem, keyPem: "" }, subject: "CN=x" }), "ca.badKey"],
      [() => makeCrl(ca, [{ serial: "zz" }]), "ca.badSerial"],
      [() => makeCrl(ca, [{ serial: "01", reason: "because" }]), "ca.badReason"],
    ];
    for (const [run, code] of cases) {
      const e = await run().then(() => undefined, (x) => x);
      expect(e).toBeInstanceOf(BobcatError);
      expect((e as BobcatError).code).toBe(code);
    }
  });
});

describe("index.txt", () => {
  test("reads and writes openssl ca's index byte for byte (the fixture made by openssl ca)", () => {
    const text = readFileSync(resolve(import.meta.dirname, "../fixtures/ocsp/index.txt"), "utf8");
    const entries = parseIndex(text);
    expect(entries.map((e) => e.status)).toEqual(["V", "V", "R"]);
    expect(entries[2]).toMatchObject({ serial: "1002", reason: "keyCompromise", subject: "/CN=revoked-cert" });
    expect(formatIndex(entries)).toBe(text);
  });

  test("entries for issued certificates, revocation, dates from 2050 as GeneralizedTime", async () => {
    const ca = await createCa({ subject: "CN=Index CA" });
    const c = await issueCertificate({ ca, subject: "CN=late,O=bobcat", days: 40 * 365 });
    const entries = [entryFor(c.cert)];
    expect(entries[0]).toMatchObject({ status: "V", serial: c.serial, file: "unknown", subject: "/CN=late/O=bobcat" });
    const line = formatIndex(entries);
    expect(line).toMatch(/^V\t20\d{12}Z\t\t[0-9A-F]+\tunknown\t\/CN=late\/O=bobcat\n$/);
    expect(
      revokeEntry(entries, c.serial.toLowerCase(), {
        reason: "CESSATIONOFOPERATION",
        date: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
      }),
    ).toBe(true);
    expect(formatIndex(entries)).toContain("\t260102030405Z,cessationOfOperation\t");
    expect(revokeEntry(entries, "ABCDEF")).toBe(false);
    expect(parseIndex(formatIndex(entries))).toEqual(entries);
  });

  test("a damaged index names the line", () => {
    expect(() => parseIndex("V\t271201000000Z\t\t01\tunknown\t/CN=a\nX\tbroken\n", "D/index.txt")).toThrow(
      "D/index.txt:2",
    );
    expect(() => parseIndex("R\t271201000000Z\tyesterday\t01\tunknown\t/CN=a\n")).toThrow("YYMMDDHHMMSSZ");
  });
});

describe("bobcat ca", () => {
  test("--help", async () => {
    for (const argv of [["--help"], []]) {
      const { out, streams } = io();
      expect(await caMain(argv, streams)).toBe(0);
      expect(out.stdout).toContain("Usage: bobcat ca <command>");
      expect(out.stdout).toContain("openssl ocsp -index D/index.txt");
      expect(out.stdout).toContain("issue --dir D --cn NAME --out PREFIX [--san LIST]");
    }
    // A command's own help comes from the same table as its parser.
    const { out, streams } = io();
    expect(await caMain(["issue", "-h"], streams)).toBe(0);
    expect(out.stdout).toStartWith("Usage: bobcat ca issue --dir D --cn NAME --out PREFIX [--san LIST]");
    expect(out.stdout).toContain("--key-type RSA|EC");
  });

  test("init prints the responder command on the port of --ocsp-url, which the certificates carry", async () => {
    for (
      const [url, port] of [
        ["http://127.0.0.1:51871", "51871"],
        ["http://ocsp.example.com/", "80"],
        [undefined, "8088"],
      ] as const
    ) {
      const { out, streams } = io();
      const argv = ["init", "--dir", join(scratch(), "ca"), ...(url ? ["--ocsp-url", url] : [])];
      expect(await caMain(argv, streams)).toBe(0);
      expect(out.stdout).toMatch(new RegExp(`Serve OCSP: +openssl ocsp -index .* -port ${port}\\n`));
    }
  });

  test("init, issue, revoke, crl — and a real openssl responder and verify accept the result", async () => {
    const d = join(scratch(), "ca");
    const run = async (...argv: string[]) => {
      const { out, streams } = io();
      const code = await caMain(argv, streams);
      return { code, ...out };
    };
    expect(
      (await run(
        "init",
        "--dir",
        d,
        "--cn",
        "CLI CA",
        "--ocsp-url",
        "http://127.0.0.1:8088",
        "--crl-url",
        "http://127.0.0.1:8089/ca.crl",
      )).code,
    ).toBe(0);
    for (
      const f of [
        "ca.pem",
        "ca-key.pem",
        "ocsp.pem",
        "ocsp-key.pem",
        "index.txt",
        "index.txt.attr",
        "crlnumber",
        "ca.json",
      ]
    ) expect(existsSync(join(d, f))).toBe(true);
    expect(statSync(join(d, "ca-key.pem")).mode & 0o777).toBe(0o600);

    const again = await run("init", "--dir", d);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already holds a CA");

    const issued = await run(
      "issue",
      "--dir",
      d,
      "--cn",
      "localhost",
      "--san",
      "dns:localhost,ip:127.0.0.1",
      "--out",
      join(d, "server"),
    );
    expect(issued.code).toBe(0);
    expect(
      (await run(
        "issue",
        "--dir",
        d,
        "--cn",
        "alice",
        "--client",
        "--key-type",
        "ec",
        "--days",
        "30",
        "--out",
        join(d, "alice"),
      )).code,
    ).toBe(0);
    expect(statSync(join(d, "alice-key.pem")).mode & 0o777).toBe(0o600);
    const serverText = openssl("x509", "-in", join(d, "server.pem"), "-noout", "-text").stdout;
    expect(serverText).toContain("OCSP - URI:http://127.0.0.1:8088"); // the default from init
    expect(serverText).toContain("URI:http://127.0.0.1:8089/ca.crl");
    expect(openssl("verify", "-CAfile", join(d, "ca.pem"), join(d, "server.pem"), join(d, "alice.pem")).status).toBe(0);
    expect(readFileSync(join(d, "server-chain.pem"), "utf8")).toBe(
      readFileSync(join(d, "server.pem"), "utf8") + readFileSync(join(d, "ca.pem"), "utf8"),
    );

    const rev = await run("revoke", "--dir", d, "--cert", join(d, "alice.pem"), "--reason", "keyCompromise");
    expect(rev.code).toBe(0);
    const index = readFileSync(join(d, "index.txt"), "utf8").trim().split("\n");
    expect(index).toHaveLength(2);
    expect(index[0]).toMatch(/^V\t/);
    expect(index[1]).toMatch(/^R\t\d{12}Z\t\d{12}Z,keyCompromise\t[0-9A-F]+\tunknown\t\/CN=alice$/);

    // The real responder over this directory, exactly as init prints it (one request via -reqin).
    const req = join(d, "req.der");
    expect(
      openssl(
        "ocsp",
        "-no_nonce",
        "-issuer",
        join(d, "ca.pem"),
        "-cert",
        join(d, "alice.pem"),
        "-cert",
        join(d, "server.pem"),
        "-reqout",
        req,
      ).status,
    ).toBe(0);
    const resp = join(d, "resp.der");
    expect(
      openssl(
        "ocsp",
        "-index",
        join(d, "index.txt"),
        "-CA",
        join(d, "ca.pem"),
        "-rsigner",
        join(d, "ocsp.pem"),
        "-rkey",
        join(d, "ocsp-key.pem"),
        "-reqin",
        req,
        "-respout",
        resp,
      ).status,
    ).toBe(0);
    const check = openssl(
      "ocsp",
      "-no_nonce",
      "-respin",
      resp,
      "-CAfile",
      join(d, "ca.pem"),
      "-issuer",
      join(d, "ca.pem"),
      "-cert",
      join(d, "alice.pem"),
      "-cert",
      join(d, "server.pem"),
    );
    expect(check.stderr).toContain("Response verify OK");
    expect(check.stdout).toContain(`${join(d, "alice.pem")}: revoked`);
    expect(check.stdout).toContain("Reason: keyCompromise");
    expect(check.stdout).toContain(`${join(d, "server.pem")}: good`);

    const crl = await run("crl", "--dir", d, "--out", join(d, "ca.crl"));
    expect(crl.code).toBe(0);
    expect(crl.stdout).toContain("CRL number 1 with 1 revoked");
    expect(readFileSync(join(d, "crlnumber"), "utf8")).toBe("02\n");
    const refused = openssl(
      "verify",
      "-crl_check",
      "-CRLfile",
      join(d, "ca.crl"),
      "-CAfile",
      join(d, "ca.pem"),
      join(d, "alice.pem"),
    );
    expect(refused.stdout + refused.stderr).toContain("certificate revoked");
    expect(
      openssl(
        "verify",
        "-crl_check",
        "-CRLfile",
        join(d, "ca.crl"),
        "-CAfile",
        join(d, "ca.pem"),
        join(d, "server.pem"),
      ).status,
    ).toBe(0);
    expect((await run("crl", "--dir", d, "--out", join(d, "ca2.crl"))).stdout).toContain("CRL number 2");
  });

  test("usage and operational errors", async () => {
    const d = scratch();
    const cases: [string[], number, string][] = [
      [["frobnicate"], 2, 'unknown ca command "frobnicate"'],
      [["issue", "--dir", d, "--cn"], 2, "--cn needs a value"],
      [["issue", "--dir", d, "--bogus", "x"], 2, "bobcat ca issue: unknown option --bogus"],
      [["issue", "--dir", d, "--out", "x"], 2, "--cn is required"],
      [["init", "--dir", d, "--key-type", "DSA"], 2, "--key-type must be RSA or EC"],
      [["init", "--dir", d, "--days", "-3"], 2, "--days"],
      [["issue", "--dir", join(d, "none"), "--cn", "a", "--out", join(d, "a")], 1, "holds no CA"],
    ];
    for (const [argv, code, msg] of cases) {
      const { out, streams } = io();
      expect(await caMain(argv, streams)).toBe(code);
      expect(out.stderr).toContain(msg);
    }
    const { streams } = io();
    expect(await caMain(["init", "--dir", join(d, "ca")], streams)).toBe(0);
    const foreign = await createCa({ subject: "CN=Foreign" });
    const stray = await issueCertificate({ ca: foreign, subject: "CN=stray" });
    const { out, streams: s2 } = io();
    expect(await caMain(["revoke", "--dir", join(d, "ca"), "--cert", write(d, "stray.pem", stray.certPem)], s2)).toBe(
      1,
    );
    expect(out.stderr).toContain("was not issued by the CA");
    const { out: o3, streams: s3 } = io();
    expect(await caMain(["revoke", "--dir", join(d, "ca"), "--cert", write(d, "junk.pem", "hello")], s3)).toBe(1);
    expect(o3.stderr).toContain("holds no PEM certificate");
  });
});
