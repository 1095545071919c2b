/**
 * RequestContext keeps what few requests have (a principal, attributes, a proxy's overrides,
 * WebSocket settings, a `;jsessionid=`) in one object made on first use: each of them must read
 * back as set, and a request that sets none of them must read the defaults.
 */
import { describe, expect, test } from "bun:test";
import { NO_CONTEXT, RequestContext, type SessionAccess, type SessionOpener } from "../../src/core/context.ts";
import { cipherKeySize } from "../../src/tls/key-size.ts";

const connector = { name: "c", port: 8443, scheme: "https", secure: true, redirectPort: 8443 } as never;
const conn = { remoteAddr: "10.0.0.1", remotePort: 50000, tls: { cipherSuite: "TLS_AES_128_GCM_SHA256" } } as never;
const newContext = (sessions?: SessionOpener) =>
  new RequestContext(connector, conn, { hostname: "localhost", port: "8443" }, { path: "/app", sessions }, "/app/a");

/** An opener that records what it was asked to open with. */
function recordingOpener(): SessionOpener & { seen: Array<string | null> } {
  const seen: Array<string | null> = [];
  return {
    seen,
    open(_ctx, _req, urlSessionId) {
      seen.push(urlSessionId);
      return { getSession: () => null, changeSessionId: () => "" } as SessionAccess;
    },
  };
}

describe("RequestContext", () => {
  test("defaults when nothing rare was set", () => {
    const ctx = newContext();
    expect([ctx.secure, ctx.scheme, ctx.serverPort, ctx.serverName]).toEqual([true, "https", 8443, "localhost"]);
    // No port in the Host: the connector's; a proxyName and proxyPort win over the Host.
    const portless = new RequestContext(connector, conn, { hostname: "a.test", port: "" }, NO_CONTEXT, "/");
    expect([portless.serverName, portless.serverPort]).toEqual(["a.test", 8443]);
    const proxied = { ...(connector as object), proxyName: "proxy.test", proxyPort: 443 } as never;
    const behind = new RequestContext(proxied, conn, { hostname: "a.test", port: "8080" }, NO_CONTEXT, "/");
    expect([behind.serverName, behind.serverPort]).toEqual(["proxy.test", 443]);
    expect([ctx.contextPath, ctx.requestURI, portless.contextPath]).toEqual(["/app", "/app/a", ""]);
    // Six own fields: 64 bytes in JavaScriptCore, where seven or eight take 80, a session's size
    // (one per request; see tests/core/request-sessions.test.ts).
    expect(Object.keys(ctx).length).toBeLessThanOrEqual(6);
    expect(ctx.principal).toBeNull();
    expect(ctx.remoteAddr).toBe("10.0.0.1");
    expect(ctx.connectionAddr).toBe("10.0.0.1");
    expect(ctx.cipherSuite).toBe("TLS_AES_128_GCM_SHA256");
    expect(ctx.webSockets).toBeUndefined();
    expect(ctx.isUserInRole("admin")).toBe(false);
    ctx.principal = null;
    expect(ctx.principal).toBeNull();
  });

  test("principal: set, login, restore only when none, logout", () => {
    const ctx = newContext();
    ctx.principal = { name: "alice", roles: ["admin"] };
    expect(ctx.principal).toEqual({ name: "alice", roles: ["admin"] });
    expect(ctx.isUserInRole("admin")).toBe(true);
    ctx.restorePrincipal({ name: "bob", roles: [] });
    expect(ctx.principal!.name).toBe("alice");
    ctx.logout();
    expect(ctx.principal).toBeNull();
    ctx.restorePrincipal({ name: "bob", roles: [] });
    expect(ctx.principal!.name).toBe("bob");
    ctx.login("carol", ["user"]);
    expect(ctx.principal).toEqual({ name: "carol", roles: ["user"], authType: "PROGRAMMATIC" });
  });

  test("attributes are one map per request", () => {
    const ctx = newContext();
    ctx.attributes.set("k", 1);
    expect(ctx.attributes.get("k")).toBe(1);
    expect(newContext().attributes.size).toBe(0);
  });

  test("keySize is Tomcat's key_size: the cipher suite's strength in bits, IANA or OpenSSL names", () => {
    const sizes = {
      TLS_AES_256_GCM_SHA384: 256,
      TLS_CHACHA20_POLY1305_SHA256: 256,
      TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 128,
      "ECDHE-RSA-AES256-GCM-SHA384": 256,
      "ECDHE-ECDSA-CHACHA20-POLY1305": 256,
      "AES128-SHA": 128,
      "DES-CBC3-SHA": 112,
      TLS_RSA_WITH_3DES_EDE_CBC_SHA: 112,
      TLS_RSA_WITH_NULL_SHA256: 0,
      "ECDHE-ARIA256-GCM-SHA384": 256,
    };
    for (const [cipherSuite, bits] of Object.entries(sizes)) {
      expect([cipherSuite, cipherKeySize(cipherSuite)]).toEqual([cipherSuite, bits]);
    }
    expect(cipherKeySize("GOST2012-KUZNYECHIK-KUZNYECHIKOMAC")).toBeUndefined();
    expect(cipherKeySize(undefined)).toBeUndefined();
    const plain = new RequestContext(
      connector,
      { remoteAddr: "10.0.0.1", remotePort: 1 } as never,
      {
        hostname: "localhost",
        port: "8443",
      },
      { path: "/app" },
      "/app/a",
    );
    expect(plain.keySize).toBeUndefined();
  });

  test("a proxy's overrides: address, TLS state, transport, server name", () => {
    const ctx = newContext();
    ctx.overrideRemote("192.0.2.7");
    expect(ctx.remoteAddr).toBe("192.0.2.7");
    expect(ctx.connectionAddr).toBe("10.0.0.1");
    ctx.overrideTls({ sslSessionId: "abc" } as never);
    expect(ctx.sslSessionId).toBe("abc");
    expect(ctx.cipherSuite).toBe("TLS_AES_128_GCM_SHA256");
    expect(ctx.keySize).toBe(128);
    ctx.overrideTransport(false, "http", 8080);
    ctx.overrideServerName("example.org");
    expect([ctx.secure, ctx.scheme, ctx.serverPort, ctx.serverName]).toEqual([false, "http", 8080, "example.org"]);
  });

  test("WebSocket settings read back as set", () => {
    const ctx = newContext();
    const ws = { maxSockets: 1 } as never;
    ctx.webSockets = ws;
    expect(ctx.webSockets).toBe(ws);
  });

  test("the deferred session state opens with the URL's session id, or null", () => {
    const req = new Request("https://localhost:8443/a");
    const withId = recordingOpener();
    const a = newContext(withId);
    expect(a.openedSessions).toBeUndefined();
    a.deferSessions(req, "ABC");
    expect(a.openedSessions).toBeUndefined();
    a.getSession(false);
    a.getSession(false);
    expect(withId.seen).toEqual(["ABC"]);
    expect(a.openedSessions).toBeDefined();

    const without = recordingOpener();
    const b = newContext(without);
    b.principal = { name: "alice", roles: [] };
    b.deferSessions(req, null);
    b.getSession(false);
    expect(without.seen).toEqual([null]);

    const none = recordingOpener();
    const c = newContext(none);
    c.deferSessions(req, null);
    c.getSession(false);
    expect(none.seen).toEqual([null]);
  });

  test("the session slot stays as it was when the rare state is made after it", () => {
    const req = new Request("https://localhost:8443/a");
    // Deferred, then something rare: opened once, on first use.
    const deferred = recordingOpener();
    const a = newContext(deferred);
    a.deferSessions(req, "XYZ");
    a.attributes.set("k", 1);
    expect(a.openedSessions).toBeUndefined();
    const opened = a.sessions;
    expect(a.sessions).toBe(opened);
    expect(a.openedSessions).toBe(opened);
    expect(deferred.seen).toEqual(["XYZ"]);
    // Opened, then something rare: the same state, not opened again.
    const first = recordingOpener();
    const b = newContext(first);
    b.deferSessions(req, null);
    const state = b.sessions;
    b.overrideRemote("192.0.2.9");
    b.principal = { name: "bob", roles: [] };
    expect(b.openedSessions).toBe(state);
    expect(b.sessions).toBe(state);
    expect(first.seen).toEqual([null]);
    expect([b.remoteAddr, b.principal!.name, b.attributes.size]).toEqual(["192.0.2.9", "bob", 0]);
    // Set directly (a manager with a store), then something rare.
    const c = newContext();
    const set = { getSession: () => null, changeSessionId: () => "" } as SessionAccess;
    c.sessions = set;
    c.overrideServerName("example.org");
    expect(c.openedSessions).toBe(set);
    expect(c.serverName).toBe("example.org");
  });

  test("a context without sessions: none to get, none to defer", () => {
    const ctx = new RequestContext(connector, conn, { hostname: "a.test", port: "" }, NO_CONTEXT, "/");
    expect(ctx.getSession(false)).toBeNull();
    expect(() => ctx.getSession(true)).toThrow("no session manager");
    expect(() => ctx.deferSessions(new Request("https://a.test/"), null)).toThrow("opens no sessions");
    expect(ctx.openedSessions).toBeUndefined();
  });
});
