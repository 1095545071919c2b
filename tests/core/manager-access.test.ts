/**
 * The manager's loopback rule with peers the e2e tests cannot be (they run on loopback only):
 * a client in a private range, trusted as an internal proxy by RemoteIpValve's default, that
 * forges X-Forwarded-For; and the address forms runtimes report for a peer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import { Engine } from "../../src/core/engine.ts";
import type { AdminView } from "../../src/core/admin.ts";
import { SERVER_PLATFORM } from "../../src/runtime/server-platform.ts";

const engines: Record<string, Engine> = {};
const connector = { name: "http-nio-8080", port: 8080, scheme: "http", secure: false, redirectPort: 8443 };

const config = (valves: string) =>
  loadConfigText(
    "/c/server.yaml",
    `
server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
${valves}
        hosts:
          - name: localhost
            contexts:
              - { path: /manager, handler: "bobcat:manager" }
              - { path: /manager-local, handler: "bobcat:manager", allowLoopbackBehindProxy: true }
`,
    { env: {} },
  ).server.services[0]!;

const view: AdminView = {
  version: "test",
  runtime: "test",
  connectors: () => [],
  contexts: () => [],
  reloadTls: async () => ({ reloaded: [], failed: [] }),
};
const settings = { strictServletCompliance: false, baseDir: "/c", platform: SERVER_PLATFORM, admin: () => view };

beforeAll(async () => {
  engines.direct = new Engine(config(""), settings);
  engines.proxied = new Engine(config("        valves: [{ className: RemoteIpValve }]"), settings);
  for (const e of Object.values(engines)) await e.start();
});

afterAll(async () => {
  for (const e of Object.values(engines)) await e.stop();
});

const status = async (engine: string, path: string, from: string, headers: Record<string, string> = {}) =>
  (await engines[engine]!.handle(new Request(`http://localhost:8080${path}`, { headers }), connector, {
    remoteAddr: from,
    remotePort: 40000,
  })).status;

describe("manager loopback rule on parsed peers", () => {
  test("a client in a private range forging X-Forwarded-For is refused, with or without a RemoteIpValve", async () => {
    for (const xff of ["127.0.0.1000", "127.0.0.1", "::1", "::ffff:127.0.0.1", "127.0.0.1, 10.0.0.1", "<script>"]) {
      for (const engine of ["direct", "proxied"]) {
        for (const path of ["/manager/json", "/manager-local/json"]) {
          expect([engine, path, xff, await status(engine, path, "10.0.0.5", { "x-forwarded-for": xff })]).toEqual([
            engine,
            path,
            xff,
            403,
          ]);
        }
      }
    }
    expect(await status("direct", "/manager/json", "10.0.0.5")).toBe(403);
  });

  test("loopback peers in every form the runtimes report are local; others are not", async () => {
    for (const peer of ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"]) {
      expect([peer, await status("direct", "/manager/json", peer)]).toEqual([peer, 200]);
    }
    for (
      const peer of ["10.0.0.5", "fe80::1%lo", "::ffff:10.0.0.5", "128.0.0.1", "::2", "127.0.0.1000", "<script>", ""]
    ) {
      expect([peer, await status("direct", "/manager/json", peer)]).toEqual([peer, 403]);
    }
  });

  test("behind a RemoteIpValve: off, unless allowLoopbackBehindProxy", async () => {
    expect(await status("proxied", "/manager/json", "127.0.0.1")).toBe(403);
    expect(await status("proxied", "/manager-local/json", "127.0.0.1")).toBe(200);
    expect(await status("proxied", "/manager-local/json", "127.0.0.1", { "x-forwarded-for": "203.0.113.5" })).toBe(403);
  });
});
