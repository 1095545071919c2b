/**
 * rebaseRequest (src/core/rebase-request.ts): the Request a handler below the root sees. Whatever
 * way it is made it must be what `new Request(url, req)` makes: the same URL (or the same error),
 * method, headers, body and request attributes, and a signal that aborts when req's does. On
 * Deno a request without a body is a copy of a template whose signal follows req's only once it
 * is read (the constructor follows it at once, with a dependent AbortSignal that costs more
 * server CPU than a hello world).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { rebaseRequest, rebasesByCopy } from "../../src/core/rebase-request.ts";
import { cleanup, DENO, ROOT, tempDir } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

/** The comparison both runtimes run: rebaseRequest against the constructor, case by case. */
const COMPARE = `
const urls = ["https://localhost:8443/", "https://Example.COM:443/a/./b/../c?x=1 2&y=%7e", "https://h/a b",
  "https://exa mple/", "http://1.2.3.4:80//a//b"];
const sources = [
  () => new Request("https://h/ctx/x?q=1", { headers: { "x-a": "1", cookie: "JSESSIONID=ABC; b=2" } }),
  () => new Request("https://h/ctx/x", { method: "HEAD", headers: { accept: "text/html" } }),
  () => new Request("https://h/ctx/x", { method: "OPTIONS" }),
  () => new Request("https://h/ctx/x", { method: "POST", body: "abc", headers: { "content-type": "text/plain" } }),
];
async function describeRequest(make) {
  let r;
  try { r = make(); } catch (e) { return "throws " + e.constructor.name + ": " + e.message; }
  const copy = new Request(r);
  return JSON.stringify([r.url, r.method, [...r.headers], r.signal.aborted, r.bodyUsed, copy.url, copy.method,
    [...copy.headers], copy.body === null ? null : await copy.text(), r.redirect, r.mode, r.cache, r.credentials, r.referrer,
    r.referrerPolicy, r.integrity, r.keepalive]);
}
const out = [];
for (const url of urls) for (const [i, source] of sources.entries()) {
  const made = await describeRequest(() => rebaseRequest(url, source()));
  const want = await describeRequest(() => new Request(url, source()));
  out.push({ url, source: i, made, want });
}
// The signal follows the source's: aborted with it, read before or after the abort.
const follows = [];
for (const readFirst of [true, false]) {
  const controller = new AbortController();
  const made = rebaseRequest("https://h/y", new Request("https://h/x", { signal: controller.signal }));
  const before = readFirst ? made.signal.aborted : "unread";
  controller.abort();
  follows.push([before, made.signal.aborted, made.signal.reason?.name]);
}
// The abort's reason is the source's own (AbortSignal.timeout's is a TimeoutError), read before or after.
for (const readFirst of [true, false]) {
  const controller = new AbortController();
  const made = rebaseRequest("https://h/y", new Request("https://h/x", { signal: controller.signal }));
  if (readFirst) made.signal.aborted;
  controller.abort(new DOMException("too slow", "TimeoutError"));
  follows.push([made.signal.aborted, made.signal.reason?.name]);
}
`;

describe("rebaseRequest", () => {
  test("Bun: the constructor's Request", async () => {
    expect(rebasesByCopy()).toBe(false);
    const run = new Function("rebaseRequest", `return (async () => {${COMPARE}; return { out, follows }; })()`);
    const { out, follows } = await run(rebaseRequest) as {
      out: Array<{ made: string; want: string }>;
      follows: unknown[];
    };
    expect(out.length).toBe(20);
    for (const c of out) expect(c.made).toBe(c.want);
    expect(follows).toEqual([[false, true, "AbortError"], ["unread", true, "AbortError"], [true, "TimeoutError"], [
      true,
      "TimeoutError",
    ]]);
  });

  test("Deno: copies that match the constructor's and leave the source's signal alone until read", () => {
    const dir = tempDir("rebase-request");
    dirs.push(dir);
    const script = join(dir, "probe.ts");
    writeFileSync(
      script,
      `import { rebaseRequest, rebasesByCopy } from ${JSON.stringify(join(ROOT, "src/core/rebase-request.ts"))};
import { makeRequest } from ${JSON.stringify(join(ROOT, "src/runtime/deno-request.ts"))};
${COMPARE}
// Whether the source's AbortSignal has been made (Deno makes it on the first read of req.signal).
const signalMade = (r) => r[Object.getOwnPropertySymbols(r).find((s) => s.description === "signalCache")] !== undefined;
let untouched, madeOnRead;
// bobcat's own requests (its HTTP/1.1 layer's, src/runtime/deno-request.ts) are copied too, their
// signal left unmade; one made with a signal is not (the constructor keeps its reason).
const own = makeRequest("https://h/ctx/x");
own.headers.append("x-a", "1");
const ownMade = rebaseRequest("https://h/x", own);
const ownUntouched = !signalMade(own);
const ownSame = ownMade.url === "https://h/x" && ownMade.headers.get("x-a") === "1" && !ownMade.signal.aborted;

// Requests Deno.serve hands over: the same as the constructor's (a body read through the copy),
// and the copy's signal aborted when the client goes away.
let resolveAborted;
const aborted = new Promise((r) => (resolveAborted = r));
const served = [];
const servedUrls = [];
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
  const url = "https://h/inner?q=1";
  if (req.url.endsWith("/slow")) {
    const r = rebaseRequest(url, req);
    r.signal.addEventListener("abort", () => resolveAborted(r.signal.reason?.name));
    await new Promise((r) => setTimeout(r, 1000));
    return new Response("late");
  }
  if (req.url.endsWith("/lazy")) {
    // A request Deno.serve hands over keeps its signal unmade until the copy's is read.
    const r = rebaseRequest(url, req);
    untouched = !signalMade(req);
    r.signal;
    madeOnRead = signalMade(req);
    // The copies at every URL (normalised, or the same error) against the constructor's.
    for (const u of urls) {
      servedUrls.push({ url: u, made: await describeRequest(() => rebaseRequest(u, req)),
        want: await describeRequest(() => new Request(u, req)) });
    }
    return new Response("ok");
  }
  const copy = req.clone();
  const r = rebaseRequest(url, req);
  const want = new Request(url, copy);
  served.push([r.url === want.url, r.method === want.method, [...r.headers].join() === [...want.headers].join(),
    r.body === null ? null : await r.text()]);
  return new Response("ok");
});
const base = "http://127.0.0.1:" + server.addr.port;
await (await fetch(base + "/x?y=2", { headers: { "x-a": "1", cookie: "JSESSIONID=ABC" } })).text();
await (await fetch(base + "/lazy", { headers: { "x-a": "1" } })).text();
await (await fetch(base + "/x", { method: "POST", body: "hello" })).text();
const controller = new AbortController();
const slow = fetch(base + "/slow", { signal: controller.signal }).catch(() => "aborted");
await new Promise((r) => setTimeout(r, 300));
controller.abort();
await slow;
const abortedName = await Promise.race([aborted, new Promise((r) => setTimeout(() => r("not aborted"), 3000))]);
await server.shutdown();
console.log(JSON.stringify({ byCopy: rebasesByCopy(), out, follows, untouched, madeOnRead, ownUntouched, ownSame, served, servedUrls, abortedName }));
`,
    );
    const r = spawnSync(
      DENO,
      ["run", "-A", "--quiet", `--config=${join(ROOT, "deno.json")}`, script],
      { encoding: "utf8", timeout: 60000 },
    );
    if (r.status !== 0) throw new Error(`deno exited with ${r.status}: ${r.stderr}`);
    const res = JSON.parse(r.stdout) as {
      byCopy: boolean;
      out: Array<{ url: string; source: number; made: string; want: string }>;
      follows: unknown[];
      untouched: boolean;
      ownUntouched: boolean;
      ownSame: boolean;
      madeOnRead: boolean;
      served: unknown[];
      servedUrls: Array<{ url: string; made: string; want: string }>;
      abortedName: string;
    };
    expect(res.byCopy).toBe(true);
    expect(res.out.length).toBe(20);
    for (const c of res.out) {
      expect({ url: c.url, source: c.source, made: c.made }).toEqual({ url: c.url, source: c.source, made: c.want });
    }
    expect(res.follows).toEqual([[false, true, "AbortError"], ["unread", true, "AbortError"], [true, "TimeoutError"], [
      true,
      "TimeoutError",
    ]]);
    expect(res.untouched).toBe(true);
    expect(res.ownUntouched).toBe(true);
    expect(res.ownSame).toBe(true);
    expect(res.madeOnRead).toBe(true);
    expect(res.served).toEqual([[true, true, true, null], [true, true, true, "hello"]]);
    expect(res.servedUrls.length).toBe(5);
    for (const c of res.servedUrls) expect({ url: c.url, made: c.made }).toEqual({ url: c.url, made: c.want });
    expect(res.abortedName).toBe("AbortError");
  });
});
