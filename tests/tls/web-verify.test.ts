/**
 * src/tls/keystore/web-verify.ts (Deno's chain-link check at start, in place of node:crypto's
 * X509Certificate) against node:crypto's verify, for every pair of test certificates (issuer and
 * not), certificates openssl makes with P-384, P-521 and Ed25519 keys, and tampered signatures;
 * on Bun and on Deno.
 */
import { afterAll, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, DENO, PKI, ROOT, run, tempDir } from "../helpers/bobcat.ts";

const dir = tempDir("bobcat-web-verify-");
afterAll(() => cleanup(dir));

async function selfSigned(name: string, keyArgs: string[], digest: string[]): Promise<string> {
  const key = join(dir, `${name}-key.pem`), cert = join(dir, `${name}.pem`);
  const k = await run(["openssl", "genpkey", ...keyArgs, "-out", key]);
  expect(k.code).toBe(0);
  const c = await run([
    "openssl",
    "req",
    "-x509",
    "-new",
    "-key",
    key,
    ...digest,
    "-subj",
    `/CN=${name}`,
    "-days",
    "2",
    "-out",
    cert,
  ]);
  expect(c.code).toBe(0);
  return readFileSync(cert, "utf8");
}

const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
const spki = (pem: string) =>
  new Uint8Array(new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" }) as Uint8Array);

async function certificates(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(PKI).filter((f) => f.endsWith(".pem") && !f.includes("key") && !f.includes("crl"))) {
    out[f] = readFileSync(join(PKI, f), "utf8");
  }
  out["p384"] = await selfSigned("p384", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], ["-sha384"]);
  out["p521"] = await selfSigned("p521", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"], ["-sha512"]);
  out["ed25519"] = await selfSigned("ed25519", ["-algorithm", "ED25519"], []);
  out["rsa-sha1"] = await selfSigned("rsa-sha1", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], ["-sha1"]);
  return out;
}

/** Every (certificate, issuer key) pair, and each certificate with a flipped signature bit under its own issuer's key. */
function pairs(certs: Record<string, string>): Array<{ what: string; cert: number[]; spki: number[]; node: boolean }> {
  const out = [];
  for (const [c, cp] of Object.entries(certs)) {
    for (const [i, ip] of Object.entries(certs)) {
      const node = new X509Certificate(cp).verify(new X509Certificate(ip).publicKey);
      out.push({ what: `${c} by ${i}`, cert: [...der(cp)], spki: [...spki(ip)], node });
      if (node) {
        const tampered = der(cp);
        tampered[tampered.length - 5]! ^= 0x01;
        out.push({ what: `${c} by ${i}, tampered`, cert: [...tampered], spki: [...spki(ip)], node: false });
      }
    }
  }
  return out;
}

const cases = pairs(await certificates());

test("Web Crypto agrees with node:crypto on every pair (Bun)", async () => {
  const { webVerify } = await import("../../src/tls/keystore/web-verify.ts");
  const differ: string[] = [];
  let checked = 0;
  for (const c of cases) {
    const ours = await webVerify(new Uint8Array(c.cert), new Uint8Array(c.spki)).catch(() => undefined);
    if (ours === undefined) continue;
    checked++;
    if (ours !== c.node) differ.push(`${c.what}: ${ours} against ${c.node}`);
  }
  expect(differ).toEqual([]);
  // Every signature algorithm of the set is one Web Crypto checks.
  expect(checked).toBe(cases.length);
  expect(cases.filter((c) => c.node).length).toBeGreaterThan(8);
});

test("Web Crypto agrees with node:crypto on every pair (Deno)", async () => {
  const input = join(dir, "cases.json");
  await Bun.write(input, JSON.stringify(cases));
  const script = `
    import { webVerify } from ${JSON.stringify(join(ROOT, "src/tls/keystore/web-verify.ts"))};
    const cases = JSON.parse(await Deno.readTextFile(${JSON.stringify(input)}));
    const differ = [];
    let checked = 0;
    for (const c of cases) {
      const ours = await webVerify(new Uint8Array(c.cert), new Uint8Array(c.spki)).catch((e) => "error: " + e.message);
      checked++;
      if (ours !== c.node) differ.push(c.what + ": " + ours + " against " + c.node);
    }
    console.log(JSON.stringify({ checked, differ }));`;
  const r = await run([DENO, "eval", `--config=${join(ROOT, "deno.json")}`, script], { timeoutMs: 60000 });
  expect(r.stderr).toBe("");
  expect(JSON.parse(r.stdout)).toEqual({ checked: cases.length, differ: [] });
});
