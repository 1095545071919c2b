/**
 * Starts the real `bobcat` CLI under Bun or Deno in a throw-away base directory, on free
 * loopback ports, and stops it again; and the set-up the end-to-end tests share: config YAML
 * (plain, TLS on the test PKI, session stores, each config syntax), clients (curl, openssl
 * s_client) and bounded polling. Every wait is bounded.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type ChildProcess, spawn } from "node:child_process";

export const ROOT = join(import.meta.dir, "..", "..");
export const BUN = join(ROOT, "node_modules", ".bin", "bun");
export const DENO = join(ROOT, "node_modules", ".bin", "deno");
export const CLI = join(ROOT, "src", "cli", "main.ts");
export const PKI = join(ROOT, "tests", "fixtures", "pki");
export const CA_PEM = readFileSync(join(PKI, "ca.pem"), "utf8");
export type Runtime = "bun" | "deno";
export const RUNTIMES: Runtime[] = ["bun", "deno"];

/** Ports this process has handed out: the kernel may offer a port just closed again at once. */
const handedOut = new Set<number>();

/** A free port on 127.0.0.1, never one this process handed out before (several calls in a row
 * for one config would otherwise, now and then, get the same port twice). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await anyFreePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("freePort: no port this process has not handed out already in 50 tries");
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = "bobcat-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Temporary directories of one test file: `make` makes one, `removeAll` (give it to afterAll) removes all it made. */
export function tempDirs(prefix?: string): { make(): string; removeAll(): void } {
  const made: string[] = [];
  return {
    make: () => {
      const d = tempDir(prefix);
      made.push(d);
      return d;
    },
    removeAll: () => made.splice(0).forEach(cleanup),
  };
}

export function writeFiles(base: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(base, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

/** The command line that runs the CLI from source under a runtime. */
export function cliCommand(runtime: Runtime, args: string[]): string[] {
  return runtime === "bun"
    ? [BUN, CLI, ...args]
    : [DENO, "run", "-A", "--quiet", `--config=${join(ROOT, "deno.json")}`, CLI, ...args];
}

export interface Running {
  proc: ChildProcess;
  base: string;
  output(): string;
  /** SIGTERM, then wait for exit (bounded); returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  runtime: Runtime;
  /** Config text written to <base>/conf/server.yaml (or .toml). */
  config?: string;
  configName?: string;
  files?: Record<string, string | Uint8Array>;
  args?: string[];
  base?: string;
  /** How many "listening on" lines to wait for. */
  connectors?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
  cwd?: string;
}

/**
 * Servers started by startBobcat and not yet exited. A test that fails before its try/finally
 * would leave its server running: tests/helpers/preload.ts kills what is left after the run.
 */
const liveServers = new Set<ChildProcess>();
export function killLiveServers(): number {
  for (const proc of liveServers) proc.kill("SIGKILL");
  return liveServers.size;
}

export async function startBobcat(opts: StartOptions): Promise<Running> {
  const base = opts.base ?? tempDir();
  if (opts.files) writeFiles(base, opts.files);
  const args = [...(opts.args ?? ["run"])];
  if (opts.config !== undefined) {
    const name = opts.configName ?? "conf/server.yaml";
    writeFiles(base, { [name]: opts.config });
    args.push("--config", join(base, name), "--base", base);
  }
  const [cmd, ...rest] = cliCommand(opts.runtime, args);
  const proc = spawn(cmd!, rest, {
    cwd: opts.cwd ?? base,
    env: { ...process.env, NO_COLOR: "1", ...(opts.env ?? {}) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  liveServers.add(proc);
  proc.on("exit", () => liveServers.delete(proc));
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const want = opts.connectors ?? 1;
  const deadline = Date.now() + (opts.timeoutMs ?? 30000);
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  while ((out.match(/listening on/g) ?? []).length < want) {
    if (exitCode !== undefined) throw new Error(`bobcat exited with ${exitCode} before listening:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`bobcat did not start within ${opts.timeoutMs ?? 30000} ms:\n${out}`);
    }
    await Bun.sleep(50);
  }
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (exitCode !== undefined) return exitCode;
    proc.kill(signal);
    const t = setTimeout(() => proc.kill("SIGKILL"), 15000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return { proc, base, output: () => out, stop, exited };
}

/** Runs the CLI to completion (check, version, keytool, a failing run) with a time limit. */
export async function runCli(
  runtime: Runtime,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
) {
  return await run(cliCommand(runtime, args), {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...(opts.env ?? {}) } as Record<string, string>,
    timeoutMs: opts.timeoutMs ?? 30000,
  });
}

/** fetch that trusts the test CA and does not follow redirects. */
export function tfetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { redirect: "manual", ...init, tls: { ca: CA_PEM }, keepalive: false } as RequestInit);
}

/**
 * Waits until `done()` holds, looking every `intervalMs`, for at most `timeoutMs`. Answers
 * whether it came to hold: the caller's own assertion afterwards says what was missing.
 */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await Bun.sleep(intervalMs);
  }
}

/**
 * Fetches `url` (tfetch: the test CA trusted) until `ok` accepts the answer, every `intervalMs`
 * for at most `timeoutMs`; the body accepted, or an error naming the last answer.
 */
export async function fetchUntil(
  url: string,
  ok: (status: number, body: string) => boolean,
  opts: { init?: RequestInit; timeoutMs?: number; intervalMs?: number } = {},
): Promise<string> {
  let last = "";
  let accepted: string | undefined;
  await waitUntil(
    async () => {
      const res = await tfetch(url, opts.init);
      const body = await res.text();
      if (ok(res.status, body)) accepted = body;
      else last = `${res.status} ${body.slice(0, 80)}`;
      return accepted !== undefined;
    },
    opts.timeoutMs ?? 15_000,
    opts.intervalMs ?? 200,
  );
  if (accepted === undefined) throw new Error(`${url}: still ${last}`);
  return accepted;
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs a command (curl, openssl, the CLI) to completion, killed after `timeoutMs`; stdin
 * optional, `env` the whole environment when given.
 */
export async function run(
  cmd: string[],
  opts: { stdin?: string; timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {},
) {
  const proc = Bun.spawn(cmd, {
    stdin: opts.stdin !== undefined ? new Blob([opts.stdin]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: opts.cwd,
    ...(opts.env ? { env: opts.env } : {}),
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 20000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr, output: stdout + stderr };
}

/** The status curl gets for `url` within 10 s, logged in with Basic `credentials` ("name:password"); "000" for none. */
export async function curlStatus(url: string, credentials: string): Promise<string> {
  const r = await run([
    "curl",
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--max-time",
    "10",
    "-u",
    credentials,
    url,
  ]);
  return r.stdout;
}

/**
 * curl to https://`sni`:`port``path` (`sni` resolved to 127.0.0.1; localhost and / by default)
 * trusting the test CA, with a client certificate of the test PKI (`who`), another Host header
 * (`host`) and further options (`args`) when given; the HTTP code ("000": no answer) and body.
 */
export async function curlTls(
  port: number,
  o: { path?: string; sni?: string; who?: string; host?: string; args?: string[] } = {},
): Promise<{ code: string; body: string; stderr: string }> {
  const sni = o.sni ?? "localhost";
  const r = await run([
    "curl",
    "-sS",
    "--cacert",
    join(PKI, "ca.pem"),
    "--resolve",
    `${sni}:${port}:127.0.0.1`,
    ...(o.who ? ["--cert", join(PKI, `${o.who}.pem`), "--key", join(PKI, `${o.who}-key.pem`)] : []),
    ...(o.host ? ["-H", `Host: ${o.host}`] : []),
    ...(o.args ?? []),
    "-w",
    "\n%{http_code}",
    `https://${sni}:${port}${o.path ?? "/"}`,
  ]);
  const lines = r.stdout.split("\n");
  return { code: lines.pop()!, body: lines.join("\n"), stderr: r.stderr };
}

/** How opensslConnect connects. */
export interface OpensslConnectOptions {
  /** The SNI name; none: s_client's default; null: no SNI at all (-noservername). */
  servername?: string | null;
  /** The CA file to verify the server's chain with. */
  caFile?: string;
  /** A chain that does not verify ends the handshake (-verify_return_error). */
  verify?: boolean;
  /** A client certificate of the test PKI: alice, eve, ... */
  who?: string;
  /** Further s_client options. */
  args?: string[];
  /** What is sent once connected: by default "Q" (quit); httpGet() with -quiet -ign_eof for a request. */
  stdin?: string;
  timeoutMs?: number;
}

/** `openssl s_client` to 127.0.0.1:`port` (run's time limit); its output. */
export function opensslConnect(port: number, o: OpensslConnectOptions = {}) {
  return run([
    "openssl",
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    ...(o.servername ? ["-servername", o.servername] : o.servername === null ? ["-noservername"] : []),
    ...(o.caFile ? ["-CAfile", o.caFile] : []),
    ...(o.verify ? ["-verify_return_error"] : []),
    ...(o.who ? ["-cert", join(PKI, `${o.who}.pem`), "-key", join(PKI, `${o.who}-key.pem`)] : []),
    ...(o.args ?? []),
  ], { stdin: o.stdin ?? "Q\n", timeoutMs: o.timeoutMs });
}

/** An HTTP/1.1 request for `/` on `host` that asks to close the connection (opensslConnect's stdin). */
export function httpGet(host = "localhost"): string {
  return `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
}

/**
 * A server with one plain HTTP connector on 127.0.0.1:`port` and the host localhost with
 * `contexts` (list items at column 14); `resources`: lines under `server:` before `services:`.
 */
export function plainConfig(port: number, contexts: string, resources = ""): string {
  return `server:
${resources}  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
${contexts}`;
}

/**
 * A config with one HTTP and one HTTPS connector using the committed test PKI; the extras are
 * YAML lines already indented for their place.
 */
export function httpsConfig(
  httpPort: number,
  httpsPort: number,
  extra: { contexts?: string; hostExtra?: string; connectorExtra?: string; engineExtra?: string } = {},
): string {
  return `
server:
  services:
    - connectors:
        - port: ${httpPort}
          address: 127.0.0.1
          redirectPort: ${httpsPort}
        - port: ${httpsPort}
          address: 127.0.0.1
          SSLEnabled: true
${extra.connectorExtra ?? ""}
          sslHostConfigs:
            - certificates:
                - certificateFile: ${PKI}/localhost-rsa.pem
                  certificateKeyFile: ${PKI}/localhost-rsa-key.pem
                  certificateChainFile: ${PKI}/intermediate.pem
      engine:
        defaultHost: localhost
${extra.engineExtra ?? ""}
        hosts:
          - name: localhost
${extra.hostExtra ?? ""}
            contexts:
${
    extra.contexts ?? `              - path: ""
                handler: bobcat:root`
  }
`;
}

// ---- TLS configs on the test PKI -------------------------------------------------------------

/**
 * The test PKI's localhost certificate (RSA or EC) with the intermediate (unless `chain` is
 * false), as one `certificates:` list item: its first line goes after "- " at column 16, the
 * others are at column 18.
 */
export function localhostCertificate(key: "rsa" | "ec" = "rsa", chain = true): string {
  return `certificateFile: ${PKI}/localhost-${key}.pem
                  certificateKeyFile: ${PKI}/localhost-${key}-key.pem${
    chain ? `\n                  certificateChainFile: ${PKI}/intermediate.pem` : ""
  }`;
}

/**
 * Puts the test PKI's localhost certificate and key (RSA or EC) at <dir>/cert.pem and
 * <dir>/key.pem, where a config read again on SIGHUP finds them (COPIED_CERTIFICATE_HOST).
 */
export function copyLocalhostCertificate(dir: string, key: "rsa" | "ec"): void {
  copyFileSync(join(PKI, `localhost-${key}.pem`), join(dir, "cert.pem"));
  copyFileSync(join(PKI, `localhost-${key}-key.pem`), join(dir, "key.pem"));
}

/** An sslHostConfigs item (column 12) for what copyLocalhostCertificate put in the base directory, with the intermediate. */
export const COPIED_CERTIFICATE_HOST = `            - certificates:
                - certificateFile: cert.pem
                  certificateKeyFile: key.pem
                  certificateChainFile: ${PKI}/intermediate.pem`;

/** SSLHostConfig attribute lines (column 14): client certificates `verification`, trusted when `ca` (a PKI file) issued them. */
export function clientCertificates(
  verification: "required" | "optional" | "optionalNoCA" = "required",
  ca = "client-ca.pem",
): string {
  return `              certificateVerification: ${verification}
              caCertificateFile: ${PKI}/${ca}
`;
}

/**
 * One `sslHostConfigs:` list item (column 12) for `hostName` (none: the default one): its
 * attribute lines (column 14, each ending in a newline), then the localhost certificate.
 */
export function sslHostConfig(hostName?: string, attributes = "", key: "rsa" | "ec" = "rsa"): string {
  const lines = `${hostName ? `              hostName: ${hostName}\n` : ""}${attributes}              certificates:
                - ${localhostCertificate(key)}`;
  return `            - ${lines.trimStart()}`;
}

/** Lines of SSLHostConfig attributes as a test writes them (one a line, not indented), at column 14 for sslHostConfig. */
export function sslHostAttributes(text: string): string {
  return text.trim().split("\n").map((line) => `              ${line}\n`).join("");
}

/** tlsAppConfig's `contexts` for bobcat's own root page. */
export const ROOT_PAGE_CONTEXT = `              - { path: "", handler: "bobcat:root" }\n`;

/**
 * A server with one TLS connector on 127.0.0.1:`port` whose SSLHostConfigs are `sslHostConfigs`
 * (list items at column 12, see sslHostConfig), and the host localhost. The other parts are YAML
 * lines, each ending in a newline: `connector` (column 10), `host` (column 12, before its
 * contexts), `contexts` (list items at column 14; by default app.ts at the root, with the
 * `context` lines at column 16) and further `hosts` (list items at column 10).
 */
export function tlsAppConfig(
  port: number,
  sslHostConfigs: string,
  more: { connector?: string; host?: string; contexts?: string; context?: string; hosts?: string } = {},
): string {
  const contexts = more.contexts ?? `              - path: ""
                handler: app.ts
${more.context ?? ""}`;
  return `server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          SSLEnabled: true
${more.connector ?? ""}          sslHostConfigs:
${sslHostConfigs}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
${more.host ?? ""}            contexts:
${contexts}${more.hosts ?? ""}`;
}

/** tlsAppConfig's `connector` line that adds HTTP/2 (the connector then runs on node:http2 where it is not native). */
export const HTTP2_CONNECTOR = "          upgradeProtocols: [{ className: Http2Protocol }]\n";

/**
 * tlsAppConfig's `host` and `context` for client certificates that Bun.serve may verify itself:
 * localhost answers as www.localhost too, and app.ts does not read the peer's chain.
 */
export const NATIVE_VERIFICATION = {
  host: "            aliases: [www.localhost]\n",
  context: "                needsPeerCertificates: false\n",
};

/** An app.ts answering "APP <server name>", and with a new session's id at /session. */
export const SERVER_NAME_APP = `export default { fetch(req, ctx) {
  const path = new URL(req.url).pathname;
  if (path === "/session") { const s = ctx.getSession(); s.setAttribute("n", 1); return new Response(s.id); }
  return new Response("APP " + ctx.serverName + "\\n");
} };`;

// ---- Session stores ----------------------------------------------------------------------------

/** Where a PersistentManager keeps its sessions in these tests. */
export type StoreKind = "file" | "sqlite" | "postgres";

/**
 * A PersistentManager store of `kind` as config YAML: `resources`, the lines under `server:`
 * that define the data source jdbc/sessions (before `services:`; none for files), and `store`,
 * the manager's `store:` value. "sqlite" is work/sessions.db; "postgres" needs `postgres.url`.
 */
export function sessionStoreYaml(
  kind: StoreKind,
  postgres?: { url: string; maxTotal?: number },
): { resources: string; store: string } {
  if (kind === "file") return { resources: "", store: "{ className: FileStore, directory: sessions }" };
  const url = kind === "sqlite" ? "sqlite:work/sessions.db" : postgres!.url;
  const maxTotal = kind === "postgres" && postgres?.maxTotal ? `, maxTotal: ${postgres.maxTotal}` : "";
  return {
    resources: sessionsDataSource(url, maxTotal),
    store: "{ className: DataSourceStore, dataSourceName: jdbc/sessions }",
  };
}

/**
 * The lines under `server:` (before `services:`) that define the data source jdbc/sessions at
 * `url`; `attributes` goes on after the url (", maxTotal: 4").
 */
export function sessionsDataSource(url: string, attributes = ""): string {
  return `  globalNamingResources:\n    resources:\n      - { name: jdbc/sessions, url: "${url}"${attributes} }\n`;
}

/** `bobcat store init` for <base>/conf/server.yaml: a database store's table must exist (as in Tomcat). */
export async function initSessionTable(runtime: Runtime, base: string): Promise<void> {
  const init = await runCli(runtime, ["store", "init", "--config", join(base, "conf/server.yaml"), "--base", base]);
  if (!init.stdout.includes("table ready")) {
    throw new Error(`bobcat store init did not make the table:\n${init.output}`);
  }
}

// ---- Config syntaxes -----------------------------------------------------------------------------

/**
 * One server in each config syntax the CLI reads, for the launchers' tests (names under `dir`):
 * `merge.yaml` (YAML anchors and a merge key: a connector on `ports.yaml` with connectionTimeout
 * 15000 and a copy of it on `ports.merged`; two hosts sharing one contexts list), `server.toml`
 * (one connector on `ports.toml`), and `bad.yaml` / `bad.toml` with a syntax error at 4:7 / 1:8.
 */
export function configSyntaxFiles(
  ports: { yaml: number; merged: number; toml: number },
  dir = "",
): Record<string, string> {
  return {
    [`${dir}merge.yaml`]: `server:
  services:
    - connectors:
        - &conn { port: ${ports.yaml}, address: 127.0.0.1, connectionTimeout: 15000 }
        - <<: *conn
          port: ${ports.merged}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts: &ctx [{ path: "", handler: "bobcat:root" }]
          - { name: other, contexts: *ctx }
`,
    [`${dir}bad.yaml`]: "server:\n  services:\n    - connectors: [{ port: 8080 }\n      engine: x\n",
    [`${dir}server.toml`]: `[[server.services]]
[[server.services.connectors]]
port = ${ports.toml}
address = "127.0.0.1"
[server.services.engine]
defaultHost = "localhost"
[[server.services.engine.hosts]]
name = "localhost"
[[server.services.engine.hosts.contexts]]
path = ""
handler = "bobcat:root"
`,
    [`${dir}bad.toml`]: "[server\nx = 1\n",
  };
}
