/**
 * Client certificates on Bun.serve itself (certificateVerification: required, the application
 * not reading the chain): refused in the handshake without a certificate or with one from
 * another CA, served with a trusted one, on every SNI name; what still needs node-compat
 * (the chain for handlers or CLIENT-CERT, SSLHostConfigs whose trust differs) goes there, with
 * its security properties. Deno keeps node-compat for every client-certificate connector.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  cleanup,
  clientCertificates,
  curlTls,
  freePort,
  HTTP2_CONNECTOR,
  httpGet,
  localhostCertificate,
  NATIVE_VERIFICATION,
  opensslConnect,
  PKI,
  type Running,
  type Runtime,
  sslHostConfig,
  startBobcat,
  tempDir,
  tlsAppConfig,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const APP = `export default { fetch(req, ctx) {
  const path = new URL(req.url).pathname;
  if (path === "/peers") return Response.json({ peers: ctx.peerCertificates.map((c) => c.subject) });
  return Response.json({ user: ctx.principal?.name ?? null, host: ctx.serverName });
} };`;

/** One TLS connector with HTTP/2; `context`: app.ts's context lines (by default it does not read the peer's chain). */
function config(
  port: number,
  sslHostConfigs: string,
  context = "                needsPeerCertificates: false",
): string {
  return tlsAppConfig(port, sslHostConfigs, {
    ...NATIVE_VERIFICATION,
    connector: HTTP2_CONNECTOR,
    context: `${context}\n`,
  });
}

const required = (hostName: string, ca: string) => sslHostConfig(hostName, clientCertificates("required", ca));

async function start(runtime: Runtime, cfg: (port: number) => string): Promise<{ s: Running; port: number }> {
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  const s = await startBobcat({ runtime, base, files: { "app.ts": APP }, config: cfg(port) });
  return { s, port };
}

/** curl to `sni` (the URL's host), optionally with another Host header and a client certificate. */
function curl(port: number, sni: string, who?: "alice" | "eve", opts: { path?: string; host?: string } = {}) {
  return curlTls(port, { sni, who, ...opts });
}

describe("client certificates on the native Bun.serve back-end", () => {
  test("required: no certificate and another CA's are refused in the handshake, a trusted one is served, on each SNI name", async () => {
    // Two SNI names with the same trust (only the name differs): one Bun.serve, requestCert per name.
    const { s, port } = await start(
      "bun",
      (p) => config(p, `${required("_default_", "client-ca.pem")}\n${required("www.localhost", "client-ca.pem")}`),
    );
    try {
      expect(s.output()).toContain("native Bun.serve");
      expect(s.output()).toContain("client certificates verified in the handshake");
      for (const sni of ["localhost", "www.localhost"]) {
        const ok = await curl(port, sni, "alice");
        expect(ok.code).toBe("200");
        expect(JSON.parse(ok.body).user).toBeNull();
        // No HTTP answer at all: the handshake refuses the connection.
        expect((await curl(port, sni)).code).toBe("000");
        expect((await curl(port, sni, "eve")).code).toBe("000");
      }
      // No SNI at all (an IP literal): the default SSLHostConfig's trust.
      const r = await opensslConnect(port, { servername: null, who: "alice", args: ["-quiet"], stdin: httpGet() });
      expect(r.stdout).toContain("HTTP/1.1 200");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  test("a handler that reads ctx.peerCertificates there gets an error naming needsPeerCertificates; by default, node-compat passes the chain", async () => {
    const native = await start("bun", (p) => config(p, required("_default_", "client-ca.pem")));
    try {
      expect(native.s.output()).toContain("native Bun.serve");
      expect((await curl(native.port, "localhost", "alice", { path: "/peers" })).code).toBe("500");
      expect(native.s.output()).toContain("remove needsPeerCertificates: false from the context");
    } finally {
      await native.s.stop();
    }
    const compat = await start(
      "bun",
      (p) => config(p, required("_default_", "client-ca.pem"), ""),
    );
    try {
      expect(compat.s.output()).toContain("node-compat back-end, because the native one cannot do:");
      expect(compat.s.output()).toContain("the client certificate chain passed to handlers");
      const r = await curl(compat.port, "localhost", "alice", { path: "/peers" });
      expect(r.code).toBe("200");
      expect(JSON.parse(r.body).peers[0]).toContain("CN=alice");
      expect((await curl(compat.port, "localhost")).code).toBe("000");
    } finally {
      await compat.s.stop();
    }
  });

  test("CLIENT-CERT login still gets the verified chain (node-compat): the subject DN is the user", async () => {
    const { s, port } = await start(
      "bun",
      (p) =>
        config(
          p,
          required("_default_", "client-ca.pem"),
          `                loginConfig: { authMethod: CLIENT-CERT }
                realm:
                  users:
                    - username: "CN=alice, O=bobcat test, C=JP"
                      roles: [manager]
                securityConstraints:
                  - urlPatterns: ["/admin/*"]
                    authRoles: [manager]`,
        ),
    );
    try {
      expect(s.output()).toContain("the client certificate chain passed to handlers");
      const admin = await curl(port, "localhost", "alice", { path: "/admin/x" });
      expect(admin.code).toBe("200");
      expect(JSON.parse(admin.body).user).toBe("CN=alice, O=bobcat test, C=JP");
      expect((await curl(port, "localhost", "eve", { path: "/admin/x" })).code).toBe("000");
    } finally {
      await s.stop();
    }
  });

  test("SNI names whose trust differs stay on node-compat: each name trusts its own CA, and SNI≠Host is 421", async () => {
    // www.localhost trusts the rogue CA (eve), the default the client CA (alice).
    const { s, port } = await start(
      "bun",
      (p) => config(p, `${required("_default_", "client-ca.pem")}\n${required("www.localhost", "rogue-ca.pem")}`),
    );
    try {
      expect(s.output()).toContain("SSLHostConfigs that differ in client-certificate, trust");
      expect((await curl(port, "localhost", "alice")).code).toBe("200");
      expect((await curl(port, "localhost", "eve")).code).toBe("000");
      expect((await curl(port, "www.localhost", "eve")).code).toBe("200");
      expect((await curl(port, "www.localhost", "alice")).code).toBe("000");
      // eve, let in by www.localhost's trust, asks for the default host's name: refused.
      expect((await curl(port, "www.localhost", "eve", { host: `localhost:${port}` })).code).toBe("421");
    } finally {
      await s.stop();
    }
  });

  test("optional certificates and CRLs stay on node-compat (Bun.serve cannot refuse only untrusted ones, nor check CRLs as Tomcat does)", async () => {
    const { s, port } = await start(
      "bun",
      (p) =>
        config(
          p,
          `            - certificateVerification: optional
              caCertificateFile: ${PKI}/client-ca.pem
              certificateRevocationListFile: ${PKI}/client-crl.pem
              certificates:
                - ${localhostCertificate()}`,
        ),
    );
    try {
      expect(s.output()).toContain("optional client certificates");
      expect(s.output()).toContain("client certificate revocation checks");
      expect((await curl(port, "localhost")).code).toBe("200");
      expect((await curl(port, "localhost", "alice")).code).toBe("200");
      expect((await curl(port, "localhost", "eve")).code).toBe("000");
    } finally {
      await s.stop();
    }
  });
});

test("deno: a required client-certificate connector stays on node-compat (Deno.serve ignores requestCert and ca)", async () => {
  const { s, port } = await start("deno", (p) => config(p, required("_default_", "client-ca.pem")));
  try {
    expect(s.output()).toContain("node-compat back-end, because the native one cannot do:");
    expect((await curl(port, "localhost", "alice")).code).toBe("200");
    expect((await curl(port, "localhost")).code).toBe("000");
    expect((await curl(port, "localhost", "eve")).code).toBe("000");
  } finally {
    await s.stop();
  }
});
