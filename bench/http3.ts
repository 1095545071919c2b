#!/usr/bin/env bun
/**
 * HTTP/3 against HTTP/2 and HTTP/1.1 on one bobcat TLS connector with `http3: true` (Bun.serve's
 * QUIC listener), measured with real clients side by side in one run, rounds interleaved:
 *
 * - Debian's Chromium (`/usr/bin/chromium`; `apt-get install chromium`), headless, one browser
 *   per protocol: QUIC forced on the origin (`--origin-to-force-quic-on`), QUIC off (HTTP/2 by
 *   ALPN), QUIC and HTTP/2 off (HTTP/1.1, at most 6 connections per host as in any Chromium).
 *   Each opens a runner page on the server that takes jobs from it: N fetches, C at a time, of
 *   a hello path, a 16 KiB body or a 1 MiB body; each response's status and length are checked,
 *   and the page's and every fetch's `nextHopProtocol` (`performance.getEntries()`) must be the
 *   protocol under test (the bench stops otherwise). The browsers run without DevTools attached:
 *   driven by Playwright, the DevTools events of every fetch nearly doubled the browser's CPU per
 *   request and loaded the bench's own process besides.
 * - With `--native` (when installed): ngtcp2's `gtlsclient` for HTTP/3 (`apt-get install
 *   ngtcp2-client`: one QUIC connection, N requests, as many at once as the server's stream
 *   limit lets it) beside nghttp2's `h2load` for HTTP/2 (one connection, 100 streams) and
 *   HTTP/1.1 (C connections) (`apt-get install nghttp2-client`; Debian's h2load has no QUIC).
 *   The application counts what it served; the count must match. gtlsclient's bodies are
 *   checked once, saved to files, before the timed rounds. These clients make more requests
 *   (--native-requests 10000, --native-big-requests 1000): they are fast, and CPU time is read
 *   in 10 ms ticks.
 * - With `--raw` (implies --native): a raw `Bun.serve` with the same certificate, `http2` and
 *   `http3` and the same bodies, measured by the same native clients in the same rounds: what
 *   bobcat adds to each protocol.
 *
 * Printed: requests/s, server CPU-µs per request (user + system of the server's process tree
 * from /proc/PID/stat: the comparable figure on a shared machine), the client's CPU per request
 * and the ratios of HTTP/3 to HTTP/2 and HTTP/1.1. Before the rounds it checks the connector's
 * `Alt-Svc: h3=":PORT"; ma=86400` on HTTP/1.1 and HTTP/2 responses, and whether Chromium moves
 * to h3 through Alt-Svc alone: with a certificate that does not chain to a public root
 * (the test PKI here) Chromium refuses QUIC for a host unless that host is also named in
 * `--origin-to-force-quic-on`, so the check is made both ways (see the README, HTTP/3).
 *
 *   bun bench/http3.ts [--rounds 3] [--requests 2000] [--big-requests 200] [--concurrency 32]
 *                      [--only hello,16k,1m] [--native] [--raw] [--native-requests 10000]
 *                      [--native-big-requests 1000]
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect as h2Connect } from "node:http2";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { bin, cpuSeconds, freePort, median, option, ROOT, startServer, stopTree } from "./lib.ts";

const rounds = Number(option("--rounds", "3"));
const requests = Number(option("--requests", "2000"));
const bigRequests = Number(option("--big-requests", "200"));
const concurrency = Number(option("--concurrency", "32"));
const only = option("--only", "hello,16k,1m").split(",");
const native = process.argv.includes("--native") || process.argv.includes("--raw");
const raw = process.argv.includes("--raw");
const nativeRequests = Number(option("--native-requests", "10000"));
const nativeBigRequests = Number(option("--native-big-requests", "1000"));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PKI = join(ROOT, "tests/fixtures/pki");

if (!existsSync(CHROMIUM)) {
  console.error(`Chromium is needed at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  process.exit(2);
}
const has = (cmd: string) => !spawnSync(cmd, ["--help"]).error;
if (native && (!has("gtlsclient") || !has("h2load"))) {
  console.error("--native needs gtlsclient and h2load: apt-get install ngtcp2-client nghttp2-client");
  process.exit(2);
}

/** The workloads: a path, the body size it answers with, how many requests a sample makes. */
const WORKLOADS = [
  { name: "hello", path: "/hello", size: 5, n: requests },
  { name: "16k", path: "/16k", size: 16384, n: requests },
  { name: "1m", path: "/1m", size: 1 << 20, n: bigRequests },
].filter((w) => only.includes(w.name));
type Workload = (typeof WORKLOADS)[number];

const work = mkdtempSync(join(tmpdir(), "bobcat-h3-"));
const port = await freePort();
// The application: fixed bodies, a tiny page for the browsers, and a count of what it served
// (read over HTTP/1.1 between samples: the native clients' requests are checked against it).
writeFileSync(
  join(work, "app.ts"),
  `const bodies = { "/hello": "hello", "/16k": "y".repeat(16384), "/1m": "x".repeat(1 << 20) };
let served = 0;
// Jobs for the browsers' runner pages, by the runner's name: the bench posts one to /submit, the
// page takes it from /job and posts its result to /done, the bench collects it from /result.
// Every wait is held at most 5 s (then 204, asked again): Bun.serve's idleTimeout would close a
// connection whose response waits longer than the connector's connectionTimeout.
const queued = new Map(), polling = new Map(), done = new Map(), collecting = new Map();
const json = (v) => new Response(JSON.stringify(v), { headers: { "content-type": "application/json" } });
const hold = (waiters, who) => new Promise((resolve) => {
  const t = setTimeout(() => { waiters.delete(who); resolve(new Response(null, { status: 204 })); }, 5000);
  waiters.set(who, (v) => { clearTimeout(t); resolve(json(v)); });
});
const give = (ready, waiters, who, v) => {
  if (waiters.has(who)) { waiters.get(who)(v); waiters.delete(who); } else ready.set(who, v);
};
const take = (ready, waiters, who) => {
  if (!ready.has(who)) return hold(waiters, who);
  const v = ready.get(who); ready.delete(who); return json(v);
};
export default { async fetch(req) {
  const url = new URL(req.url);
  const path = url.pathname, who = url.searchParams.get("who");
  const body = bodies[path];
  if (body !== undefined) { served++; return new Response(body, { headers: { "content-type": "text/plain" } }); }
  if (path === "/served") return new Response(String(served));
  if (path === "/job") return await take(queued, polling, who);
  if (path === "/submit") { give(queued, polling, who, await req.json()); return new Response("queued"); }
  if (path === "/done") { give(done, collecting, who, await req.json()); return new Response("ok"); }
  if (path === "/result") return await take(done, collecting, who);
  if (path === "/runner") return new Response(RUNNER, { headers: { "content-type": "text/html" } });
  return new Response("<!doctype html><title>h3 bench</title>", { headers: { "content-type": "text/html" } });
} };
const RUNNER = \`<!doctype html><title>runner</title><script>
const who = new URLSearchParams(location.search).get("who");
// n fetches of path, c at a time: time, bad responses, and the protocol of every fetch.
async function run({ path, n, c, size }) {
  performance.clearResourceTimings();
  performance.setResourceTimingBufferSize(n + 16);
  let started = 0, bad = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      const r = await fetch(path, { cache: "no-store" });
      const b = await r.arrayBuffer();
      if (r.status !== 200 || b.byteLength !== size) bad++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, worker));
  const ms = performance.now() - t0;
  const protocols = {};
  for (const e of performance.getEntriesByType("resource")) {
    if (new URL(e.name).pathname !== path) continue;
    protocols[e.nextHopProtocol || "(none)"] = (protocols[e.nextHopProtocol || "(none)"] ?? 0) + 1;
  }
  return { ms, bad, protocols, page: performance.getEntriesByType("navigation")[0].nextHopProtocol };
}
(async () => {
  for (;;) {
    const r = await fetch("/job?who=" + who, { cache: "no-store" }).catch(() => null);
    if (r?.status !== 200) { if (!r) await new Promise((t) => setTimeout(t, 500)); continue; }
    const result = await run(await r.json());
    await fetch("/done?who=" + who, { method: "POST", body: JSON.stringify(result) });
  }
})();
</script>\`;
`,
);
writeFileSync(
  join(work, "server.yaml"),
  `logging: { level: warn, components: { connector: info } }
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          http3: true
          upgradeProtocols: [{ className: Http2Protocol }]
          sslHostConfigs:
            - certificates:
                - certificateFile: ${PKI}/localhost-rsa.pem
                  certificateKeyFile: ${PKI}/localhost-rsa-key.pem
                  certificateChainFile: ${PKI}/intermediate.pem
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.ts
`,
);

/** base64 SHA-256 of the server certificate's public key, for --ignore-certificate-errors-spki-list. */
function spki(): string {
  const pem = readFileSync(join(PKI, "localhost-rsa.pem"), "utf8");
  const der = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

/** A GET over node:https (HTTP/1.1) or node:http2, trusting the test CA: status, alt-svc, body. */
function nodeGet(path: string, h2: boolean): Promise<{ status: number; altSvc: string; body: string }> {
  const ca = readFileSync(join(PKI, "ca.pem"));
  return new Promise((resolve, reject) => {
    if (h2) {
      const s = h2Connect(`https://localhost:${port}`, { ca, host: "127.0.0.1", servername: "localhost" });
      s.on("error", reject);
      const r = s.request({ ":path": path });
      let body = "";
      let head: Record<string, unknown> = {};
      r.on("response", (h) => (head = h));
      r.on("data", (d) => (body += d));
      r.on("end", () => {
        s.close();
        resolve({ status: Number(head[":status"]), altSvc: String(head["alt-svc"] ?? ""), body });
      });
      r.on("error", reject);
      r.end();
      return;
    }
    const req = httpsRequest({ host: "127.0.0.1", servername: "localhost", port, path, ca, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, altSvc: String(res.headers["alt-svc"] ?? ""), body }));
    });
    req.on("error", reject);
    req.end();
  });
}
const served = async (to: number) => Number((await h1("GET", "/served", "", to)).body);

const fail = (msg: string): never => {
  throw new Error(msg);
};

const COMMON_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // localhost would be tried on ::1 first, where the QUIC listener (127.0.0.1) is not.
  "--host-resolver-rules=MAP localhost 127.0.0.1",
  `--ignore-certificate-errors-spki-list=${spki()}`,
];
/** Chromium run directly (no DevTools protocol: Playwright's instrumentation of every request would
 * load the client and the machine), on the runner page, with the flags that pick the protocol. */
interface Client {
  proto: "h3" | "h2" | "http/1.1";
  label: string;
  who: string;
  p: ChildProcess;
}
function launchRunner(label: string, proto: Client["proto"], args: string[]): Client {
  const who = label.replace(/[^a-z0-9]+/g, "-");
  const p = spawn(CHROMIUM, [
    ...COMMON_ARGS,
    "--headless=new",
    `--user-data-dir=${join(work, `profile-${who}`)}`,
    ...args,
    `https://localhost:${port}/runner?who=${who}`,
  ], { stdio: "ignore" });
  return { proto, label, who, p };
}

/** The bench's own requests: HTTP/1.1, kept alive (no handshake in the figures), trusting the test CA. */
const benchAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: readFileSync(join(PKI, "ca.pem")) });
function h1(method: string, path: string, body = "", to = port): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: "127.0.0.1", servername: "localhost", port: to, path, method, agent: benchAgent, timeout: 30_000 },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Gives a job to the runner `who` and waits (at most 5 minutes) for the page's result. */
async function submit(who: string, job: object): Promise<string> {
  await h1("POST", `/submit?who=${who}`, JSON.stringify(job));
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const r = await h1("GET", `/result?who=${who}`);
    if (r.status === 200) return r.body;
  }
  return fail(`runner ${who} gave no result within 5 minutes (did its page load?)`);
}

/** A Playwright-driven Chromium, for the Alt-Svc check (not timed). */
async function launch(args: string[]): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...COMMON_ARGS, ...args] });
  const page = await browser.newPage();
  await page.goto(`https://localhost:${port}/page`);
  return { browser, page };
}

interface Sample {
  rps: number;
  serverUs: number;
  clientUs: number;
}
const server = await startServer([
  bin("bun"),
  join(ROOT, "src/cli/main.ts"),
  "run",
  "--config",
  join(work, "server.yaml"),
]);
const serverPid = server.p.pid!;
const clients: Client[] = [];
/** The servers the native clients measure: bobcat, and with --raw a raw Bun.serve. */
const targets: Target[] = native ? [{ name: "bobcat", port, pid: serverPid }] : [];
const nativeN = (w: Workload) => w.name === "1m" ? nativeBigRequests : nativeRequests;
if (raw) {
  // The same bodies and count, the same certificate and chain, HTTP/2 and HTTP/3, no bobcat.
  const rawPort = await freePort();
  writeFileSync(
    join(work, "raw.ts"),
    `import { readFileSync } from "node:fs";
const bodies = { "/hello": "hello", "/16k": "y".repeat(16384), "/1m": "x".repeat(1 << 20) };
let served = 0;
Bun.serve({
  port: ${rawPort},
  hostname: "127.0.0.1",
  tls: {
    cert: readFileSync(${JSON.stringify(join(PKI, "localhost-rsa.pem"))}, "utf8") + readFileSync(${
      JSON.stringify(join(PKI, "intermediate.pem"))
    }, "utf8"),
    key: readFileSync(${JSON.stringify(join(PKI, "localhost-rsa-key.pem"))}, "utf8"),
  },
  http2: true,
  http3: true,
  fetch(req) {
    const path = new URL(req.url).pathname;
    const body = bodies[path];
    if (body !== undefined) { served++; return new Response(body, { headers: { "content-type": "text/plain" } }); }
    return new Response(String(served));
  },
});
console.error("listening on https://127.0.0.1:${rawPort}/");
`,
  );
  const r = await startServer([bin("bun"), join(work, "raw.ts")]);
  targets.push({ name: "raw Bun.serve", port: rawPort, pid: r.p.pid! });
}

async function chromiumSample(c: Client, w: Workload): Promise<Sample> {
  const s0 = cpuSeconds(serverPid);
  const b0 = cpuSeconds(c.p.pid!);
  const r = JSON.parse(await submit(c.who, { path: w.path, n: w.n, c: concurrency, size: w.size })) as {
    ms: number;
    bad: number;
    protocols: Record<string, number>;
    page: string;
  };
  const server = cpuSeconds(serverPid) - s0;
  const client = cpuSeconds(c.p.pid!) - b0;
  const seen = Object.keys(r.protocols);
  if (seen.length !== 1 || seen[0] !== c.proto || r.protocols[c.proto] !== w.n || r.page !== c.proto) {
    fail(
      `${c.label}: expected the page and ${w.n} fetches over ${c.proto}, performance.getEntries() says page ${r.page}, ${
        JSON.stringify(r.protocols)
      }`,
    );
  }
  if (r.bad > 0) fail(`${c.label} ${w.path}: ${r.bad} of ${w.n} responses not 200 with ${w.size} bytes`);
  return { rps: w.n / (r.ms / 1000), serverUs: (server / w.n) * 1e6, clientUs: (client / w.n) * 1e6 };
}

/** A server the native clients measure. */
interface Target {
  name: string;
  port: number;
  pid: number;
}
/** One native-client sample: `cmd` makes w.n requests; the application's count must grow by w.n. */
async function nativeSample(t: Target, cmd: string[], w: Workload, check: (out: string) => string): Promise<Sample> {
  const before = await served(t.port);
  const s0 = cpuSeconds(t.pid);
  const t0 = performance.now();
  const out = await new Promise<{ code: number | null; out: string; cpu: number }>((resolve) => {
    const p: ChildProcess = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    let cpu = 0;
    const poll = setInterval(() => (cpu = Math.max(cpu, cpuSeconds(p.pid!))), 20);
    const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.stdout!.on("data", (d) => (text += d));
    p.stderr!.on("data", (d) => (text += d));
    p.on("close", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, out: text, cpu });
    });
  });
  const wall = (performance.now() - t0) / 1000;
  const server = cpuSeconds(t.pid) - s0;
  const count = (await served(t.port)) - before;
  const problem = out.code !== 0 ? `exit ${out.code}: ${out.out.slice(-400)}` : check(out.out);
  if (problem || count !== w.n) {
    fail(`${cmd[0]} ${w.path} (${t.name}): ${problem || `the server served ${count} of ${w.n}`}`);
  }
  // The client's CPU is polled while it runs (a child's /proc entry goes when it exits): a floor.
  return { rps: w.n / wall, serverUs: (server / w.n) * 1e6, clientUs: (out.cpu / w.n) * 1e6 };
}
const url = (path: string, to = port) => `https://127.0.0.1:${to}${path}`;
const NATIVE = [
  {
    label: "gtlsclient h3",
    proto: "h3",
    cmd: (w: Workload, to: number) => [
      "gtlsclient",
      "-q",
      "--exit-on-all-streams-close",
      "-n",
      String(w.n),
      "127.0.0.1",
      String(to),
      url(w.path, to),
    ],
    check: () => "",
  },
  {
    label: "h2load h2",
    proto: "h2",
    cmd: (w: Workload, to: number) => ["h2load", "-n", String(w.n), "-c", "1", "-m", "100", url(w.path, to)],
    check: h2loadCheck,
  },
  {
    label: "h2load http/1.1",
    proto: "http/1.1",
    cmd: (w: Workload, to: number) => [
      "h2load",
      "--h1",
      "-n",
      String(w.n),
      "-c",
      String(Math.min(concurrency, w.n)),
      url(w.path, to),
    ],
    check: h2loadCheck,
  },
];
function h2loadCheck(out: string): string {
  const m = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded/.exec(out);
  const proto = /Application protocol: (\S+)/.exec(out)?.[1];
  return m && m[1] === m[2] && /status codes: (\d+) 2xx/.exec(out)?.[1] === m[1]
    ? ""
    : `h2load (${proto}): ${out.slice(-600)}`;
}

const results = new Map<string, Sample[]>();
const key = (w: Workload, label: string, server = "bobcat") => `${w.name}\t${server}\t${label}`;
/** Keeps a sample and shows it on stderr as it comes (a run takes minutes). */
function record(round: number, k: string, s: Sample) {
  results.set(k, [...(results.get(k) ?? []), s]);
  console.error(
    `round ${round + 1} ${k.replaceAll("\t", " ")}: ${s.rps.toFixed(0)} req/s, ${
      s.serverUs.toFixed(1)
    } server CPU-µs/req`,
  );
}
const load0 = loadavg();
try {
  // Alt-Svc as documented, on HTTP/1.1 and HTTP/2 responses.
  const expected = `h3=":${port}"; ma=86400`;
  const [h1, h2] = [await nodeGet("/hello", false), await nodeGet("/hello", true)];
  for (const [name, r] of [["HTTP/1.1", h1], ["HTTP/2", h2]] as const) {
    if (r.status !== 200 || r.altSvc !== expected) {
      fail(`${name}: status ${r.status}, Alt-Svc "${r.altSvc}" (expected ${expected})`);
    }
  }
  console.log(`Alt-Svc on HTTP/1.1 and HTTP/2 responses: ${expected}`);

  // Chromium through Alt-Svc alone: sequential fetches until one goes over h3 (bounded).
  const upgrade = async (args: string[]) => {
    const c = await launch(["--enable-quic", ...args]);
    try {
      // The page itself came over TCP (nothing was known of h3 yet); its response carried Alt-Svc.
      const seen: string[] = [
        await c.page.evaluate(() =>
          (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).nextHopProtocol
        ),
      ];
      for (let i = 0; i < 10 && seen.at(-1) !== "h3"; i++) {
        const r = await c.page.evaluate(async () => {
          performance.clearResourceTimings();
          await (await fetch("/hello", { cache: "no-store" })).text();
          return (performance.getEntriesByType("resource")[0] as PerformanceResourceTiming).nextHopProtocol;
        });
        seen.push(r);
        await new Promise((r) => setTimeout(r, 200));
      }
      return seen;
    } finally {
      await c.browser.close();
    }
  };
  const plain = await upgrade([]);
  console.log(
    `Chromium, QUIC on, Alt-Svc alone: ${plain.join(" ")}${
      plain.includes("h3")
        ? ""
        : " (no h3: QUIC refuses a certificate without a public root for a host not in --origin-to-force-quic-on)"
    }`,
  );
  const allowed = await upgrade([`--origin-to-force-quic-on=localhost:${await freePort()}`]);
  console.log(
    `Chromium, Alt-Svc with localhost allowed a private root (QUIC forced on another port only): ${allowed.join(" ")}`,
  );
  if (allowed.at(-1) !== "h3") fail("Chromium did not move to h3 through Alt-Svc");

  clients.push(launchRunner("chromium h3", "h3", ["--enable-quic", `--origin-to-force-quic-on=localhost:${port}`]));
  clients.push(launchRunner("chromium h2", "h2", ["--disable-quic"]));
  clients.push(launchRunner("chromium http/1.1", "http/1.1", ["--disable-quic", "--disable-http2"]));

  if (native) {
    // gtlsclient's bodies, saved to files once (distinct paths: one file each), checked by size and content.
    const dir = join(work, "download");
    mkdirSync(dir);
    const r = spawnSync("gtlsclient", [
      "-q",
      "--exit-on-all-streams-close",
      `--download=${dir}`,
      "127.0.0.1",
      String(port),
      ...WORKLOADS.map((w) => url(w.path)),
    ], { timeout: 60_000 });
    if (r.status !== 0) fail(`gtlsclient: exit ${r.status} ${r.stderr}`);
    for (const w of WORKLOADS) {
      const f = join(dir, w.path.slice(1));
      const got = existsSync(f) ? readFileSync(f, "latin1") : "";
      const want = w.name === "hello" ? "hello" : (w.name === "16k" ? "y" : "x").repeat(w.size);
      if (got !== want) {
        fail(
          `gtlsclient ${w.path}: ${got.length} bytes, expected ${w.size} (${
            w.name === "hello" ? "hello" : "the repeated letter"
          })`,
        );
      }
    }
    console.log(
      `gtlsclient (ngtcp2 ${/ngtcp2\/(\S+)/.exec(String(r.stdout))?.[1] ?? "client"}) got every body whole over h3`,
    );
  }

  // Warm-up: a short run of each client on each workload.
  for (const w of WORKLOADS) {
    const warm = { ...w, n: Math.min(w.n, 100) };
    for (const c of clients) await chromiumSample(c, warm);
    const nwarm = { ...warm, n: Math.min(nativeN(w), 500) };
    for (const t of targets) for (const n of NATIVE) await nativeSample(t, n.cmd(nwarm, t.port), nwarm, n.check);
  }
  for (let round = 0; round < rounds; round++) {
    for (const w of WORKLOADS) {
      // The order of the clients turns each round, so none always runs first.
      const turn = <T>(xs: T[]) => xs.map((_, i) => xs[(i + round) % xs.length]!);
      for (const c of turn(clients)) {
        const k = key(w, c.label);
        record(round, k, await chromiumSample(c, w));
      }
      const nw = { ...w, n: nativeN(w) };
      for (const t of turn(targets)) {
        for (const n of turn(NATIVE)) {
          record(round, key(w, n.label, t.name), await nativeSample(t, n.cmd(nw, t.port), nw, n.check));
        }
      }
    }
  }
} finally {
  for (const c of clients) await stopTree(c.p.pid!);
  for (const t of targets.slice(1)) await stopTree(t.pid);
  benchAgent.destroy();
  await stopTree(serverPid);
  rmSync(work, { recursive: true, force: true });
}

const load1 = loadavg();
const complaints = server.log().split("\n").filter((l) => /\b(WARN|ERROR)\b/.test(l));
console.log(
  `bobcat's log: ${complaints.length} warnings or errors${complaints.length ? `:\n${complaints.join("\n")}` : ""}`,
);
console.log(
  `\nbobcat (Bun ${Bun.version}), one TLS connector (RSA-2048, h3 + h2 + http/1.1), loopback; ${rounds} interleaved rounds; ` +
    `Chromium ${spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" }).stdout.trim().split(" ")[1]}: ` +
    `${requests} fetches (1 MiB: ${bigRequests}), ${concurrency} at a time; load average ${
      load0.map((x) => x.toFixed(2)).join(" ")
    } → ${load1.map((x) => x.toFixed(2)).join(" ")}`,
);
console.log(
  "| body | server | client | protocol | median req/s | median server CPU-µs/req | req per server CPU-s | client CPU-µs/req |",
);
console.log("|---|---|---|---|---:|---:|---:|---:|");
const summary = new Map<string, { rps: number; serverUs: number; clientUs: number }>();
for (const [k, samples] of results) {
  const [body, serverName, label] = k.split("\t") as [string, string, string];
  const s = {
    rps: median(samples.map((x) => x.rps)),
    serverUs: median(samples.map((x) => x.serverUs)),
    clientUs: median(samples.map((x) => x.clientUs)),
  };
  summary.set(k, s);
  const proto = label.split(" ").at(-1);
  console.log(
    `| ${body} | ${serverName} | ${label.split(" ")[0]} | ${proto} | ${s.rps.toFixed(0)} | ${s.serverUs.toFixed(1)} | ${
      (1e6 / s.serverUs).toFixed(0)
    } | ${s.clientUs.toFixed(0)} |`,
  );
}
for (const w of WORKLOADS) {
  for (const client of native ? ["chromium", "native"] : ["chromium"]) {
    const label = (p: string) => client === "chromium" ? `chromium ${p}` : NATIVE.find((n) => n.proto === p)!.label;
    const h3 = summary.get(key(w, label("h3")))!;
    const parts = ["h2", "http/1.1"].map((p) => {
      const o = summary.get(key(w, label(p)))!;
      return `${(h3.rps / o.rps).toFixed(2)}× by req/s, ${
        (o.serverUs / h3.serverUs).toFixed(2)
      }× by req per server CPU-s against ${p}`;
    });
    console.log(`${w.name} (${client}): h3 ${parts.join("; ")}`);
  }
  if (raw) {
    const parts = NATIVE.map((n) => {
      const b = summary.get(key(w, n.label))!;
      const r = summary.get(key(w, n.label, "raw Bun.serve"))!;
      return `${n.proto} ${(r.serverUs / b.serverUs).toFixed(2)}× (${(b.serverUs - r.serverUs).toFixed(1)} µs more)`;
    });
    console.log(`${w.name}: bobcat / raw Bun.serve by req per server CPU-s: ${parts.join(", ")}`);
  }
}
