/**
 * Probe: what of each object a server makes per request is still on the heap after minor GCs
 * (scavenges), when nothing references it any more. Whatever is left there is promoted to the old
 * generation and waits for a full GC: it costs far more than its allocation. On Deno 2.9.6 a
 * `new Request(url)` leaves ~380 bytes: its constructor's inner request is an object literal with
 * get/set accessors, which V8 does not give back to the young generation (an object literal with
 * accessors alone leaves ~140 bytes; with methods only, nothing). Request, URL, Headers, Response,
 * and the Requests bobcat's HTTP/1.1 layer makes (src/runtime/deno-request.ts).
 *
 *   deno run --v8-flags=--expose-gc bench/probes/deno-request-gc.ts
 *   bun --expose-gc bench/probes/deno-request-gc.ts      (Bun: for comparison)
 */
import { makeRequest } from "../../src/runtime/deno-request.ts";

const collect = (globalThis as { gc?: (o?: unknown) => void }).gc;
if (!collect) throw new Error("run with --v8-flags=--expose-gc (Deno) or --expose-gc (Bun)");
const heapUsed = () => process.memoryUsage().heapUsed;

const kinds: Record<string, () => unknown> = {
  "new URL(url)": () => new URL("https://localhost:8443/a?b=c"),
  "new Headers() + 5 append": () => {
    const h = new Headers();
    for (let i = 0; i < 5; i++) h.append(`x-h${i}`, "value");
    return h;
  },
  "new Response(text, headers)": () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }),
  "new Request(url)": () => new Request("https://localhost:8443/a?b=c"),
  "new Request(url) + 5 append": () => {
    const r = new Request("https://localhost:8443/a?b=c");
    for (let i = 0; i < 5; i++) r.headers.append(`x-h${i}`, "value");
    return r;
  },
  "makeRequest(url) (bobcat's HTTP/1.1 layer)": () => makeRequest("https://localhost:8443/a?b=c"),
  "{ get/set accessors }": (): { a: number; m: number } => ({
    a: 1,
    get m() {
      return this.a;
    },
    set m(v: number) {
      this.a = v;
    },
  }),
  "{ methods }": (): { a: number; m(): number } => ({
    a: 1,
    m() {
      return this.a;
    },
  }),
};

const N = 20000;
console.log(`| made ${N} times, nothing kept | bytes each left after two minor GCs | after a full GC |`);
console.log("|---|---:|---:|");
for (const [name, make] of Object.entries(kinds)) {
  for (let i = 0; i < 2000; i++) make();
  collect();
  collect();
  const before = heapUsed();
  for (let i = 0; i < N; i++) make();
  collect({ type: "minor" });
  collect({ type: "minor" });
  const afterMinor = heapUsed();
  collect();
  const afterFull = heapUsed();
  console.log(
    `| ${name} | ${Math.round((afterMinor - before) / N)} | ${Math.round((afterFull - before) / N)} |`,
  );
}
