/** ACME Renewal Information (RFC 9773): the certificate identifier and the choice of a renewal time. */
import { describe, expect, test } from "bun:test";
import { ariCertId, parseMaterial, renewalTime } from "../../src/acme/service.ts";
import { x509 } from "../../src/tls/keystore/x509.ts";
import { generateSelfSigned } from "../../src/tls/keystore/selfsigned.ts";

// RFC 9773 Appendix A: its serial 0x87654321 is DER-encoded with a leading zero byte.
const APPENDIX_A = `-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----`;

describe("ARI", () => {
  test("certID of RFC 9773 Appendix A", () => {
    expect(ariCertId(new x509.X509Certificate(APPENDIX_A))).toBe("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  });

  test("a certificate without an authority key identifier has no certID", async () => {
    const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
    const leaf = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=x.test",
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: alg,
    });
    expect(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)).toBeNull();
    expect(() => ariCertId(leaf)).toThrow("authority key identifier");
  });

  test("renewal time: uniform inside the window, in the past when the window has passed, else 2/3 of the lifetime", async () => {
    const { certPem, keyPem } = await generateSelfSigned({ hostnames: ["x.test"], keyType: "EC", days: 30 });
    const mat = parseMaterial(certPem, keyPem, false);
    const now = Date.now();
    const w = { start: now + 60_000, end: now + 120_000 };
    const times = Array.from({ length: 200 }, () => renewalTime(mat, w));
    expect(times.every((t) => t >= w.start && t <= w.end)).toBe(true);
    // Spread over the window, not bunched at one end.
    expect(times.some((t) => t < w.start + 20_000)).toBe(true);
    expect(times.some((t) => t > w.end - 20_000)).toBe(true);
    expect(renewalTime(mat, { start: now - 7_200_000, end: now - 3_600_000 })).toBeLessThan(now);
    const nb = mat.chain[0]!.notBefore.getTime();
    const life = mat.chain[0]!.notAfter.getTime() - nb;
    const plain = renewalTime(mat);
    expect(plain).toBeLessThanOrEqual(nb + (life * 2) / 3);
    expect(plain).toBeGreaterThanOrEqual(nb + (life * 2) / 3 - 3_600_000);
    // An invalid window (end not after start) is no window.
    expect(renewalTime(mat, { start: now, end: now })).toBeGreaterThan(now + 86_400_000);
  });
});
