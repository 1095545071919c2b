/**
 * bobcat's HTTP/1.1 layer on Bun.listen's TLS sockets (src/runtime/bun-listen.ts), Bun only:
 * which connectors get it and which keep node:tls; client certificates with curl and openssl
 * s_client (required, optional, optionalNoCA, certificateVerificationDepth), a body larger than
 * what a socket write takes at once read by a slow client, maxConnections holding a connection
 * before its handshake, and the handshake counts /manager/metrics reports.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { readFileSync, writeFileSync } from "node:fs";
import {
  cleanup,
  clientCertificates,
  curlTls,
  freePort,
  httpGet,
  opensslConnect,
  PKI,
  run,
  type Running,
  sslHostConfig,
  startBobcat,
  tempDir,
  tlsAppConfig,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const APP = `export default { fetch(req, ctx) {
  const path = new URL(req.url).pathname;
  if (path === "/big") return new Response(new Uint8Array(8 * 1024 * 1024).fill(97));
  if (path === "/big-stream") {
    let left = 128;
    return new Response(new ReadableStream({ pull(c) { if (left-- === 0) c.close(); else c.enqueue(new Uint8Array(65536).fill(97)); } }));
  }
  return Response.json({
    peers: ctx.peerCertificates.map((c) => c.subject),
    unverified: ctx.unverifiedPeerCertificates.map((c) => c.subject),
    protocol: ctx.tls?.protocol ?? null,
  });
} };`;

function config(port: number, hosts: string, extra = ""): string {
  return tlsAppConfig(port, hosts, {
    connector: extra,
    contexts: `              - path: ""
                handler: app.ts
              - path: /manager
                handler: bobcat:manager
                loginConfig: { authMethod: BASIC, realmName: m }
                realm:
                  users:
                    - { username: scraper, password: s3cret, roles: [metrics] }
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: ["*"] }]
`,
  });
}

const host = (verification: "required" | "optional" | "optionalNoCA", more = "") =>
  sslHostConfig(undefined, clientCertificates(verification) + more);

async function start(hosts: string, extra = "", env: Record<string, string> = {}) {
  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  const s = await startBobcat({
    runtime: "bun",
    base,
    files: { "app.ts": APP },
    config: config(port, hosts, extra),
    env,
  });
  return { s, port };
}

function curl(port: number, path: string, who?: "alice" | "mallory" | "eve", extra: string[] = []) {
  return curlTls(port, { path, who, args: extra });
}

function sClient(port: number, who: "alice" | "eve" | undefined, version: string) {
  return opensslConnect(port, {
    servername: "localhost",
    caFile: join(PKI, "ca.pem"),
    who,
    args: ["-quiet", "-ign_eof", version],
    stdin: httpGet(),
  });
}

const on = (s: Running) => /; on (bobcat HTTP\/1\.1 on [\w.:]+);/.exec(s.output())?.[1];

describe("bobcat's HTTP/1.1 on Bun.listen (Bun)", () => {
  test("one SSLHostConfig runs on Bun.listen; two, WebSockets or BOBCAT_BUN_LISTEN=0 keep node:tls", async () => {
    const one = await start(host("required"));
    const two = await start(
      `${host("required")}\n${sslHostConfig("other.test")}`,
    );
    const ws = await start(host("required"), "          webSocketEnabled: true\n");
    const off = await start(host("required"), "", { BOBCAT_BUN_LISTEN: "0" });
    try {
      expect(on(one.s)).toBe("bobcat HTTP/1.1 on Bun.listen");
      expect(on(two.s)).toBe("bobcat HTTP/1.1 on node:tls");
      expect(on(ws.s)).toBe("bobcat HTTP/1.1 on node:tls");
      expect(on(off.s)).toBe("bobcat HTTP/1.1 on node:tls");
      // The same answers on both layers.
      for (const { port } of [one, off]) {
        const ok = await curl(port, "/", "alice");
        expect(ok.code).toBe("200");
        expect(JSON.parse(ok.body).peers).toEqual([
          "C=JP, O=bobcat test, CN=alice",
          "C=JP, O=bobcat test, CN=bobcat Test Client CA",
        ]);
        expect((await curl(port, "/")).code).toBe("000");
        expect((await curl(port, "/", "eve")).code).toBe("000");
      }
    } finally {
      for (const x of [one, two, ws, off]) expect(await x.s.stop()).toBe(0);
    }
  });

  test("required: openssl s_client with alice's certificate is served, without one or with eve's refused", async () => {
    const { s, port } = await start(host("required"));
    try {
      for (const v of ["-tls1_2", "-tls1_3"]) {
        const ok = await sClient(port, "alice", v);
        expect(ok.stdout).toContain("HTTP/1.1 200");
        expect(JSON.parse(ok.stdout.slice(ok.stdout.indexOf("{"))).protocol).toBe(
          v === "-tls1_2" ? "TLSv1.2" : "TLSv1.3",
        );
        expect((await sClient(port, undefined, v)).stdout).not.toContain("HTTP/1.1");
        expect((await sClient(port, "eve", v)).stdout).not.toContain("HTTP/1.1");
      }
      expect(s.output()).toContain("is not trusted");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  test("optional and optionalNoCA: no certificate gets in; an untrusted one only with optionalNoCA, unverified", async () => {
    const optional = await start(host("optional"));
    const noCa = await start(host("optionalNoCA"));
    try {
      expect(on(optional.s)).toBe("bobcat HTTP/1.1 on Bun.listen");
      const none = await curl(optional.port, "/");
      expect(none.code).toBe("200");
      expect(JSON.parse(none.body).peers).toEqual([]);
      expect(JSON.parse((await curl(optional.port, "/", "alice")).body).peers[0]).toContain("CN=alice");
      expect((await curl(optional.port, "/", "eve")).code).toBe("000");
      const eve = await curl(noCa.port, "/", "eve");
      expect(eve.code).toBe("200");
      // optionalNoCA lets any certificate in, and handlers never see it as verified.
      expect(JSON.parse(eve.body).peers).toEqual([]);
      expect(JSON.parse(eve.body).unverified[0]).toContain("CN=eve");
    } finally {
      expect(await optional.s.stop()).toBe(0);
      expect(await noCa.s.stop()).toBe(0);
    }
  });

  test("certificateVerificationDepth and CRLs are checked by bobcat on the chain Bun verified", async () => {
    // carol's chain as the client sends it: carol <- a client intermediate CA <- the client CA
    // (trusted): three certificates, which depth 1 refuses and depth 2 lets in.
    const dir = tempDir();
    dirs.push(dir);
    const ext = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const sh = async (...cmd: string[]) => expect((await run(cmd, { cwd: dir })).code).toBe(0);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await sh(
      "openssl",
      "req",
      "-new",
      ...ec,
      "-keyout",
      "inter-key.pem",
      "-subj",
      "/CN=client inter",
      "-out",
      "inter.csr",
    );
    await sh(
      "openssl",
      "x509",
      "-req",
      "-in",
      "inter.csr",
      "-CA",
      join(PKI, "client-ca.pem"),
      "-CAkey",
      join(PKI, "client-ca-key.pem"),
      "-set_serial",
      "7001",
      "-days",
      "2",
      "-out",
      "inter.pem",
      "-extfile",
      ext("inter.ext", "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n"),
    );
    await sh("openssl", "req", "-new", ...ec, "-keyout", "carol-key.pem", "-subj", "/CN=carol", "-out", "carol.csr");
    await sh(
      "openssl",
      "x509",
      "-req",
      "-in",
      "carol.csr",
      "-CA",
      "inter.pem",
      "-CAkey",
      "inter-key.pem",
      "-set_serial",
      "7002",
      "-days",
      "2",
      "-out",
      "carol.pem",
      "-extfile",
      ext("carol.ext", "basicConstraints=CA:false\nextendedKeyUsage=clientAuth\n"),
    );
    writeFileSync(
      join(dir, "carol-chain.pem"),
      readFileSync(join(dir, "carol.pem"), "utf8") + readFileSync(join(dir, "inter.pem"), "utf8"),
    );
    const carol = ["--cert", join(dir, "carol-chain.pem"), "--key", join(dir, "carol-key.pem")];
    const shallow = await start(host("required", "              certificateVerificationDepth: 1\n"));
    const deep = await start(
      host(
        "required",
        `              certificateVerificationDepth: 2\n              certificateRevocationListFile: ${PKI}/client-crl.pem\n`,
      ),
    );
    try {
      expect((await curl(shallow.port, "/", undefined, carol)).code).toBe("000");
      expect(shallow.s.output()).toContain("more than certificateVerificationDepth 1");
      expect((await curl(shallow.port, "/", "alice")).code).toBe("200");
      const ok = await curl(deep.port, "/", undefined, carol);
      expect(ok.code).toBe("200");
      expect(JSON.parse(ok.body).peers).toEqual([
        "CN=carol",
        "CN=client inter",
        "C=JP, O=bobcat test, CN=bobcat Test Client CA",
      ]);
      expect((await curl(deep.port, "/", "mallory")).code).toBe("000");
      expect(deep.s.output()).toContain("is revoked by the CRL");
    } finally {
      expect(await shallow.s.stop()).toBe(0);
      expect(await deep.s.stop()).toBe(0);
    }
  });

  test("an 8 MB answer (in memory or streamed) reaches a client that reads slowly, then the connection serves the next request", async () => {
    const { s, port } = await start(host("required"));
    try {
      for (const path of ["/big", "/big-stream"]) {
        const client = connect({
          host: "127.0.0.1",
          port,
          servername: "localhost",
          ca: readFileSync(join(PKI, "ca.pem")),
          cert: readFileSync(join(PKI, "alice.pem")),
          key: readFileSync(join(PKI, "alice-key.pem")),
        });
        const got = await new Promise<string>((resolve, reject) => {
          let text = "";
          let paused = false;
          client.on("secureConnect", () => {
            client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n`);
          });
          client.on("data", (d: Buffer) => {
            text += d.toString("latin1");
            // Read in bursts, so that the server's writes wait for drain.
            if (!paused) {
              paused = true;
              client.pause();
              setTimeout(() => {
                paused = false;
                client.resume();
              }, 20);
            }
            if (text.includes('"peers"')) resolve(text);
          });
          client.on("error", reject);
          setTimeout(() => resolve(text), 20000);
        });
        (client as TLSSocket).destroy();
        // A body in memory goes with its Content-Length, a stream chunked: undo the framing, then
        // the next answer follows.
        const first = got.indexOf("\r\n\r\n") + 4;
        const head = got.slice(0, first);
        let at = first;
        let body = 0;
        let as = true;
        if (path === "/big") {
          expect(head).toContain("content-length: 8388608\r\n");
          as = /^a+$/.test(got.slice(at, at + 8388608));
          body = Math.min(8388608, got.length - at);
          at += 8388608 - 2;
        } else {
          expect(head).toContain("transfer-encoding: chunked");
          for (;;) {
            const eol = got.indexOf("\r\n", at);
            const size = parseInt(got.slice(at, eol), 16);
            at = eol + 2;
            if (size === 0) break;
            as &&= /^a+$/.test(got.slice(at, at + size));
            body += size;
            at += size + 2;
          }
        }
        expect({ path, body }).toEqual({ path, body: 8388608 });
        expect(as).toBe(true);
        expect(got.slice(at + 2)).toMatch(/^HTTP\/1\.1 200/);
      }
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  test("maxConnections 1: a second client is held before its handshake until the first leaves", async () => {
    const { s, port } = await start(host("required"), "          maxConnections: 1\n          acceptCount: 1\n");
    try {
      const open = () =>
        connect({
          host: "127.0.0.1",
          port,
          servername: "localhost",
          ca: readFileSync(join(PKI, "ca.pem")),
          cert: readFileSync(join(PKI, "alice.pem")),
          key: readFileSync(join(PKI, "alice-key.pem")),
        });
      const first = open();
      await new Promise((r) => first.once("secureConnect", r));
      const second = open();
      let secured = false;
      second.once("secureConnect", () => (secured = true));
      await Bun.sleep(500);
      expect(secured).toBe(false);
      first.destroy();
      const until = Date.now() + 5000;
      while (!secured && Date.now() < until) await Bun.sleep(20);
      expect(secured).toBe(true);
      // A held client that leaves before its turn gives its place back.
      const third = open();
      await Bun.sleep(300);
      third.destroy();
      await Bun.sleep(300);
      second.destroy();
      const fourth = open();
      const admitted = await new Promise<boolean>((r) => {
        fourth.once("secureConnect", () => r(true));
        setTimeout(() => r(false), 5000);
      });
      fourth.destroy();
      expect(admitted).toBe(true);
      expect(s.output()).toContain("maxConnections (1) reached");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  test("/manager/metrics counts its handshakes and refused ones", async () => {
    const { s, port } = await start(host("optional"));
    try {
      expect((await curl(port, "/", "alice")).code).toBe("200");
      expect((await curl(port, "/", "eve")).code).toBe("000");
      const m = await curl(port, "/manager/metrics", "alice", ["-u", "scraper:s3cret"]);
      expect(m.code).toBe("200");
      const n = Number(/bobcat_tls_handshakes_total\{[^}]*\} (\d+)/.exec(m.body)?.[1]);
      // alice, eve (refused after its handshake, by bobcat) and this scrape.
      expect(n).toBeGreaterThanOrEqual(3);
      expect(m.body).toMatch(/bobcat_connections_open\{[^}]*\} [1-9]/);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});
