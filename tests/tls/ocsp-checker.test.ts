/**
 * OCSP checks of client certificates (Tomcat's ocspEnabled / ocspSoftFail) against a real
 * openssl responder, and Tomcat's soft-fail tests: TestOcspSoftFail (no responder),
 * TestOcspSoftFailTryLater, TestOcspSoftFailInternalError, TestOcspTimeout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OCSPResponseStatus } from "@peculiar/asn1-ocsp";
import { OcspChecker, type OcspCheckerOptions } from "../../src/tls/ocsp/index.ts";
import {
  buildResponse,
  type OcspPki,
  type Responder,
  startFakeResponder,
  startOpensslResponder,
  startPkiResponder,
  statusOnlyResponse,
} from "../helpers/ocsp-responder.ts";
import { cleanupScratch, scratch } from "./helpers.ts";

let pki: OcspPki;
let responder: Responder;
const started: Responder[] = [];

beforeAll(async () => {
  ({ pki, responder } = await startPkiResponder(scratch(), { nmin: 10 }));
  started.push(responder);
});
afterAll(async () => {
  await Promise.all(started.map((r) => r.stop()));
  cleanupScratch();
});

function checker(opts: OcspCheckerOptions = {}) {
  const warnings: string[] = [];
  const debug: string[] = [];
  const c = new OcspChecker({
    timeoutMs: 5000,
    log: { warn: (m) => warnings.push(m), debug: (m) => debug.push(m) },
    ...opts,
  });
  return { c, warnings, debug };
}

async function fake(answer: () => Uint8Array | Promise<Uint8Array>): Promise<Responder> {
  const r = await startFakeResponder(answer);
  started.push(r);
  return r;
}

describe("statuses", () => {
  test("good client certificate is accepted", async () => {
    const { c, warnings } = checker();
    const r = await c.check([pki.alice.cert, pki.ca.cert]);
    expect(r).toMatchObject({ ok: true, status: "good" });
    expect(warnings).toEqual([]);
  });

  test("revoked is refused, soft-fail or not", async () => {
    for (const softFail of [true, false]) {
      const r = await checker({ softFail }).c.check([pki.mallory.cert, pki.ca.cert]);
      expect(r).toMatchObject({ ok: false, status: "revoked" });
      expect(r.reason).toContain("keyCompromise");
      expect(r.reason).toContain(pki.mallory.serial);
      expect(r.certificate).toBe(pki.mallory.cert);
      expect(r.revocationTime).toBeInstanceOf(Date);
    }
  });

  test("unknown is refused", async () => {
    const r = await checker().c.check([pki.stranger.cert, pki.ca.cert]);
    expect(r).toMatchObject({ ok: false, status: "unknown" });
  });

  test("a forged response is refused even with soft-fail (not a network failure)", async () => {
    const forged = await fake(() =>
      buildResponse({
        cert: pki.mallory.cert,
        issuer: pki.ca.cert,
        status: "good",
        responderCert: pki.signer.cert,
        include: [pki.signer.cert],
        signerKeyPem: pki.rogueSigner.keyPem,
      })
    );
    const r = await checker({ softFail: true, responderUrl: forged.url }).c.check([pki.mallory.cert, pki.ca.cert]);
    expect(r).toMatchObject({ ok: false, status: "invalid" });
    expect(r.error?.code).toBe("ocsp.badSignature");
  });

  test("a chain without the issuer, and a self-signed certificate, cannot be checked", async () => {
    const { c } = checker();
    expect(await c.check([pki.alice.cert])).toMatchObject({
      ok: false,
      status: "invalid",
      error: { code: "ocsp.noIssuer" },
    });
    const self = await c.check([pki.ca.cert]);
    expect(self).toMatchObject({ ok: false, error: { code: "ocsp.noIssuer" } });
    expect(self.reason).toContain("self-signed");
    expect(await c.check([])).toMatchObject({ ok: false, error: { code: "ocsp.noIssuer" } });
  });

  test("the trust anchor at the end of the chain is not asked about", async () => {
    const before = responder.requests;
    const { c } = checker();
    expect(await c.check([pki.server.cert, pki.ca.cert])).toMatchObject({
      ok: true,
      reason: "OCSP status good for 1 certificate(s)",
    });
    expect(responder.requests - before).toBe(1);
  });
});

describe("soft-fail (Tomcat's ocspSoftFail, default true)", () => {
  async function downResponder(): Promise<Responder> {
    const r = await startOpensslResponder(pki.responder());
    await r.stop();
    return r;
  }

  test("TestOcspSoftFail: no responder — default and true allow with a warning, false refuses", async () => {
    const url = (await downResponder()).url;
    const dflt = checker({ responderUrl: url });
    const allowed = await dflt.c.check([pki.alice.cert, pki.ca.cert]);
    expect(allowed).toMatchObject({ ok: true, status: "unavailable", error: { code: "ocsp.unreachable" } });
    expect(dflt.warnings).toHaveLength(1);
    expect(dflt.warnings[0]).toContain("allowed because ocspSoftFail is true");
    expect(dflt.warnings[0]).toContain("[CN=alice]");
    expect(await checker({ responderUrl: url, softFail: true }).c.check([pki.alice.cert, pki.ca.cert])).toMatchObject({
      ok: true,
    });
    const hard = checker({ responderUrl: url, softFail: false });
    expect(await hard.c.check([pki.alice.cert, pki.ca.cert])).toMatchObject({ ok: false, status: "unavailable" });
    expect(hard.warnings).toEqual([]);
  });

  for (
    const [name, status] of [["TryLater", OCSPResponseStatus.tryLater], [
      "InternalError",
      OCSPResponseStatus.internalError,
    ]] as const
  ) {
    test(`TestOcspSoftFail${name}: soft-fail true allows, false refuses (either client certificate)`, async () => {
      const r = await fake(() => statusOnlyResponse(status));
      for (const cert of [pki.alice.cert, pki.mallory.cert]) {
        const soft = await checker({ responderUrl: r.url }).c.check([cert, pki.ca.cert]);
        expect(soft).toMatchObject({ ok: true, status: "unavailable" });
        expect(soft.error?.responseStatus).toBe(name[0].toLowerCase() + name.slice(1));
        expect(await checker({ responderUrl: r.url, softFail: false }).c.check([cert, pki.ca.cert])).toMatchObject({
          ok: false,
          status: "unavailable",
        });
      }
    });
  }

  test("TestOcspTimeout: a responder that never answers — soft-fail allows, hard-fail refuses, both within the timeout", async () => {
    const r = await fake(() => new Uint8Array(0));
    r.mode = "hang";
    const t0 = Date.now();
    expect(await checker({ responderUrl: r.url, timeoutMs: 400 }).c.check([pki.alice.cert, pki.ca.cert])).toMatchObject(
      { ok: true, error: { code: "ocsp.timeout" } },
    );
    expect(
      await checker({ responderUrl: r.url, timeoutMs: 400, softFail: false }).c.check([pki.alice.cert, pki.ca.cert]),
    ).toMatchObject({ ok: false, error: { code: "ocsp.timeout" } });
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  test("HTTP errors are network failures; malformedRequest and unauthorized are not", async () => {
    const down = await fake(() => new Uint8Array(0));
    down.mode = "down";
    expect(await checker({ responderUrl: down.url }).c.check([pki.alice.cert, pki.ca.cert])).toMatchObject({
      ok: true,
      error: { code: "ocsp.http" },
    });
    for (const status of [OCSPResponseStatus.malformedRequest, OCSPResponseStatus.unauthorized]) {
      const r = await fake(() => statusOnlyResponse(status));
      expect(await checker({ responderUrl: r.url }).c.check([pki.alice.cert, pki.ca.cert])).toMatchObject({
        ok: false,
        status: "invalid",
      });
    }
  });

  test("a certificate naming no responder: soft-fail allows with a warning, hard-fail refuses", async () => {
    const soft = checker();
    const r = await soft.c.check([pki.noAia.cert, pki.ca.cert]);
    expect(r).toMatchObject({ ok: true, status: "unavailable", error: { code: "ocsp.noResponderUrl" } });
    expect(r.reason).toContain("names no OCSP responder");
    expect(soft.warnings).toHaveLength(1);
    expect(await checker({ softFail: false }).c.check([pki.noAia.cert, pki.ca.cert])).toMatchObject({
      ok: false,
      error: { code: "ocsp.noResponderUrl" },
    });
  });
});

describe("cache", () => {
  test("one request per certificate until nextUpdate, then a new one", async () => {
    let now = Date.now();
    const { c } = checker({ now: () => now });
    const before = responder.requests;
    for (let i = 0; i < 3; i++) expect((await c.check([pki.alice.cert, pki.ca.cert])).ok).toBe(true);
    expect(responder.requests - before).toBe(1);
    expect((await c.check([pki.mallory.cert, pki.ca.cert])).status).toBe("revoked");
    expect((await c.check([pki.mallory.cert, pki.ca.cert])).status).toBe("revoked");
    expect(responder.requests - before).toBe(2);
    now += 9 * 60_000; // -nmin 10: still fresh
    await c.check([pki.alice.cert, pki.ca.cert]);
    expect(responder.requests - before).toBe(2);
    now += 2 * 60_000; // past nextUpdate: asked again; the new response is still within the clock skew
    expect((await c.check([pki.alice.cert, pki.ca.cert])).ok).toBe(true);
    expect(responder.requests - before).toBe(3);
  });

  test("expiry at nextUpdate uses the response's own nextUpdate", async () => {
    const base = Date.now();
    let now = base;
    const r = await fake(() =>
      buildResponse({
        cert: pki.alice.cert,
        issuer: pki.ca.cert,
        status: "good",
        signerKeyPem: pki.ca.keyPem,
        thisUpdate: new Date(now - 1000),
        nextUpdate: new Date(now + 60_000),
      })
    );
    const { c } = checker({ responderUrl: r.url, now: () => now });
    await c.check([pki.alice.cert, pki.ca.cert]);
    now = base + 59_000;
    await c.check([pki.alice.cert, pki.ca.cert]);
    expect(r.requests).toBe(1);
    now = base + 61_000;
    expect((await c.check([pki.alice.cert, pki.ca.cert])).ok).toBe(true);
    expect(r.requests).toBe(2);
  });

  test("without nextUpdate, the default cache time", async () => {
    const base = Date.now();
    let now = base;
    const r = await fake(() =>
      buildResponse({
        cert: pki.alice.cert,
        issuer: pki.ca.cert,
        status: "good",
        signerKeyPem: pki.ca.keyPem,
        thisUpdate: new Date(now - 1000),
        nextUpdate: null,
      })
    );
    const { c } = checker({ responderUrl: r.url, now: () => now, defaultCacheMs: 30_000 });
    await c.check([pki.alice.cert, pki.ca.cert]);
    now = base + 29_000;
    await c.check([pki.alice.cert, pki.ca.cert]);
    expect(r.requests).toBe(1);
    now = base + 31_000;
    await c.check([pki.alice.cert, pki.ca.cert]);
    expect(r.requests).toBe(2);
  });

  test("clearCache forgets every status", async () => {
    const before = responder.requests;
    const { c } = checker();
    await c.check([pki.alice.cert, pki.ca.cert]);
    c.clearCache();
    await c.check([pki.alice.cert, pki.ca.cert]);
    expect(responder.requests - before).toBe(2);
  });

  test("concurrent checks of one certificate share one request; failures are not cached", async () => {
    const before = responder.requests;
    const { c } = checker();
    const results = await Promise.all(Array.from({ length: 8 }, () => c.check([pki.server.cert, pki.ca.cert])));
    expect(results.every((r) => r.ok && r.status === "good")).toBe(true);
    expect(responder.requests - before).toBe(1);

    const flaky = await fake(() =>
      buildResponse({ cert: pki.alice.cert, issuer: pki.ca.cert, status: "good", signerKeyPem: pki.ca.keyPem })
    );
    flaky.mode = "down";
    const f = checker({ responderUrl: flaky.url });
    expect((await f.c.check([pki.alice.cert, pki.ca.cert])).status).toBe("unavailable");
    flaky.mode = "serve";
    expect((await f.c.check([pki.alice.cert, pki.ca.cert])).status).toBe("good");
    expect(flaky.requests).toBe(2);
  });
});
