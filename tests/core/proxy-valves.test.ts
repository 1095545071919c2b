import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../../src/core/engine.ts";
import { PKI } from "../helpers/bobcat.ts";
import { startedEngine } from "../helpers/engine.ts";

let engine: Engine;
const http = { name: "http-nio-8080", port: 8080, scheme: "http", secure: false, redirectPort: 8443 };

const handlers: Record<string, unknown> = {
  "app:echo": {
    fetch: (_req: Request, ctx: import("../../src/core/context.ts").BobcatContext) =>
      Response.json({
        remoteAddr: ctx.remoteAddr,
        secure: ctx.secure,
        scheme: ctx.scheme,
        serverName: ctx.serverName,
        serverPort: ctx.serverPort,
        peers: ctx.peerCertificates.map((c) => c.subject),
        cipher: ctx.cipherSuite ?? null,
        keySize: ctx.keySize ?? null,
        ssl: ctx.sslSessionId ?? null,
        proxies: ctx.attributes.get("X-Forwarded-By") ?? null,
      }),
  },
};

beforeAll(async () => {
  engine = await startedEngine(
    "/c",
    `
server:
  services:
    - connectors: [{ port: 8080, redirectPort: 8443 }]
      engine:
        defaultHost: localhost
        valves:
          - className: org.apache.catalina.valves.RemoteIpValve
            trustedProxies: "198\\\\.51\\\\.100\\\\.\\\\d+"
            hostHeader: X-Forwarded-Host
          - className: SSLValve
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app:echo
                securityConstraints: [{ urlPatterns: ["/secure/*"], transportGuarantee: CONFIDENTIAL }]
`,
    {
      handlers,
    },
  );
});

afterAll(() => engine.stop());

const call = async (from: string, path: string, headers: Record<string, string> = {}) => {
  const res = await engine.handle(new Request(`http://localhost:8080${path}`, { headers }), http, {
    remoteAddr: from,
    remotePort: 40000,
  });
  return res;
};
const json = async (from: string, path: string, headers: Record<string, string> = {}) =>
  (await call(from, path, headers)).json();

const alicePem = readFileSync(join(PKI, "alice.pem"), "utf8");

describe("RemoteIpValve", () => {
  test("from an internal proxy: client address, https, port 443, CONFIDENTIAL satisfied", async () => {
    const h = {
      "x-forwarded-for": "203.0.113.7, 10.0.0.2",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "www.example.com",
    };
    expect(await json("127.0.0.1", "/", h)).toMatchObject({
      remoteAddr: "203.0.113.7",
      secure: true,
      scheme: "https",
      serverPort: 443,
      serverName: "www.example.com",
    });
    expect((await call("127.0.0.1", "/secure/x", h)).status).toBe(200);
  });

  test("trusted proxies are skipped and listed; the first other address is the client", async () => {
    const j = await json("10.1.2.3", "/", { "x-forwarded-for": "203.0.113.7, 198.51.100.4" });
    expect(j).toMatchObject({ remoteAddr: "203.0.113.7", proxies: "198.51.100.4" });
  });

  test("from an untrusted address the headers are ignored: no spoofing", async () => {
    const h = { "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "https" };
    expect(await json("203.0.113.9", "/", h)).toMatchObject({
      remoteAddr: "203.0.113.9",
      secure: false,
      scheme: "http",
      serverPort: 8080,
    });
    const res = await call("203.0.113.9", "/secure/x", h);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://localhost:8443/secure/x");
  });

  test("forwarded values that are not IP literals are ignored: remoteAddr stays the peer", async () => {
    for (
      const forged of [
        "127.0.0.1000",
        "<script>",
        "127.0.0.1, evil.example",
        "unknown",
        "[::1]",
        "127.0.0.1:8080",
        "0x7f.0.0.1",
        "127.0.0.1000, 10.0.0.7",
        ",",
      ]
    ) {
      expect([forged, (await json("10.9.9.9", "/", { "x-forwarded-for": forged })).remoteAddr]).toEqual([
        forged,
        "10.9.9.9",
      ]);
    }
    // What a client wrote left of the address its proxy appended is never looked at.
    expect(
      (await json("10.9.9.9", "/", { "x-forwarded-for": "127.0.0.1000, <script>, 203.0.113.7, 10.0.0.7" })).remoteAddr,
    ).toBe("203.0.113.7");
  });

  test("forwarded addresses are normalised once: canonical IPv6, IPv4-mapped as IPv4", async () => {
    expect((await json("127.0.0.1", "/", { "x-forwarded-for": "2001:DB8:0:0:0:0:0:1" })).remoteAddr).toBe(
      "2001:db8::1",
    );
    expect((await json("127.0.0.1", "/", { "x-forwarded-for": "::FFFF:203.0.113.7" })).remoteAddr).toBe("203.0.113.7");
    // Every hop a proxy: the leftmost one is the client, as in Tomcat.
    expect((await json("127.0.0.1", "/", { "x-forwarded-for": "127.0.0.1, 10.0.0.1" })).remoteAddr).toBe("127.0.0.1");
  });

  test("a forwarded host that is not a host name is ignored", async () => {
    expect((await json("127.0.0.1", "/", { "x-forwarded-host": "<script>" })).serverName).toBe("localhost");
    expect((await json("127.0.0.1", "/", { "x-forwarded-host": "a.example/../x?y" })).serverName).toBe("localhost");
    expect((await json("127.0.0.1", "/", { "x-forwarded-host": "WWW.Example.com:8443" })).serverName).toBe(
      "www.example.com",
    );
    expect((await json("127.0.0.1", "/", { "x-forwarded-host": "[2001:db8::1]" })).serverName).toBe("[2001:db8::1]");
  });

  test("IPv4-mapped IPv6 peers count as their IPv4 address", async () => {
    expect(await json("::ffff:127.0.0.1", "/", { "x-forwarded-for": "203.0.113.8" })).toMatchObject({
      remoteAddr: "203.0.113.8",
    });
  });
});

describe("SSLValve", () => {
  test("certificate (mod_headers form), cipher and session id from a trusted proxy", async () => {
    const folded = alicePem.trim().replace(/\n/g, " ");
    const j = await json("127.0.0.1", "/", {
      ssl_client_cert: folded,
      ssl_cipher: "ECDHE-RSA-AES128-GCM-SHA256",
      ssl_session_id: "ABCDEF0123",
    });
    expect(j.peers[0]).toContain("CN=alice");
    expect(j.cipher).toBe("ECDHE-RSA-AES128-GCM-SHA256");
    expect(j.keySize).toBe(128); // from the cipher's name when the proxy sends no key size
    expect(j.ssl).toBe("abcdef0123");
    // mod_ssl's SSL_CIPHER_USEKEYSIZE, when the proxy forwards it, is Tomcat's key_size.
    const sized = await json("127.0.0.1", "/", { ssl_cipher: "AES256-SHA", ssl_cipher_usekeysize: "256" });
    expect(sized.keySize).toBe(256);
    const garbage = await json("127.0.0.1", "/", { ssl_cipher: "AES256-SHA", ssl_cipher_usekeysize: "lots" });
    expect(garbage.keySize).toBe(256);
  });

  test("nginx's escaped certificate header works too; (null) means none", async () => {
    expect((await json("10.0.0.1", "/", { ssl_client_escaped_cert: encodeURIComponent(alicePem) })).peers[0]).toContain(
      "CN=alice",
    );
    expect((await json("10.0.0.1", "/", { ssl_client_cert: "(null)" })).peers).toEqual([]);
  });

  test("from an untrusted address the certificate header is ignored, even with a forged X-Forwarded-For", async () => {
    const j = await json("203.0.113.9", "/", {
      ssl_client_cert: alicePem.replace(/\n/g, " "),
      "x-forwarded-for": "127.0.0.1",
    });
    expect(j.peers).toEqual([]);
  });
});
