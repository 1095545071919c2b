#!/usr/bin/env bun
/**
 * Keep-alive HTTPS requests with client certificates (certificateVerification: required) against
 * the same connector without them, in one run, rounds interleaved:
 *
 *   bobcat native, no client certificates | bobcat Bun native, mTLS (Bun.serve requestCert; Bun
 *   only: Deno.serve cannot ask for client certificates) | bobcat node-compat, mTLS (what a
 *   connector whose handlers need the certificate runs on; the label names its server: bobcat's
 *   HTTP/1.1 layer on Bun.listen on Bun, on node:tls on Deno) | the same from another checkout
 *
 *   bun bench/mtls.ts [--runtime bun|deno] [--baseline DIR] [--bare] [--node-http] [--node-tls] [--rounds 3] [--duration 5] [--connections 32]
 *
 * --runtime: what runs the server (the client is Bun either way). --baseline: another checkout of
 * bobcat (e.g. `git worktree add /tmp/before <commit>`, node_modules linked) whose node-compat
 * row is measured in the same run, rounds interleaved: before/after side by side. --bare: one more
 * row, the node server node-compat runs on (node:https on Deno, node:http2 allowHTTP1 on Bun) with
 * no bobcat code, saying hello and reading the peer certificate once per connection: what the
 * runtime's node layer costs by itself, the ceiling of node's servers. --node-http: one more row,
 * the node-compat connector with BOBCAT_NODE_HTTP=1 (node's HTTP servers instead of bobcat's
 * own HTTP/1.1 layer on node:tls): that layer's before/after in one run. --node-tls (Bun): one more
 * row, bobcat's HTTP/1.1 layer on node:tls instead of Bun.listen (BOBCAT_BUN_LISTEN=0).
 *
 * wrk cannot send a client certificate, so the client is Bun's fetch with `tls: { cert, key }`
 * (keep-alive, --connections request loops) in its own process, the same client for every row.
 * Speed is the client's as much as the server's on 2 shared cores: compare the requests per
 * server CPU-second (utime+stime of the server's process tree) rather than req/s.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, cpuSeconds, freePort, median, option, ROOT, startServer } from "./lib.ts";

const pki = join(ROOT, "tests/fixtures/pki");

// Client mode: `bun bench/mtls.ts --client PORT SECONDS CONNECTIONS` prints the requests made.
if (process.argv[2] === "--client") {
  const [port, seconds, conns] = process.argv.slice(3).map(Number) as [number, number, number];
  const tls = {
    cert: readFileSync(join(pki, "alice.pem"), "utf8"),
    key: readFileSync(join(pki, "alice-key.pem"), "utf8"),
    ca: readFileSync(join(pki, "ca.pem"), "utf8"),
  };
  const url = `https://localhost:${port}/`;
  const end = performance.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: conns }, async () => {
    while (performance.now() < end) {
      try {
        const r = await fetch(url, { tls } as RequestInit);
        await r.arrayBuffer();
        if (r.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  }));
  console.log(JSON.stringify({ ok, failed }));
  process.exit(0);
}

const rounds = Number(option("--rounds", "3"));
const duration = Number(option("--duration", "5"));
const connections = Number(option("--connections", "32"));
const runtime = option("--runtime", "bun");
const baseline = option("--baseline", "");
const bare = process.argv.includes("--bare");
const nodeHttp = process.argv.includes("--node-http");
const nodeTls = process.argv.includes("--node-tls");
const Runtime = runtime === "deno" ? "Deno" : "Bun";

const work = mkdtempSync(join(tmpdir(), "bobcat-mtls-"));
writeFileSync(
  join(work, "hello.ts"),
  `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
);

function config(name: string, port: number, clientCerts: boolean): string {
  const file = join(work, `${name}.yaml`);
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

/** The bare node server of --bare: prints "listening on https" once it listens. */
function bareServer(port: number): string {
  const file = join(work, "bare.ts");
  const r = (f: string) => JSON.stringify(join(pki, f));
  writeFileSync(
    file,
    `import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { createSecureServer } from "node:http2";
const r = (f: string) => readFileSync(f, "utf8");
const options = {
  key: r(${r("localhost-rsa-key.pem")}),
  cert: r(${r("localhost-rsa.pem")}) + r(${r("intermediate.pem")}),
  ca: r(${r("client-ca.pem")}),
  requestCert: true,
  rejectUnauthorized: true,
};
const seen = new WeakSet<object>();
const hello = (req: any, res: any) => {
  const s = req.socket;
  if (!seen.has(s)) {
    seen.add(s);
    s.getPeerCertificate?.(true);
  }
  res.writeHead(200, { "content-type": "text/plain", "content-length": "12" });
  res.end("Hello, world");
};
const server = ${
      runtime === "deno"
        ? "createServer(options, hello)"
        : `createSecureServer({ ...options, allowHTTP1: true, ALPNCallback: () => "http/1.1" } as any, hello)`
    };
server.listen(${port}, "127.0.0.1", () => console.error("listening on https on ${
      runtime === "deno" ? "node:https" : "node:http2"
    };"));
`,
  );
  return file;
}

interface Row {
  id: string;
  label: string;
  clientCerts: boolean;
  env?: Record<string, string>;
  expect: RegExp;
  /** The checkout that runs this row (default: this one). */
  root?: string;
  /** A bare node server (--bare) instead of bobcat. */
  bare?: boolean;
}
const native = runtime === "deno" ? /native Deno/ : /native Bun\.serve/;
const rows: Row[] = [
  { id: "plain", label: `${Runtime} native, no client certs`, clientCerts: false, expect: native },
  ...(runtime === "bun"
    ? [{ id: "native", label: "Bun native, mTLS required", clientCerts: true, expect: native }]
    : []),
  {
    id: "compat",
    label: `${Runtime} node-compat, mTLS required`,
    clientCerts: true,
    env: { BOBCAT_BACKEND: "node-compat" },
    expect: /node-compat back-end/,
  },
  // The same connector on node's HTTP servers (node:https on Deno, node:http2 on Bun) instead of
  // bobcat's own HTTP/1.1 on node:tls: the before/after of that layer in one run.
  ...(nodeHttp
    ? [{
      id: "compat-node",
      label: `${Runtime} node-compat, mTLS required, BOBCAT_NODE_HTTP=1`,
      clientCerts: true,
      env: { BOBCAT_BACKEND: "node-compat", BOBCAT_NODE_HTTP: "1" },
      expect: /node-compat back-end/,
    }]
    : []),
  // Bun: the same HTTP/1.1 layer on node:tls instead of Bun.listen (BOBCAT_BUN_LISTEN=0).
  ...(nodeTls && runtime === "bun"
    ? [{
      id: "compat-node-tls",
      label: `${Runtime} node-compat, mTLS required, BOBCAT_BUN_LISTEN=0`,
      clientCerts: true,
      env: { BOBCAT_BACKEND: "node-compat", BOBCAT_BUN_LISTEN: "0" },
      expect: /node-compat back-end/,
    }]
    : []),
  ...(bare
    ? [{ id: "bare", label: `${Runtime} bare node server, mTLS required`, clientCerts: true, expect: /./, bare: true }]
    : []),
  ...(baseline
    ? [{
      id: "baseline",
      label: `${Runtime} node-compat, mTLS required (${baseline})`,
      clientCerts: true,
      env: { BOBCAT_BACKEND: "node-compat" },
      expect: /node-compat back-end|node:http2 compatibility/,
      root: baseline,
    }]
    : []),
];

const running: Array<{ row: Row; port: number; p: ChildProcess }> = [];
const results = new Map<string, Array<{ rps: number; perCpu: number; failed: number }>>();
try {
  for (const row of rows) {
    const port = await freePort();
    const root = row.root ?? ROOT;
    const file = config(row.id, port, row.clientCerts);
    const cmd = row.bare
      ? (runtime === "deno" ? [bin("deno"), "run", "-A", bareServer(port)] : [bin("bun"), bareServer(port)])
      : runtime === "deno"
      ? [
        bin("deno"),
        "run",
        "-A",
        `--config=${join(root, "deno.json")}`,
        join(root, "src/cli/main.ts"),
        "run",
        "--config",
        file,
      ]
      : [bin("bun"), join(root, "src/cli/main.ts"), "run", "--config", file];
    const saved = { ...process.env };
    Object.assign(process.env, row.env ?? {});
    const { p, line } = await startServer(cmd, /listening on https/);
    for (const k of Object.keys(row.env ?? {})) if (saved[k] === undefined) delete process.env[k];
    if (!row.expect.test(line)) throw new Error(`${row.label}: unexpected back-end: ${line}`);
    const server = /; on ((?:bobcat HTTP\/1\.1 on )?(?:node:|Bun\.)[\w+ :]+?);/.exec(line)?.[1];
    if (server) row.label += ` (${server})`;
    running.push({ row, port, p });
    results.set(row.id, []);
  }
  for (let round = 0; round < rounds; round++) {
    // Every other round in reverse order, so that no row is always measured last.
    for (const s of round % 2 ? [...running].reverse() : running) {
      const c0 = cpuSeconds(s.p.pid!);
      const t0 = performance.now();
      const r = spawnSync(
        bin("bun"),
        [import.meta.path, "--client", String(s.port), String(duration), String(connections)],
        { encoding: "utf8", timeout: (duration + 30) * 1000 },
      );
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(s.p.pid!) - c0;
      const { ok, failed } = JSON.parse(r.stdout.trim().split("\n").pop() || '{"ok":0,"failed":-1}');
      results.get(s.row.id)!.push({ rps: ok / Math.min(wall, duration), perCpu: cpu > 0 ? ok / cpu : 0, failed });
    }
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const base = results.get("plain")!;
  const baseRps = median(base.map((x) => x.rps));
  const baseCpu = median(base.map((x) => x.perCpu));
  const version = spawnSync(bin(runtime), ["--version"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
  console.log(
    `server on ${Runtime} ${version}; ${rounds} rounds × ${duration} s, ${connections} keep-alive fetch loops (client: Bun fetch with alice's certificate), medians\n`,
  );
  console.log(
    "| connector | req/s | req per server CPU-s | (rounds: min–max) | failed | req/s ratio | per-CPU ratio |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    const xs = results.get(row.id)!;
    const rps = median(xs.map((x) => x.rps));
    const perCpu = median(xs.map((x) => x.perCpu));
    const failed = xs.reduce((a, x) => a + x.failed, 0);
    console.log(
      `| ${row.label} | ${fmt(rps)} | ${fmt(perCpu)} | ${fmt(Math.min(...xs.map((x) => x.perCpu)))}–${
        fmt(Math.max(...xs.map((x) => x.perCpu)))
      } | ${failed} | ${(rps / baseRps).toFixed(2)} | ${(perCpu / baseCpu).toFixed(2)} |`,
    );
  }
} finally {
  for (const s of running) s.p.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
