#!/usr/bin/env bun
/**
 * Full TLS handshakes per second (a new TLS connection, with no session resumption, for every
 * request) and keep-alive requests per second, for every adapter path bobcat has, side by side
 * with a raw Bun.serve that uses the same certificate and chain, in one run, rounds interleaved:
 *
 *   raw Bun.serve | bobcat Bun native | bobcat Bun node-compat | bobcat Deno native |
 *   bobcat Deno node-compat | bobcat on Node (--runtime node)
 *
 *   bun bench/handshakes.ts [--rounds 3] [--duration 5] [--connections 32] [--parallel 4]
 *                           [--only raw,bun-native,bun-compat,deno-native,deno-compat,node]
 *
 * Full handshakes: `openssl s_time -new -www /` — every connection is a fresh handshake (the
 * client never offers a session id or ticket) followed by one HTTP/1.0 GET; --parallel such
 * clients run at once. (wrk with "Connection: close" does NOT do that: wrk keeps the session on
 * its SSL object across reconnects, so almost every reconnect is resumed — against openssl
 * s_server, 6118 of 6120 accepts were session cache hits.)
 * Keep-alive: `wrk -t1 -c<connections>`, as bench/https-hello.ts.
 *
 * Server CPU is utime+stime from /proc/<pid>/stat summed over the server's process tree (with
 * --runtime node, bobcat's Bun parent plus the Node child). Certificate: tests/fixtures/pki
 * localhost-rsa.pem (RSA-2048) with intermediate.pem as the chain.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bin, cpuSeconds, freePort, median, option, processTree as tree, ROOT, startServer } from "./lib.ts";

const root = ROOT;
const opt = option;
const rounds = Number(opt("--rounds", "3"));
const duration = Number(opt("--duration", "5"));
const connections = Number(opt("--connections", "32"));
const parallel = Number(opt("--parallel", "4"));
const only = opt("--only", "raw,bun-native,bun-compat,deno-native,deno-compat,node").split(",");
const pki = join(root, "tests/fixtures/pki");
const leaf = join(pki, "localhost-rsa.pem");
const key = join(pki, "localhost-rsa-key.pem");
const chain = join(pki, "intermediate.pem");

for (const [tool, probe] of [["wrk", ["--version"]], ["openssl", ["version"]], ["node", ["--version"]]] as const) {
  if (spawnSync(tool, [...probe]).error) {
    console.error(`${tool} is needed (apt-get install ${tool === "node" ? "nodejs" : tool})`);
    process.exit(2);
  }
}

/** Starts a server and waits for its HTTPS listener. */
const start = (cmd: string[]) => startServer(cmd, /listening on https/);

interface Sample {
  rps: number;
  perCpu: number;
  errors: number;
}

function keepAlive(port: number, pid: number, seconds = duration, conns = connections): Sample {
  const c0 = cpuSeconds(pid);
  const r = spawnSync("wrk", ["-t1", `-c${conns}`, `-d${seconds}s`, `https://127.0.0.1:${port}/`], {
    encoding: "utf8",
    timeout: (seconds + 30) * 1000,
  });
  const cpu = cpuSeconds(pid) - c0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const total = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, perCpu: cpu > 0 ? total / cpu : 0, errors };
}

/** `parallel` concurrent `openssl s_time -new`: each connection a full handshake plus one GET. */
async function handshakes(port: number, pid: number, seconds = duration, clients = parallel): Promise<Sample> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from({ length: clients }, () =>
      new Promise<{ out: string; code: number | null }>((resolve) => {
        const p = spawn("openssl", [
          "s_time",
          "-connect",
          `127.0.0.1:${port}`,
          "-new",
          "-www",
          "/",
          "-time",
          String(seconds),
        ], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        p.stdout!.on("data", (d) => (out += d));
        p.stderr!.on("data", (d) => (out += d));
        const killer = setTimeout(() => p.kill("SIGKILL"), (seconds + 30) * 1000);
        p.on("exit", (code) => {
          clearTimeout(killer);
          resolve({ out, code });
        });
      })),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - c0;
  let total = 0;
  let errors = 0;
  for (const r of runs) {
    const m = /(\d+) connections in [\d.]+s;/.exec(r.out);
    total += Number(m?.[1] ?? 0);
    if (!m || r.code !== 0) errors++;
    // s_time reads until the server closes; a response without a body would show 0 bytes.
    if (/bytes read 0\b/.test(r.out)) errors++;
  }
  return { rps: total / wall, perCpu: cpu > 0 ? total / cpu : 0, errors };
}

const work = mkdtempSync(join(tmpdir(), "bobcat-handshakes-"));
const fullchain = join(work, "fullchain.pem");
writeFileSync(fullchain, readFileSync(leaf, "utf8").trimEnd() + "\n" + readFileSync(chain, "utf8"));
writeFileSync(
  join(work, "hello.ts"),
  `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
);
// Handler modules must be JavaScript under Node 20.
writeFileSync(
  join(work, "hello.mjs"),
  `export default { fetch: () => new Response("Hello, world", { headers: { "content-type": "text/plain" } }) };\n`,
);

function config(name: string, port: number, extra: string, handler: string): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    `logging: { level: warn, components: { connector: info } }
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true${extra}
          sslHostConfigs:
            - certificates:
                - certificateFile: ${leaf}
                  certificateKeyFile: ${key}
                  certificateChainFile: ${chain}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: ${handler}
`,
  );
  return file;
}

const main = join(root, "src/cli/main.ts");
const bunCmd = (cfg: string) => [bin("bun"), main, "run", "--config", cfg];
const denoCmd = (
  cfg: string,
) => [bin("deno"), "run", "-A", `--config=${join(root, "deno.json")}`, main, "run", "--config", cfg];
const compat = "\n          maxConnections: 1000";
/** The native back-ends now cover maxConnections too: the node-compat rows force that back-end. */
const forceCompat = (cmd: string[]) => ["env", "BOBCAT_BACKEND=node-compat", ...cmd];

interface Path {
  id: string;
  label: string;
  expect: RegExp; // in the "listening on" line: the back-end bobcat chose
  cmd: (port: number) => string[];
}
const allPaths: Path[] = [
  {
    id: "raw",
    label: "raw Bun.serve",
    expect: /listening/,
    cmd: (port) => [bin("bun"), join(import.meta.dir, "raw-bun-serve.ts"), String(port), fullchain, key, "0"],
  },
  {
    id: "bun-native",
    label: "bobcat Bun native",
    expect: /native Bun\.serve/,
    cmd: (port) => bunCmd(config("bun-native", port, "", "hello.ts")),
  },
  {
    id: "bun-compat",
    label: "bobcat Bun node-compat",
    expect: /node-compat back-end/,
    cmd: (port) => forceCompat(bunCmd(config("bun-compat", port, compat, "hello.ts"))),
  },
  {
    id: "deno-native",
    label: "bobcat Deno native",
    expect: /native Deno/,
    cmd: (port) => denoCmd(config("deno-native", port, "", "hello.ts")),
  },
  {
    id: "deno-compat",
    label: "bobcat Deno node-compat",
    expect: /node-compat back-end/,
    cmd: (port) => forceCompat(denoCmd(config("deno-compat", port, compat, "hello.ts"))),
  },
  {
    id: "node",
    label: "bobcat Node (--runtime node)",
    expect: /node:http2 \(the only back-end on Node\)/,
    cmd: (port) => [...bunCmd(config("node", port, "", "hello.mjs")), "--runtime", "node"],
  },
];
const paths = allPaths.filter((p) => only.includes(p.id));

const running: { path: Path; port: number; p: ChildProcess; backend: string }[] = [];
const results = new Map<string, { ka: Sample[]; hs: Sample[] }>();
const versions = {
  bun: spawnSync(bin("bun"), ["--version"], { encoding: "utf8" }).stdout.trim(),
  deno: /deno (\S+)/.exec(spawnSync(bin("deno"), ["--version"], { encoding: "utf8" }).stdout)?.[1],
  node: spawnSync("node", ["--version"], { encoding: "utf8" }).stdout.trim(),
  openssl: spawnSync("openssl", ["version"], { encoding: "utf8" }).stdout.trim(),
};
try {
  for (const path of paths) {
    const port = await freePort();
    const { p, line } = await start(path.cmd(port));
    running.push({
      path,
      port,
      p,
      backend: line.replace(/^.*listening on \S+ — /, "").replace(/^listening on .*/, "Bun.serve"),
    });
    if (!path.expect.test(line)) throw new Error(`${path.label}: unexpected back-end: ${line}`);
    results.set(path.id, { ka: [], hs: [] });
  }
  // Sanity: every server answers the s_time request (HTTP/1.0, no Host) with its body, and closes.
  for (const s of running) {
    const r = spawnSync("openssl", [
      "s_client",
      "-quiet",
      "-connect",
      `127.0.0.1:${s.port}`,
      "-CAfile",
      join(pki, "ca.pem"),
      "-verify_return_error",
    ], {
      input: "GET / HTTP/1.0\r\n\r\n",
      encoding: "utf8",
      timeout: 10000,
    });
    if (!/Hello, world/.test(r.stdout)) {
      throw new Error(
        `${s.path.label}: no hello over s_client (chain verified against ca.pem): ${r.stdout}${r.stderr}`,
      );
    }
  }
  for (const s of running) {
    keepAlive(s.port, s.p.pid!, 2, 8); // warm-up (JIT, pools)
    await handshakes(s.port, s.p.pid!, 2, 2);
  }
  for (let i = 0; i < rounds; i++) {
    // Rotate the order each round so no path always follows the same neighbour.
    const order = running.map((_, j) => running[(j + i) % running.length]!);
    for (const s of order) {
      const r = results.get(s.path.id)!;
      r.ka.push(keepAlive(s.port, s.p.pid!));
      r.hs.push(await handshakes(s.port, s.p.pid!));
    }
    console.error(`round ${i + 1}/${rounds} done`);
  }
} finally {
  for (const s of running) {
    const pids = tree(s.p.pid!);
    // --runtime node builds its bundle into a temp dir: remove it with the server.
    const bundleDirs = pids
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").find((a) =>
            /\/bobcat-node-[^/]+\/bobcat-node\.mjs$/.test(a)
          );
        } catch {
          return undefined;
        }
      })
      .filter((a): a is string => !!a)
      .map((a) => dirname(a));
    for (const p of pids.reverse()) {
      try {
        process.kill(p, "SIGTERM");
      } catch {
        // gone
      }
    }
    const until = Date.now() + 5000;
    while (
      Date.now() < until && pids.some((p) => {
        try {
          process.kill(p, 0);
          return true;
        } catch {
          return false;
        }
      })
    ) await new Promise((r) => setTimeout(r, 50));
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
    for (const d of bundleDirs) if (d.startsWith(tmpdir())) rmSync(d, { recursive: true, force: true });
  }
  rmSync(work, { recursive: true, force: true });
}

const fmt = (n: number) => n.toFixed(0);
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "-");
console.log(
  `TLS handshakes and keep-alive, hello world, RSA-2048 leaf + intermediate, loopback, ${rounds} interleaved rounds of ${duration}s per measurement`,
);
console.log(`Bun ${versions.bun}, Deno ${versions.deno}, Node ${versions.node}; clients: ${versions.openssl}, wrk`);
console.log(
  `full handshake: ${parallel} x openssl s_time -new -www / (TLS 1.3, X25519, one HTTP/1.0 GET per new connection); keep-alive: wrk -t1 -c${connections}`,
);
console.log("");
console.log(
  "| path | back-end | keep-alive req/s | req per server CPU-s | ratio to raw (req/s, per CPU-s) | full handshakes/s | handshakes per server CPU-s | ratio to raw (hs/s, per CPU-s) |",
);
console.log("|---|---|---|---|---|---|---|---|");
const med = new Map<string, { ka: number; kaCpu: number; hs: number; hsCpu: number; errors: number }>();
for (const s of running) {
  const r = results.get(s.path.id)!;
  med.set(s.path.id, {
    ka: median(r.ka.map((x) => x.rps)),
    kaCpu: median(r.ka.map((x) => x.perCpu)),
    hs: median(r.hs.map((x) => x.rps)),
    hsCpu: median(r.hs.map((x) => x.perCpu)),
    errors: [...r.ka, ...r.hs].reduce((a, x) => a + x.errors, 0),
  });
}
const raw = med.get("raw");
for (const s of running) {
  const m = med.get(s.path.id)!;
  const kr = raw ? `${ratio(m.ka, raw.ka)}, ${ratio(m.kaCpu, raw.kaCpu)}` : "-";
  const hr = raw ? `${ratio(m.hs, raw.hs)}, ${ratio(m.hsCpu, raw.hsCpu)}` : "-";
  console.log(
    `| ${s.path.label} | ${s.backend.replace(/ \(covers: .*\)$/, "").replace(/, because .*$/, "")} | ${fmt(m.ka)} | ${
      fmt(m.kaCpu)
    } | ${kr} | ${fmt(m.hs)} | ${fmt(m.hsCpu)} | ${hr} |`,
  );
}
console.log("");
console.log("per round (keep-alive req/s ; handshakes/s):");
for (const s of running) {
  const r = results.get(s.path.id)!;
  console.log(
    `  ${s.path.label.padEnd(30)} ${r.ka.map((x) => fmt(x.rps)).join(" / ")} ; ${
      r.hs.map((x) => fmt(x.rps)).join(" / ")
    }`,
  );
}
const errs = [...med.entries()].filter(([, m]) => m.errors > 0);
if (errs.length) {
  console.log(
    `errors (wrk socket errors / non-2xx, failed s_time clients): ${
      errs.map(([id, m]) => `${id} ${m.errors}`).join(", ")
    }`,
  );
}
console.log(
  "\nnoise: 2 cores shared by the clients (wrk, openssl) and the server, and possibly by other work on the machine; rounds are interleaved and medians taken, but differences under ~10% are noise. Per-CPU-second figures are steadier than req/s.",
);
