#!/usr/bin/env bun
/**
 * Probe: does it matter on Deno how a `node:tls` server gets its connections? bobcat's
 * node-compat back-end accepts every TCP connection on a `net.Server` of its own (to count it
 * before TLS: maxConnections, acceptCount, connectionTimeout) and hands the socket to its
 * `node:tls` server with `emit("connection", socket)`. Would the server listening itself be
 * cheaper? Bare servers, no bobcat code, each answering a constant per request head (the
 * minimum an HTTP/1.1 keep-alive server does), in requests per server CPU-second:
 *
 *   deno-serve      Deno.serve, the same constant (the native connector's server)
 *   tls-listen      tls.createServer(options, onSecure).listen(port)
 *   tls-fed         the same server fed by net.createServer({ pauseOnConnect: true }) with
 *                   server.emit("connection", socket) and socket.resume(), as bobcat does
 *   tls-wrap        net.createServer, each socket wrapped with new TLSSocket(socket, { isServer })
 *   deno-listentls  Deno.listenTls (rustls on the TCP stream) with the same loop on conn.read/
 *                   conn.write: Deno's own TLS, no node layer (cannot ask for client certificates)
 *   KIND/request    any of the node:tls kinds or deno-listentls, building a Request per request head
 *                   (URL and header lines, as bobcat's HTTP/1.1 layer must for its engine) before
 *                   the constant answer
 *   bobcat          bobcat on its native back-end, a hello handler (Deno.serve; no client certificates)
 *   bobcat-compat   the same on node-compat (BOBCAT_BACKEND=node-compat: bobcat's HTTP/1.1 on
 *                   node:tls), requiring client certificates with --mtls, as bench/mtls.ts does
 *
 *   bun bench/probes/deno-tls-accept.ts [--kinds a,b] [--load wrk|fetch] [--mtls] [--rounds 3] [--duration 4] [--connections 32]
 *
 * (default kinds: deno-serve,tls-listen,tls-fed,tls-wrap,deno-listentls; the first is the base of the ratios)
 *
 * --load fetch: the client of bench/mtls.ts (Bun fetch loops, alice's certificate). --mtls: the
 * node:tls servers require a client certificate (requestCert, rejectUnauthorized, the client CA)
 * and read the peer chain once per connection, as bobcat does (Deno.serve and Deno.listenTls
 * cannot ask for one: they stay without, as the native connector does); only with --load fetch
 * (wrk sends no certificate).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";

const pki = fileURLToPath(new URL("../../tests/fixtures/pki", import.meta.url));
const read = (f: string) => readFileSync(join(pki, f), "utf8");
const CERT = read("localhost-rsa.pem") + read("intermediate.pem");
const KEY = read("localhost-rsa-key.pem");
const ANSWER = Buffer.from(
  "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 12\r\n\r\nHello, world",
  "latin1",
);
const CRLF2 = Buffer.from("\r\n\r\n");
/** The driver's scratch directory (bobcat's configs). */
let work = "";

/** "kind/variant": "request" builds a Request per head (below) before the constant answer. */
const VARIANT = process.argv[2] === "--serve" ? (process.argv[3]!.split("/")[1] ?? "") : "";

/**
 * What bobcat's HTTP/1.1 layer must do per request for its engine on node-compat: a Request
 * with the head's URL and header lines (thrown away here). On Deno its constructor's inner
 * request (an object literal with accessors) outlives minor GCs, and with it what it holds.
 */
function request(head: string): Request {
  const lines = head.split("\r\n");
  const target = lines[0]!.split(" ")[1]!;
  const pairs: string[] = [];
  let host = "localhost";
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const c = l.indexOf(":");
    const name = l.slice(0, c);
    const value = l.slice(c + 1).trim();
    if (name.length === 4 && name.toLowerCase() === "host") host = value;
    pairs.push(name, value);
  }
  const r = new Request(`https://${host}${target}`);
  const h = r.headers;
  for (let i = 0; i < pairs.length; i += 2) h.append(pairs[i]!, pairs[i + 1]!);
  return r;
}

/** Bytes in → one ANSWER per complete request head (GETs from well-behaved clients only). */
function heads(write: (b: Uint8Array) => void) {
  let carry: Buffer = Buffer.alloc(0);
  return (d: Uint8Array) => {
    const b = carry.length ? Buffer.concat([carry, d]) : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    let at = 0;
    let n = 0;
    for (;;) {
      const e = b.indexOf(CRLF2, at);
      if (e < 0) break;
      if (VARIANT === "request") request(b.toString("latin1", at, e));
      at = e + 4;
      n++;
    }
    carry = at >= b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(at));
    if (n === 1) write(ANSWER);
    else if (n > 1) write(Buffer.concat(Array.from({ length: n }, () => ANSWER)));
  };
}

async function serve(kindVariant: string, port: number, mtls: boolean) {
  const kind = kindVariant.split("/")[0]!;
  const tls = await import("node:tls");
  const net = await import("node:net");
  const options = {
    cert: CERT,
    key: KEY,
    ALPNCallback: () => "http/1.1",
    ...(mtls ? { ca: read("client-ca.pem"), requestCert: true, rejectUnauthorized: true } : {}),
  };
  const onSecure = (s: import("node:tls").TLSSocket) => {
    s.setNoDelay(true);
    s.on("error", () => {});
    if (mtls) s.getPeerCertificate(true);
    s.on("data", heads((b) => s.write(b)));
  };
  if (kind === "deno-serve") {
    // deno-lint-ignore no-explicit-any
    (globalThis as any).Deno.serve(
      { port, hostname: "127.0.0.1", cert: CERT, key: KEY, onListen() {} },
      () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }),
    );
  } else if (kind === "tls-listen") {
    tls.createServer(options, onSecure).listen(port, "127.0.0.1");
  } else if (kind === "tls-fed") {
    const server = tls.createServer(options, onSecure);
    net.createServer({ pauseOnConnect: true }, (s) => {
      s.setNoDelay(true);
      server.emit("connection", s);
      s.resume();
    }).listen(port, "127.0.0.1");
  } else if (kind === "tls-wrap") {
    const context = tls.createSecureContext(options);
    net.createServer({ pauseOnConnect: true }, (s) => {
      s.setNoDelay(true);
      const t = new tls.TLSSocket(s, {
        isServer: true,
        secureContext: context,
        ALPNProtocols: ["http/1.1"],
        ...(mtls ? { requestCert: true, rejectUnauthorized: true } : {}),
      });
      t.on("secure", () => onSecure(t));
      t.on("error", () => {});
      s.resume();
    }).listen(port, "127.0.0.1");
  } else if (kind === "deno-listentls") {
    // deno-lint-ignore no-explicit-any
    const D = (globalThis as any).Deno;
    const l = D.listenTls({ port, hostname: "127.0.0.1", cert: CERT, key: KEY, alpnProtocols: ["http/1.1"] });
    (async () => {
      for await (const conn of l) {
        (async () => {
          conn.setNoDelay?.(true);
          const buf = new Uint8Array(16384);
          let pending = Promise.resolve();
          const on = heads((b) => void (pending = pending.then(() => conn.write(b)).then(() => {})));
          try {
            for (;;) {
              const n = await conn.read(buf);
              if (n === null) break;
              on(buf.subarray(0, n));
            }
          } catch { /* closed */ }
          try {
            conn.close();
          } catch { /* closed */ }
        })();
      }
    })();
  } else throw new Error(`unknown kind ${kind}`);
  await new Promise((r) => setTimeout(r, 200));
  console.error(`listening on https://127.0.0.1:${port}/ (${kindVariant})`);
}

if (process.argv[2] === "--serve") {
  await serve(process.argv[3]!, Number(process.argv[4]), process.argv[5] === "mtls");
} else {
  const { bin, cpuSeconds, freePort, median, option, ROOT, startServer } = await import("../lib.ts");
  const rounds = Number(option("--rounds", "3"));
  const duration = Number(option("--duration", "4"));
  const connections = Number(option("--connections", "32"));
  const load = option("--load", "wrk");
  const mtls = process.argv.includes("--mtls");
  if (mtls && load !== "fetch") throw new Error("--mtls needs --load fetch (wrk sends no client certificate)");
  const kinds = option("--kinds", "deno-serve,tls-listen,tls-fed,tls-wrap,deno-listentls").split(",");
  const running: Array<{ kind: string; port: number; p: import("node:child_process").ChildProcess }> = [];
  work = mkdtempSync(join(tmpdir(), "bobcat-deno-tls-accept-"));
  const results = new Map<string, Array<{ rps: number; perCpu: number }>>();
  try {
    for (const kind of kinds) {
      const port = await freePort();
      const bobcat = kind === "bobcat" || kind === "bobcat-compat";
      const cmd = [bin("deno"), "run", "-A", `--config=${join(ROOT, "deno.json")}`];
      if (bobcat) {
        cmd.push(join(ROOT, "src/cli/main.ts"), "run", "--config", bobcatConfig(kind, port, mtls && kind !== "bobcat"));
      } else cmd.push(fileURLToPath(import.meta.url), "--serve", kind, String(port), mtls ? "mtls" : "");
      if (kind === "bobcat-compat") process.env.BOBCAT_BACKEND = "node-compat";
      const { p, line } = await startServer(cmd);
      delete process.env.BOBCAT_BACKEND;
      if (bobcat) console.error(`${kind}: ${line.replace(/^.*listening on/, "listening on")}`);
      running.push({ kind, port, p });
      results.set(kind, []);
    }
    for (let round = 0; round < rounds; round++) {
      // Every other round in reverse order, so that no row is always measured last.
      for (const s of round % 2 ? [...running].reverse() : running) {
        const c0 = cpuSeconds(s.p.pid!);
        const t0 = performance.now();
        let total = 0;
        if (load === "fetch") {
          const r = spawnSync(
            bin("bun"),
            [join(ROOT, "bench/mtls.ts"), "--client", String(s.port), String(duration), String(connections)],
            { encoding: "utf8", timeout: (duration + 30) * 1000 },
          );
          const { ok, failed } = JSON.parse(r.stdout.trim().split("\n").pop() || '{"ok":0,"failed":-1}');
          if (failed) console.error(`${s.kind}: ${failed} failed`);
          total = ok;
        } else {
          const r = spawnSync("wrk", ["-t2", `-c${connections}`, `-d${duration}s`, `https://localhost:${s.port}/`], {
            encoding: "utf8",
          });
          total = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
          const errors = /Non-2xx|Socket errors[^\n]*/.exec(r.stdout)?.[0];
          if (errors) console.error(`${s.kind}: ${errors}`);
        }
        const wall = (performance.now() - t0) / 1000;
        const cpu = cpuSeconds(s.p.pid!) - c0;
        results.get(s.kind)!.push({ rps: total / Math.min(wall, duration), perCpu: cpu > 0 ? total / cpu : 0 });
      }
    }
    const base = results.get(kinds[0]!)!;
    const baseCpu = median(base.map((x) => x.perCpu));
    const baseRps = median(base.map((x) => x.rps));
    const version = spawnSync(bin("deno"), ["--version"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
    const client = load === "fetch"
      ? `${connections} keep-alive Bun fetch loops with alice's certificate (bench/mtls.ts --client)`
      : `wrk -c${connections} keep-alive`;
    console.log(
      `${version}; ${rounds} rounds × ${duration} s, ${client}${
        mtls ? ", node:tls servers require it" : ""
      }, medians; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}\n`,
    );
    console.log("| server | req/s | req per server CPU-s | (rounds: min–max) | req/s ratio | per-CPU ratio |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const kind of kinds) {
      const xs = results.get(kind)!;
      const rps = median(xs.map((x) => x.rps));
      const perCpu = median(xs.map((x) => x.perCpu));
      const range = `${Math.round(Math.min(...xs.map((x) => x.perCpu)))}–${
        Math.round(Math.max(...xs.map((x) => x.perCpu)))
      }`;
      console.log(
        `| ${kind} | ${Math.round(rps)} | ${Math.round(perCpu)} | ${range} | ${(rps / baseRps).toFixed(2)} | ${
          (perCpu / baseCpu).toFixed(2)
        } |`,
      );
    }
  } finally {
    for (const s of running) s.p.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

/** A bobcat config with a hello handler on `port`, requiring client certificates when `clientCerts`. */
function bobcatConfig(kind: string, port: number, clientCerts: boolean): string {
  writeFileSync(
    join(work, "hello.ts"),
    `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
  );
  const file = join(work, `${kind.replace("/", "-")}.yaml`);
  writeFileSync(
    file,
    `logging: { level: warn, components: { connector: info } }
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${pki}/localhost-rsa.pem
                  certificateKeyFile: ${pki}/localhost-rsa-key.pem
                  certificateChainFile: ${pki}/intermediate.pem
${
      clientCerts
        ? `              certificateVerification: required\n              caCertificateFile: ${pki}/client-ca.pem\n`
        : ""
    }
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: hello.ts
                needsPeerCertificates: false
`,
  );
  return file;
}
