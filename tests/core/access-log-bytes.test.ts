/**
 * The access log's %b and %B count the bytes of every body bobcat writes itself (error pages,
 * the ErrorReportValve's, the built-in apps', the static files' refusals), as Tomcat logs the
 * bytes it sent; "-" (%b) and 0 (%B) for a HEAD and for a stream of unknown length.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compilePattern } from "../../src/core/access-log.ts";
import type { Engine } from "../../src/core/engine.ts";
import type { Platform } from "../../src/core/platform.ts";
import { SERVER_PLATFORM } from "../../src/runtime/server-platform.ts";
import { startedEngine } from "../helpers/engine.ts";

const lines: string[] = [];
const platform: Platform = {
  ...SERVER_PLATFORM,
  accessLog: (valve) => {
    const format = compilePattern(valve.pattern);
    return { log: (e) => lines.push(format(e)), close: async () => {} };
  },
};
const conn = { remoteAddr: "127.0.0.1", remotePort: 50000 };
const connector = { name: "http-nio-8080", port: 8080, scheme: "http", secure: false, redirectPort: 0 };

let base: string;
let engine: Engine;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "bobcat-access-bytes-"));
  await writeFile(join(base, "index.html"), "<h1>hello</h1>\n");
  await writeFile(
    join(base, "stream.ts"),
    `export default { fetch: () => new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("streamed")); c.close(); } })) };`,
  );
  engine = await startedEngine(
    base,
    `
server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        valves: [{ className: AccessLogValve, pattern: "%v %m %U %s %b %B" }]
        hosts:
          - name: localhost
            contexts:
              - { path: "", docBase: "${base}" }
              - { path: /root, handler: "bobcat:root" }
              - { path: /manager, handler: "bobcat:manager" }
              - { path: /stream, handler: "${join(base, "stream.ts")}" }
              - path: /secure
                docBase: "${base}"
                securityConstraints: [{ urlPatterns: ["/*"], transportGuarantee: CONFIDENTIAL }]
          - name: reported
            valves: [{ className: ErrorReportValve, showReport: false, showServerInfo: false }]
            contexts: [{ path: /app, docBase: "${base}" }]
`,
    { platform },
  );
});

afterAll(async () => {
  await engine?.stop();
  await rm(base, { recursive: true, force: true });
});

/** The response's status and body size as the client received them, and the line logged for it. */
async function exchange(url: string, init: RequestInit = {}, from = conn) {
  const before = lines.length;
  const res = await engine.handle(new Request(url, init), connector, from);
  const size = (await res.bytes()).byteLength;
  expect(lines.length).toBe(before + 1);
  return { status: res.status, size, line: lines[lines.length - 1]! };
}

describe("access log %b and %B", () => {
  test("bobcat's own error pages log the bytes sent", async () => {
    for (
      const [url, status] of [
        ["http://localhost:8080/missing.html", 404],
        ["http://localhost:8080/a%2Fb", 400],
        ["http://reported:8080/app/missing.html", 404],
        ["http://reported:8080/nothing", 404],
        ["http://localhost:8080/secure/index.html", 403],
      ] as const
    ) {
      const { size, line } = await exchange(url);
      expect(size).toBeGreaterThan(0);
      expect(line).toEndWith(` ${status} ${size} ${size}`);
    }
  });

  test("the static files' refusals and the built-in apps log the bytes sent", async () => {
    const refused = await exchange("http://localhost:8080/index.html", { method: "DELETE" });
    expect(refused.line).toBe(`localhost DELETE /index.html 405 ${refused.size} ${refused.size}`);
    const root = await exchange("http://localhost:8080/root/");
    expect(root.status).toBe(200);
    expect(root.line).toBe(`localhost GET /root/ 200 ${root.size} ${root.size}`);
    // The manager refuses a client that is not on loopback with its own (Hono) text.
    const manager = await exchange("http://localhost:8080/manager/text/list", {}, { ...conn, remoteAddr: "192.0.2.7" });
    expect(manager.status).toBe(403);
    expect(manager.size).toBeGreaterThan(0);
    expect(manager.line).toBe(`localhost GET /manager/text/list 403 ${manager.size} ${manager.size}`);
    const file = await exchange("http://localhost:8080/index.html");
    expect(file.line).toBe("localhost GET /index.html 200 15 15");
  });

  test("no body sent (HEAD) logs - and 0; a stream of unknown length too", async () => {
    expect((await exchange("http://localhost:8080/missing.html", { method: "HEAD" })).line)
      .toBe("localhost HEAD /missing.html 404 - 0");
    expect((await exchange("http://localhost:8080/index.html", { method: "HEAD" })).line)
      .toBe("localhost HEAD /index.html 200 - 0");
    const streamed = await exchange("http://localhost:8080/stream/");
    expect(streamed.size).toBe(8);
    expect(streamed.line).toBe("localhost GET /stream/ 200 - 0");
  });
});
