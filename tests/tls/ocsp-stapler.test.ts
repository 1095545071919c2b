/**
 * The server-certificate stapler against a real openssl responder with one-minute responses
 * (-nmin 1): fetch, cache, background refresh before nextUpdate, stale-but-valid while the
 * responder is down, nothing once nextUpdate has passed. Clocks are injected; the one real
 * timer test waits about a second.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OcspStapler, type OcspStaplerOptions, parseOcspResponse } from "../../src/tls/ocsp/index.ts";
import {
  buildResponse,
  type OcspPki,
  type Responder,
  startFakeResponder,
  startPkiResponder,
} from "../helpers/ocsp-responder.ts";
import { cleanupScratch, scratch } from "./helpers.ts";

let pki: OcspPki;
let responder: Responder;
const started: Responder[] = [];
const staplers: OcspStapler[] = [];

beforeAll(async () => {
  ({ pki, responder } = await startPkiResponder(scratch(), { nmin: 1 }));
  started.push(responder);
});
afterAll(async () => {
  for (const s of staplers) s.stop();
  await Promise.all(started.map((r) => r.stop()));
  cleanupScratch();
});

function stapler(opts: OcspStaplerOptions = {}, leaf = pki.server) {
  const logs: { level: string; msg: string }[] = [];
  const s = new OcspStapler(leaf.cert, pki.ca.cert, {
    timeoutMs: 5000,
    log: {
      info: (msg) => logs.push({ level: "info", msg }),
      warn: (msg) => logs.push({ level: "warn", msg }),
      debug: (msg) => logs.push({ level: "debug", msg }),
    },
    ...opts,
  });
  staplers.push(s);
  return { s, logs };
}

describe("OcspStapler", () => {
  test("fetches from the responder in the certificate, validates, and serves the DER until nextUpdate", async () => {
    const { s, logs } = stapler();
    expect(s.url).toBe(responder.url);
    expect(s.current()).toBeNull();
    const before = responder.requests;
    expect(await s.start()).toBe(true);
    const der = s.current()!;
    expect(der).toBeInstanceOf(Uint8Array);
    const info = await parseOcspResponse(der, { cert: pki.server.cert, issuer: pki.ca.cert });
    expect(info.status).toBe("good");
    expect(s.response?.status).toBe("good");
    for (let i = 0; i < 5; i++) expect(s.current()).toBe(der);
    expect(responder.requests - before).toBe(1);
    expect(logs).toHaveLength(1);
    expect(logs[0].level).toBe("info");
    expect(logs[0].msg).toContain("good");
    s.stop();
  });

  test("refresh is scheduled refreshMarginMs before nextUpdate, or half-way by default", async () => {
    const a = stapler({ refreshMarginMs: 20_000 }).s;
    await a.start();
    const next = a.response!.nextUpdate!.getTime();
    expect(Math.abs(a.nextRefreshAt! - (next - 20_000))).toBeLessThan(1500);
    a.stop();
    expect(a.nextRefreshAt).toBeNull();

    const b = stapler().s;
    await b.start();
    const { thisUpdate, nextUpdate } = b.response!;
    const half = thisUpdate.getTime() + (nextUpdate!.getTime() - thisUpdate.getTime()) / 2;
    expect(Math.abs(b.nextRefreshAt! - half)).toBeLessThan(1500);
    b.stop();
  });

  test("the background refresh fires before nextUpdate and replaces the staple", async () => {
    // -nmin 1 with a 59.5 s margin: due ~0.5 s after thisUpdate, so at most a second or two from now.
    const { s, logs } = stapler({ refreshMarginMs: 59_500 });
    const before = responder.requests;
    await s.start();
    const first = s.current();
    const deadline = Date.now() + 5000;
    while (responder.requests - before < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(responder.requests - before).toBeGreaterThanOrEqual(2);
    while (s.current() === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(s.current()).not.toBe(first);
    expect(logs.filter((l) => l.level === "info").length).toBeGreaterThanOrEqual(2);
    s.stop();
    const after = responder.requests;
    await new Promise((r) => setTimeout(r, 1500));
    expect(responder.requests).toBe(after);
  });

  test("stale-but-valid while the responder is down, dropped once past nextUpdate, back when it recovers", async () => {
    const r = await startFakeResponder(() =>
      buildResponse({
        cert: pki.server.cert,
        issuer: pki.ca.cert,
        status: "good",
        responderCert: pki.signer.cert,
        include: [pki.signer.cert],
        signerKeyPem: pki.signer.keyPem,
        thisUpdate: new Date(now - 1000),
        nextUpdate: new Date(now + 60_000),
      })
    );
    started.push(r);
    const base = Date.now();
    let now = base;
    const { s, logs } = stapler({ responderUrl: r.url, now: () => now, retryMs: 10_000 });
    await s.start();
    const good = s.current();
    expect(good).not.toBeNull();

    r.mode = "down";
    now = base + 40_000;
    expect(await s.refresh()).toBe(false);
    expect(s.current()).toBe(good);
    const failure = logs.at(-1)!;
    expect(failure.level).toBe("warn");
    expect(failure.msg).toContain("HTTP 503");
    expect(failure.msg).toContain("still stapling the response valid until");
    expect(s.nextRefreshAt).toBe(now + 10_000);

    now = base + 61_000;
    expect(s.current()).toBeNull();
    expect(logs.at(-1)!.msg).toContain("expired");
    expect(await s.refresh()).toBe(false);
    expect(logs.at(-1)!.msg).toContain("nothing to staple");

    r.mode = "serve";
    expect(await s.refresh()).toBe(true);
    expect(s.current()).not.toBeNull();
    expect(s.current()).not.toBe(good);
    s.stop();
  });

  test("a tampered response is not stapled; the valid one stays", async () => {
    const { s, logs } = stapler();
    await s.start();
    const good = s.current();
    responder.transform = (d) => {
      const x = d.slice();
      x[x.length - 1] ^= 0xff; // inside the included responder certificate's signature
      return x;
    };
    try {
      expect(await s.refresh()).toBe(false);
    } finally {
      responder.transform = undefined;
    }
    expect(s.current()).toBe(good);
    expect(logs.at(-1)!.msg).toMatch(/failed: .*responder certificate|failed: .*signature/);
    s.stop();
  });

  test("a revoked server certificate's response is stapled with a warning; unknown is not stapled", async () => {
    const revoked = stapler({}, pki.mallory);
    await revoked.s.start();
    expect(revoked.s.response?.status).toBe("revoked");
    expect(revoked.logs[0].level).toBe("warn");
    expect(revoked.logs[0].msg).toContain("REVOKED");
    revoked.s.stop();

    const unknown = stapler({}, pki.stranger);
    expect(await unknown.s.start()).toBe(false);
    expect(unknown.s.current()).toBeNull();
    expect(unknown.logs[0].msg).toContain("status unknown");
    unknown.s.stop();
  });

  test("a certificate without an OCSP URL cannot be stapled", () => {
    expect(() => new OcspStapler(pki.noAia.cert, pki.ca.cert)).toThrow(
      expect.objectContaining({ code: "ocsp.noResponderUrl" }),
    );
  });

  test("concurrent refreshes share one fetch", async () => {
    const { s } = stapler();
    s.stop();
    const before = responder.requests;
    const results = await Promise.all([s.refresh(), s.refresh(), s.refresh()]);
    expect(results).toEqual([true, true, true]);
    expect(responder.requests - before).toBe(1);
    expect(s.nextRefreshAt).toBeNull(); // stopped: no background timer
  });
});
