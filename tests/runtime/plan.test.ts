import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import { type Feature, planConnector, requiredFeatures } from "../../src/runtime/plan.ts";
import type { ConnectorTls } from "../../src/runtime/tls-material.ts";
import { BobcatError } from "../../src/util/errors.ts";
import { bunListenBlocker, compatServer } from "../../src/runtime/listener.ts";

const connector = (attrs: string) =>
  loadConfigText(
    "/c/s.yaml",
    `server:\n  services:\n    - connectors:\n        - port: 8080\n${attrs}\n      engine:\n        defaultHost: h\n        hosts: [{ name: h, contexts: [{ path: "", handler: "bobcat:root" }] }]\n`,
    { env: {} },
  ).server.services[0]!.connectors[0]!;

describe("back-end planning", () => {
  test("plain HTTP with defaults stays native everywhere it can", () => {
    const c = connector("");
    // The default connectionTimeout (20 s) is enforced everywhere.
    expect(requiredFeatures(c, undefined)).toEqual(["connection-timeout"]);
    expect(planConnector(c, undefined, "bun", "Bun").backend).toBe("native");
    expect(planConnector(c, undefined, "deno", "Deno").backend).toBe("native");
    expect(planConnector(c, undefined, "node", "Node").backend).toBe("node-compat");
  });

  test("connectionTimeout: Bun.serve from 10 s to 255 s, Deno's native back-end any", () => {
    const short = connector("          connectionTimeout: 5000");
    const p = planConnector(short, undefined, "bun", "Bun");
    expect(p.backend).toBe("node-compat");
    expect(p.reason).toContain("a connectionTimeout below 10 s");
    expect(planConnector(short, undefined, "deno", "Deno").backend).toBe("native");
    expect(planConnector(connector("          connectionTimeout: 10000"), undefined, "bun", "Bun").backend).toBe(
      "native",
    );
    const long = connector("          connectionTimeout: 600000");
    expect(planConnector(long, undefined, "bun", "Bun").backend).toBe("node-compat");
    expect(planConnector(long, undefined, "deno", "Deno").backend).toBe("native");
    expect(requiredFeatures(connector("          connectionTimeout: -1"), undefined)).toEqual([]);
  });

  test("maxConnections other than the default needs node-compat on Bun; the reason names it", () => {
    const p = planConnector(connector("          maxConnections: 10"), undefined, "bun", "Bun 1.4");
    expect(p.backend).toBe("node-compat");
    expect(p.reason).toContain("maxConnections");
    expect(planConnector(connector("          maxConnections: 10"), undefined, "deno", "Deno").backend).toBe("native");
  });

  test("a feature no back-end can do is an error naming feature, connector, runtime and who can", () => {
    const tls = {
      hosts: [{
        hostName: "_default_",
        certs: [{}],
        versions: ["TLSv1.2", "TLSv1.3"],
        config: {
          certificateVerification: "none",
          honorCipherOrder: false,
          disableSessionTickets: false,
          sessionTimeout: 86400,
        },
        ciphers: { tls12: "ECDHE-RSA-AES128-GCM-SHA256", warnings: [] },
      }],
    } as unknown as ConnectorTls;
    let err: unknown;
    try {
      planConnector(connector(""), tls, "deno", "Deno 2.9.6");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BobcatError);
    expect((err as Error).message).toContain(
      'TLS feature "a ciphers list" (connector http-nio-8080) is not supported on Deno 2.9.6',
    );
    expect((err as BobcatError).fix).toBe("run bobcat on Bun or Node (--runtime node), or remove the setting");
  });

  test("SSLHostConfigs that differ in security settings need the back-end that sees SNI; equivalent ones do not", () => {
    const c = connector("");
    const h = (hostName: string, versions: string[]) => ({
      hostName,
      certs: [{}],
      versions,
      config: {
        certificateVerification: "none",
        honorCipherOrder: false,
        disableSessionTickets: false,
        sessionTimeout: 86400,
      },
      ciphers: { warnings: [] },
    });
    const same = {
      hosts: [h("_default_", ["TLSv1.2", "TLSv1.3"]), h("a.test", ["TLSv1.2", "TLSv1.3"])],
    } as unknown as ConnectorTls;
    same.defaultHost = same.hosts[0]!;
    expect(planConnector(c, same, "bun", "Bun").backend).toBe("native");
    const differ = {
      hosts: [h("_default_", ["TLSv1.2", "TLSv1.3"]), h("a.test", ["TLSv1.3"])],
    } as unknown as ConnectorTls;
    differ.defaultHost = differ.hosts[0]!;
    const p = planConnector(c, differ, "bun", "Bun");
    expect(p.backend).toBe("node-compat");
    expect(p.features).toContain("sni-host-check");
    expect(p.reason).toContain("SSLHostConfigs that differ in client-certificate, trust, protocol or cipher settings");
  });
  test("client certificates: required stays on Bun.serve; optional, revocation, depth and a chain for handlers need node-compat", () => {
    const c = connector("");
    const host = (config: Record<string, unknown>, crls = 0) => {
      const t = {
        hosts: [{
          hostName: "_default_",
          certs: [{}],
          versions: ["TLSv1.2", "TLSv1.3"],
          trust: { anchors: [], caPems: ["x"], crls: Array(crls).fill({}) },
          config: {
            certificateVerification: "required",
            certificateVerificationDepth: 10,
            honorCipherOrder: false,
            disableSessionTickets: false,
            sessionTimeout: 86400,
            ...config,
          },
          ciphers: { warnings: [] },
        }],
      } as unknown as ConnectorTls;
      t.defaultHost = t.hosts[0]!;
      return t;
    };
    const plain = planConnector(c, host({}), "bun", "Bun");
    expect(plain.backend).toBe("native");
    expect(plain.features).toContain("client-certificates");
    expect(planConnector(c, host({}), "deno", "Deno").backend).toBe("node-compat");
    const cases: Array<[ConnectorTls, Feature]> = [
      [host({ certificateVerification: "optional" }), "optional-client-certificates"],
      [host({ certificateVerification: "optionalNoCA" }), "optional-client-certificates"],
      [host({}, 1), "client-certificate-revocation"],
      [host({ ocspEnabled: true }), "client-certificate-revocation"],
      [host({ certificateVerificationDepth: 3 }), "client-certificate-depth"],
    ];
    for (const [t, feature] of cases) {
      const p = planConnector(c, t, "bun", "Bun");
      expect(p.backend).toBe("node-compat");
      expect(p.features).toContain(feature);
    }
    // CLIENT-CERT or needsPeerCertificates: only where certificates are asked for.
    expect(planConnector(c, host({}), "bun", "Bun", ["client-certificate-chain"]).backend).toBe("node-compat");
    expect(
      planConnector(c, host({ certificateVerification: "none" }), "bun", "Bun", ["client-certificate-chain"]).backend,
    ).toBe("native");
  });

  test("node-compat HTTP/1.1 on Bun runs on Bun.listen with one SSLHostConfig it can serve whole, else node:tls", () => {
    const base = connector("");
    const c = { ...base, SSLEnabled: true } as typeof base;
    const host = (name: string, config: Record<string, unknown> = {}, versions = ["TLSv1.2", "TLSv1.3"]) => ({
      hostName: name,
      certs: [{}],
      versions,
      trust: { anchors: [], caPems: ["x"], crls: [] },
      config: {
        certificateVerification: "optional",
        certificateVerificationDepth: 10,
        honorCipherOrder: false,
        disableSessionTickets: false,
        sessionTimeout: 86400,
        ...config,
      },
      ciphers: { warnings: [] },
    });
    const tls = (...hosts: ReturnType<typeof host>[]) => ({ hosts, defaultHost: hosts[0] }) as unknown as ConnectorTls;
    const on = (t: ConnectorTls, conn = c, runtime: "bun" | "deno" = "bun") =>
      /; on ([^;]+)$/.exec(planConnector(conn, t, runtime, runtime).reason)?.[1];
    expect(on(tls(host("_default_")))).toBe("bobcat HTTP/1.1 on Bun.listen");
    expect(on(tls(host("_default_")), c, "deno")).toBe("bobcat HTTP/1.1 on node:tls");
    expect(bunListenBlocker(c, tls(host("_default_")))).toBeUndefined();
    const blocked: Array<[ConnectorTls, typeof c, string]> = [
      [tls(host("_default_"), host("b.test")), c, "several SSLHostConfigs"],
      [tls(host("_default_")), { ...c, webSocketEnabled: true }, "WebSocket"],
      [tls(host("_default_", { honorCipherOrder: true })), c, "honorCipherOrder"],
      [tls(host("_default_", { sessionTimeout: 60 })), c, "sessionTimeout"],
      [tls(host("_default_", { acme: { challengeTypes: ["http-01"] } })), c, "ACME"],
      [tls(host("_default_", {}, ["TLSv1.1", "TLSv1.2"])), c, "below TLSv1.2"],
    ];
    for (const [t, conn, why] of blocked) {
      expect(bunListenBlocker(conn, t)).toContain(why);
      expect(compatServer(conn, "bun", t)).toBe("node:tls");
    }
    // With Http2Protocol node:http2 serves it, as before.
    expect(
      compatServer(
        { ...c, upgradeProtocols: [{ className: "Http2Protocol" }] } as typeof c,
        "bun",
        tls(host("_default_")),
      ),
    )
      .toBe("node:http2");
  });
});
