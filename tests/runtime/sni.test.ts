/** SNI lookup and the Host-against-SNI check, on TLS material built by hand. */
import { describe, expect, test } from "bun:test";
import { securityDifferences, sniHostCheck, sniLookup } from "../../src/runtime/sni.ts";
import type { ConnectorTls, TlsHost } from "../../src/runtime/tls-material.ts";

function host(hostName: string, over: Partial<TlsHost["config"]> = {}, extra: Partial<TlsHost> = {}): TlsHost {
  return {
    hostName,
    certs: [],
    versions: ["TLSv1.2", "TLSv1.3"],
    ciphers: { warnings: [] },
    config: {
      hostName,
      certificateVerification: "none",
      certificateVerificationDepth: 10,
      ocspEnabled: false,
      ocspSoftFail: true,
      ocspTimeout: 15000,
      ...over,
    },
    ...extra,
  } as unknown as TlsHost;
}

const anchor = (byte: number) => ({ rawData: new Uint8Array([byte]).buffer });

describe("sniLookup (Tomcat's rules, for SNI and Host alike)", () => {
  const byName = new Map([
    ["a.example", "A"],
    ["*.example", "WILD"],
    ["*.b.example", "B-WILD"],
  ]);
  test.each([
    ["a.example", "A"],
    ["A.Example", "A"],
    ["a.example.", "A"],
    ["x.example", "WILD"],
    ["x.b.example", "B-WILD"],
    ["x.y.example", "DEFAULT"],
    ["example", "DEFAULT"],
    ["127.0.0.1", "DEFAULT"],
    ["::1", "DEFAULT"],
    ["", "DEFAULT"],
    [undefined, "DEFAULT"],
  ])("%p → %p", (name, want) => {
    expect(sniLookup(byName, "DEFAULT", name)).toBe(want);
  });
});

describe("security settings", () => {
  test("certificates alone do not make two configs differ; unused trust of a 'none' config does not either", () => {
    expect(securityDifferences(host("a"), host("b", {}, { certs: [{} as never] }))).toEqual([]);
    expect(securityDifferences(host("a"), host("b", { certificateVerificationDepth: 3 }))).toEqual([]);
  });
  test("mode, trust, CRL, OCSP, depth, protocols and ciphers do", () => {
    const req = (over: Partial<TlsHost["config"]> = {}, extra: Partial<TlsHost> = {}) =>
      host("r", { certificateVerification: "required", ...over }, {
        trust: { anchors: [anchor(1)], caPems: [], crls: [] } as never,
        ...extra,
      });
    expect(securityDifferences(host("a"), req())).toContain("certificateVerification");
    expect(securityDifferences(req(), req({}, { trust: { anchors: [anchor(2)], caPems: [], crls: [] } as never })))
      .toEqual(["trusted CAs"]);
    expect(
      securityDifferences(req(), req({}, { trust: { anchors: [anchor(1)], caPems: [], crls: [anchor(9)] } as never })),
    ).toEqual(["certificateRevocationListFile"]);
    expect(securityDifferences(req(), req({ ocspEnabled: true }))).toEqual(["ocsp"]);
    expect(securityDifferences(req(), req({ certificateVerificationDepth: 1 }))).toEqual([
      "certificateVerificationDepth",
    ]);
    expect(securityDifferences(host("a"), host("b", {}, { versions: ["TLSv1.3"] }))).toEqual(["protocols"]);
    expect(
      securityDifferences(
        host("a"),
        host("b", {}, { ciphers: { tls12: "ECDHE-RSA-AES256-GCM-SHA384", warnings: [] } }),
      ),
    ).toEqual(["ciphers"]);
    expect(
      securityDifferences(
        req({ certificateVerification: "optional" }),
        req({ certificateVerification: "optionalNoCA" }),
      ),
    ).toEqual(["certificateVerification"]);
  });
});

describe("sniHostCheck", () => {
  const def = host("_default_");
  const prot = host("protected.test", { certificateVerification: "required" }, {
    trust: { anchors: [anchor(1)], caPems: [], crls: [] } as never,
  });
  const twin = host("*.test");
  const tls: ConnectorTls = { hosts: [def, prot, twin], defaultHost: def };

  test("no check at all when every config is equivalent", () => {
    expect(sniHostCheck({ hosts: [def, twin], defaultHost: def })).toBeUndefined();
    expect(sniHostCheck(undefined)).toBeUndefined();
  });

  test("a Host of another, different config is refused; same or equivalent configs pass", () => {
    const check = sniHostCheck(tls)!;
    expect(check("protected.test", { serverName: "protected.test" })).toBeNull();
    expect(check("PROTECTED.test.", { serverName: "protected.test" })).toBeNull();
    expect(check("localhost", { serverName: "other.test" })).toBeNull(); // *.test ≡ default
    expect(check("protected.test", { serverName: "localhost" })).toContain("differs in certificateVerification");
    expect(check("protected.test", { serverName: undefined })).toContain("SNI [none]");
    expect(check("protected.test.", { serverName: "other.test" })).not.toBeNull();
    expect(check("localhost", { serverName: "protected.test" })).not.toBeNull();
    expect(check("127.0.0.1", { serverName: undefined })).toBeNull();
    // A back-end that cannot say which SNI name was used is refused.
    expect(check("localhost", undefined)).not.toBeNull();
  });
});
