/**
 * ACME beyond HTTP-01, against a real Pebble: TLS-ALPN-01 answered on the TLS connector (the
 * only challenge type allowed, so the connector runs on node-compat, which chooses certificates
 * by ALPN on Bun; Deno's TLS servers agree ALPN from a fixed list, so there it refuses to start
 * with tls-alpn-01 alone and uses http-01 beside it), External Account Binding with the right and a wrong HMAC key, and DNS-01 for a
 * wildcard name through a dnsHook module that publishes the TXT record in pebble-challtestsrv
 * (Pebble's DNS). Under Bun and Deno.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, freePort, runCli, RUNTIMES, startBobcat, tempDir, waitUntil } from "../helpers/bobcat.ts";
import { curlVerified, type Pebble, startPebble } from "../helpers/pebble.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const waitFor = (pred: () => boolean, ms = 20000) => waitUntil(pred, ms, 100);

/** One TLS connector (and a plain one when httpPort is given) with an acme SSLHostConfig. */
function config(o: { tlsPort: number; httpPort?: number; pebble: Pebble; name: string; acme: string }): string {
  return `
logging:
  components: { acme: debug }
server:
  services:
    - connectors:
${
    o.httpPort
      ? `        - port: ${o.httpPort}
          address: 127.0.0.1
`
      : ""
  }        - port: ${o.tlsPort}
          address: 127.0.0.1
          SSLEnabled: true
          defaultSSLHostConfigName: "${o.name}"
          sslHostConfigs:
            - hostName: "${o.name}"
              acme:
                directory: ${o.pebble.directory}
                email: admin@example.org
                termsOfServiceAgreed: true
                directoryTrustFile: ${o.pebble.wfeCertFile}
                retryDelay: 1
${o.acme}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: hello.ts
`;
}

const FILES = { "hello.ts": `export default { fetch: () => new Response("hello over acme") };` };

/** The served leaf's subject alternative names, for an SNI name. */
async function servedNames(port: number, name: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, servername: name, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().subjectaltname ?? "");
      s.destroy();
    });
    s.on("error", reject);
  });
}

const T = 60000;
for (const runtime of RUNTIMES) {
  describe(`ACME challenges on ${runtime}`, () => {
    if (runtime === "deno") {
      test("TLS-ALPN-01: Deno cannot answer it; alone it stops start-up, beside http-01 it is skipped", async () => {
        const [tlsPort, httpPort] = [await freePort(), await freePort()];
        const pebble = await startPebble({ httpPort, tlsPort });
        const base = tempDir();
        dirs.push(base);
        const only = config({
          tlsPort,
          pebble,
          name: "alpn.test",
          acme: "                challengeTypes: [tls-alpn-01]\n",
        });
        const refused = await startBobcat({ runtime, base, files: FILES, config: only }).then(
          async (s) => (await s.stop(), "started"),
          (e: Error) => e.message,
        );
        expect(refused).toContain("exited with 1 before listening");
        expect(refused).toContain("ACME TLS-ALPN-01 as the only way to validate");
        expect(refused).toContain("run bobcat on Bun or Node");
        const s = await startBobcat({
          runtime,
          base,
          config: config({
            tlsPort,
            httpPort,
            pebble,
            name: "alpn.test",
            acme: "                challengeTypes: [tls-alpn-01, http-01]\n",
          }),
          connectors: 2,
        });
        try {
          // The challenge line is logged just after the listeners report: wait for it.
          await waitFor(() => s.output().includes("challenges: "));
          expect(s.output()).toMatch(
            /challenges: http-01 \(http-01 on .*; tls-alpn-01 not answered: no back-end of Deno/,
          );
          if (!(await waitFor(() => s.output().includes("certificate obtained")))) throw new Error(s.output());
          expect((await curlVerified(pebble, base, tlsPort, "alpn.test")).stdout).toBe("hello over acme");
        } finally {
          expect(await s.stop()).toBe(0);
          await pebble.destroy();
        }
      }, T);
    } else {
      test("TLS-ALPN-01 only: answered on the TLS connector (node-compat), then the real certificate", async () => {
        const [tlsPort, unusedHttp] = [await freePort(), await freePort()];
        // Pebble validates acme-tls/1 on bobcat's TLS port; nothing listens on its HTTP-01 port.
        const pebble = await startPebble({ httpPort: unusedHttp, tlsPort });
        const base = tempDir();
        dirs.push(base);
        const s = await startBobcat({
          runtime,
          base,
          files: FILES,
          config: config({
            tlsPort,
            pebble,
            name: "alpn.test",
            acme: "                challengeTypes: [tls-alpn-01]\n",
          }),
        });
        try {
          // Bun.serve cannot answer acme-tls/1: the plan puts the connector on node-compat.
          expect(s.output()).toContain("node-compat back-end");
          await waitFor(() => s.output().includes("challenges: "));
          expect(s.output()).toMatch(/alpn\.test: ACME .*; challenges: tls-alpn-01 \(.*tls-alpn-01 on /);
          if (!(await waitFor(() => s.output().includes("certificate obtained")))) {
            throw new Error(s.output() + pebble.log().slice(-3000));
          }
          expect(s.output()).toContain("answering an acme-tls/1 validation for alpn.test");
          const r = await curlVerified(pebble, base, tlsPort, "alpn.test");
          expect(r.stderr).toBe("");
          expect(r.stdout).toBe("hello over acme");
          // No validation under way: a client offering acme-tls/1 gets no challenge certificate.
          const alpn = await new Promise<string | false>((resolve) => {
            const c = connect({
              host: "127.0.0.1",
              port: tlsPort,
              servername: "alpn.test",
              ALPNProtocols: ["acme-tls/1"],
              rejectUnauthorized: false,
            }, () => {
              resolve(c.alpnProtocol ?? false);
              c.destroy();
            });
            c.on("error", () => resolve(false));
          });
          expect(alpn).not.toBe("acme-tls/1");
          expect(pebble.orders()).toBe(1);
        } finally {
          expect(await s.stop()).toBe(0);
          await pebble.destroy();
        }
      }, T);
    }

    test(
      "External Account Binding: a wrong HMAC key fails clearly (log, acme status); the right one issues",
      async () => {
        const [httpPort, tlsPort] = [await freePort(), await freePort()];
        const hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
        const wrong = "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH";
        // Validation itself is not what this test is about.
        const pebble = await startPebble({ httpPort, tlsPort, eab: { "kid-1": hmac }, alwaysValid: true });
        const base = tempDir();
        dirs.push(base);
        const cfg = (key: string) =>
          config({
            httpPort,
            tlsPort,
            pebble,
            name: "eab.test",
            acme: `                eabKeyId: kid-1\n                eabHmacKey: ${key}\n`,
          });
        let s = await startBobcat({ runtime, base, files: FILES, config: cfg(wrong), connectors: 2 });
        try {
          if (!(await waitFor(() => s.output().includes("ACME order at")))) throw new Error(s.output());
          const failure = s.output().split("\n").find((l) => l.includes("ACME order at"))!;
          expect(failure).toContain("failed (attempt 1)");
          expect(failure).toMatch(/External Account Binding.*eabKeyId.*eabHmacKey/);
          expect(s.output()).not.toContain("certificate obtained");
          expect(await s.stop()).toBe(0);
          // The state is kept in the store: `bobcat acme status` shows it without contacting the CA.
          const status = await runCli(runtime, [
            "acme",
            "status",
            "--config",
            join(base, "conf/server.yaml"),
            "--base",
            base,
          ]);
          expect(status.code).toBe(0);
          expect(status.output).toMatch(/eab\.test\s+acme \(temporary\).*External Account Binding/);
          expect(pebble.orders()).toBe(0);

          writeFileSync(join(base, "conf/server.yaml"), cfg(hmac));
          s = await startBobcat({ runtime, base, config: cfg(hmac), connectors: 2 });
          if (!(await waitFor(() => s.output().includes("certificate obtained")))) throw new Error(s.output());
          expect((await curlVerified(pebble, base, tlsPort, "eab.test")).stdout).toBe("hello over acme");
          expect(pebble.orders()).toBe(1);
        } finally {
          expect(await s.stop()).toBe(0);
          await pebble.destroy();
        }
      },
      T,
    );

    test("DNS-01 for a wildcard name through a dnsHook that sets the TXT record in pebble-challtestsrv", async () => {
      const [httpPort, tlsPort] = [await freePort(), await freePort()];
      const pebble = await startPebble({ httpPort, tlsPort });
      const base = tempDir();
      dirs.push(base);
      const calls = join(base, "hook-calls.txt");
      const hook = `import { appendFileSync } from "node:fs";
const api = ${JSON.stringify(pebble.challtestsrv)};
async function post(path, body) {
  const r = await fetch(api + path, { method: "POST", body: JSON.stringify(body) });
  if (!r.ok) throw new Error(path + ": " + r.status);
}
export async function present(name, value) {
  appendFileSync(${JSON.stringify(calls)}, "present " + name + " " + value + "\\n");
  await post("/set-txt", { host: name + ".", value });
}
export async function cleanup(name, value) {
  appendFileSync(${JSON.stringify(calls)}, "cleanup " + name + "\\n");
  await post("/clear-txt", { host: name + "." });
}
`;
      const s = await startBobcat({
        runtime,
        base,
        files: { ...FILES, "dns-hook.mjs": hook },
        config: config({
          httpPort,
          tlsPort,
          pebble,
          name: "*.example.test",
          acme: "                challengeTypes: [dns-01]\n                dnsHook: dns-hook.mjs\n",
        }),
        connectors: 2,
      });
      try {
        await waitFor(() => s.output().includes("challenges: "));
        expect(s.output()).toContain("*.example.test: ACME");
        expect(s.output()).toMatch(/challenges: dns-01/);
        if (!(await waitFor(() => s.output().includes("certificate obtained")))) {
          throw new Error(s.output() + pebble.log().slice(-3000));
        }
        const log = readFileSync(calls, "utf8");
        expect(log).toMatch(
          /^present _acme-challenge\.example\.test [A-Za-z0-9_-]{43}\ncleanup _acme-challenge\.example\.test\n$/,
        );
        for (const name of ["www.example.test", "api.example.test"]) {
          const r = await curlVerified(pebble, base, tlsPort, name);
          expect(r.stderr).toBe("");
          expect(r.stdout).toBe("hello over acme");
        }
        expect(await servedNames(tlsPort, "www.example.test")).toBe("DNS:*.example.test");
      } finally {
        const code = await s.stop();
        if (code !== 0) throw new Error(`bobcat exited with ${code}:\n${s.output()}`);
        await pebble.destroy();
      }
    }, T);
  });
}
