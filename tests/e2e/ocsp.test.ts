/**
 * OCSP against a real `openssl ocsp` responder on loopback: client certificates checked with
 * ocspEnabled (good, revoked, unknown; soft and hard fail) under Bun and Deno, and stapling of
 * the server certificate under Node (the only runtime whose TLS stack can).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type OcspPki, type Responder, startPkiResponder } from "../helpers/ocsp-responder.ts";
import {
  cleanup,
  freePort,
  opensslConnect,
  ROOT_PAGE_CONTEXT,
  run,
  runCli,
  type Runtime,
  RUNTIMES,
  sslHostAttributes,
  startBobcat,
  tempDir,
  tlsAppConfig,
  writeFiles,
} from "../helpers/bobcat.ts";

let pkiDir: string;
let pki: OcspPki;
let responder: Responder;
const dirs: string[] = [];

beforeAll(async () => {
  pkiDir = tempDir();
  ({ pki, responder } = await startPkiResponder(pkiDir));
  // The server certificate with its CA, so the stapler knows the issuer.
  writeFiles(pkiDir, { "server-chain.pem": pki.server.certPem + pki.ca.certPem });
});

afterAll(async () => {
  await responder?.stop();
  cleanup(pkiDir);
  dirs.forEach(cleanup);
});

function config(port: number, hostAttrs: string): string {
  // The responder's PKI, not the committed one: its own certificate lines.
  const certificate = `              certificates:
                - certificateFile: ${join(pkiDir, "server-chain.pem")}
                  certificateKeyFile: ${pki.files.serverKey}`;
  return tlsAppConfig(port, `            - ${(sslHostAttributes(hostAttrs) + certificate).trimStart()}`, {
    contexts: ROOT_PAGE_CONTEXT,
  });
}

async function curl(port: number, who?: "alice" | "mallory" | "stranger" | "noAia") {
  const cert = who ? ["--cert", pki.files[who]!, "--key", pki.files[`${who}Key`]!] : [];
  const r = await run([
    "curl",
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--cacert",
    pki.files.ca!,
    ...cert,
    `https://localhost:${port}/`,
  ]);
  return r.stdout;
}

async function serve(
  runtime: Runtime,
  hostAttrs: string,
  fn: (port: number, log: () => string) => Promise<void>,
  args = ["run"],
) {
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  const s = await startBobcat({ runtime, base, args, config: config(port, hostAttrs) });
  try {
    await fn(port, s.output);
  } finally {
    expect(await s.stop()).toBe(0);
  }
}

const verify = (softFail: boolean) =>
  `certificateVerification: required
caCertificateFile: ${"PKI_CA"}
ocspEnabled: true
ocspSoftFail: ${softFail}
ocspTimeout: 2000
ocspStapling: false`;

for (const runtime of RUNTIMES) {
  describe(`OCSP checks of client certificates under ${runtime}`, () => {
    test("good gets in; revoked and unknown are refused; no responder URL passes on soft-fail", async () => {
      responder.mode = "serve";
      await serve(runtime, verify(true).replace("PKI_CA", pki.files.ca!), async (port, log) => {
        expect(await curl(port, "alice")).toBe("200");
        expect(await curl(port, "mallory")).toBe("000");
        expect(await curl(port, "stranger")).toBe("000");
        expect(await curl(port, "noAia")).toBe("200");
        expect(log()).toMatch(/refused client .*OCSP.*revoked/i);
      });
    });

    test("responder down: soft-fail lets a client in, hard-fail does not", async () => {
      responder.mode = "down";
      try {
        await serve(runtime, verify(true).replace("PKI_CA", pki.files.ca!), async (port) => {
          expect(await curl(port, "alice")).toBe("200");
        });
        await serve(runtime, verify(false).replace("PKI_CA", pki.files.ca!), async (port) => {
          expect(await curl(port, "alice")).toBe("000");
          expect(await curl(port, "noAia")).toBe("000");
        });
      } finally {
        responder.mode = "serve";
      }
    });
  });
}

describe("OCSP stapling", () => {
  test("--runtime node staples the responder's answer (openssl s_client -status)", async () => {
    responder.mode = "serve";
    await serve(
      "bun",
      "protocols: TLSv1.2+TLSv1.3",
      async (port, log) => {
        expect(log()).toContain("OCSP stapling for");
        for (const v of ["-tls1_2", "-tls1_3"]) {
          const r = await opensslConnect(port, { caFile: pki.files.ca!, args: ["-status", v] });
          expect(r.stdout).toContain("OCSP Response Status: successful");
          expect(r.stdout).toContain("Cert Status: good");
        }
      },
      ["run", "--runtime", "node"],
    );
  });

  test("unset on Bun: served without stapling and one warning names Node", async () => {
    await serve("bun", "protocols: TLSv1.2+TLSv1.3", async (port, log) => {
      expect(log()).toContain("only Node's TLS stack can staple");
      const r = await opensslConnect(port, { caFile: pki.files.ca!, args: ["-status"] });
      expect(r.stdout).toContain("OCSP response: no response sent");
    });
  });

  test("ocspStapling: true on Bun and Deno is a start-up error naming Node", async () => {
    for (const runtime of RUNTIMES) {
      const base = tempDir();
      dirs.push(base);
      writeFiles(base, { "s.yaml": config(await freePort(), "ocspStapling: true") });
      const r = await runCli(runtime, ["check", "--config", join(base, "s.yaml")]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('TLS feature "OCSP stapling (ocspStapling: true)"');
      expect(r.stderr).toContain("Node (--runtime node)");
    }
  });
});
