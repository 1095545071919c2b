/**
 * makeRequest (src/runtime/deno-request.ts): the HTTP/1.1 layer's Requests. On Deno they are
 * copies of a template Request given their own URL (Deno's constructor leaves each Request for a
 * full GC); whatever way they are made, they must be what `new Request(url, init)` makes: the
 * same URL (normalised the same way), the same error for a URL it refuses, method, body, no
 * headers, a signal of their own that is not aborted, and the same again when copied or cloned.
 * And on Deno they must not outlive minor GCs as constructed ones do.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { copiesTemplate, makeRequest } from "../../src/runtime/deno-request.ts";
import { cleanup, DENO, ROOT, tempDir } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

/** The comparison both runtimes run: makeRequest against the constructor, case by case. */
const COMPARE = `
const urls = [
  "https://localhost:8443/", "https://Example.COM:443/a/./b/../c?x=1 2&y=%7e", "http://h:80/caf\\u00e9/%2F?q#frag",
  "https://[::1]:8443/p;jsessionid=1?a", "https://h/a b", "https://exa mple/", "https://h:99999/",
  "https://u:p@h/", "https://h/\u00e9/%zz", "http://1.2.3.4:80//a//b",
];
const inits = [undefined, { method: "POST", body: "abc" }, { method: "DELETE" }, { method: "HEAD" }];
async function describeRequest(make) {
  let r;
  try { r = make(); } catch (e) { return "throws " + e.constructor.name + ": " + e.message; }
  const clone = r.clone();
  const copy = new Request(r);
  return JSON.stringify([r.url, r.method, [...r.headers], r.signal.aborted, r.bodyUsed, copy.url, clone.url,
    await clone.text(), r.redirect, r.mode, r.cache, r.credentials, r.referrer]);
}
const out = [];
for (const url of urls) for (const init of inits) {
  const made = await describeRequest(() => makeRequest(url, init && { ...init }));
  const want = await describeRequest(() => (init ? new Request(url, { ...init }) : new Request(url)));
  out.push({ url, init: init?.method ?? "GET", made, want });
}
`;

describe("makeRequest", () => {
  test("Bun: the constructor's Request, whatever the URL and init", async () => {
    expect(copiesTemplate).toBe(false);
    const run = new Function("makeRequest", `return (async () => {${COMPARE}; return out; })()`);
    const out = await run(makeRequest) as Array<{ made: string; want: string }>;
    expect(out.length).toBe(40);
    for (const c of out) expect(c.made).toBe(c.want);
  });

  test("Deno: copies of the template, the same as the constructor's, and gone in minor GCs", () => {
    const dir = tempDir("deno-request");
    dirs.push(dir);
    const script = join(dir, "probe.ts");
    writeFileSync(
      script,
      `import { copiesTemplate, makeRequest } from ${JSON.stringify(join(ROOT, "src/runtime/deno-request.ts"))};
${COMPARE}
const gc = globalThis.gc;
function leftAfterMinorGc(make) {
  for (let i = 0; i < 1000; i++) make();
  gc(); gc();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 10000; i++) make();
  gc({ type: "minor" }); gc({ type: "minor" });
  return (Deno.memoryUsage().heapUsed - before) / 10000;
}
const made = leftAfterMinorGc(() => makeRequest("https://localhost:8443/a?b"));
const constructed = leftAfterMinorGc(() => new Request("https://localhost:8443/a?b"));
console.log(JSON.stringify({ copiesTemplate, out, made, constructed }));
`,
    );
    const r = spawnSync(
      DENO,
      ["run", "-A", "--quiet", "--v8-flags=--expose-gc", `--config=${join(ROOT, "deno.json")}`, script],
      { encoding: "utf8", timeout: 60000 },
    );
    expect(r.stderr).toBe("");
    const res = JSON.parse(r.stdout) as {
      copiesTemplate: boolean;
      out: Array<{ url: string; init: string; made: string; want: string }>;
      made: number;
      constructed: number;
    };
    expect(res.copiesTemplate).toBe(true);
    expect(res.out.length).toBe(40);
    for (const c of res.out) {
      expect({ url: c.url, init: c.init, made: c.made }).toEqual({ url: c.url, init: c.init, made: c.want });
    }
    // What a constructed Request leaves for a full GC (bench/probes/deno-request-gc.ts) and a copy does not.
    expect(res.constructed).toBeGreaterThan(200);
    expect(res.made).toBeLessThan(res.constructed / 2);
  });
});
