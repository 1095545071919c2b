/**
 * RequestContext keeps what few requests have (a principal, attributes, a proxy's overrides,
 * WebSocket settings, a `;jsessionid=`) in one object made on first use: each of them must read
 * back as set, and a request that sets none of them must read the defaults.
 */
import { describe, expect, test } from "bun:test";
import { RequestContext, type SessionAccess, type SessionOpener } from "../../src/core/context.ts";

const connector = { name: "c", port: 8443, scheme: "https", secure: true, redirectPort: 8443 } as never;
const conn = { remoteAddr: "10.0.0.1", remotePort: 50000, tls: { cipherSuite: "TLS_AES_128_GCM_SHA256" } } as never;
const newContext = () => new RequestContext(connector, conn, { hostname: "localhost", port: "8443" }, "", "/a");

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
    const portless = new RequestContext(connector, conn, { hostname: "a.test", port: "" }, "", "/");
    expect([portless.serverName, portless.serverPort]).toEqual(["a.test", 8443]);
    const proxied = { ...(connector as object), proxyName: "proxy.test", proxyPort: 443 } as never;
    const behind = new RequestContext(proxied, conn, { hostname: "a.test", port: "8080" }, "", "/");
    expect([behind.serverName, behind.serverPort]).toEqual(["proxy.test", 443]);
    // Eight own fields: 80 bytes in JavaScriptCore, where nine would take 112 (one per request).
    expect(Object.keys(ctx).length).toBeLessThanOrEqual(8);
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

  test("a proxy's overrides: address, TLS state, transport, server name", () => {
    const ctx = newContext();
    ctx.overrideRemote("192.0.2.7");
    expect(ctx.remoteAddr).toBe("192.0.2.7");
    expect(ctx.connectionAddr).toBe("10.0.0.1");
    ctx.overrideTls({ sslSessionId: "abc" } as never);
    expect(ctx.sslSessionId).toBe("abc");
    expect(ctx.cipherSuite).toBe("TLS_AES_128_GCM_SHA256");
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
    const a = newContext();
    a.deferSessions(withId, req, "ABC");
    a.getSession(false);
    a.getSession(false);
    expect(withId.seen).toEqual(["ABC"]);

    const without = recordingOpener();
    const b = newContext();
    b.principal = { name: "alice", roles: [] };
    b.deferSessions(without, req, null);
    b.getSession(false);
    expect(without.seen).toEqual([null]);

    const none = recordingOpener();
    const c = newContext();
    c.deferSessions(none, req, null);
    c.getSession(false);
    expect(none.seen).toEqual([null]);
  });
});
