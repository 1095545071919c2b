/** The same keystore code under Deno (spawned with a time limit). */
import { expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { tool } from "./helpers.ts";

test("keystores, PEM keys, keytool and the self-signed certificate work under Deno", () => {
  const deno = resolve(import.meta.dirname, "../../node_modules/.bin/deno");
  const r = tool(deno, ["run", "-A", join(import.meta.dirname, "deno/smoke.ts")], {
    timeout: 90_000,
    cwd: resolve(import.meta.dirname, "../.."),
  });
  expect(r.stderr).not.toContain("error");
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  expect(out).toEqual({
    jks: "RSA:2",
    jksOwnKeyPassword: "EC:1",
    p12: "EC:3",
    p12LegacyRc2: "RSA:3",
    pemDesCbc: "RSA:1",
    pemEcAes: "EC:1",
    wrongPassword: expect.stringContaining("Keystore was tampered with, or password was incorrect"),
    selfSigned: true,
    keytoolPKCS12: "0:EC",
    keytoolJKS: "0:EC",
  });
}, 120_000);
