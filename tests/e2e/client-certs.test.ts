/**
 * Client certificates end to end under Bun and Deno: certificateVerification modes, trust from a
 * PEM file or a keytool truststore, CRL revocation, the verified chain in ctx.peerCertificates,
 * CLIENT-CERT authentication with realm roles, and SSL session tracking.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  cleanup,
  curlTls,
  freePort,
  HTTP2_CONNECTOR,
  httpGet,
  localhostCertificate,
  opensslConnect,
  PKI,
  run,
  type Running,
  type Runtime,
  RUNTIMES,
  startBobcat,
  tempDir,
  tlsAppConfig,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const APP = `export default { fetch(req, ctx) {
  const path = new URL(req.url).pathname;
  if (path === "/track") {
    const s = ctx.getSession();
    const n = (s.getAttribute("n") ?? 0) + 1;
    s.setAttribute("n", n);
    return Response.json({ n, id: s.id, ssl: ctx.sslSessionId });
  }
  if (path === "/logout") {
    ctx.getSession(false)?.invalidate();
    return new Response("bye", { headers: { connection: "close" } });
  }
  return Response.json({
    peers: ctx.peerCertificates.map((c) => c.subject),
    user: ctx.principal?.name ?? null,
    ssl: ctx.sslSessionId ?? null,
    cipher: ctx.cipherSuite ?? null,
    keySize: ctx.keySize ?? null,
  });
} };`;

/**
 * `http2`: with Http2Protocol the connector runs on node:http2 everywhere; without it (HTTP/1.1
 * only) Deno runs it on node:https, Bun still on node:http2 (its node:https has no TLS socket).
 */
function config(port: number, sslHost: string, context = "", http2 = true): string {
  return tlsAppConfig(port, `            - certificates:\n                - ${localhostCertificate()}\n${sslHost}`, {
    connector: http2 ? HTTP2_CONNECTOR : "",
    context: `${context}\n`,
  });
}

async function startWith(
  runtime: Runtime,
  sslHost: string,
  context = "",
  http2 = true,
): Promise<{ s: Running; port: number }> {
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  const s = await startBobcat({
    runtime,
    base,
    files: { "app.ts": APP },
    config: config(port, sslHost, context, http2),
  });
  return { s, port };
}

/** curl with an optional client certificate; returns the HTTP code and body ("000" = refused). */
function curl(port: number, path: string, who?: "alice" | "mallory" | "eve", extra: string[] = []) {
  return curlTls(port, { path, who, args: extra });
}

const trustPem = `              certificateVerification: required
              caCertificateFile: ${PKI}/client-ca.pem
              certificateRevocationListFile: ${PKI}/client-crl.pem`;

for (const runtime of RUNTIMES) {
  for (const http2 of [true, false]) {
    const start = (r: Runtime, sslHost: string, context = "") => startWith(r, sslHost, context, http2);
    describe(`client certificates under ${runtime}${http2 ? " (Http2Protocol)" : " (HTTP/1.1 only)"}`, () => {
      test("required: a trusted certificate gets in and reaches the handler; none, untrusted or revoked do not", async () => {
        const { s, port } = await start(runtime, trustPem);
        try {
          expect(s.output()).toContain("node-compat back-end");
          // HTTP/1.1 only: bobcat's own HTTP/1.1 on Bun.listen (Bun) or node:tls (node's servers
          // with BOBCAT_NODE_HTTP=1).
          expect(s.output()).toContain(
            `on ${
              http2
                ? "node:http2"
                : process.env.BOBCAT_NODE_HTTP !== "1"
                ? `bobcat HTTP/1.1 on ${
                  runtime === "bun" && process.env.BOBCAT_BUN_LISTEN !== "0" ? "Bun.listen" : "node:tls"
                }`
                : runtime === "deno"
                ? "node:https"
                : "node:http2"
            }`,
          );
          // ALPN agrees h2 only with Http2Protocol; a client offering h2 gets http/1.1 otherwise.
          const alpn = await curl(port, "/", "alice", ["-v", "--http2"]);
          expect(alpn.code).toBe("200");
          expect(alpn.stderr).toContain(`ALPN: server accepted ${http2 ? "h2" : "http/1.1"}`);
          expect(JSON.parse(alpn.body).peers[0]).toContain("CN=alice");
          const ok = await curl(port, "/", "alice");
          expect(ok.code).toBe("200");
          const body = JSON.parse(ok.body);
          expect(body.peers[0]).toContain("CN=alice");
          expect(body.peers[1]).toContain("CN=bobcat Test Client CA");
          expect(body.ssl).toMatch(/^[0-9a-f]{64}$/);
          expect(body.cipher).toMatch(/TLS_AES|ECDHE/);
          expect(body.keySize).toBe(/AES_?128/.test(body.cipher) ? 128 : 256); // Tomcat's key_size
          expect((await curl(port, "/")).code).toBe("000");
          expect((await curl(port, "/", "eve")).code).toBe("000");
          expect((await curl(port, "/", "mallory")).code).toBe("000");
          // openssl s_client with -cert/-key, TLS 1.2 and 1.3: the request goes through.
          for (const v of ["-tls1_2", "-tls1_3"]) {
            const r = await opensslConnect(port, {
              servername: "localhost",
              caFile: join(PKI, "ca.pem"),
              who: "alice",
              args: ["-quiet", "-ign_eof", v],
              stdin: httpGet(),
            });
            expect(r.stdout).toContain("HTTP/1.1 200");
            expect(r.stdout).toContain("CN=alice");
          }
        } finally {
          expect(await s.stop()).toBe(0);
        }
      });

      test("optional with a keytool PKCS12 truststore: no certificate is fine, an untrusted one is not", async () => {
        const { s, port } = await start(
          runtime,
          `              certificateVerification: optional\n              truststoreFile: ${PKI}/client-truststore.p12\n              truststorePassword: changeit`,
        );
        try {
          const none = await curl(port, "/");
          expect(none.code).toBe("200");
          expect(JSON.parse(none.body).peers).toEqual([]);
          expect(JSON.parse((await curl(port, "/", "alice")).body).peers[0]).toContain("CN=alice");
          expect((await curl(port, "/", "eve")).code).toBe("000");
        } finally {
          await s.stop();
        }
      });

      test("CLIENT-CERT login: the subject DN is the user, the realm gives roles (401 without a certificate, 403 without the role)", async () => {
        const { s, port } = await start(
          runtime,
          `              certificateVerification: optional\n              truststoreFile: ${PKI}/client-truststore.jks\n              truststorePassword: changeit`,
          `                loginConfig: { authMethod: CLIENT-CERT }
                realm:
                  users:
                    - username: "CN=alice, O=bobcat test, C=JP"
                      roles: [manager]
                securityConstraints:
                  - urlPatterns: ["/admin/*"]
                    authRoles: [manager]
                  - urlPatterns: ["/members/*"]
                    authRoles: ["*"]`,
        );
        try {
          const admin = await curl(port, "/admin/x", "alice");
          expect(admin.code).toBe("200");
          expect(JSON.parse(admin.body).user).toBe("CN=alice, O=bobcat test, C=JP");
          expect((await curl(port, "/admin/x")).code).toBe("401");
          // mallory is trusted here (no CRL) but has no role: 403 for admin, fine for any-user URLs.
          expect((await curl(port, "/admin/x", "mallory")).code).toBe("403");
          expect(JSON.parse((await curl(port, "/members/x", "mallory")).body).user).toBe(
            "CN=mallory, O=bobcat test, C=JP",
          );
          expect((await curl(port, "/public")).code).toBe("200");
        } finally {
          await s.stop();
        }
      });

      test("SSL session tracking: the TLS session is the HTTP session; invalidate + Connection: close ends it", async () => {
        const { s, port } = await start(
          runtime,
          `              certificateVerification: none`,
          `                sessionTrackingModes: [SSL]`,
        );
        try {
          // Two requests on one connection (curl reuses it) share one session, and no cookie is sent.
          const r = await run([
            "curl",
            "-sS",
            "-i",
            "--cacert",
            join(PKI, "ca.pem"),
            `https://localhost:${port}/track`,
            `https://localhost:${port}/track`,
          ]);
          expect(r.stdout).not.toMatch(/set-cookie/i);
          const bodies = [...r.stdout.matchAll(/\{"n":(\d+),"id":"([0-9A-F]+)","ssl":"([0-9a-f]+)"\}/g)];
          expect(bodies.map((m) => m[1])).toEqual(["1", "2"]);
          expect(bodies[0]![2]).toBe(bodies[0]![3]!.toUpperCase());
          // A new connection is a new TLS session, hence a new HTTP session.
          const other = JSON.parse((await curl(port, "/track")).body);
          expect(other.n).toBe(1);
          expect(other.id).not.toBe(bodies[0]![2]);
          // The seed's logout: invalidate and Connection: close; the next request starts afresh.
          const out = await run([
            "curl",
            "-sS",
            "--cacert",
            join(PKI, "ca.pem"),
            `https://localhost:${port}/track`,
            `https://localhost:${port}/logout`,
            `https://localhost:${port}/track`,
          ]);
          const ns = [...out.stdout.matchAll(/"n":(\d+)/g)].map((m) => m[1]);
          expect(ns).toEqual(["1", "1"]);
        } finally {
          await s.stop();
        }
      });
    });
  }
}

test("legacy connector attribute clientAuth=true maps to certificateVerification required (bun)", async () => {
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  const cfg = config(port, "").replace(
    "          SSLEnabled: true\n",
    `          SSLEnabled: true\n          clientAuth: "true"\n          truststoreFile: ${PKI}/client-truststore.p12\n          truststorePass: changeit\n`,
  );
  const s = await startBobcat({ runtime: "bun", base, files: { "app.ts": APP }, config: cfg });
  try {
    expect(s.output()).toContain("legacy connector attribute clientAuth");
    expect((await curl(port, "/", "alice")).code).toBe("200");
    expect((await curl(port, "/")).code).toBe("000");
  } finally {
    await s.stop();
  }
});
