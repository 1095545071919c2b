/**
 * The OCSP and CA modules under Deno and Node 20 (bundled with `bun build --target=node`, as
 * Node 20 cannot run TypeScript), against a real openssl responder: good and revoked checks
 * with signature verification, a staple, a certificate from the CA helper.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { type OcspPki, type Responder, startPkiResponder } from "../helpers/ocsp-responder.ts";
import { cleanupScratch, scratch } from "./helpers.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SMOKE = join(ROOT, "tests/fixtures/ocsp/smoke.ts");
const EXPECTED = { good: "true:good", revoked: "false:revoked", stapled: true, caIssued: "http://127.0.0.1:8088" };

let pki: OcspPki;
let responder: Responder;

beforeAll(async () => {
  ({ pki, responder } = await startPkiResponder(scratch(), { nmin: 10 }));
});
afterAll(async () => {
  await responder.stop();
  cleanupScratch();
});

/** Asynchronous, so this process's responder keeps answering while the child runs. */
function run(
  cmd: string,
  args: string[],
  timeout = 90_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: ROOT, timeout, encoding: "utf8" }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

function lastJson(stdout: string): unknown {
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

test("under Deno", async () => {
  const r = await run(join(ROOT, "node_modules/.bin/deno"), [
    "run",
    "-A",
    `--config=${join(ROOT, "deno.json")}`,
    SMOKE,
    pki.dir,
  ]);
  expect(r.stderr).not.toContain("error");
  expect(r.code).toBe(0);
  expect(lastJson(r.stdout)).toEqual(EXPECTED);
}, 120_000);

test("under Node (bun build --target=node)", async () => {
  const out = join(scratch(), "smoke.mjs");
  const b = await run(join(ROOT, "node_modules/.bin/bun"), ["build", SMOKE, "--target=node", `--outfile=${out}`]);
  expect(b.code).toBe(0);
  const r = await run("node", [out, pki.dir]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(lastJson(r.stdout)).toEqual(EXPECTED);
}, 120_000);
