/**
 * Automatic HTTPS against a real ACME CA (Pebble): HTTP-01 issuance with a temporary
 * certificate until then, the chain verified by curl against Pebble's root, the manager's list,
 * renewal of a short-lived certificate while a keep-alive connection keeps working, the CA down
 * during renewal, a restart with a cached certificate while the CA is down, and two instances
 * sharing PostgreSQL placing one order (TLS-ALPN-01, EAB, DNS-01: acme-challenges.test.ts).
 * Under Bun and Deno.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  opensslConnect,
  run,
  runCli,
  type Runtime,
  RUNTIMES,
  startBobcat,
  tempDir,
  waitUntil,
} from "../helpers/bobcat.ts";
import { curlVerified, type Pebble, startPebble } from "../helpers/pebble.ts";
import { startPostgres } from "../helpers/postgres.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const waitFor = (pred: () => boolean | Promise<boolean>, ms = 20000) => waitUntil(pred, ms, 100);

const count = (text: string, s: string) => text.split(s).length - 1;

interface AcmeSetup {
  httpPort: number;
  tlsPort: number;
  pebble: Pebble;
  name?: string;
  acmeExtra?: string;
  connectorExtra?: string;
  resources?: string;
}

function acmeConfig(s: AcmeSetup): string {
  return `
logging:
  components: { acme: debug }
server:
${s.resources ?? ""}
  services:
    - connectors:
        - port: ${s.httpPort}
          address: 127.0.0.1
          redirectPort: ${s.tlsPort}
        - port: ${s.tlsPort}
          address: 127.0.0.1
          SSLEnabled: true
          defaultSSLHostConfigName: ${s.name ?? "a.test"}
${s.connectorExtra ?? ""}
          sslHostConfigs:
            - hostName: ${s.name ?? "a.test"}
              acme:
                directory: ${s.pebble.directory}
                email: admin@example.org
                termsOfServiceAgreed: true
                directoryTrustFile: ${s.pebble.wfeCertFile}
                retryDelay: 1
${s.acmeExtra ?? ""}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            aliases: [a.test, b.test]
            contexts:
              - path: ""
                handler: hello.ts
                securityConstraints: [{ urlPatterns: ["/*"], transportGuarantee: CONFIDENTIAL }]
              - path: /manager
                handler: bobcat:manager
`;
}

const FILES = { "hello.ts": `export default { fetch: () => new Response("hello over acme") };` };

/** curl through the TLS connector for a.test, checking the chain against Pebble's current root. */
const curlA = (pebble: Pebble, base: string, tlsPort: number) => curlVerified(pebble, base, tlsPort, "a.test");

async function issuer(port: number, name = "a.test"): Promise<string> {
  const r = await opensslConnect(port, { servername: name });
  return /issuer=([^\n]*)/.exec(r.stdout)?.[1] ?? "";
}

const T = 90000;
for (const runtime of RUNTIMES) {
  describe(`ACME on ${runtime}`, () => {
    test(
      "HTTP-01: temporary certificate, then Pebble's, verified by curl; the manager lists it; check says what it would request",
      async () => {
        const [httpPort, tlsPort] = [await freePort(), await freePort()];
        const pebble = await startPebble({ httpPort, tlsPort });
        const base = tempDir();
        dirs.push(base);
        let s = await startBobcat({
          runtime,
          base,
          files: FILES,
          config: acmeConfig({ httpPort, tlsPort, pebble }),
          connectors: 2,
        });
        try {
          expect(s.output()).toContain("temporary self-signed");
          if (!(await waitFor(() => s.output().includes("certificate obtained")))) {
            throw new Error(s.output() + pebble.log().slice(-3000));
          }
          // Swapped in: on Deno native the listener is reopened for it, and refuses for a moment.
          expect(await waitFor(() => s.output().includes(": reloaded "))).toBe(true);
          const r = await curlA(pebble, base, tlsPort);
          expect(r.stderr).toBe("");
          expect(r.stdout).toBe("hello over acme");
          expect(await issuer(tlsPort)).toContain("Pebble Intermediate");
          // The challenge path is answered before the CONFIDENTIAL redirect: an unknown token is 404, not 302.
          const unknown = await fetch(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/nope`, {
            redirect: "manual",
          });
          expect(unknown.status).toBe(404);
          const other = await fetch(`http://127.0.0.1:${httpPort}/x`, { redirect: "manual" });
          expect(other.status).toBe(302);
          // The manager's HTML list (loopback, no login), with a Renew button.
          const html = await fetch(`http://127.0.0.1:${httpPort}/manager/`).then((x) => x.text());
          expect(html).toContain("<h2>Certificates</h2>");
          expect(html).toMatch(/<td>acme<\/td><td>a\.test<\/td><td>CN=Pebble Intermediate/);
          expect(html).toContain("renewCertificate");
          const storeFiles = await run(["find", join(base, "acme"), "-type", "f", "-perm", "0600"]);
          expect(storeFiles.stdout).toContain("cert.pem");
          expect(storeFiles.stdout).toContain("key.pem");
          expect(storeFiles.stdout).toContain("account.json");
          const check = await runCli(runtime, ["check", "--config", join(base, "conf/server.yaml"), "--base", base]);
          expect(check.code).toBe(0);
          expect(check.output).toContain(`would request a.test from ${pebble.directory}`);
          expect(check.output).toMatch(
            /Certificates:\n.*connector.*\n.*a\.test\s+acme\s+a\.test\s+CN=Pebble Intermediate/,
          );
          expect(pebble.orders()).toBe(1);
          // A damaged stored certificate is set aside, never served, and a new one is ordered.
          expect(await s.stop()).toBe(0);
          const certFile = storeFiles.stdout.split("\n").find((f) => f.endsWith("/cert.pem"))!;
          writeFileSync(certFile, "-----BEGIN CERTIFICATE-----\nZZZZ\n-----END CERTIFICATE-----\n");
          s = await startBobcat({ runtime, base, config: acmeConfig({ httpPort, tlsPort, pebble }), connectors: 2 });
          expect(s.output()).toContain("is damaged");
          expect(s.output()).toContain("temporary self-signed");
          expect(await waitFor(() => s.output().includes("certificate obtained"))).toBe(true);
          expect((await run(["sh", "-c", `ls ${certFile}.corrupt-*`])).code).toBe(0);
          expect(pebble.orders()).toBe(2);
        } finally {
          expect(await s.stop()).toBe(0);
          await pebble.destroy();
        }
      },
      T,
    );

    test(
      "renewal of a short-lived certificate under a keep-alive connection; CA down during renewal; restart with the cached certificate while the CA is down",
      async () => {
        const [httpPort, tlsPort] = [await freePort(), await freePort()];
        const pebble = await startPebble({ httpPort, tlsPort, validity: 24 });
        const base = tempDir();
        dirs.push(base);
        const config = acmeConfig({ httpPort, tlsPort, pebble });
        let s = await startBobcat({ runtime, base, files: FILES, config, connectors: 2 });
        let socket: ReturnType<typeof connect> | undefined;
        try {
          // Swapped in: on Deno native the listener is reopened for it, and refuses for a moment.
          if (!(await waitFor(() => s.output().includes(": reloaded ")))) throw new Error(s.output());
          // A keep-alive connection that sends a request every 200 ms through the renewal.
          socket = connect({
            host: "127.0.0.1",
            port: tlsPort,
            servername: "a.test",
            rejectUnauthorized: false,
            ALPNProtocols: ["http/1.1"],
          });
          let received = "";
          socket.on("data", (d) => (received += d));
          await new Promise((r) => socket!.once("secureConnect", r));
          let sent = 0;
          const pump = setInterval(() => {
            if (socket!.destroyed) return;
            socket!.write("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
            sent++;
          }, 200);
          const renewed = await waitFor(() => count(s.output(), "certificate obtained") >= 2, 30000);
          await Bun.sleep(600);
          clearInterval(pump);
          await Bun.sleep(300);
          expect(renewed).toBe(true);
          expect(socket.destroyed).toBe(false);
          expect(count(received, "hello over acme")).toBe(sent);
          socket.destroy();
          expect((await curlA(pebble, base, tlsPort)).stdout).toBe("hello over acme");

          // The CA goes away; a renewal fails and the current certificate keeps serving.
          await pebble.stop();
          const before = await issuer(tlsPort);
          const r = await fetch(`http://127.0.0.1:${httpPort}/manager/json/renewCertificate?name=a.test`, {
            method: "POST",
          });
          expect(((await r.json()) as { renewed: string[] }).renewed.join()).toContain("renewal failed");
          expect(await issuer(tlsPort)).toBe(before);
          const list = await fetch(`http://127.0.0.1:${httpPort}/manager/json/certificates`).then((x) => x.json()) as {
            certificates: Array<{ source: string; lastError?: string; names: string[] }>;
          };
          expect(list.certificates[0]!.source).toBe("acme");
          expect(list.certificates[0]!.lastError).toBeTruthy();
          // Back again (a new Pebble: new root, the account unknown): the retry succeeds.
          const obtained = count(s.output(), "certificate obtained");
          await pebble.start();
          expect(await waitFor(() => count(s.output(), "certificate obtained") > obtained, 30000)).toBe(true);
          expect((await curlA(pebble, base, tlsPort)).stdout).toBe("hello over acme");

          // Restart while the CA is down: the stored certificate is served at once.
          expect(await s.stop()).toBe(0);
          await pebble.stop();
          s = await startBobcat({ runtime, base, config, connectors: 2 });
          expect(s.output()).toContain("serving the stored certificate");
          expect(s.output()).not.toContain("temporary self-signed");
          expect(await issuer(tlsPort)).toContain("Pebble Intermediate");
        } finally {
          socket?.destroy();
          expect(await s.stop()).toBe(0);
          await pebble.destroy();
        }
      },
      T,
    );
  });
}

const SERVING = /certificate (obtained|loaded from the store)|serving the stored certificate/;

test("two instances (Bun and Deno) sharing PostgreSQL place one order; the CA reaches either one", async () => {
  const pg = await startPostgres();
  const [httpA, tlsA, httpB, tlsB] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // Pebble validates on A's ports only: when B wins the lock, A answers B's tokens from the database.
  const pebble = await startPebble({ httpPort: httpA, tlsPort: tlsA });
  const resources = `  globalNamingResources:
    resources:
      - { name: jdbc/acme, url: "${pg.url}" }`;
  const extra = "                dataSourceName: jdbc/acme\n";
  const [baseA, baseB] = [tempDir(), tempDir()];
  dirs.push(baseA, baseB);
  // Started together, so that both look for a certificate at the same time.
  const [a, b] = await Promise.all([
    startBobcat({
      runtime: "bun",
      base: baseA,
      files: FILES,
      connectors: 2,
      config: acmeConfig({ httpPort: httpA, tlsPort: tlsA, pebble, acmeExtra: extra, resources }),
    }),
    startBobcat({
      runtime: "deno",
      base: baseB,
      files: FILES,
      connectors: 2,
      config: acmeConfig({ httpPort: httpB, tlsPort: tlsB, pebble, acmeExtra: extra, resources }),
    }),
  ]);
  try {
    const both = await waitFor(() => SERVING.test(a.output()) && SERVING.test(b.output()), 40000);
    if (!both) throw new Error(a.output() + "\n----\n" + b.output());
    expect(pebble.orders()).toBe(1);
    expect(count(a.output() + b.output(), "certificate obtained")).toBe(1);
    expect(count(a.output() + b.output(), "temporary self-signed")).toBeGreaterThanOrEqual(1);
    expect((await curlA(pebble, baseA, tlsA)).stdout).toBe("hello over acme");
    expect((await curlA(pebble, baseB, tlsB)).stdout).toBe("hello over acme");
    expect(pg.psql("SELECT count(*) FROM bobcat_acme WHERE k LIKE '%/cert.pem'").trim()).toBe("1");
    // Nothing was written to either base directory's store.
    expect((await run(["find", baseA, baseB, "-path", "*acme*", "-name", "cert.pem"])).stdout).toBe("");
  } finally {
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    await pebble.destroy();
    pg.destroy();
  }
}, 120000);
