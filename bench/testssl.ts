#!/usr/bin/env bun
/**
 * testssl.sh scan of bobcat's DEFAULT config (built-in config/server.yaml, self-signed
 * certificate created on first start) under Bun and under Deno, one run with hstsEnabled on the
 * ROOT context, and one per node-compat path (Bun and Deno with maxConnections: 1000, which
 * only that back-end can do, and --runtime node). It prints a summary per scan — protocols,
 * ciphers per protocol, weak cipher categories, forward secrecy per cipher, HSTS, the known
 * vulnerabilities testssl checks — and exits 1 when a finding contradicts what the README
 * promises (TLS 1.2 and 1.3 only, forward-secret AEAD suites only, HSTS only when enabled, no
 * known vulnerability), so it can serve as a check. The raw reports (testssl's text, log and
 * JSON, the server log) stay in a temp dir whose path is printed.
 *
 *   bun bench/testssl.ts [--only bun,deno,hsts,bun-compat,deno-compat,node]
 *   bun bench/testssl.ts --evaluate DIR/report.json [--hsts]     # re-check a kept report
 *
 * Needs Debian's testssl.sh (`apt-get install -y testssl.sh`), `unshare` and `ip`. Nothing
 * leaves the machine: testssl runs with --ip 127.0.0.1 --nodns none and without --phone-out,
 * and because it still resolves "invalid." while probing the local openssl, this script re-runs
 * itself — servers and scanner together — in a new network namespace that has only loopback.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bin, freePort, option, processTree as tree, ROOT } from "./lib.ts";

const root = ROOT;
const args = process.argv.slice(2);
const opt = option;
const only = opt("--only", "bun,deno,hsts,bun-compat,deno-compat,node").split(",");

// ---- reading testssl's flat JSON ----
interface Finding {
  id: string;
  severity: string;
  finding: string;
}
interface Cipher {
  proto: string;
  hex: string;
  name: string;
  kx: string;
  enc: string;
  bits: number;
  iana: string;
}

const PROTOCOLS: [string, string][] = [
  ["SSLv2", "SSLv2"],
  ["SSLv3", "SSLv3"],
  ["TLS1", "TLS 1.0"],
  ["TLS1_1", "TLS 1.1"],
  ["TLS1_2", "TLS 1.2"],
  ["TLS1_3", "TLS 1.3"],
];
const WEAK_CATEGORIES: [string, string][] = [
  ["cipherlist_NULL", "NULL"],
  ["cipherlist_aNULL", "anonymous"],
  ["cipherlist_EXPORT", "export"],
  ["cipherlist_LOW", "LOW (DES, RC2, RC4, 64-bit)"],
  ["cipherlist_3DES_IDEA", "3DES/IDEA"],
  ["cipherlist_AVERAGE", "obsolete CBC"],
];
const VULNS = [
  "heartbleed",
  "CCS",
  "ticketbleed",
  "ROBOT",
  "secure_renego",
  "secure_client_renego",
  "CRIME_TLS",
  "BREACH",
  "POODLE_SSL",
  "fallback_SCSV",
  "SWEET32",
  "FREAK",
  "DROWN",
  "LOGJAM",
  "LOGJAM-common_primes",
  "BEAST",
  "LUCKY13",
  "RC4",
];
/** Findings testssl rates MEDIUM or worse that are not about the TLS configuration; why they are accepted. */
const ACCEPTED: Record<string, string> = {
  cert_chain_of_trust: "the default config's certificate is self-signed (createSelfSigned)",
  cert_revocation: "a self-signed certificate names no CRL or OCSP responder",
  cert_validityPeriod: "the self-signed certificate is valid 825 days (testssl's limit for CA-issued ones)",
  cipher_order: "the client picks among the offered suites; every one is AEAD with forward secrecy",
  security_headers: "X-Frame-Options / CSP and the like are application headers, not TLS",
};
const AEAD = /^(AESGCM|ChaCha20|CHACHA20|AESCCM)$/i;
const BAD = new Set(["MEDIUM", "HIGH", "CRITICAL"]);

function evaluate(s: { hsts: boolean }, findings: Finding[], dir: string) {
  const get = (id: string) => findings.find((f) => f.id === id);
  const problems: string[] = [];
  const lines: string[] = [];

  const offered = PROTOCOLS.filter(([id]) => /^offered/.test(get(id)?.finding ?? ""));
  const notOffered = PROTOCOLS.filter(([id]) => /^not offered/.test(get(id)?.finding ?? ""));
  for (const [id, name] of PROTOCOLS) {
    const f = get(id);
    if (!f) problems.push(`protocol ${name}: no result`);
    else if ((id === "TLS1_2" || id === "TLS1_3") && !/^offered/.test(f.finding)) {
      problems.push(`${name} is not offered: ${f.finding}`);
    } else if (id !== "TLS1_2" && id !== "TLS1_3" && !/^not offered/.test(f.finding)) {
      problems.push(`${name} is offered: ${f.finding}`);
    }
  }
  lines.push(
    `protocols offered:  ${offered.map(([, n]) => n).join(", ") || "none"}   (not offered: ${
      notOffered.map(([, n]) => n).join(", ")
    })`,
  );

  const ciphers: Cipher[] = [];
  for (const f of findings.filter((x) => x.id.startsWith("cipher-"))) {
    const m = /^(SSLv\d|TLS \d\.\d|TLS \d)\s+(x[0-9a-f]+)\s+(\S+)\s+(\S+(?: \d+)?)\s+(\S+)\s+(\d+)\s+(\S+)/.exec(
      f.finding,
    );
    if (!m) {
      problems.push(`unreadable cipher line ${f.id}: ${f.finding}`);
      continue;
    }
    ciphers.push({ proto: m[1]!, hex: m[2]!, name: m[3]!, kx: m[4]!, enc: m[5]!, bits: Number(m[6]), iana: m[7]! });
  }
  if (ciphers.length === 0) problems.push("no cipher list (testssl -E gave nothing)");
  const pfs = new Set((get("PFS_ciphers")?.finding ?? "").split(/\s+/).filter(Boolean));
  for (const proto of ["TLS 1.2", "TLS 1.3"]) {
    const list = ciphers.filter((c) => c.proto === proto);
    lines.push(`${proto} ciphers:     ${list.map((c) => `${c.iana} (${c.kx}, ${c.bits} bit)`).join(", ") || "none"}`);
  }
  for (const c of ciphers) {
    if (c.proto !== "TLS 1.2" && c.proto !== "TLS 1.3") problems.push(`cipher offered under ${c.proto}: ${c.iana}`);
    if (!AEAD.test(c.enc)) problems.push(`non-AEAD cipher offered (${c.proto}): ${c.iana} [${c.enc}]`);
    if (c.bits < 128) problems.push(`cipher under 128 bits (${c.proto}): ${c.iana}`);
    const fs = c.proto === "TLS 1.3" || /^(ECDHE|DHE|EDH)-/.test(c.name);
    if (!fs || !pfs.has(c.name)) {
      problems.push(
        `cipher without forward secrecy (${c.proto}): ${c.iana} [kx ${c.kx}]${
          pfs.has(c.name) ? "" : ", not in testssl's FS list"
        }`,
      );
    }
  }

  const weak = WEAK_CATEGORIES.filter(([id]) => !/^not offered/.test(get(id)?.finding ?? "missing"));
  for (const [id, name] of weak) problems.push(`weak category ${name} (${id}): ${get(id)?.finding ?? "no result"}`);
  if (!/^offered/.test(get("cipherlist_STRONG")?.finding ?? "")) problems.push("no strong (AEAD) cipher offered");
  lines.push(
    `weak ciphers:       ${
      weak.length === 0
        ? "none of NULL, anonymous, export, LOW/DES/RC4, 3DES/IDEA, obsolete CBC (incl. static-RSA CBC) offered"
        : weak.map(([, n]) => n).join(", ")
    }`,
  );
  const fsAll = ciphers.length > 0 && ciphers.every((c) => pfs.has(c.name));
  if (get("PFS")?.severity !== "OK") problems.push(`forward secrecy: ${get("PFS")?.finding ?? "no result"}`);
  lines.push(
    `forward secrecy:    ${
      fsAll ? `every offered cipher (${ciphers.length}/${ciphers.length})` : `NOT on every cipher`
    }; curves ${get("PFS_ECDHE_curves")?.finding ?? "?"}`,
  );

  const hsts = get("HSTS_time");
  const hstsOff = /not offered/.test(get("HSTS")?.finding ?? "");
  if (s.hsts) {
    if (!hsts || hsts.severity !== "OK" || !/31536000/.test(hsts.finding)) {
      problems.push(`HSTS expected with max-age=31536000: ${hsts?.finding ?? get("HSTS")?.finding ?? "no result"}`);
    }
    lines.push(
      `HSTS:               ${hsts ? `${hsts.finding} [${hsts.severity}]` : "not offered"}; subdomains: ${
        get("HSTS_subdomains")?.finding ?? "-"
      }; preload: ${get("HSTS_preload")?.finding ?? "-"}`,
    );
  } else {
    if (!hstsOff) {
      problems.push(`HSTS sent although hstsEnabled is off: ${hsts?.finding ?? get("HSTS")?.finding ?? "no result"}`);
    }
    lines.push(
      `HSTS:               ${hstsOff ? "not offered (hstsEnabled is off by default, as in Tomcat)" : hsts?.finding}`,
    );
  }

  const vulnLine: string[] = [];
  for (const v of VULNS) {
    const f = get(v);
    if (!f) problems.push(`vulnerability check ${v}: no result`);
    else if (f.severity !== "OK" && f.severity !== "INFO") problems.push(`${v}: ${f.severity} ${f.finding}`);
    vulnLine.push(`${v} ${f ? f.severity : "?"}`);
  }
  lines.push(`vulnerabilities:    ${vulnLine.join(", ")}`);
  lines.push(
    `                    (ROBOT: ${get("ROBOT")?.finding}; renegotiation: ${
      get("secure_renego")?.finding
    }, client-initiated ${get("secure_client_renego")?.finding}; compression: ${get("CRIME_TLS")?.finding})`,
  );

  // testssl's ticket-resumption check quits its first s_client right after the handshake; a
  // server that sends its TLS 1.3 NewSessionTicket a moment later (rustls, in Deno.serve) leaves
  // it without a session to resume, and testssl says "connect problem". The run probes that case
  // itself with a client that waits for the ticket (resumption-probe.txt beside the report).
  let probe: string | undefined;
  try {
    probe = readFileSync(join(dir, "resumption-probe.txt"), "utf8").trim();
  } catch {
    // no probe made
  }
  for (const f of findings) {
    if (f.severity !== "FATAL" && f.severity !== "WARN") continue;
    if (
      f.id === "sessionresumption_ticket" && /connect problem/.test(f.finding) && probe &&
      /^Reused, TLSv1\.3/.test(probe)
    ) {
      lines.push(
        `note:               testssl's ticket resumption check failed ("${f.finding}"); a client that waits for the ticket resumes: ${probe}`,
      );
      continue;
    }
    problems.push(
      `scan problem ${f.id}: ${f.severity} ${f.finding}${
        f.id === "sessionresumption_ticket" ? ` (own probe: ${probe ?? "none"})` : ""
      }`,
    );
  }
  const accepted: string[] = [];
  for (const f of findings) {
    if (!BAD.has(f.severity) || [...VULNS, "HSTS_time"].includes(f.id)) continue;
    if (ACCEPTED[f.id]) accepted.push(`${f.id} ${f.severity} "${f.finding}" — ${ACCEPTED[f.id]}`);
    else problems.push(`unexpected ${f.severity} finding ${f.id}: ${f.finding}`);
  }
  lines.push(
    `other:              ALPN ${
      [get("ALPN_HTTP2")?.finding, get("ALPN")?.finding].filter(Boolean).join(", ") || "-"
    }; server cipher order: ${get("cipher_order")?.finding ?? "-"}; session resumption tickets ${
      get("sessionresumption_ticket")?.finding ?? "-"
    }, ids ${get("sessionresumption_ID")?.finding ?? "-"}`,
  );
  if (accepted.length) lines.push(`accepted (not about the TLS configuration):`, ...accepted.map((a) => `  - ${a}`));

  return {
    problems,
    lines,
    offered,
    ciphers,
    fsAll,
    weak,
    hsts: s.hsts ? hsts?.finding ?? "missing" : hstsOff ? "not offered" : "SENT",
  };
}

// ---- --evaluate: re-check a kept report without scanning ----
if (args.includes("--evaluate")) {
  const file = opt("--evaluate", "");
  const r = evaluate(
    { hsts: args.includes("--hsts") },
    JSON.parse(readFileSync(file, "utf8")) as Finding[],
    dirname(file),
  );
  for (const l of r.lines) console.log(l);
  for (const pr of r.problems) console.log(`!! ${pr}`);
  console.log(r.problems.length === 0 ? "PASS" : "FAIL");
  process.exit(r.problems.length === 0 ? 0 : 1);
}

const testssl = ["testssl", "testssl.sh"].find((t) => !spawnSync(t, ["--help"]).error);
if (!testssl) {
  console.error("testssl.sh is needed: apt-get update && apt-get install -y testssl.sh");
  process.exit(2);
}

// ---- network isolation: re-run inside a namespace that has only loopback ----
if (process.env.BOBCAT_TESTSSL_NETNS !== "1") {
  const inner = ["sh", "-c", 'ip link set lo up && exec "$0" "$@"', process.execPath, import.meta.path, ...args];
  for (const flags of [["-n"], ["-r", "-n"]]) {
    if (spawnSync("unshare", [...flags, "true"]).status !== 0) continue;
    const r = spawnSync("unshare", [...flags, "--", ...inner], {
      stdio: "inherit",
      env: { ...process.env, BOBCAT_TESTSSL_NETNS: "1" },
    });
    process.exit(r.status ?? 1);
  }
  console.error(
    "cannot create a network namespace (unshare -n as root, or unshare -rn with user namespaces); refusing to scan outside one, since testssl looks names up",
  );
  process.exit(2);
}
const interfaces = readFileSync("/proc/net/dev", "utf8")
  .split("\n")
  .slice(2)
  .map((l) => l.split(":")[0]!.trim())
  .filter(Boolean);
if (interfaces.join(",") !== "lo") {
  console.error(`expected a namespace with only loopback, found: ${interfaces.join(", ")}`);
  process.exit(2);
}

// ---- servers ----
async function stop(p: ChildProcess) {
  const pids = tree(p.pid!).reverse();
  const alive = (x: number) => {
    try {
      process.kill(x, 0);
      return true;
    } catch {
      return false;
    }
  };
  // --runtime node builds its bundle into a temp dir of its own: remove it with the server.
  const bundleDirs = pids.flatMap((x) => {
    try {
      const a = readFileSync(`/proc/${x}/cmdline`, "utf8").split("\0").find((y) =>
        /^\/tmp\/bobcat-node-[^/]+\/bobcat-node\.mjs$/.test(y)
      );
      return a ? [dirname(a)] : [];
    } catch {
      return [];
    }
  });
  for (const x of pids) if (alive(x)) process.kill(x, "SIGTERM");
  const until = Date.now() + 5000;
  while (Date.now() < until && pids.some(alive)) await new Promise((r) => setTimeout(r, 50));
  for (const x of pids) if (alive(x)) process.kill(x, "SIGKILL");
  for (const d of bundleDirs) rmSync(d, { recursive: true, force: true });
}

const reports = mkdtempSync(join(tmpdir(), "bobcat-testssl-"));
const defaultYaml = readFileSync(join(root, "config/server.yaml"), "utf8");

/** config/server.yaml with one line inserted after the line matching `after` (same indentation). */
function variant(dir: string, after: RegExp, lines: string[]): string {
  const src = defaultYaml.split("\n");
  const i = src.findIndex((l) => after.test(l));
  if (i < 0) throw new Error(`config/server.yaml has no line matching ${after}`);
  const indent = /^\s*/.exec(src[i]!)![0];
  src.splice(i + 1, 0, ...lines.map((l) => indent + l));
  const file = join(dir, "server.yaml");
  writeFileSync(file, src.join("\n"));
  return file;
}

interface Scan {
  id: string;
  title: string;
  runtime: "bun" | "deno" | "node";
  hsts: boolean;
  expect: RegExp; // the back-end named in the "listening on https" line
  config?: (dir: string) => string; // undefined: the built-in default config
}
const allScans: Scan[] = [
  { id: "bun", title: "default config on Bun", runtime: "bun", hsts: false, expect: /native Bun\.serve/ },
  { id: "deno", title: "default config on Deno", runtime: "deno", hsts: false, expect: /native Deno\.serve/ },
  {
    id: "hsts",
    title: "default config + hstsEnabled on ROOT, on Bun",
    runtime: "bun",
    hsts: true,
    expect: /native Bun\.serve/,
    config: (dir) => variant(dir, /handler: bobcat:root/, ["hstsEnabled: true", "hstsMaxAgeSeconds: 31536000"]),
  },
  {
    id: "bun-compat",
    title: "default config + maxConnections: 1000, on Bun",
    runtime: "bun",
    hsts: false,
    expect: /node-compat back-end/,
    config: (dir) => variant(dir, /maxThreads: 150/, ["maxConnections: 1000"]),
  },
  {
    id: "deno-compat",
    title: "default config + maxConnections: 1000, on Deno",
    runtime: "deno",
    hsts: false,
    expect: /node-compat back-end/,
    config: (dir) => variant(dir, /maxThreads: 150/, ["maxConnections: 1000"]),
  },
  {
    id: "node",
    title: "default config on Node (--runtime node)",
    runtime: "node",
    hsts: false,
    expect: /node:http2 \(the only back-end on Node\)/,
  },
];
const scans = allScans.filter((s) => only.includes(s.id));

function command(s: Scan, cfg: string | undefined): string[] {
  const main = join(root, "src/cli/main.ts");
  const c = cfg ? ["--config", cfg] : [];
  if (s.runtime === "deno") return [bin("deno"), "run", "-A", `--config=${join(root, "deno.json")}`, main, "run", ...c];
  return [bin("bun"), main, "run", ...c, ...(s.runtime === "node" ? ["--runtime", "node"] : [])];
}

// ---- run ----
const version =
  /testssl\S*\s+(\d\S*)/.exec(spawnSync(testssl, ["-b"], { encoding: "utf8" }).stdout.replace(/\x1b\[[0-9;]*m/g, ""))
    ?.[1] ?? "?";
console.log(`testssl ${version}; reports in ${reports}`);
console.log(
  `network: a namespace of its own with interfaces [${
    interfaces.join(", ")
  }]; testssl --ip 127.0.0.1 --nodns none, no --phone-out\n`,
);
const rows: string[] = [];
let failed = false;
for (const s of scans) {
  const dir = join(reports, s.id);
  mkdirSync(dir);
  const cfg = s.config?.(dir);
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const cmd = command(s, cfg);
  const p = spawn(cmd[0]!, cmd.slice(1), {
    cwd: dir, // the built-in config's base directory is the current one: conf/ is created here
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      BOBCAT_HTTP_PORT: String(httpPort),
      BOBCAT_HTTPS_PORT: String(httpsPort),
      BOBCAT_ADDRESS: "127.0.0.1",
      DENO_NO_UPDATE_CHECK: "1",
    },
  });
  let log = "";
  p.stdout!.on("data", (d) => (log += d));
  p.stderr!.on("data", (d) => (log += d));
  let result: ReturnType<typeof evaluate> | undefined;
  let backend = "?";
  try {
    const deadline = Date.now() + 60000;
    while (!/listening on https/.test(log)) {
      if (Date.now() > deadline || p.exitCode !== null) {
        throw new Error(`server did not start: ${cmd.join(" ")}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const line = log.split("\n").find((l) => l.includes("listening on https"))!;
    backend = line.replace(/^.*listening on \S+ — /, "");
    const runtimeLine = /bobcat \S+ on ([^,]+),/.exec(log)?.[1] ?? s.runtime;
    if (!s.expect.test(line)) throw new Error(`${s.id}: unexpected back-end: ${line}`);
    console.log(`== ${s.id}: ${s.title} — ${runtimeLine}, ${backend}`);
    const t0 = Date.now();
    const r = spawnSync(
      testssl,
      [
        "--quiet",
        "--warnings",
        "batch",
        "--color",
        "0",
        "--ip",
        "127.0.0.1",
        "--nodns",
        "none",
        "--connect-timeout",
        "10",
        "--openssl-timeout",
        "10",
        "-p",
        "-s",
        "-f",
        "-P",
        "-S",
        "-h",
        "-U",
        "-E",
        "--jsonfile",
        join(dir, "report.json"),
        "--logfile",
        join(dir, "report.log"),
        `localhost:${httpsPort}`,
      ],
      { encoding: "utf8", timeout: 600_000, cwd: dir },
    );
    writeFileSync(join(dir, "testssl.out"), r.stdout + r.stderr);
    if (r.error) throw r.error;
    const findings = JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as Finding[];
    if (findings.some((f) => f.id === "sessionresumption_ticket" && /connect problem/.test(f.finding))) {
      const probe = spawnSync("sh", [
        "-c",
        `(sleep 1; sleep 1) | openssl s_client -connect 127.0.0.1:${httpsPort} -servername localhost -tls1_3 -sess_out sess.pem >/dev/null 2>&1; sleep 1 | openssl s_client -connect 127.0.0.1:${httpsPort} -servername localhost -tls1_3 -sess_in sess.pem 2>&1`,
      ], { cwd: dir, encoding: "utf8", timeout: 30000 });
      writeFileSync(
        join(dir, "resumption-probe.txt"),
        (/^(New|Reused), .*$/m.exec(probe.stdout)?.[0] ?? "no session") + "\n",
      );
    }
    result = evaluate(s, findings, dir);
    for (const l of result.lines) console.log(`  ${l}`);
    console.log(
      `  scan took ${((Date.now() - t0) / 1000).toFixed(0)} s; ${result.problems.length === 0 ? "PASS" : "FAIL"}`,
    );
    for (const pr of result.problems) console.log(`  !! ${pr}`);
    console.log("");
  } catch (e) {
    console.log(`  !! ${(e as Error).message}\n`);
  } finally {
    await stop(p);
    writeFileSync(join(dir, "server.log"), log);
    if (cfg) copyFileSync(cfg, join(dir, "server.yaml.used"));
  }
  if (!result || result.problems.length) failed = true;
  // "native Bun.serve (covers: …); …" → "native Bun.serve"; "node-compat back-end, because …" → "node-compat".
  const short = backend.split(/ \(|[,;] /)[0]!.replace(/ back-end$/, "");
  rows.push(
    result
      ? `| ${s.id} | ${short} | ${result.offered.map(([, n]) => n).join(", ")} | ${
        result.ciphers.filter((c) => c.proto === "TLS 1.2").length
      } / ${result.ciphers.filter((c) => c.proto === "TLS 1.3").length} | ${result.weak.length ? "YES" : "none"} | ${
        result.fsAll ? "all" : "NOT all"
      } | ${result.hsts} | ${result.problems.length ? `FAIL (${result.problems.length})` : "PASS"} |`
      : `| ${s.id} | ${short} | - | - | - | - | - | FAIL (no scan) |`,
  );
}
console.log("| scan | back-end | protocols | TLS 1.2 / 1.3 suites | weak | forward secrecy | HSTS | verdict |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
console.log(`\nraw reports (testssl.out, report.log, report.json, server.log per scan): ${reports}`);
process.exit(failed ? 1 : 0);
