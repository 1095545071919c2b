/**
 * sentWhole: the native Deno back-end counts a request as finished when the handler returns a
 * Response that sentWhole calls whole, instead of waiting for Deno's `info.completed`. That is
 * right only if Deno itself settles `completed` as the Response is handed over. Checked here on
 * connections served the way src/runtime/deno.ts serves them (serveHttpOnConnection): for every
 * kind of Response, one that sentWhole calls whole has `completed` settled before the microtasks
 * queued while it was returned have run (nothing written yet); a stream body is never called whole
 * and its `completed` waits for the stream, which is what keeps a long response from being taken
 * for an idle connection.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { sentWhole } from "../../src/runtime/deno-response.ts";
import { cleanup, DENO, ROOT, tempDir } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

describe("sentWhole", () => {
  test("off Deno (no Deno Response internals): never whole, so the caller waits for completed", () => {
    expect(sentWhole(new Response("x"))).toBe(false);
    expect(sentWhole(new Response(null, { status: 204 }))).toBe(false);
  });

  test("Deno: whole exactly when Deno settles completed as the Response is handed over", () => {
    const dir = tempDir("deno-response");
    dirs.push(dir);
    const script = join(dir, "probe.ts");
    writeFileSync(
      script,
      `import { sentWhole } from ${JSON.stringify(join(ROOT, "src/runtime/deno-response.ts"))};
import { serveOnConnection } from ${JSON.stringify(join(ROOT, "src/runtime/deno-conn.ts"))};
const cases: Record<string, () => Response> = {
  text: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }),
  plain: () => new Response("x"),
  bytes: () => new Response(new Uint8Array([1, 2, 3])),
  empty: () => new Response(null, { status: 204 }),
  json: () => Response.json({ a: 1 }),
  headers: () => new Response("x", { status: 201, headers: { a: "1", b: "2", "set-cookie": "c=1" } }),
  "headers-read": () => {
    const r = new Response("x", { headers: { "content-type": "text/html" } });
    r.headers.set("server", "bobcat");
    return r;
  },
  form: () => new Response(new URLSearchParams("a=1&b=2")),
  buffer: () => new Response(new ArrayBuffer(8)),
  redirect: () => Response.redirect("http://a.example/x", 302),
  clone: () => new Response("x").clone(),
  stream: () => new Response(new ReadableStream({ pull(c) { c.enqueue(new TextEncoder().encode("s")); c.close(); } })),
  "slow-stream": () => {
    let n = 0;
    return new Response(new ReadableStream({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 50));
        c.enqueue(new TextEncoder().encode("chunk" + n));
        if (++n === 3) c.close();
      },
    }));
  },
  blob: () => new Response(new Blob(["blob"])),
  "body-read": () => {
    const r = new Response("x");
    void r.body;
    return r;
  },
};
const seen: Array<{ kind: string; whole: boolean; settledAtOnce: boolean }> = [];
const serveOn = serveOnConnection()!;
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
(async () => {
  for await (const conn of listener) {
    const server = serveOn(conn, new AbortController().signal, (req, info) => {
      const kind = new URL(req.url).pathname.slice(1);
      const res = cases[kind]!();
      const whole = sentWhole(res);
      let settled = false;
      info.completed.then(() => (settled = true), () => (settled = true));
      // Settled at once means: before these microtasks, queued before the Response went back, have run.
      queueMicrotask(() => queueMicrotask(() => queueMicrotask(() => seen.push({ kind, whole, settledAtOnce: settled }))));
      return res;
    }, (e) => new Response(String(e), { status: 500 }), () => {});
    server.finished.catch(() => {});
  }
})();
const base = "http://127.0.0.1:" + (listener.addr as Deno.NetAddr).port + "/";
const statuses: number[] = [];
for (const kind of Object.keys(cases)) {
  const r = await fetch(base + kind, { redirect: "manual" });
  await r.arrayBuffer();
  statuses.push(r.status);
}
listener.close();
console.log(JSON.stringify({ seen, statuses }));
Deno.exit(0);
`,
    );
    const r = spawnSync(DENO, ["run", "-A", "--quiet", `--config=${join(ROOT, "deno.json")}`, script], {
      encoding: "utf8",
      timeout: 60000,
    });
    expect(r.stderr).toBe("");
    const { seen, statuses } = JSON.parse(r.stdout) as {
      seen: Array<{ kind: string; whole: boolean; settledAtOnce: boolean }>;
      statuses: number[];
    };
    expect(statuses.every((s) => s < 500)).toBe(true);
    const by = Object.fromEntries(seen.map((s) => [s.kind, s]));
    expect(Object.keys(by).length).toBe(15);
    // Whole: Deno had it all and settled completed at once.
    for (const s of seen) {
      if (s.whole) {
        expect({ kind: s.kind, settledAtOnce: s.settledAtOnce }).toEqual({ kind: s.kind, settledAtOnce: true });
      }
    }
    // What a handler usually answers is recognised as whole (else the fast path would never be taken).
    for (const kind of ["text", "plain", "bytes", "empty", "json", "headers", "headers-read", "redirect"]) {
      expect({ kind, whole: by[kind]!.whole }).toEqual({ kind, whole: true });
    }
    // Streams are not, and Deno's completed waits for them.
    for (const kind of ["stream", "slow-stream", "blob", "body-read"]) {
      expect({ kind, whole: by[kind]!.whole }).toEqual({ kind, whole: false });
    }
    expect(by["slow-stream"]!.settledAtOnce).toBe(false);
  });
});
