/**
 * SNI name against Host header, attacked the way the attack run did, under Bun and Deno: a TLS
 * connection set up for an unchecked SSLHostConfig must not carry requests for a host whose
 * SSLHostConfig checks client certificates (421 Misdirected Request), whether the client sends
 * no SNI, another SNI, reuses an HTTP/1.1 or HTTP/2 connection, or spells the Host differently;
 * and a certificate nobody verified (optionalNoCA, a self-signed one with a realm user's DN) is
 * never a login nor `ctx.peerCertificates`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:http2";
import { join } from "node:path";
import {
  CA_PEM,
  cleanup,
  curlTls,
  freePort,
  localhostCertificate,
  opensslConnect,
  PKI,
  run,
  type Running,
  type Runtime,
  RUNTIMES,
  startBobcat,
  tempDir,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const APP = `export default { fetch(req, ctx) {
  return Response.json({
    host: ctx.serverName,
    peers: ctx.peerCertificates.map((c) => c.subject),
    unverified: (ctx.unverifiedPeerCertificates ?? []).map((c) => c.subject),
    user: ctx.principal?.name ?? null,
  });
} };`;

const rsa = localhostCertificate("rsa");
const ec = localhostCertificate("ec");

/** CLIENT-CERT login for /admin/*, with alice (by subject DN) as the realm's manager. */
const clientCertContext = `                loginConfig: { authMethod: CLIENT-CERT }
                realm:
                  users:
                    - username: "CN=alice, O=bobcat test, C=JP"
                      roles: [manager]
                securityConstraints:
                  - urlPatterns: ["/admin/*"]
                    authRoles: [manager]`;

/**
 * localhost: no client certificates (the default config). www.localhost: required, trusting the
 * test client CA. noca.localhost: optionalNoCA. *.localhost: like the default but another
 * certificate (equivalent, so requests may cross between them).
 */
function config(port: number): string {
  return `server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          upgradeProtocols: [{ className: Http2Protocol }]
          sslHostConfigs:
            - hostName: _default_
              certificates:
                - ${rsa}
            - hostName: www.localhost
              certificateVerification: required
              caCertificateFile: ${PKI}/client-ca.pem
              certificates:
                - ${rsa}
            - hostName: noca.localhost
              certificateVerification: optionalNoCA
              certificates:
                - ${rsa}
            - hostName: "*.localhost"
              certificates:
                - ${ec}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.ts
          - name: www.localhost
            contexts:
              - path: ""
                handler: app.ts
${clientCertContext}
          - name: noca.localhost
            contexts:
              - path: ""
                handler: app.ts
${clientCertContext}
`;
}

let forged: { cert: string; key: string };
beforeAll(async () => {
  // What an attacker makes in a second: a self-signed certificate with the realm user's DN.
  const dir = tempDir();
  dirs.push(dir);
  forged = { cert: join(dir, "forged.pem"), key: join(dir, "forged-key.pem") };
  const r = await run([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/C=JP/O=bobcat test/CN=alice",
    "-keyout",
    forged.key,
    "-out",
    forged.cert,
  ]);
  expect(r.code).toBe(0);
});

const alice = { cert: join(PKI, "alice.pem"), key: join(PKI, "alice-key.pem") };

/** Raw HTTP/1.1 over `openssl s_client`: the SNI name (null = none) and the bytes are ours. */
async function sClient(
  port: number,
  sni: string | null,
  request: string,
  cert?: { cert: string; key: string },
): Promise<string> {
  const r = await opensslConnect(port, {
    servername: sni || null,
    args: [...(cert ? ["-cert", cert.cert, "-key", cert.key] : []), "-quiet"],
    stdin: request,
  });
  return r.stdout;
}

const get = (host: string, path = "/", close = true) =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${close ? "Connection: close\r\n" : ""}\r\n`;
// A status line follows the previous body directly when that body has a Content-Length.
const statuses = (out: string) => [...out.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
const bodyOf = (out: string) => JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1));

/** curl: the URL's host is the SNI name; extra arguments add a Host header, a certificate, ... */
async function curl(port: number, urlHost: string, extra: string[] = []) {
  const { code, body } = await curlTls(port, { sni: urlHost, args: extra });
  return { code, body };
}

/** Several requests on one HTTP/2 connection whose SNI name is `servername`; returns each status. */
async function h2(
  port: number,
  servername: string,
  authorities: string[],
  cert?: { cert: string; key: string },
): Promise<number[]> {
  const { readFileSync } = await import("node:fs");
  const session = connect(`https://127.0.0.1:${port}`, {
    servername,
    ca: CA_PEM,
    ...(cert ? { cert: readFileSync(cert.cert, "utf8"), key: readFileSync(cert.key, "utf8") } : {}),
  });
  const timer = setTimeout(() => session.destroy(), 15000);
  try {
    const out: number[] = [];
    for (const authority of authorities) {
      out.push(
        await new Promise<number>((resolve, reject) => {
          const req = session.request({ ":method": "GET", ":path": "/", ":authority": authority });
          let status = 0;
          req.on("response", (h) => (status = Number(h[":status"])));
          req.on("data", () => {});
          req.on("end", () => resolve(status));
          req.on("error", reject);
          req.end();
        }),
      );
    }
    return out;
  } finally {
    clearTimeout(timer);
    session.close();
  }
}

for (const runtime of RUNTIMES) {
  describe(`SNI against Host under ${runtime}`, () => {
    let s: Running;
    let port: number;
    beforeAll(async () => {
      const base = tempDir();
      dirs.push(base);
      port = await freePort();
      s = await startBobcat({ runtime, base, files: { "app.ts": APP }, config: config(port) });
    });
    afterAll(async () => {
      expect(await s.stop()).toBe(0);
    });

    test("the legitimate paths work: right SNI + trusted certificate is the realm user; no-certificate host serves without one", async () => {
      expect(s.output()).toContain("node-compat back-end");
      const admin = await curl(port, "www.localhost", ["--cert", alice.cert, "--key", alice.key]);
      expect(admin.code).toBe("200");
      const ok = await run([
        "curl",
        "-sS",
        "--cacert",
        join(PKI, "ca.pem"),
        "--resolve",
        `www.localhost:${port}:127.0.0.1`,
        "--cert",
        alice.cert,
        "--key",
        alice.key,
        `https://www.localhost:${port}/admin/x`,
      ]);
      const body = JSON.parse(ok.stdout);
      expect(body.host).toBe("www.localhost");
      expect(body.user).toBe("CN=alice, O=bobcat test, C=JP");
      expect(body.peers[0]).toContain("CN=alice");
      // Deno's node:tls links the issuer from the trust store only for the server's own context.
      if (runtime === "bun") expect(body.peers[1]).toContain("CN=bobcat Test Client CA");
      // No certificate, or one the client CA did not issue: refused in the handshake.
      expect((await curl(port, "www.localhost")).code).toBe("000");
      expect((await curl(port, "www.localhost", ["--cert", forged.cert, "--key", forged.key])).code).toBe("000");
      const pub = await curl(port, "localhost");
      expect(pub.code).toBe("200");
      expect(JSON.parse(pub.body)).toMatchObject({ host: "localhost", peers: [], unverified: [], user: null });
    });

    test("SNI of the unchecked host (or none) with Host of the protected one: 421, never the protected application", async () => {
      for (const sni of ["localhost", null, "unknown.example", "x.localhost"]) {
        const out = await sClient(port, sni, get("www.localhost"));
        expect(statuses(out)).toEqual(["421"]);
        expect(out).not.toContain('"host"');
      }
      // The realm user's DN in a self-signed certificate, sent to the unchecked host: no login.
      const forgedAdmin = await sClient(port, "localhost", get("www.localhost", "/admin/x"), forged);
      expect(statuses(forgedAdmin)).toEqual(["421"]);
      expect(forgedAdmin).not.toContain("CN=alice");
      // Other spellings of the same host name are the same host.
      for (const host of ["WWW.LocalHost", "www.localhost.", `www.localhost:${port}`]) {
        expect(statuses(await sClient(port, "localhost", get(host)))).toEqual(["421"]);
      }
      // curl: the URL (and so the SNI name) says localhost, the Host header the protected name.
      expect((await curl(port, "localhost", ["-H", "Host: www.localhost"])).code).toBe("421");
      expect((await curl(port, "localhost", ["--http2", "-H", "Host: www.localhost"])).code).toBe("421");
      // optionalNoCA is not the default's "none" either.
      expect(statuses(await sClient(port, "localhost", get("noca.localhost", "/admin/x"), forged))).toEqual(["421"]);
    });

    test("a reused HTTP/1.1 connection is checked on every request, in both directions", async () => {
      const out = await sClient(port, "localhost", get("localhost", "/", false) + get("www.localhost"));
      expect(statuses(out)).toEqual(["200", "421"]);
      // A verified connection for the protected host cannot carry requests for the unchecked one.
      const back = await sClient(port, "www.localhost", get("www.localhost", "/", false) + get("localhost"), alice);
      expect(statuses(back)).toEqual(["200", "421"]);
    });

    test("HTTP/2: each request on one connection is checked against its :authority", async () => {
      expect(await h2(port, "localhost", ["localhost", "www.localhost", "noca.localhost", "localhost"])).toEqual([
        200,
        421,
        421,
        200,
      ]);
      expect(await h2(port, "www.localhost", ["www.localhost", "localhost", "www.localhost"], alice)).toEqual([
        200,
        421,
        200,
      ]);
    });

    test("equivalent SSLHostConfigs (only the certificate differs) still serve each other's names", async () => {
      // x.localhost → *.localhost (EC certificate, no client certificates) ≡ the default.
      expect(statuses(await sClient(port, "x.localhost", get("localhost")))).toEqual(["200"]);
      expect(statuses(await sClient(port, "localhost", get("x.localhost")))).toEqual(["200"]);
      expect(statuses(await sClient(port, null, get("127.0.0.1")))).toEqual(["200"]);
    });

    test("optionalNoCA: a self-signed certificate with a realm user's DN is no login and no peerCertificates", async () => {
      const admin = await sClient(port, "noca.localhost", get("noca.localhost", "/admin/x"), forged);
      expect(statuses(admin)).toEqual(["401"]);
      const page = await sClient(port, "noca.localhost", get("noca.localhost"), forged);
      expect(statuses(page)).toEqual(["200"]);
      const body = bodyOf(page);
      expect(body.peers).toEqual([]);
      expect(body.user).toBeNull();
      // The application can still look at it, explicitly as unverified.
      expect(body.unverified[0]).toContain("CN=alice");
      // Even a certificate the client CA did issue is not verified here: optionalNoCA trusts nobody.
      expect(statuses(await sClient(port, "noca.localhost", get("noca.localhost", "/admin/x"), alice))).toEqual([
        "401",
      ]);
      // The "none" host asks for no certificate, so it shows none, whatever the client sent.
      const none = bodyOf(await sClient(port, "localhost", get("localhost"), forged));
      expect(none).toMatchObject({ peers: [], unverified: [], user: null });
    });
  });
}

describe("SSLHostConfigs that differ only in protocols", () => {
  // The default is TLS 1.3 only; www.localhost also takes TLS 1.2.
  const cfg = (port: number) =>
    `server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          upgradeProtocols: [{ className: Http2Protocol }]
          sslHostConfigs:
            - hostName: _default_
              protocols: "+TLSv1.3"
              certificates:
                - ${rsa}
            - hostName: www.localhost
              certificates:
                - ${rsa}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts: [{ path: "", handler: app.ts }]
          - name: www.localhost
            contexts: [{ path: "", handler: app.ts }]
`;
  const over = async (port: number, sni: string | null, version: string, host: string) =>
    statuses(
      (await opensslConnect(port, { servername: sni || null, args: [version, "-quiet"], stdin: get(host) })).stdout,
    );
  for (const runtime of RUNTIMES as Runtime[]) {
    test(`${runtime}: the back-end that sees SNI is chosen; each host gets its own protocols, and no request crosses to the other`, async () => {
      const base = tempDir();
      dirs.push(base);
      const port = await freePort();
      const s = await startBobcat({ runtime, base, files: { "app.ts": APP }, config: cfg(port) });
      try {
        expect(s.output()).toContain("node-compat back-end, because the native one cannot do:");
        if (runtime === "bun") {
          expect(s.output()).toContain(
            "SSLHostConfigs that differ in client-certificate, trust, protocol or cipher settings",
          );
        }
        expect(await over(port, "localhost", "-tls1_3", "localhost")).toEqual(["200"]);
        expect(await over(port, "localhost", "-tls1_2", "localhost")).toEqual([]);
        expect(await over(port, null, "-tls1_2", "localhost")).toEqual([]);
        expect(await over(port, "www.localhost", "-tls1_2", "www.localhost")).toEqual(["200"]);
        expect(await over(port, "www.localhost", "-tls1_3", "www.localhost")).toEqual(["200"]);
        // A TLS 1.2 connection made for www.localhost cannot carry requests for the TLS 1.3-only host.
        expect(await over(port, "www.localhost", "-tls1_2", "localhost")).toEqual(["421"]);
        expect(await over(port, "www.localhost", "-tls1_3", "localhost")).toEqual(["421"]);
      } finally {
        expect(await s.stop()).toBe(0);
      }
    });
  }
});
