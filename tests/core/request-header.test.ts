/**
 * requestHeader/mayHaveBody: the same answers as `req.headers.get(name)` and `req.body !== null`,
 * under Bun (which reads req.headers) and under Deno.serve (which asks Deno's request directly
 * while no Headers object exists, so the headers are not exposed).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mayHaveBody, requestHeader } from "../../src/core/request-header.ts";
import { cleanup, DENO, ROOT, tempDir } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

describe("requestHeader and mayHaveBody", () => {
  test("a Request the program made: req.headers and req.body", () => {
    const req = new Request("http://a.example/x", { headers: { host: "a.example", cookie: "A=1" } });
    expect(requestHeader(req, "host")).toBe("a.example");
    expect(requestHeader(req, "cookie")).toBe("A=1");
    expect(requestHeader(req, "x-none")).toBeNull();
    expect(mayHaveBody(req)).toBe(false);
    expect(mayHaveBody(new Request("http://a/", { method: "POST", body: "x" }))).toBe(true);
  });

  test("Deno.serve: the same answers as req.headers, without exposing the headers", () => {
    const dir = tempDir("request-header");
    dirs.push(dir);
    const script = join(dir, "probe.ts");
    writeFileSync(
      script,
      `import { mayHaveBody, requestHeader } from ${JSON.stringify(join(ROOT, "src/core/request-header.ts"))};
const headersCache = (req: Request) =>
  (req as unknown as Record<symbol, unknown>)[Object.getOwnPropertySymbols(req).find((s) => s.description === "headers cache")!];
const seen: unknown[] = [];
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
  const names = ["host", "cookie", "x-two", "x-none"];
  const direct = names.map((n) => requestHeader(req, n));
  const body = mayHaveBody(req);
  const exposed = headersCache(req) !== undefined;
  const viaHeaders = names.map((n) => req.headers.get(n));
  // Once req.headers exists, requestHeader reads it.
  const after = names.map((n) => requestHeader(req, n));
  seen.push({ method: req.method, direct, viaHeaders, after, exposed, body, bodyNull: req.body === null });
  if (req.body) await req.text();
  return new Response("ok");
});
const base = "http://127.0.0.1:" + server.addr.port + "/";
await (await fetch(base, { headers: { cookie: "A=1; JSESSIONID=X", "x-two": "a" } })).text();
await (await fetch(base, { method: "HEAD" })).text();
await (await fetch(base, { method: "POST", body: "payload", headers: { "x-two": "b" } })).text();
await (await fetch(base, { method: "DELETE" })).text();
// What fetch cannot send, over a raw socket: repeated headers, a byte beyond ASCII, two Host lines.
const raw = async (head: string) => {
  const c = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await c.write(Uint8Array.from(head, (ch) => ch.charCodeAt(0)));
  const buf = new Uint8Array(4096);
  let out = "";
  for (let i = 0; i < 100; i++) {
    const n = await c.read(buf);
    if (n === null) break;
    out += new TextDecoder("latin1").decode(buf.subarray(0, n));
  }
  c.close();
  return out.split("\\r\\n")[0];
};
const statuses = [
  await raw("GET /r HTTP/1.1\\r\\nHost: h.example\\r\\nCookie: A=1\\r\\nCookie: JSESSIONID=Y\\r\\nX-Two: 1\\r\\nX-Two: 2\\r\\nConnection: close\\r\\n\\r\\n"),
  await raw("GET /r HTTP/1.1\\r\\nHost: h.example\\r\\nX-Two: caf\\xe9\\r\\nConnection: close\\r\\n\\r\\n"),
  await raw("GET /r HTTP/1.1\\r\\nHost: a.example\\r\\nHost: b.example\\r\\nConnection: close\\r\\n\\r\\n"),
];
await server.shutdown();
console.log(JSON.stringify({ seen, statuses }));
`,
    );
    const r = spawnSync(DENO, ["run", "-A", "--quiet", `--config=${join(ROOT, "deno.json")}`, script], {
      encoding: "utf8",
      timeout: 60000,
    });
    expect(r.stderr).toBe("");
    const { seen, statuses } = JSON.parse(r.stdout) as {
      statuses: string[];
      seen: Array<{
        method: string;
        direct: Array<string | null>;
        viaHeaders: Array<string | null>;
        after: Array<string | null>;
        exposed: boolean;
        body: boolean;
        bodyNull: boolean;
      }>;
    };
    // Deno refuses two Host lines itself: the handler never sees that request.
    expect(statuses).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"]);
    expect(seen.map((s) => s.method)).toEqual(["GET", "HEAD", "POST", "DELETE", "GET", "GET"]);
    for (const s of seen) {
      expect(s.direct).toEqual(s.viaHeaders);
      expect(s.after).toEqual(s.viaHeaders);
      expect(s.exposed).toBe(false);
      expect(s.body).toBe(!s.bodyNull);
    }
    expect(seen[0]!.direct).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/), "A=1; JSESSIONID=X", "a", null]);
    expect(seen[2]!.body).toBe(true);
    // Repeated lines joined as req.headers joins them; a byte beyond ASCII read the same way.
    expect(seen[4]!.direct).toEqual(["h.example", "A=1; JSESSIONID=Y", "1, 2", null]);
    expect(seen[5]!.direct[2]).toBe(seen[5]!.viaHeaders[2]);
    expect(seen[5]!.direct[2]).not.toBeNull();
  });
});
