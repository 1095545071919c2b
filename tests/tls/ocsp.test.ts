/**
 * The OCSP codec against a real `openssl ocsp` responder: requests OpenSSL reads (byte-identical
 * to its own), good / revoked / unknown statuses with signature checks, every way a response can
 * be wrong, and the HTTP transport's failures.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { OCSPResponseStatus } from "@peculiar/asn1-ocsp";
import type { X509Certificate } from "@peculiar/x509";
import { parseCertificate } from "../../src/tls/keystore/certs.ts";
import * as der from "../../src/tls/keystore/der.ts";
import { parsePem } from "../../src/tls/keystore/pem.ts";
import { buildOcspRequest, OcspError, ocspUrlOf, parseOcspResponse, queryOcsp } from "../../src/tls/ocsp/index.ts";
import {
  buildResponse,
  type OcspPki,
  type Responder,
  startFakeResponder,
  startOpensslResponder,
  startPkiResponder,
  statusOnlyResponse,
} from "../helpers/ocsp-responder.ts";
import { cleanupScratch, scratch, tool } from "./helpers.ts";

const FIX = resolve(import.meta.dirname, "../fixtures/ocsp");
const certFile = (path: string) => parseCertificate(parsePem(readFileSync(path, "utf8"))[0].der, path);

let pki: OcspPki;
let responder: Responder;
const started: Responder[] = [];

beforeAll(async () => {
  ({ pki, responder } = await startPkiResponder(scratch(), { nmin: 5 }));
  started.push(responder);
});
afterAll(async () => {
  await Promise.all(started.map((r) => r.stop()));
  cleanupScratch();
});

/** Starts another openssl responder over the same PKI with different signing options. */
async function opensslWith(extra: Parameters<OcspPki["responder"]>[0]): Promise<Responder> {
  const r = await startOpensslResponder(pki.responder({ nmin: 5, ...extra }));
  started.push(r);
  return r;
}

async function ask(
  url: string,
  cert: X509Certificate,
  issuer: X509Certificate,
  opts: { nonce?: boolean; now?: number } = {},
) {
  const request = buildOcspRequest(cert, issuer, { nonce: opts.nonce });
  const der = await queryOcsp(url, request, { timeoutMs: 10_000 });
  return { der, request, info: () => parseOcspResponse(der, { cert, issuer, request, now: opts.now }) };
}

/** Offset of the last byte of the BasicOCSPResponse signature inside an OCSPResponse. */
function signatureEnd(resp: Uint8Array): number {
  const [, bytes] = der.seq(der.parse(resp), "OCSPResponse", 2);
  const [, octets] = der.seq(bytes.children[0], "ResponseBytes", 2);
  const [, , sig] = der.seq(der.parse(octets.value), "BasicOCSPResponse", 3);
  return sig.raw.byteOffset - resp.byteOffset + sig.raw.length - 1;
}

async function rejection(p: Promise<unknown>): Promise<OcspError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(OcspError);
    return e as OcspError;
  }
  throw new Error("expected an OcspError");
}

describe("requests", () => {
  test("without a nonce, byte-identical to the one openssl ocsp builds (SHA-1 CertID)", () => {
    const out = join(pki.dir, "openssl-req.der");
    const r = tool("openssl", ["ocsp", "-issuer", pki.files.ca, "-cert", pki.files.alice, "-no_nonce", "-reqout", out]);
    expect(r.status).toBe(0);
    expect(buildOcspRequest(pki.alice.cert, pki.ca.cert)).toEqual(new Uint8Array(readFileSync(out)));
  });

  test("with a nonce, openssl reads the CertID and the nonce", () => {
    const file = join(pki.dir, "nonce-req.der");
    writeFileSync(file, buildOcspRequest(pki.alice.cert, pki.ca.cert, { nonce: true }));
    const r = tool("openssl", ["ocsp", "-reqin", file, "-req_text"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Hash Algorithm: sha1");
    expect(r.stdout).toContain(`Serial Number: ${pki.alice.serial}`);
    expect(r.stdout).toContain("OCSP Nonce");
  });

  test("two requests carry different nonces", () => {
    const a = buildOcspRequest(pki.alice.cert, pki.ca.cert, { nonce: true });
    const b = buildOcspRequest(pki.alice.cert, pki.ca.cert, { nonce: true });
    expect(a).not.toEqual(b);
  });
});

describe("statuses from a real openssl responder (delegated OCSPSigning signer)", () => {
  test("the certificates name the responder in authorityInfoAccess", () => {
    expect(ocspUrlOf(pki.alice.cert)).toBe(responder.url);
    expect(ocspUrlOf(pki.noAia.cert)).toBeUndefined();
  });

  test("good", async () => {
    const info = await (await ask(responder.url, pki.server.cert, pki.ca.cert, { nonce: true })).info();
    expect(info.status).toBe("good");
    expect(info.responseStatus).toBe("successful");
    expect(info.signer).toEqual({ kind: "delegated", subject: pki.signer.cert.subject });
    expect(info.nextUpdate!.getTime() - info.thisUpdate.getTime()).toBe(5 * 60_000);
    expect(Math.abs(info.producedAt.getTime() - Date.now())).toBeLessThan(60_000);
  });

  test("revoked, with time and reason from index.txt", async () => {
    const info = await (await ask(responder.url, pki.mallory.cert, pki.ca.cert)).info();
    expect(info.status).toBe("revoked");
    expect(info.reason).toBe("keyCompromise");
    expect(Math.abs(info.revocationTime!.getTime() - (Date.now() - 86_400_000))).toBeLessThan(120_000);
  });

  test("unknown for a certificate the index does not hold", async () => {
    expect((await (await ask(responder.url, pki.stranger.cert, pki.ca.cert)).info()).status).toBe("unknown");
  });

  test("signed by the CA key itself", async () => {
    const r = await opensslWith({ rsigner: pki.files.ca, rkey: pki.files.caKey });
    const info = await (await ask(r.url, pki.alice.cert, pki.ca.cert)).info();
    expect(info).toMatchObject({ status: "good", signer: { kind: "issuer" } });
  });

  test("responder identified by key hash (-resp_key_id) and an RSA-PSS signature", async () => {
    const r = await opensslWith({ args: ["-resp_key_id", "-rsigopt", "rsa_padding_mode:pss"] });
    const { der, info } = await ask(r.url, pki.mallory.cert, pki.ca.cert);
    const text = tool("openssl", ["ocsp", "-respin", "/dev/stdin", "-resp_text", "-noverify"], { input: der });
    expect(text.stdout).toMatch(/Responder Id: [0-9A-F]{40}\n/);
    expect(text.stdout).toContain("Signature Algorithm: rsassaPss");
    expect((await info()).status).toBe("revoked");
  });

  test("a CertID in SHA-256 is matched in that hash", async () => {
    // openssl 3.0's -rcid writes serial 00 into the CertID, so this response is built here.
    const der = await buildResponse({
      cert: pki.alice.cert,
      issuer: pki.ca.cert,
      status: "good",
      signerKeyPem: pki.ca.keyPem,
      certIdHash: "sha256",
    });
    const text = tool("openssl", ["ocsp", "-respin", "/dev/stdin", "-resp_text", "-noverify"], { input: der });
    expect(text.stdout).toContain("Hash Algorithm: sha256");
    expect((await parseOcspResponse(der, { cert: pki.alice.cert, issuer: pki.ca.cert })).status).toBe("good");
  });

  test("EC CA and EC responder (ECDSA signatures)", async () => {
    const dir = scratch();
    const ec = await startPkiResponder(dir, { keyType: "EC", nmin: 5 });
    started.push(ec.responder);
    const good = await (await ask(ec.responder.url, ec.pki.alice.cert, ec.pki.ca.cert)).info();
    const revoked = await (await ask(ec.responder.url, ec.pki.mallory.cert, ec.pki.ca.cert)).info();
    expect([good.status, revoked.status]).toEqual(["good", "revoked"]);
  });

  test("the nonce is echoed and checked", async () => {
    const { info } = await ask(responder.url, pki.alice.cert, pki.ca.cert, { nonce: true });
    expect((await info()).status).toBe("good");
  });
});

describe("responses that must be refused", () => {
  test("tampered: one byte of the signed data flipped", async () => {
    const { der, request } = await ask(responder.url, pki.server.cert, pki.ca.cert);
    const bad = der.slice();
    // producedAt is the first GeneralizedTime (tag 0x18, 15 digits): change a digit, keep the DER valid.
    const at = bad.findIndex((b, i) => b === 0x18 && bad[i + 1] === 0x0f);
    bad[at + 5] ^= 0x01;
    const e = await rejection(parseOcspResponse(bad, { cert: pki.server.cert, issuer: pki.ca.cert, request }));
    expect(e.code).toBe("ocsp.badSignature");
    expect(e.transient).toBe(false);
  });

  test("tampered on the wire: last signature byte flipped", async () => {
    const r = await opensslWith({});
    r.transform = (d) => {
      const x = d.slice();
      x[signatureEnd(x)] ^= 0xff;
      return x;
    };
    const e = await rejection((await ask(r.url, pki.server.cert, pki.ca.cert)).info());
    expect(e.code).toBe("ocsp.badSignature");
  });

  test("signed by the wrong key while naming the real delegated responder", async () => {
    const der = await buildResponse({
      cert: pki.alice.cert,
      issuer: pki.ca.cert,
      status: "good",
      responderCert: pki.signer.cert,
      include: [pki.signer.cert],
      signerKeyPem: pki.rogueSigner.keyPem,
    });
    const e = await rejection(parseOcspResponse(der, { cert: pki.alice.cert, issuer: pki.ca.cert }));
    expect(e.code).toBe("ocsp.badSignature");
    expect(e.message).toContain(pki.signer.cert.subject);
  });

  test("the same construction signed by the right key passes (so the refusal above is about the key)", async () => {
    const der = await buildResponse({
      cert: pki.alice.cert,
      issuer: pki.ca.cert,
      status: "revoked",
      revocationReason: 4,
      responderCert: pki.signer.cert,
      include: [pki.signer.cert],
      signerKeyPem: pki.signer.keyPem,
      byKey: true,
    });
    expect(await parseOcspResponse(der, { cert: pki.alice.cert, issuer: pki.ca.cert })).toMatchObject({
      status: "revoked",
      reason: "superseded",
    });
  });

  test("delegated responder certificate without the OCSPSigning extended key usage", async () => {
    const r = await opensslWith({ rsigner: pki.files.noEku, rkey: pki.files.noEkuKey });
    const e = await rejection((await ask(r.url, pki.alice.cert, pki.ca.cert)).info());
    expect(e.code).toBe("ocsp.responderNotAuthorized");
    expect(e.message).toContain("OCSPSigning");
  });

  test("responder certificate issued by another CA", async () => {
    const r = await opensslWith({ rsigner: pki.files.rogueSigner, rkey: pki.files.rogueSignerKey });
    const e = await rejection((await ask(r.url, pki.alice.cert, pki.ca.cert)).info());
    expect(e.code).toBe("ocsp.responderNotAuthorized");
    expect(e.message).toContain("not issued by that CA");
  });

  test("delegated responder that does not include its certificate (-resp_no_certs)", async () => {
    const r = await opensslWith({ args: ["-resp_no_certs"] });
    const e = await rejection((await ask(r.url, pki.alice.cert, pki.ca.cert)).info());
    expect(e.code).toBe("ocsp.responderNotFound");
  });

  test("a response about another certificate", async () => {
    const { der } = await ask(responder.url, pki.alice.cert, pki.ca.cert);
    const e = await rejection(parseOcspResponse(der, { cert: pki.server.cert, issuer: pki.ca.cert }));
    expect(e.code).toBe("ocsp.certIdMismatch");
    expect(e.message).toContain(pki.server.serial);
  });

  test("expired (past nextUpdate beyond the clock skew) and not yet valid", async () => {
    const { der, request } = await ask(responder.url, pki.alice.cert, pki.ca.cert);
    const parse = (now: number) => parseOcspResponse(der, { cert: pki.alice.cert, issuer: pki.ca.cert, request, now });
    const info = await parse(Date.now());
    const next = info.nextUpdate!.getTime();
    expect((await parse(next + 4 * 60_000)).status).toBe("good"); // within the 5-minute skew
    expect((await rejection(parse(next + 6 * 60_000))).code).toBe("ocsp.expired");
    expect((await rejection(parse(info.thisUpdate.getTime() - 6 * 60_000))).code).toBe("ocsp.notYetValid");
  });

  test("no nextUpdate: accepted while younger than maxAgeMs", async () => {
    const r = await startOpensslResponder(pki.responder());
    started.push(r);
    const { der } = await ask(r.url, pki.alice.cert, pki.ca.cert);
    const opts = { cert: pki.alice.cert, issuer: pki.ca.cert };
    const info = await parseOcspResponse(der, opts);
    expect(info.nextUpdate).toBeUndefined();
    expect((await rejection(parseOcspResponse(der, { ...opts, now: Date.now() + 2 * 3_600_000 }))).code).toBe(
      "ocsp.tooOld",
    );
    expect((await parseOcspResponse(der, { ...opts, now: Date.now() + 2 * 3_600_000, maxAgeMs: 3 * 3_600_000 })).status)
      .toBe("good");
  });

  test("nonce: a response to another request, and a response that drops the nonce", async () => {
    const first = await ask(responder.url, pki.alice.cert, pki.ca.cert, { nonce: true });
    const other = buildOcspRequest(pki.alice.cert, pki.ca.cert, { nonce: true });
    const e = await rejection(
      parseOcspResponse(first.der, { cert: pki.alice.cert, issuer: pki.ca.cert, request: other }),
    );
    expect(e.code).toBe("ocsp.nonceMismatch");
    const noEcho = await buildResponse({
      cert: pki.alice.cert,
      issuer: pki.ca.cert,
      status: "good",
      signerKeyPem: pki.ca.keyPem,
    });
    const e2 = await rejection(
      parseOcspResponse(noEcho, { cert: pki.alice.cert, issuer: pki.ca.cert, request: other }),
    );
    expect(e2.code).toBe("ocsp.nonceMismatch");
    expect(e2.message).toContain("does not echo");
    const echo = await buildResponse({
      cert: pki.alice.cert,
      issuer: pki.ca.cert,
      status: "good",
      signerKeyPem: pki.ca.keyPem,
      request: other,
    });
    expect((await parseOcspResponse(echo, { cert: pki.alice.cert, issuer: pki.ca.cert, request: other })).status).toBe(
      "good",
    );
  });

  test("non-successful response statuses are reported as such", async () => {
    const cases: [OCSPResponseStatus, string, boolean][] = [
      [OCSPResponseStatus.malformedRequest, "malformedRequest", false],
      [OCSPResponseStatus.internalError, "internalError", true],
      [OCSPResponseStatus.tryLater, "tryLater", true],
      [OCSPResponseStatus.sigRequired, "sigRequired", false],
      [OCSPResponseStatus.unauthorized, "unauthorized", false],
    ];
    for (const [status, name, transient] of cases) {
      const e = await rejection(
        parseOcspResponse(statusOnlyResponse(status), { cert: pki.alice.cert, issuer: pki.ca.cert }),
      );
      expect([e.code, e.responseStatus, e.transient]).toEqual([`ocsp.${name}`, name, transient]);
      expect(e.message).toContain(name);
    }
  });

  test("every single-byte corruption of a real response is refused with an OcspError", async () => {
    const { der, request } = await ask(responder.url, pki.mallory.cert, pki.ca.cert, { nonce: true });
    const opts = { cert: pki.mallory.cert, issuer: pki.ca.cert, request };
    expect((await parseOcspResponse(der, opts)).status).toBe("revoked");
    const codes = new Set<string>();
    for (let i = 0; i < der.length; i++) {
      const bad = der.slice();
      bad[i] ^= 0x5a;
      const outcome = await parseOcspResponse(bad, opts).then((info) => info.status, (e) => {
        expect(e).toBeInstanceOf(OcspError);
        return (e as OcspError).code;
      });
      codes.add(outcome);
    }
    // Nothing turns the revoked certificate good.
    expect(codes.has("good")).toBe(false);
    expect(codes.has("ocsp.badSignature")).toBe(true);
    expect(codes.has("ocsp.malformed")).toBe(true);
  });

  test("not an OCSP response at all", async () => {
    for (
      const junk of [
        new TextEncoder().encode("<html>oops</html>"),
        Uint8Array.of(0x30, 0x03, 0x0a, 0x01),
        new Uint8Array(0),
      ]
    ) {
      const e = await rejection(parseOcspResponse(junk, { cert: pki.alice.cert, issuer: pki.ca.cert }));
      expect(e.code).toBe("ocsp.malformed");
    }
  });
});

describe("transport", () => {
  const req = () => buildOcspRequest(pki.alice.cert, pki.ca.cert);

  test("HTTP error status", async () => {
    const r = await startFakeResponder(() => new Uint8Array(0));
    started.push(r);
    r.mode = "down";
    const e = await rejection(queryOcsp(r.url, req(), { timeoutMs: 5000 }));
    expect(e.code).toBe("ocsp.http");
    expect(e.message).toContain("503");
  });

  test("connection refused", async () => {
    const port = await new Promise<number>((done) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => done(p));
      });
    });
    const e = await rejection(queryOcsp(`http://127.0.0.1:${port}/`, req(), { timeoutMs: 5000 }));
    expect(e.code).toBe("ocsp.unreachable");
    expect(e.transient).toBe(true);
  });

  test("a responder that never answers hits the deadline", async () => {
    const r = await startFakeResponder(() => new Uint8Array(0));
    started.push(r);
    r.mode = "hang";
    const t0 = Date.now();
    const e = await rejection(queryOcsp(r.url, req(), { timeoutMs: 300 }));
    expect(e.code).toBe("ocsp.timeout");
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test("oversized body and bad URLs", async () => {
    const r = await startFakeResponder(() => new Uint8Array(4096));
    started.push(r);
    expect((await rejection(queryOcsp(r.url, req(), { maxBytes: 1024 }))).code).toBe("ocsp.tooLarge");
    expect((await rejection(queryOcsp("ldap://127.0.0.1/", req()))).code).toBe("ocsp.badUrl");
    expect((await rejection(queryOcsp("not a url", req()))).code).toBe("ocsp.badUrl");
  });
});

describe("openssl-made certificates (the how-to's openssl.cnf, fixtures from scripts/gen-ocsp-fixtures.sh)", () => {
  test("the AIA OCSP URL of the how-to is read, and openssl's responses over its index verify", async () => {
    const ca = certFile(join(FIX, "ca.pem"));
    const good = certFile(join(FIX, "ocsp-cert.pem"));
    const revoked = certFile(join(FIX, "revoked-cert.pem"));
    expect(ocspUrlOf(good)).toBe("http://127.0.0.1:8088");
    const r = await startOpensslResponder({
      index: join(FIX, "index.txt"),
      ca: join(FIX, "ca.pem"),
      rsigner: join(FIX, "ocsp-signer.pem"),
      rkey: join(FIX, "ocsp-signer-key.pem"),
      ndays: 1,
    });
    started.push(r);
    expect((await (await ask(r.url, good, ca, { nonce: true })).info()).status).toBe("good");
    const rev = await (await ask(r.url, revoked, ca)).info();
    expect([rev.status, rev.reason]).toEqual(["revoked", "keyCompromise"]);
  });
});
