/**
 * The request boundary on its own: path normalisation as Tomcat's CoyoteAdapter does it, the
 * Host parser, reading the target from what each back-end hands over, and the servlet URL
 * patterns the normalised path is matched against.
 */
import { describe, expect, test } from "bun:test";
import { encodeSegment, normalizePath, parseHost, readTarget } from "../../src/core/request-target.ts";
import { urlPatternMatches, urlPatternProblem } from "../../src/core/constraints.ts";
import type { ConnectionInfo } from "../../src/core/context.ts";
import { loadConfigText } from "../../src/config/load.ts";

const ok = (raw: string) => {
  const n = normalizePath(raw);
  if (!n.ok) throw new Error(`${raw} refused: ${n.reason}`);
  return n;
};

describe("normalizePath", () => {
  test("plain paths come back as they are, without copying", () => {
    for (const p of ["/", "/a", "/a/b/", "/a.b/c-d_e~f", "/x/!$&'()*+,=:@"]) {
      expect(ok(p)).toEqual({ ok: true, path: p, encoded: p, params: null });
    }
  });

  test("decoded once; dot segments resolved; empty segments collapsed (Tomcat's results)", () => {
    const cases: Array<[string, string]> = [
      ["/secs/%73ub/a.txt", "/secs/sub/a.txt"],
      ["/secs//sub/a.txt", "/secs/sub/a.txt"],
      ["//a", "/a"],
      ["/a///b//", "/a/b/"],
      ["/secs/x/../sub/a.txt", "/secs/sub/a.txt"],
      ["/x/../sub/", "/sub/"],
      ["/secs/./sub/./a.txt", "/secs/sub/a.txt"],
      ["/big%2ebin", "/big.bin"],
      ["/a/%2e%2e/b", "/b"],
      ["/a/%2E/b", "/a/b"],
      ["/a/.", "/a"],
      ["/a/..", "/"],
      ["/a/b/..", "/a"],
      ["/a/b/../", "/a/"],
      ["/.", "/"],
      ["/a%2520b", "/a%20b"],
      ["/caf%C3%A9", "/café"],
      ["/a/...", "/a/..."],
      ["/a/.x/..y", "/a/.x/..y"],
    ];
    for (const [raw, path] of cases) expect(`${raw} → ${ok(raw).path}`).toBe(`${raw} → ${path}`);
  });

  test("path parameters come off each segment before decoding and dot resolution", () => {
    const n = ok("/secs/x/..;/sub/a.txt");
    expect(n.path).toBe("/secs/sub/a.txt");
    const s = ok("/app;x=1/b;JSESSIONID=ABC123;y=2/c");
    expect(s.path).toBe("/app/b/c");
    expect(s.params).toEqual(new Map([["x", "1"], ["jsessionid", "ABC123"], ["y", "2"]]));
    expect(ok("/a/;x=1").path).toBe("/a/");
    expect(ok("/a/.;x=1").path).toBe("/a");
    // An encoded ";" is data, not a parameter: it stays in the path (and stays encoded for handlers).
    const enc = ok("/a%3Bjsessionid=1/b");
    expect(enc.path).toBe("/a;jsessionid=1/b");
    expect(enc.params).toBeNull();
    expect(enc.encoded).toBe("/a%3Bjsessionid=1/b");
  });

  test("the canonical encoding keeps pchar and escapes everything else once", () => {
    expect(ok("/a%20b/%41%3b/%7e/%40x").encoded).toBe("/a%20b/A%3B/~/@x");
    expect(ok("/caf%c3%a9/%25").encoded).toBe("/caf%C3%A9/%25");
    expect(encodeSegment("a?b#c d")).toBe("a%3Fb%23c%20d");
    expect(encodeSegment("日本")).toBe("%E6%97%A5%E6%9C%AC");
    // The canonical form is a fixed point.
    for (const raw of ["/a%20b/A%3B/~", "/caf%C3%A9/%25", "/x/!$&'()*+,=:@"]) {
      expect(ok(ok(raw).encoded).encoded).toBe(ok(raw).encoded);
    }
  });

  test("refused: encoded /, \\ and NUL; .. above the root; bad escapes and UTF-8; no leading /; raw characters no path has", () => {
    const refused = [
      "/a%2fb",
      "/a%2Fb",
      "/a%5cb",
      "/a%5Cb",
      "/a%00b",
      "/a\\b",
      "/a\0b",
      "/..",
      "/../a",
      "/a/../..",
      "/%2e%2e/a",
      "/a/%2E%2E/%2e%2e/b",
      "/..;x=1/a",
      "/%",
      "/%4",
      "/%zz",
      "/%C3",
      "/%FF",
      "/%ED%A0%80",
      "/%C0%AF",
      "a/b",
      "",
      "*",
      "/a b",
      "/a<b",
      '/a"b',
      "/a#b",
      "/a{b}",
      "/a|b",
      "/a^b",
      "/a`b",
      "/é",
      "/a\tb",
      "/a\x7fb",
    ];
    for (const raw of refused) {
      expect(`${JSON.stringify(raw)}: ${normalizePath(raw).ok}`).toBe(`${JSON.stringify(raw)}: false`);
    }
  });
});

describe("parseHost", () => {
  test("names, IPv4, bracketed IPv6, with or without a port", () => {
    expect(parseHost("localhost")).toEqual({ hostname: "localhost", port: "" });
    expect(parseHost("WWW.Example.TEST:8443")).toEqual({ hostname: "www.example.test", port: "8443" });
    expect(parseHost("my_service")).toEqual({ hostname: "my_service", port: "" });
    expect(parseHost("example.com.")).toEqual({ hostname: "example.com.", port: "" });
    expect(parseHost("127.0.0.1:80")).toEqual({ hostname: "127.0.0.1", port: "80" });
    expect(parseHost("[::1]")).toEqual({ hostname: "::1", port: "" });
    expect(parseHost("[2001:DB8::1]:443")).toEqual({ hostname: "2001:db8::1", port: "443" });
    // One spelling per address: IPv4-mapped as IPv4, IPv6 compressed.
    expect(parseHost("[::ffff:127.0.0.1]:1")).toEqual({ hostname: "127.0.0.1", port: "1" });
    expect(parseHost("[0:0:0:0:0:0:0:1]")).toEqual({ hostname: "::1", port: "" });
    // RFC 3986: port = *DIGIT, so an empty port is still a host.
    expect(parseHost("a:")).toEqual({ hostname: "a", port: "" });
    expect(parseHost("[::1]:")).toEqual({ hostname: "::1", port: "" });
  });

  test("anything else is no host", () => {
    for (
      const v of [
        "a b",
        "a, b",
        "localhost, evil",
        "a@b",
        "user:pw@a",
        "a/b",
        "a\\b",
        "a?b",
        "a#b",
        ".a",
        "a..b",
        ":80",
        "a:99999",
        "a:8o",
        "a:123456",
        "[::1",
        "[::1]x",
        "[fe80::1%25eth0]",
        "[v1.x]",
        "[1.2.3.4]",
        "[]",
        "é.example",
        "a\tb",
        "<x>",
      ]
    ) {
      expect(`${JSON.stringify(v)}: ${JSON.stringify(parseHost(v))}`).toBe(`${JSON.stringify(v)}: null`);
    }
  });
});

describe("readTarget: from what each back-end hands over", () => {
  const h = (host?: string) => host ?? null;
  const conn: ConnectionInfo = { remoteAddr: "127.0.0.1", remotePort: 1 };

  test("Bun/Deno native: the URL and the Host header", () => {
    const t = readTarget("http://localhost:8080/a/../b;x=1?q=1", h("localhost:8080"), conn);
    expect(t).toEqual({
      ok: true,
      host: { hostname: "localhost", port: "8080" },
      rawPath: "/a/../b;x=1",
      search: "?q=1",
      urlPath: "/a/../b;x=1",
      origin: "http://localhost:8080",
    });
  });

  test('Bun joins two Host headers with ", ": refused', () => {
    expect(readTarget("http://a/x", h("a, b"), conn).ok).toBe(false);
  });

  test("Bun gives a path-only URL without Host: the default host serves it", () => {
    const t = readTarget("/x?y", h(), conn);
    expect(t).toEqual({ ok: true, host: undefined, rawPath: "/x", search: "?y", urlPath: "/x", origin: "" });
  });

  test("Deno: the URL of an absolute-form target names another host than Host → refused", () => {
    expect(readTarget("http://evil.example/x", h("localhost"), conn).ok).toBe(false);
    expect(readTarget("http://LOCALHOST/x", h("localhost:80"), conn).ok).toBe(true);
    // Deno builds the URL from an invalid Host as it is: the Host is refused before the path is looked for.
    expect(readTarget("http://a/b/x", h("a/b"), conn).ok).toBe(false);
  });

  test("after a request whose Host and URL agreed, the next ones are still checked (the shortcut needs both strings whole)", () => {
    const into = { ok: true, host: undefined, rawPath: "", search: "", urlPath: "", origin: "" } as const;
    const first = readTarget("http://good.example:8080/a?x", h("good.example:8080"), conn, { ...into });
    expect(first).toMatchObject({ ok: true, host: { hostname: "good.example", port: "8080" }, rawPath: "/a" });
    // The same Host and origin: the same result as reading them afresh, path and query its own.
    expect(readTarget("http://good.example:8080/b/c?y#z", h("good.example:8080"), conn, { ...into }).ok).toBe(false);
    expect(readTarget("http://good.example:8080/b/c?y", h("good.example:8080"), conn, { ...into })).toEqual({
      ok: true,
      host: { hostname: "good.example", port: "8080" },
      rawPath: "/b/c",
      search: "?y",
      urlPath: "/b/c",
      origin: "http://good.example:8080",
    });
    // The same Host, a URL that only starts like the origin (a longer authority): refused.
    expect(readTarget("http://good.example:80800/x", h("good.example:8080"), conn).ok).toBe(false);
    expect(readTarget("http://good.example:8080.evil/x", h("good.example:8080"), conn).ok).toBe(false);
    // The same origin with another Host (Deno: an absolute-form target): refused.
    expect(readTarget("http://good.example:8080/x", h("evil.example:8080"), conn).ok).toBe(false);
    // Another scheme for the same Host is read afresh.
    expect(readTarget("https://good.example:8080/x", h("good.example:8080"), conn)).toMatchObject({
      ok: true,
      origin: "https://good.example:8080",
    });
  });

  test("Deno without Host: the URL's authority (HTTP/2 :authority, or its listener address)", () => {
    const t = readTarget("https://www.example.test:8443/x", h(), conn);
    expect(t.ok && t.host).toEqual({ hostname: "www.example.test", port: "8443" });
  });

  test("node-compat: raw target, every Host line and the version", () => {
    const c = (extra: Partial<ConnectionInfo>): ConnectionInfo => ({ ...conn, ...extra });
    expect(readTarget("http://a/x", h("a"), c({ target: "/x/..%2f", hostHeaders: ["a"], httpVersion: "HTTP/1.1" })))
      .toMatchObject({ ok: true, rawPath: "/x/..%2f" });
    expect(
      readTarget("http://a/x", h("a, b"), c({ target: "/x", hostHeaders: ["a", "b"], httpVersion: "HTTP/1.1" })).ok,
    ).toBe(false);
    expect(
      readTarget("http://a/x", h("a, a"), c({ target: "/x", hostHeaders: ["a", "a"], httpVersion: "HTTP/1.1" })).ok,
    ).toBe(false);
    expect(readTarget("http://localhost/x", h(), c({ target: "/x", hostHeaders: [], httpVersion: "HTTP/1.1" })).ok)
      .toBe(false);
    expect(readTarget("http://localhost/x", h(), c({ target: "/x", hostHeaders: [], httpVersion: "HTTP/2.0" })).ok)
      .toBe(false);
    expect(readTarget("http://localhost/x", h(), c({ target: "/x", hostHeaders: [], httpVersion: "HTTP/1.0" })))
      .toMatchObject({ ok: true, host: undefined });
    // An empty Host is a Host: fine on HTTP/1.1, the default host serves it.
    expect(readTarget("http://localhost/x", h(""), c({ target: "/x", hostHeaders: [""], httpVersion: "HTTP/1.1" })))
      .toMatchObject({ ok: true, host: undefined });
    const abs = readTarget(
      "http://a/",
      h("a"),
      c({ target: "http://A:80/p/q?z", hostHeaders: ["a"], httpVersion: "HTTP/1.1" }),
    );
    expect(abs).toMatchObject({ ok: true, rawPath: "/p/q", search: "?z" });
    expect(readTarget("http://a/", h("a"), c({ target: "http://b/p", hostHeaders: ["a"], httpVersion: "HTTP/1.1" })).ok)
      .toBe(false);
    expect(readTarget("http://a/", h("a"), c({ target: "ftp://a/p", hostHeaders: ["a"], httpVersion: "HTTP/1.1" })).ok)
      .toBe(false);
    expect(readTarget("http://a/", h("a"), c({ target: "/p#frag", hostHeaders: ["a"], httpVersion: "HTTP/1.1" })).ok)
      .toBe(false);
  });
});

describe("servlet URL patterns (Tomcat's RealmBase matching)", () => {
  test("exact, prefix, extension on the last segment, default, context root", () => {
    const m: Array<[string, string, boolean]> = [
      ["/*", "/anything", true],
      ["/", "/anything", true],
      ["", "/", true],
      ["", "/a", false],
      ["/admin/*", "/admin", true],
      ["/admin/*", "/admin/", true],
      ["/admin/*", "/admin/x/y", true],
      ["/admin/*", "/administrator", false],
      ["/admin/*", "/Admin/x", false],
      ["*.bin", "/big.bin", true],
      ["*.bin", "/a/b/c.bin", true],
      ["*.bin", "/big.BIN", false],
      ["*.bin", "/big.bin/", false],
      ["*.bin", "/x.bin/y", false],
      ["*.bin", "/bin", false],
      ["*.bin", "/a.binx", false],
      ["*.bin", "/a.x.bin", true],
      ["/exact", "/exact", true],
      ["/exact", "/exact/", false],
      ["/exact", "/Exact", false],
    ];
    for (const [p, path, want] of m) expect(`${p} ${path} ${urlPatternMatches(p, path)}`).toBe(`${p} ${path} ${want}`);
  });

  test("patterns that could never match what they say are refused", () => {
    for (const p of ["/*", "/", "", "/a/*", "*.bin", "/exact", "/a.b"]) expect(urlPatternProblem(p)).toBeNull();
    for (const p of ["admin/*", "*.tar.gz", "*.", "*./x", "/a*", "/a/*/b", "*"]) {
      expect(urlPatternProblem(p)).not.toBeNull();
    }
  });

  test("the config refuses them with the file, line and pattern", () => {
    const text = `server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: bobcat:root
                securityConstraints:
                  - urlPatterns: ["/ok/*", "admin/*", "*.tar.gz"]
                    transportGuarantee: CONFIDENTIAL
`;
    let message = "";
    try {
      loadConfigText("/srv/conf/server.yaml", text, { baseDir: "/srv", env: {} });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`/srv/conf/server.yaml:12:`);
    expect(message).toContain(
      `securityConstraints[0].urlPatterns[1]: "admin/*" is not a URL pattern: it must start with "/" or "*."`,
    );
    expect(message).toContain(`urlPatterns[2]: extension pattern "*.tar.gz" can never match`);
    expect(message).not.toContain("urlPatterns[0]");
  });
});
