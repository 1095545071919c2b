/**
 * A real ACME CA for tests: the Debian `pebble` package's server with `pebble-challtestsrv` as
 * its DNS (every name resolves to 127.0.0.1), both on loopback on free ports, started with a
 * generated config and stopped by the test. PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0
 * keep it fast. Pebble makes a new root CA on every start (fetched from its management port).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, run } from "./bobcat.ts";

export interface PebbleOptions {
  /** Where Pebble sends HTTP-01 validations (bobcat's plain connector). */
  httpPort: number;
  /** Where Pebble sends TLS-ALPN-01 validations (bobcat's TLS connector). */
  tlsPort: number;
  /** Certificate lifetime in seconds. */
  validity?: number;
  eab?: Record<string, string>;
  /** PEBBLE_VA_ALWAYS_VALID: every challenge passes (for tests of something other than validation). */
  alwaysValid?: boolean;
}

export interface Pebble {
  readonly directory: string;
  /** PEM of the certificate Pebble's own HTTPS uses (directoryTrustFile). */
  readonly wfeCertFile: string;
  /** The current root CA (after each start). */
  root(): Promise<string>;
  log(): string;
  /** pebble-challtestsrv's management API (/set-txt, /clear-txt), which is Pebble's DNS. */
  readonly challtestsrv: string;
  /** How many orders were created (new-order requests). */
  orders(): number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

function need(bin: string): void {
  if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) {
    throw new Error(
      `${bin} is required by these tests: install the Debian package \`pebble\` (apt-get install -y pebble; .ci/run installs it)`,
    );
  }
}

export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  need("pebble");
  need("pebble-challtestsrv");
  const dir = mkdtempSync(join(tmpdir(), "bobcat-pebble-"));
  const wfeCertFile = join(dir, "wfe.pem");
  const wfeKeyFile = join(dir, "wfe-key.pem");
  const r = spawnSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    wfeKeyFile,
    "-out",
    wfeCertFile,
    "-days",
    "2",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ], { timeout: 20000 });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  const [acmePort, mgmtPort, dnsPort, challMgmt] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  writeFileSync(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: wfeCertFile,
        privateKey: wfeKeyFile,
        httpPort: o.httpPort,
        tlsPort: o.tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: !!o.eab,
        externalAccountMACKeys: o.eab ?? {},
        certificateValidityPeriod: o.validity ?? 3600,
      },
    }),
  );
  let out = "";
  let pebble: ChildProcess | undefined;
  const dns = spawn("pebble-challtestsrv", [
    "-defaultIPv4",
    "127.0.0.1",
    "-defaultIPv6",
    "",
    "-dns01",
    `127.0.0.1:${dnsPort}`,
    "-http01",
    "",
    "-https01",
    "",
    "-tlsalpn01",
    "",
    "-management",
    `127.0.0.1:${challMgmt}`,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  dns.stdout!.on("data", (d) => (out += d));
  dns.stderr!.on("data", (d) => (out += d));

  const start = async () => {
    const before = out.length;
    const p = spawn("pebble", ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`], {
      env: {
        ...process.env,
        PEBBLE_VA_NOSLEEP: "1",
        PEBBLE_WFE_NONCEREJECT: "0",
        PEBBLE_AUTHZREUSE: "0",
        ...(o.alwaysValid ? { PEBBLE_VA_ALWAYS_VALID: "1" } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    pebble = p;
    p.stdout!.on("data", (d) => (out += d));
    p.stderr!.on("data", (d) => (out += d));
    const deadline = Date.now() + 20000;
    while (!out.slice(before).includes("Listening on:")) {
      if (p.exitCode !== null) throw new Error(`pebble exited:\n${out}`);
      if (Date.now() > deadline) throw new Error(`pebble did not start:\n${out}`);
      await Bun.sleep(50);
    }
  };
  const stop = async () => {
    const p = pebble;
    pebble = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  };
  await start();
  const wfe = readFileSync(wfeCertFile, "utf8");
  return {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    wfeCertFile,
    challtestsrv: `http://127.0.0.1:${challMgmt}`,
    async root() {
      const res = await fetch(`https://127.0.0.1:${mgmtPort}/roots/0`, { tls: { ca: wfe } } as RequestInit);
      if (!res.ok) throw new Error(`pebble roots: ${res.status}`);
      return await res.text();
    },
    log: () => out,
    orders: () => (out.match(/POST \/order-plz/g) ?? []).length,
    stop,
    start,
    async destroy() {
      await stop();
      dns.kill("SIGKILL");
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * curl to https://`name`:`tlsPort`/ on 127.0.0.1, the chain verified against Pebble's current
 * root (written to <dir>/pebble-root.pem first); curl's output.
 */
export async function curlVerified(pebble: Pebble, dir: string, tlsPort: number, name: string) {
  const rootFile = join(dir, "pebble-root.pem");
  writeFileSync(rootFile, await pebble.root());
  return await run([
    "curl",
    "-sS",
    "--resolve",
    `${name}:${tlsPort}:127.0.0.1`,
    "--cacert",
    rootFile,
    `https://${name}:${tlsPort}/`,
  ]);
}
