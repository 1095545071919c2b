/**
 * Mutated keystores (bit flips, overwritten bytes, truncations, cut or doubled slices, random
 * bytes behind a valid magic number, and for PEM, DER mutations re-armoured as valid base64)
 * fed through loadCertificate(): every case must end, quickly, in a result or a BobcatError.
 * Seeded, so a failure names a case that can be replayed.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CertificateConfig, loadCertificate } from "../../src/tls/certificate.ts";
import { fromBase64, toBase64 } from "../../src/tls/keystore/bytes.ts";
import * as der from "../../src/tls/keystore/der.ts";
import { pkcs12Kdf } from "../../src/tls/keystore/pbe.ts";
import { BobcatError } from "../../src/util/errors.ts";
import { cleanupScratch, fixture, pem, PW, scratch } from "./helpers.ts";

afterAll(cleanupScratch);
const CASES = 300;
const PER_CASE_MS = 5000;

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Mutator = (b: Uint8Array, r: () => number) => { bytes: Uint8Array; what: string };
const int = (r: () => number, n: number) => Math.floor(r() * n);

const MUTATORS: Mutator[] = [
  (b, r) => {
    const out = b.slice();
    const n = 1 + int(r, 4);
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = int(r, out.length);
      out[p] ^= 1 << int(r, 8);
      at.push(p);
    }
    return { bytes: out, what: `bit flips at ${at.join(",")}` };
  },
  (b, r) => {
    const out = b.slice();
    const p = int(r, out.length);
    out[p] = [0x00, 0xff, 0x80, 0x84, 0x7f][int(r, 5)];
    return { bytes: out, what: `byte ${p} := ${out[p]}` };
  },
  (b, r) => {
    const n = int(r, b.length);
    return { bytes: b.slice(0, n), what: `truncated to ${n}` };
  },
  (b, r) => {
    const p = int(r, b.length);
    const n = 1 + int(r, 64);
    return { bytes: new Uint8Array([...b.subarray(0, p), ...b.subarray(p + n)]), what: `cut ${n} at ${p}` };
  },
  (b, r) => {
    const p = int(r, b.length);
    const n = 1 + int(r, 64);
    return {
      bytes: new Uint8Array([...b.subarray(0, p + n), ...b.subarray(p, p + n), ...b.subarray(p + n)]),
      what: `doubled ${n} at ${p}`,
    };
  },
  (b, r) => {
    const keep = int(r, 24);
    const rand = Uint8Array.from({ length: int(r, 4096) }, () => int(r, 256));
    return { bytes: new Uint8Array([...b.subarray(0, keep), ...rand]), what: `random after ${keep} real bytes` };
  },
];

/** PEM: mutate the DER inside one block and re-armour it, so the ASN.1 parsers see the damage. */
const pemDerMutator: Mutator = (b, r) => {
  const text = new TextDecoder().decode(b);
  const blocks = [
    ...text.matchAll(/-----BEGIN ([A-Z ]+)-----\n((?:[^\n]*:[^\n]*\n)*\n?)([A-Za-z0-9+/=\n]+?)-----END \1-----/g),
  ];
  const m = blocks[int(r, blocks.length)];
  const der = fromBase64(m[3].replace(/\n/g, ""));
  const { bytes, what } = MUTATORS[int(r, 5)](der, r);
  const b64 = toBase64(bytes).replace(/(.{64})/g, "$1\n").replace(/\n?$/, "\n");
  const body = bytes.length ? b64 : "AAAA\n";
  return {
    bytes: new TextEncoder().encode(text.replace(m[0], `-----BEGIN ${m[1]}-----\n${m[2]}${body}-----END ${m[1]}-----`)),
    what: `${m[1]}: ${what}`,
  };
};

/** JKS with a recomputed integrity digest, so the mutation reaches the entry, certificate and key parsers. */
const resealedJks: Mutator = (b, r) => {
  const { bytes, what } = MUTATORS[int(r, 2)](b.subarray(0, b.length - 20), r);
  const pw = Uint8Array.from([...PW].flatMap((c) => [0, c.charCodeAt(0)]));
  const digest = createHash("sha1").update(pw).update("Mighty Aphrodite").update(bytes).digest();
  return { bytes: new Uint8Array([...bytes, ...digest]), what: `${what}, digest recomputed` };
};

/** PKCS12 whose authenticated safe is mutated and then re-MACed, so bag and attribute parsing see the damage. */
const resealedPkcs12: Mutator = (b, r) => {
  const pfx = der.parse(b);
  const authSafe = der.octetsBer(pfx.children[1].children[1].children[0], "authSafe");
  const { bytes, what } = MUTATORS[int(r, 2)](authSafe, r);
  const salt = Uint8Array.from({ length: 20 }, () => int(r, 256));
  const mac = createHmac("sha256", pkcs12Kdf("sha256", PW, salt, 3, 2048, 32)).update(bytes).digest();
  const out = der.encSeq(
    der.encInt(3),
    der.encSeq(der.encOid("1.2.840.113549.1.7.1"), der.encExplicit(0, der.encOctets(bytes))),
    der.encSeq(
      der.encSeq(der.encAlg("2.16.840.1.101.3.4.2.1", null), der.encOctets(new Uint8Array(mac))),
      der.encOctets(salt),
      der.encInt(2048),
    ),
  );
  return { bytes: out, what: `authSafe ${what}, MAC recomputed` };
};

interface Target {
  name: string;
  sources: { file: string; cfg: (path: string) => CertificateConfig }[];
  mutators: Mutator[];
}

const pemText = readFileSync(pem("rsa-key-pkcs8-aes256.pem"), "utf8") + readFileSync(pem("rsa-fullchain.pem"), "utf8");
const pemTrad = readFileSync(pem("ec-key-sec1-aes256.pem"), "utf8") + readFileSync(pem("ec-cert.pem"), "utf8");
const dir = scratch();
writeFileSync(join(dir, "combined.pem"), pemText);
writeFileSync(join(dir, "traditional.pem"), pemTrad);

const TARGETS: Target[] = [
  {
    name: "JKS",
    sources: ["keytool-rsa.jks", "keytool-ec.jks"].map((f) => ({
      file: fixture(f),
      cfg: (p) => ({ certificateKeystoreFile: p, certificateKeystorePassword: PW, certificateKeyAlias: "tomcat" }),
    })),
    mutators: [...MUTATORS, resealedJks, resealedJks, resealedJks],
  },
  {
    name: "PKCS12",
    sources: ["keytool-rsa.p12", "openssl-rsa-legacy.p12", "openssl-ec.p12"].map((f) => ({
      file: fixture(f),
      cfg: (p) => ({ certificateKeystoreFile: p, certificateKeystorePassword: PW, certificateKeyAlias: "tomcat" }),
    })),
    mutators: [...MUTATORS, resealedPkcs12, resealedPkcs12, resealedPkcs12],
  },
  {
    name: "PEM",
    sources: ["combined.pem", "traditional.pem"].map((f) => ({
      file: join(dir, f),
      cfg: (p) => ({ certificateFile: p, certificateKeyPassword: PW }),
    })),
    mutators: [...MUTATORS, pemDerMutator, pemDerMutator, pemDerMutator],
  },
];

describe("fuzz", () => {
  for (const t of TARGETS) {
    test(`${t.name}: ${CASES} mutated files end in a result or a BobcatError`, async () => {
      const seed = 0xb0bca7 + t.name.length;
      const r = rng(seed);
      const target = join(dir, `fuzz-${t.name}`);
      const codes = new Map<string, number>();
      for (let i = 0; i < CASES; i++) {
        const src = t.sources[i % t.sources.length];
        const { bytes, what } = t.mutators[int(r, t.mutators.length)](new Uint8Array(readFileSync(src.file)), r);
        writeFileSync(target, bytes);
        const label = `case ${i} (seed ${seed}) of ${src.file}: ${what}`;
        const started = performance.now();
        let outcome = "loaded";
        try {
          await loadCertificate(src.cfg(target), { file: "fuzz.yaml" });
        } catch (e) {
          if (!(e instanceof BobcatError)) throw new Error(`${label}: ${(e as Error)?.stack ?? e}`);
          expect(e.message.length).toBeGreaterThan(0);
          outcome = e.code;
        }
        const ms = performance.now() - started;
        if (ms > PER_CASE_MS) throw new Error(`${label}: took ${ms.toFixed(0)} ms`);
        codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
      }
      // Most mutations must be caught; a few (e.g. in unused padding) may still load. None may
      // fall through to the catch-all: every failure has its own diagnosis.
      expect(codes.get("loaded") ?? 0).toBeLessThan(CASES / 2);
      expect(codes.get("certificate.unreadable")).toBeUndefined();
      console.log(`${t.name}: ${[...codes].map(([k, v]) => `${k}=${v}`).join(" ")}`);
    }, 120_000);
  }
});
