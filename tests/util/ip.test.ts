import { describe, expect, test } from "bun:test";
import { isIP } from "node:net";
import { canonicalIp, inRange, isLoopback, parseCidr, parseIp } from "../../src/util/ip.ts";
import { proxyMatcher } from "../../src/core/proxy-valves.ts";
import { DEFAULT_INTERNAL_PROXIES } from "../../src/config/proxy-defaults.ts";

describe("parseIp", () => {
  test("IPv4: four decimal octets 0-255, nothing else", () => {
    expect(canonicalIp("127.0.0.1")).toBe("127.0.0.1");
    expect(canonicalIp("255.255.255.255")).toBe("255.255.255.255");
    for (
      const bad of [
        "127.0.0.1000",
        "127.0.0.256",
        "127.1",
        "127.0.0.01",
        "0x7f.0.0.1",
        "127.0.0.1.",
        " 127.0.0.1",
        "127.0.0.1 ",
        "127.0.0.1:80",
        "<script>",
        "localhost",
        "",
        "1.2.3.-4",
        "١٢٧.0.0.1",
      ]
    ) {
      expect([bad, parseIp(bad)]).toEqual([bad, null]);
    }
  });

  test("IPv6: RFC 5952 canonical text; IPv4-mapped becomes the IPv4 address", () => {
    expect(canonicalIp("0:0:0:0:0:0:0:1")).toBe("::1");
    expect(canonicalIp("2001:DB8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(canonicalIp("2001:0db8:0000:0000:0000:0000:0002:0001")).toBe("2001:db8::2:1");
    expect(canonicalIp("fe80::")).toBe("fe80::");
    expect(canonicalIp("::")).toBe("::");
    expect(canonicalIp("1:0:1:1:1:1:1:1")).toBe("1:0:1:1:1:1:1:1");
    expect(canonicalIp("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(canonicalIp("::FFFF:7f00:2")).toBe("127.0.0.2");
    expect(parseIp("::ffff:10.0.0.1")!.family).toBe(4);
    for (
      const bad of [
        "[::1]",
        "::1::",
        ":::",
        "1:2:3:4:5:6:7:8:9",
        "1::2:3:4:5:6:7:8",
        "12345::",
        "::ffff:127.0.0.1000",
        "1.2.3.4::",
        "fe80::1%eth0",
        "::g",
        "::1 ",
      ]
    ) {
      expect([bad, parseIp(bad)]).toEqual([bad, null]);
    }
    expect(parseIp("fe80::1%eth0", { allowZone: true })!.text).toBe("fe80::1");
  });

  test("agrees with node:net isIP on what is an address (random and edge cases)", () => {
    const samples = [
      "1.2.3.4",
      "01.2.3.4",
      "1.2.3",
      "::",
      "::1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7::",
      "1:2:3:4:5:6::7:8",
      "::ffff:1.2.3.4",
      "1:2:3:4:5:6:1.2.3.4",
      "1:2:3:4:5:6:7:1.2.3.4",
      "::1.2.3.4",
      "a::b::c",
    ];
    for (let i = 0; i < 300; i++) {
      const n = () => String(Math.floor(Math.random() * 300));
      samples.push(`${n()}.${n()}.${n()}.${n()}`);
      const g = () => Math.floor(Math.random() * 0x1ffff).toString(16);
      samples.push(Array.from({ length: 1 + Math.floor(Math.random() * 9) }, g).join(Math.random() < 0.2 ? "::" : ":"));
    }
    for (const s of samples) expect([s, parseIp(s) !== null]).toEqual([s, isIP(s) !== 0]);
  });

  test("ranges and loopback compare bytes", () => {
    const a = (s: string) => parseIp(s)!;
    expect(inRange(a("172.31.255.255"), parseCidr("172.16.0.0/12"))).toBe(true);
    expect(inRange(a("172.32.0.0"), parseCidr("172.16.0.0/12"))).toBe(false);
    expect(inRange(a("fd12::1"), parseCidr("fc00::/7"))).toBe(true);
    expect(inRange(a("fd::1"), parseCidr("fc00::/7"))).toBe(false);
    expect(isLoopback(a("127.200.0.1"))).toBe(true);
    expect(isLoopback(a("::ffff:127.0.0.1"))).toBe(true);
    expect(isLoopback(a("::1"))).toBe(true);
    expect(isLoopback(a("128.0.0.1"))).toBe(false);
    expect(isLoopback(a("::2"))).toBe(false);
    expect(() => parseCidr("10.0.0.0/33")).toThrow();
  });
});

describe("proxy matching on parsed addresses", () => {
  test("the default internalProxies are the private, loopback, link-local and CGNAT ranges", () => {
    const m = proxyMatcher(DEFAULT_INTERNAL_PROXIES)!;
    const yes = [
      "10.1.2.3",
      "192.168.0.1",
      "169.254.1.1",
      "127.0.0.1",
      "100.64.0.1",
      "100.127.255.255",
      "172.16.0.1",
      "172.31.0.1",
      "::1",
      "fe80::1",
      "fc00::1",
      "fdff::1",
      "::ffff:10.0.0.1",
    ];
    const no = ["11.0.0.1", "100.128.0.1", "172.32.0.1", "203.0.113.5", "::2", "fec0::1", "2001:db8::1"];
    for (const s of yes) expect([s, m(parseIp(s)!)]).toEqual([s, true]);
    for (const s of no) expect([s, m(parseIp(s)!)]).toEqual([s, false]);
  });

  test("a configured regex sees the canonical address and the forms Tomcat users write", () => {
    const m = proxyMatcher("10\\.0\\.0\\.\\d+|0:0:0:0:0:0:0:1|::ffff:192\\.0\\.2\\.1|2001:db8::7")!;
    expect(m(parseIp("10.0.0.9")!)).toBe(true);
    expect(m(parseIp("::ffff:10.0.0.9")!)).toBe(true);
    expect(m(parseIp("::1")!)).toBe(true);
    expect(m(parseIp("192.0.2.1")!)).toBe(true);
    expect(m(parseIp("2001:0DB8:0:0:0:0:0:7")!)).toBe(true);
    expect(m(parseIp("10.0.0.99")!)).toBe(true);
    expect(m(parseIp("10.0.1.9")!)).toBe(false);
  });
});
