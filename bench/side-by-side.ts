#!/usr/bin/env bun
/**
 * Tomcat, the raw runtime and bobcat, side by side in one run with interleaved rounds: the
 * table of issue 15 (throughput, sessions, start-up, memory, stop and restart with persisted
 * sessions, client certificates).
 *
 *   bun bench/side-by-side.ts [--runtime bun|deno|bun,deno] [--rounds 3] [--duration 5] [--warmup 3]
 *                             [--sessions 100000] [--only ROW,ROW] [--skip-tomcat] [--exe dist/bobcat]
 *                             [--install]
 *
 * Rows (--only): startup (start → first HTTPS 200, idle RSS), https, http, body, new-session,
 * cookie, mtls, 100k (creating --sessions sessions, RSS with them, SIGTERM → exit, restart →
 * first 200 and the count restored).
 *
 * Servers, each with the RSA-2048 leaf of tests/fixtures/pki and the same five paths
 * (/ hello, /body 16 KiB, /create new session, /read the cookie's session, /count):
 *  - Tomcat: Debian's tomcat10 (CATALINA_HOME /usr/share/tomcat10) from a temporary
 *    CATALINA_BASE, NIO connectors with JSSE (HTTPS, plain HTTP), a 256 MB heap, a servlet
 *    compiled here with javac, StandardManager persisting to SESSIONS.ser, maxKeepAliveRequests
 *    -1 (bobcat and the raw servers keep connections open without a count limit too);
 *  - raw: bench/raw-serve.ts, a plain Bun.serve or Deno.serve with a Map for sessions;
 *  - bobcat: the CLI from this checkout on the chosen runtime (HTTPS and HTTP connectors, the
 *    manager app at /manager, StandardManager with pathname SESSIONS.ser) — under Deno the one
 *    `BOBCAT_RUNTIME=deno node bin/bobcat.mjs` runs: dist-lib/cli.js, the npm package's build,
 *    while it is current (`bun scripts/build-lib.ts`), the sources otherwise — and, for start-up, the
 *    single executable (dist/bobcat from `bun build.ts`, dist/bobcat-deno from `bun build.ts
 *    --deno`) when it is there or --exe names it.
 * Load: wrk -t1 -c32 (TLS 1.3 with OpenSSL), requests per server CPU-second from /proc beside
 * req/s; each row after its own warm-up (wrk -c8, --warmup seconds), run right before the row's
 * first round, so that round 1's hello, body and cookie rows run before any new-session load (a
 * server holding tens of thousands of sessions spends more CPU per request on every path). wrk cannot present a client certificate, so the mtls row uses bench/tls-load.ts (32
 * keep-alive TLS 1.3 connections, as wrk) against each server with and without one. With more
 * than one round, each throughput row's bobcat / raw ratio is also printed round by round.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bin,
  cpuSeconds,
  denoCliOfCheckout,
  firstOk,
  freePort,
  median,
  option,
  ROOT,
  rssKiB,
  settledRssKiB,
  SIDE_BY_SIDE_APP,
  stopTree,
  wrk,
  type WrkSample,
} from "./lib.ts";

const argv = process.argv.slice(2);
/** What bobcat runs under Deno here: the launcher's choice (the package's build while current). */
const DENO_CLI = denoCliOfCheckout();
const ROWS = ["startup", "https", "http", "body", "new-session", "cookie", "mtls", "100k"] as const;
type Row = (typeof ROWS)[number];
const runtimes = option("--runtime", "bun").split(",");
const rounds = Number(option("--rounds", "3"));
const duration = Number(option("--duration", "5"));
const warmup = Number(option("--warmup", "3"));
const sessionCount = Number(option("--sessions", "100000"));
const only = option("--only", ROWS.join(",")).split(",").filter(Boolean);
const skipTomcat = argv.includes("--skip-tomcat");
const exeOption = option("--exe", "");
const CONNECTIONS = 32;

function usage(message: string): never {
  console.error(`side-by-side.ts: ${message}`);
  process.exit(2);
}
for (const r of only) if (!(ROWS as readonly string[]).includes(r)) usage(`--only ${r}: rows are ${ROWS.join(", ")}`);
for (const r of runtimes) if (r !== "bun" && r !== "deno") usage(`--runtime ${r}: bun or deno (or bun,deno)`);
for (const [name, v] of [["--rounds", rounds], ["--duration", duration], ["--sessions", sessionCount]] as const) {
  if (!Number.isInteger(v) || v < 1) usage(`${name} must be a positive integer`);
}
const want = (r: Row) => only.includes(r);

// ---- tools ----
const CATALINA_HOME = "/usr/share/tomcat10";
const TOMCAT_ETC = join(CATALINA_HOME, "etc");
const SERVLET_API = "/usr/share/java/tomcat10-servlet-api.jar";
const needs: Array<[ok: boolean, what: string, pkg: string]> = [
  [!spawnSync("wrk", ["--version"]).error, "wrk", "wrk"],
];
if (!skipTomcat) {
  needs.push(
    [existsSync(join(CATALINA_HOME, "bin/bootstrap.jar")) && existsSync(SERVLET_API), "Tomcat 10", "tomcat10"],
    [!spawnSync("javac", ["-version"]).error, "javac", "openjdk-17-jdk-headless"],
  );
}
const missing = needs.filter(([ok]) => !ok);
if (missing.length) {
  const pkgs = missing.map(([, , p]) => p);
  if (argv.includes("--install") && process.getuid?.() === 0) {
    console.error(`installing ${pkgs.join(" ")} (apt-get)`);
    const r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...pkgs], { stdio: "inherit" });
    if (r.status !== 0) usage(`apt-get install ${pkgs.join(" ")} failed`);
  } else {
    usage(
      `${missing.map(([, w]) => w).join(", ")} missing: apt-get install ${
        pkgs.join(" ")
      } (or run as root with --install; --skip-tomcat measures without Tomcat)`,
    );
  }
}

// ---- fixtures ----
const PKI = join(ROOT, "tests/fixtures/pki");
const CERT = join(PKI, "localhost-rsa.pem");
const KEY = join(PKI, "localhost-rsa-key.pem");
const CLIENT_CERT = join(PKI, "alice.pem");
const CLIENT_KEY = join(PKI, "alice-key.pem");
const CLIENT_CA = join(PKI, "client-ca.pem");
const CLIENT_TRUSTSTORE = join(PKI, "client-truststore.p12"); // password changeit
const work = mkdtempSync(join(tmpdir(), "bobcat-side-by-side-"));
let dirCount = 0;
const freshDir = (name: string) => {
  const d = join(work, `${name}-${++dirCount}`);
  mkdirSync(d, { recursive: true });
  return d;
};

// ---- processes: every one started is stopped at the end, also on Ctrl-C and errors ----
interface Proc {
  p: ChildProcess;
  log: () => string;
}
const running = new Set<ChildProcess>();
function launch(cmd: string[], cwd: string): Proc {
  const p = spawn(cmd[0]!, cmd.slice(1), {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  });
  running.add(p);
  p.on("exit", () => running.delete(p));
  let log = "";
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-20000));
  p.stdout!.on("data", keep);
  p.stderr!.on("data", keep);
  return { p, log: () => log };
}
async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.pid ? stopTree(p.pid, "SIGTERM", 5000) : 0));
}
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${sig}: stopping every server started`);
    void stopAll().finally(() => {
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const insecure = { tls: { rejectUnauthorized: false } } as RequestInit;

// ---- Tomcat ----
const SERVLET = `import jakarta.servlet.annotation.WebServlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import javax.management.ObjectName;

@WebServlet(urlPatterns = {"/"}, loadOnStartup = 1)
public class Bench extends HttpServlet {
  private static final byte[] HELLO = "Hello, world".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] BODY = "x".repeat(16384).getBytes(StandardCharsets.US_ASCII);

  private static void send(HttpServletResponse res, String text) throws IOException {
    send(res, text.getBytes(StandardCharsets.US_ASCII));
  }

  private static void send(HttpServletResponse res, byte[] body) throws IOException {
    res.setContentType("text/plain");
    res.setContentLength(body.length);
    res.getOutputStream().write(body);
  }

  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
    String path = req.getServletPath();
    if (path.equals("/body")) {
      send(res, BODY);
    } else if (path.equals("/create")) {
      HttpSession s = req.getSession(true);
      String user = "u" + s.getId().substring(0, 4);
      s.setAttribute("user", user);
      s.setAttribute("n", 1);
      send(res, user);
    } else if (path.equals("/read")) {
      HttpSession s = req.getSession(false);
      send(res, s == null ? "none" : String.valueOf(s.getAttribute("user")));
    } else if (path.equals("/count")) {
      // The manager's activeSessions, as Tomcat's manager app and JMX show it.
      try {
        send(res, String.valueOf(ManagementFactory.getPlatformMBeanServer().getAttribute(
            new ObjectName("Catalina:type=Manager,host=localhost,context=/"), "activeSessions")));
      } catch (Exception e) {
        res.sendError(500, e.toString());
      }
    } else {
      send(res, HELLO);
    }
  }
}
`;
let servletClasses = "";
function compileServlet(): string {
  if (servletClasses) return servletClasses;
  const dir = join(work, "servlet");
  mkdirSync(join(dir, "classes"), { recursive: true });
  writeFileSync(join(dir, "Bench.java"), SERVLET);
  const r = spawnSync("javac", ["-d", join(dir, "classes"), "-cp", SERVLET_API, join(dir, "Bench.java")], {
    encoding: "utf8",
    timeout: 120000,
  });
  if (r.status !== 0) throw new Error(`javac failed:\n${r.stdout}${r.stderr}`);
  return (servletClasses = join(dir, "classes"));
}

const JSSE = `protocol="org.apache.coyote.http11.Http11NioProtocol" address="127.0.0.1" maxKeepAliveRequests="-1"`;
const tomcatTls = (port: number, clientCerts: boolean) =>
  `    <Connector port="${port}" ${JSSE} SSLEnabled="true"
               sslImplementationName="org.apache.tomcat.util.net.jsse.JSSEImplementation">
      <SSLHostConfig protocols="TLSv1.2+TLSv1.3" certificateVerification="${clientCerts ? "required" : "none"}"${
    clientCerts
      ? `\n                     truststoreFile="${CLIENT_TRUSTSTORE}" truststorePassword="changeit" truststoreType="PKCS12"`
      : ""
  }>
        <Certificate certificateFile="${CERT}" certificateKeyFile="${KEY}" type="RSA" />
      </SSLHostConfig>
    </Connector>`;

/** A CATALINA_BASE with Debian's conf files, our server.xml and the servlet as ROOT. */
function tomcatCommand(base: string, ports: Ports): string[] {
  for (const d of ["conf", "logs", "temp", "work", "webapps/ROOT/WEB-INF/classes"]) {
    mkdirSync(join(base, d), { recursive: true });
  }
  for (const f of ["web.xml", "catalina.properties", "logging.properties", "tomcat-users.xml"]) {
    copyFileSync(join(TOMCAT_ETC, f), join(base, "conf", f));
  }
  writeFileSync(
    join(base, "conf/context.xml"),
    `<?xml version="1.0" encoding="UTF-8"?>
<Context>
  <WatchedResource>WEB-INF/web.xml</WatchedResource>
  <Manager pathname="SESSIONS.ser" />
</Context>
`,
  );
  const connectors = ports.mtls
    ? tomcatTls(ports.mtls, true)
    : `${tomcatTls(ports.https, false)}\n    <Connector port="${ports.http}" ${JSSE} />`;
  writeFileSync(
    join(base, "conf/server.xml"),
    `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
${connectors}
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
`,
  );
  copyFileSync(join(compileServlet(), "Bench.class"), join(base, "webapps/ROOT/WEB-INF/classes/Bench.class"));
  return [
    "java",
    "-Xms256m",
    "-Xmx256m",
    // What catalina.sh adds on Java 9+.
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.rmi/sun.rmi.transport=ALL-UNNAMED",
    `-Djava.util.logging.config.file=${join(base, "conf/logging.properties")}`,
    "-Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager",
    `-Dcatalina.base=${base}`,
    `-Dcatalina.home=${CATALINA_HOME}`,
    `-Djava.io.tmpdir=${join(base, "temp")}`,
    "-cp",
    `${CATALINA_HOME}/bin/bootstrap.jar:${CATALINA_HOME}/bin/tomcat-juli.jar`,
    "org.apache.catalina.startup.Bootstrap",
    "start",
  ];
}

// ---- raw runtime ----
function rawCommand(runtime: string, ports: Ports): string[] {
  const script = join(import.meta.dir, "raw-serve.ts");
  const args = [
    String(ports.https),
    String(ports.http),
    CERT,
    KEY,
    ...(ports.mtls ? [String(ports.mtls), CLIENT_CA] : []),
  ];
  return runtime === "deno"
    ? [bin("deno"), "run", "-A", "--no-config", script, ...args]
    : [bin("bun"), script, ...args];
}

// ---- bobcat ----
function bobcatCommand(runtime: string, base: string, ports: Ports, exe?: string): string[] {
  const tls = (clientCerts: boolean) =>
    `          SSLEnabled: true
          sslHostConfigs:
            - certificateVerification: ${clientCerts ? "required" : "none"}${
      clientCerts ? `\n              caCertificateFile: ${CLIENT_CA}` : ""
    }
              certificates:
                - certificateFile: ${CERT}
                  certificateKeyFile: ${KEY}`;
  const connectors = ports.mtls
    ? `        - port: ${ports.mtls}\n          address: 127.0.0.1\n${tls(true)}`
    : `        - port: ${ports.https}\n          address: 127.0.0.1\n${tls(false)}
        - port: ${ports.http}
          address: 127.0.0.1`;
  writeFileSync(join(base, "app.js"), SIDE_BY_SIDE_APP);
  writeFileSync(
    join(base, "server.yaml"),
    `logging: { level: warn, components: { connector: info } }
server:
  services:
    - connectors:
${connectors}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.js
                manager: { pathname: SESSIONS.ser }
              - path: /manager
                handler: "bobcat:manager"
`,
  );
  const args = ["run", "--config", join(base, "server.yaml"), "--base", base];
  if (exe) return [exe, ...args];
  return runtime === "deno"
    ? [bin("deno"), "run", "-A", `--config=${join(ROOT, "deno.json")}`, DENO_CLI, ...args]
    : [bin("bun"), join(ROOT, "src/cli/main.ts"), ...args];
}

// ---- one server ----
type Side = "tomcat" | "raw" | "bobcat" | "exe";
interface Ports {
  https: number;
  http: number;
  mtls?: number;
}
interface Server extends Proc {
  side: Side;
  ports: Ports;
  cmd: string[];
  dir: string;
  startMs: number;
  /** CPU seconds the server's processes used until that first 200: steadier than ms on a busy machine. */
  startCpu: number;
}
async function newPorts(mtls = false): Promise<Ports> {
  return { https: await freePort(), http: await freePort(), ...(mtls ? { mtls: await freePort() } : {}) };
}
function commandOf(side: Side, runtime: string, dir: string, ports: Ports, exe: string): string[] {
  if (side === "tomcat") return tomcatCommand(dir, ports);
  if (side === "raw") return rawCommand(runtime, ports);
  return bobcatCommand(runtime, dir, ports, side === "exe" ? exe : undefined);
}
/** Starts `cmd` and polls (bounded) with fresh TLS connections until GET / answers 200. */
async function startAndWait(side: Side, cmd: string[], dir: string, ports: Ports): Promise<Server> {
  const t0 = performance.now();
  const proc = launch(cmd, dir);
  const tls = ports.mtls ? { cert: CLIENT_CERT, key: CLIENT_KEY } : {};
  try {
    const ready = await Promise.race([
      firstOk(ports.mtls ?? ports.https, { timeoutMs: 120000, ...tls }),
      new Promise<never>((_, reject) =>
        proc.p.once("exit", (code) => reject(new Error(`exited with ${code} before answering`)))
      ),
    ]);
    return { ...proc, side, ports, cmd, dir, startMs: ready - t0, startCpu: cpuSeconds(proc.p.pid!) };
  } catch (e) {
    if (proc.p.pid) await stopTree(proc.p.pid, "SIGKILL");
    throw new Error(`${side} did not start (${(e as Error).message}): ${cmd.join(" ")}\n${proc.log()}`);
  }
}
async function start(side: Side, runtime: string, exe: string, mtls = false): Promise<Server> {
  const dir = freshDir(side);
  const ports = await newPorts(mtls);
  return startAndWait(side, commandOf(side, runtime, dir, ports, exe), dir, ports);
}

async function sessionsOf(s: Server): Promise<{ count: number | null; source: string }> {
  if (s.side === "raw" || s.side === "tomcat") {
    const r = await fetch(`https://127.0.0.1:${s.ports.https}/count`, insecure);
    return { count: Number(await r.text()), source: s.side === "raw" ? "Map size" : "JMX Manager activeSessions" };
  }
  const r = await fetch(`https://127.0.0.1:${s.ports.https}/manager/json`, insecure);
  const json = (await r.json()) as { contexts?: Array<{ path: string; stats?: Record<string, unknown> }> };
  const stats = json.contexts?.find((c) => c.path === "/")?.stats ?? {};
  const restoredKey = Object.keys(stats).find((k) => /restored|loaded/i.test(k));
  const key = restoredKey ?? "activeSessions";
  return typeof stats[key] === "number"
    ? { count: stats[key] as number, source: `manager JSON stats.${key}` }
    : { count: null, source: "not in the manager JSON" };
}

function tlsLoad(port: number, pid: number, seconds: number, clientCert: boolean, connections = CONNECTIONS) {
  const c0 = cpuSeconds(pid);
  // Under Deno: Bun 1.4's node:tls client, once it presents a client certificate, gets about
  // one response per 40 ms on a single connection from Tomcat and from bobcat's node:tls
  // back-end (and far fewer with 8 connections), where Deno's client gets hundreds: it would
  // measure the client, not the server.
  const r = spawnSync(
    bin("deno"),
    [
      "run",
      "-A",
      "--no-config",
      join(import.meta.dir, "tls-load.ts"),
      String(port),
      String(connections),
      String(seconds),
      ...(clientCert ? [CLIENT_CERT, CLIENT_KEY] : []),
    ],
    { encoding: "utf8", timeout: (seconds + 60) * 1000 },
  );
  const cpu = cpuSeconds(pid) - c0;
  const out = JSON.parse(/\{.*\}/.exec(r.stdout ?? "")?.[0] ?? `{"requests":0,"seconds":1,"errors":1}`) as {
    requests: number;
    seconds: number;
    errors: number;
  };
  if (process.env.BENCH_DEBUG) {
    progress(`tls-load ${port} ${connections} ${seconds}s cert=${clientCert}: ${r.stdout}${r.stderr} cpu ${cpu}`);
  }
  return {
    rps: out.requests / out.seconds,
    requests: out.requests,
    seconds: out.seconds,
    perCpu: cpu > 0 ? out.requests / cpu : 0,
    errors: out.errors,
    p99: "-",
  } satisfies WrkSample;
}

// ---- one runtime ----
interface Results {
  runtime: string;
  versions: string;
  sides: Side[];
  tput: Map<string, Map<Side, WrkSample[]>>; // row → side → samples
  startup: Map<Side, number[]>;
  startupCpu: Map<Side, number[]>;
  idle: Map<Side, number[]>;
  create: Map<
    Side,
    {
      rate: number;
      perCpu: number;
      made: number | null;
      rss: number;
      /** When the RSS was read: once two readings 500 ms apart were within 1% (bench/lib.ts settledRssKiB). */
      rssAfterMs: number;
      stopMs: number | null;
      restartMs: number | null;
      restored: number | null;
      source: string;
      file: string;
    }[]
  >;
  notes: string[];
  commands: Map<string, string>;
}

const THROUGHPUT: Array<{ row: Row; label: string; path: string; tls: boolean }> = [
  { row: "https", label: "HTTPS keep-alive hello", path: "/", tls: true },
  { row: "http", label: "plain HTTP hello", path: "/", tls: false },
  { row: "body", label: "HTTPS 16 KiB body", path: "/body", tls: true },
  { row: "cookie", label: "existing session (cookie)", path: "/read", tls: true },
  // Last in each round: it leaves sessions behind.
  { row: "new-session", label: "new session per request", path: "/create", tls: true },
];

const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
const rotate = <T>(xs: T[], i: number) => xs.map((_, j) => xs[(j + i) % xs.length]!);
const progress = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

async function measure(runtime: string): Promise<Results> {
  const exe = exeOption ||
    (runtime === "bun" ? join(ROOT, "dist/bobcat") : join(ROOT, "dist/bobcat-deno"));
  const haveExe = existsSync(exe);
  const sides: Side[] = [...(skipTomcat ? [] : ["tomcat" as const]), "raw", "bobcat"];
  const res: Results = {
    runtime,
    versions: "",
    sides,
    tput: new Map(),
    startup: new Map(),
    startupCpu: new Map(),
    idle: new Map(),
    create: new Map(),
    notes: [],
    commands: new Map(),
  };
  const java = skipTomcat ? "" : spawnSync("java", ["-version"], { encoding: "utf8" }).stderr.split("\n")[0];
  res.versions = `${
    runtime === "bun"
      ? `Bun ${spawnSync(bin("bun"), ["--version"], { encoding: "utf8" }).stdout.trim()}`
      : `Deno ${/deno (\S+)/.exec(spawnSync(bin("deno"), ["--version"], { encoding: "utf8" }).stdout)?.[1]}`
  }; ${java ? `Tomcat ${tomcatVersion()} on ${java}; ` : ""}${`wrk ${
    /wrk (\S+)/.exec(spawnSync("wrk", ["--version"], { encoding: "utf8" }).stdout)?.[1] ?? ""
  }`}`;
  if (!haveExe) {
    res.notes.push(
      `single executable: ${exe} not found (build it with \`bun build.ts${runtime === "deno" ? " --deno" : ""}\`)`,
    );
  }

  // 1. start → first HTTPS 200, idle RSS (fresh processes each round).
  if (want("startup")) {
    const startSides: Side[] = [...sides, ...(haveExe ? ["exe" as const] : [])];
    for (let i = 0; i < rounds; i++) {
      for (const side of rotate(startSides, i)) {
        progress(`${runtime}: start-up ${side} (round ${i + 1}/${rounds})`);
        const s = await start(side, runtime, exe);
        res.commands.set(side, s.cmd.join(" "));
        push(res.startup, side, s.startMs);
        push(res.startupCpu, side, s.startCpu);
        await sleep(2000);
        push(res.idle, side, rssKiB(s.p.pid!) / 1024);
        await stopTree(s.p.pid!, "SIGTERM", 30000);
      }
    }
  }

  // 2. throughput, rounds interleaved, the order of the servers rotated each round.
  const rows = THROUGHPUT.filter((t) => want(t.row));
  if (rows.length || want("mtls")) {
    const servers: Server[] = [];
    for (const side of sides) {
      progress(`${runtime}: starting ${side}`);
      const s = await start(side, runtime, exe);
      res.commands.set(side, s.cmd.join(" "));
      servers.push(s);
    }
    const cookies = new Map<Side, string>();
    for (const s of servers) {
      const base = `https://127.0.0.1:${s.ports.https}`;
      const created = await fetch(`${base}/create`, insecure);
      const user = await created.text();
      const cookie = created.headers.getSetCookie().find((c) => c.startsWith("JSESSIONID="))?.split(";")[0];
      if (!cookie) throw new Error(`${s.side}: /create set no JSESSIONID cookie`);
      cookies.set(s.side, cookie);
      const read = await (await fetch(`${base}/read`, { ...insecure, headers: { cookie } })).text();
      if (read !== user) throw new Error(`${s.side}: /read with ${cookie} answered ${read}, not ${user}`);
      const body = await (await fetch(`${base}/body`, insecure)).text();
      if (body.length !== 16384) throw new Error(`${s.side}: /body is ${body.length} bytes`);
      const plain = await (await fetch(`http://127.0.0.1:${s.ports.http}/`)).text();
      if (plain !== "Hello, world") throw new Error(`${s.side}: plain HTTP / answered ${plain}`);
      if (s.side === "bobcat") {
        for (const l of s.log().split("\n").filter((l) => /listening on/.test(l))) {
          res.notes.push(`bobcat: ${l.replace(/^.*?(\S+ listening on)/, "$1")}`);
        }
      }
    }
    const url = (s: Server, t: (typeof THROUGHPUT)[number]) =>
      `${t.tls ? "https" : "http"}://127.0.0.1:${t.tls ? s.ports.https : s.ports.http}${t.path}`;
    const args = (s: Server, t: (typeof THROUGHPUT)[number]) =>
      t.row === "cookie" ? ["-H", `Cookie: ${cookies.get(s.side)}`] : [];
    // Each row is warmed up right before its first round, not all rows before the first: the
    // new-session warm-up leaves tens of thousands of sessions in every server (as many as each
    // made in the time), which the hello and cookie rows of round 1 would otherwise be measured
    // with. From round 2 on every row runs after the last round's new sessions, as in a server
    // that keeps its sessions.
    const warm = (t: (typeof THROUGHPUT)[number]) => {
      for (const s of servers) {
        progress(`${runtime}: warm-up ${t.row} ${s.side}`);
        // The JVM needs longer to compile its hot paths.
        wrk(url(s, t), s.p.pid!, {
          connections: 8,
          seconds: s.side === "tomcat" ? warmup * 2 : warmup,
          args: args(s, t),
        });
      }
    };
    for (let i = 0; i < rounds; i++) {
      for (const t of rows) {
        if (i === 0) warm(t);
        for (const s of rotate(servers, i)) {
          progress(`${runtime}: ${t.row} ${s.side} (round ${i + 1}/${rounds})`);
          const m = res.tput.get(t.row) ?? res.tput.set(t.row, new Map()).get(t.row)!;
          push(m, s.side, wrk(url(s, t), s.p.pid!, { connections: CONNECTIONS, seconds: duration, args: args(s, t) }));
        }
      }
    }

    // Client certificates: the same TLS client with and without one, each server's own
    // certificate-requiring instance against its plain HTTPS one.
    if (want("mtls")) {
      const mtls: Server[] = [];
      for (const side of sides) {
        if (side === "raw" && runtime === "deno") continue; // Deno.serve cannot ask for client certificates
        progress(`${runtime}: starting ${side} with client certificates required`);
        const s = await start(side, runtime, exe, true);
        res.commands.set(`${side}-mtls`, s.cmd.join(" "));
        mtls.push(s);
        if (side === "bobcat") {
          for (const l of s.log().split("\n").filter((l) => /listening on/.test(l))) {
            res.notes.push(`bobcat (client certificates): ${l.replace(/^.*?(\S+ listening on)/, "$1")}`);
          }
        }
        const without = tlsLoad(s.ports.mtls!, s.p.pid!, 1, false, 1);
        if (without.requests > 0) throw new Error(`${side}: answered without a client certificate`);
      }
      const pairs: Array<[row: string, s: Server, port: number, cert: boolean]> = [
        ...servers.map((s) => ["mtls-none", s, s.ports.https, false] as [string, Server, number, boolean]),
        ...mtls.map((s) => ["mtls", s, s.ports.mtls!, true] as [string, Server, number, boolean]),
      ];
      for (const [, s, port, cert] of pairs) {
        progress(`${runtime}: warm-up tls-load ${s.side}${cert ? " (client certificate)" : ""}`);
        const w = tlsLoad(port, s.p.pid!, s.side === "tomcat" ? warmup * 2 : warmup, cert);
        if (w.requests === 0) throw new Error(`${s.side}: no response to tls-load (client certificate: ${cert})`);
      }
      for (let i = 0; i < rounds; i++) {
        for (const [row, s, port, cert] of rotate(pairs, i)) {
          progress(`${runtime}: ${row} ${s.side} (round ${i + 1}/${rounds})`);
          const m = res.tput.get(row) ?? res.tput.set(row, new Map()).get(row)!;
          push(m, s.side, tlsLoad(port, s.p.pid!, duration, cert));
        }
      }
      for (const s of mtls) await stopTree(s.p.pid!, "SIGKILL");
    }
    for (const s of servers) await stopTree(s.p.pid!, "SIGKILL");
  }

  // 3. creating N sessions, RSS with them, SIGTERM → exit (persisting), restart → first 200.
  if (want("100k")) {
    // wrk has no request count: the script ends wrk (os.exit) at the Nth response; the time is
    // the wall time of the wrk process (its start-up, 32 TLS handshakes, is a few ms of it).
    const lua = join(work, "create.lua");
    writeFileSync(
      lua,
      `-- ends wrk after ${sessionCount} responses to /create, each a new session
local n, bad = 0, 0
function response(status, headers, body)
  n = n + 1
  if status ~= 200 then bad = bad + 1 end
  if n >= ${sessionCount} then
    io.write("responses " .. n .. " non-200 " .. bad .. "\\n")
    io.flush()
    os.exit(0)
  end
end
`,
    );
    const createSessions = (port: number) => {
      const t0 = performance.now();
      const r = spawnSync("wrk", ["-t1", `-c${CONNECTIONS}`, "-d600s", "-s", lua, `https://127.0.0.1:${port}/create`], {
        encoding: "utf8",
        timeout: 660000,
      });
      const seconds = (performance.now() - t0) / 1000;
      const m = /responses (\d+) non-200 (\d+)/.exec(r.stdout ?? "");
      if (!m) throw new Error(`wrk did not create ${sessionCount} sessions: ${r.stdout}${r.stderr}`);
      return { requests: Number(m[1]), seconds, errors: Number(m[2]) };
    };
    // The single executable too, when built: the form whose idle memory is the lowest.
    const createSides: Side[] = [...sides, ...(haveExe ? ["exe" as const] : [])];
    for (let i = 0; i < rounds; i++) {
      for (const side of rotate(createSides, i)) {
        progress(`${runtime}: ${sessionCount} sessions ${side} (round ${i + 1}/${rounds})`);
        const s = await start(side, runtime, exe);
        // Warm the TLS and HTTP paths first (no session made), as for the other rows.
        wrk(`https://127.0.0.1:${s.ports.https}/`, s.p.pid!, {
          connections: 8,
          seconds: side === "tomcat" ? warmup * 2 : warmup,
        });
        const c0 = cpuSeconds(s.p.pid!);
        const w = createSessions(s.ports.https);
        const cpu = cpuSeconds(s.p.pid!) - c0;
        const made = await sessionsOf(s);
        const settled = await settledRssKiB(s.p.pid!);
        const rss = settled.kib / 1024;
        let stopMs: number | null = null;
        let restartMs: number | null = null;
        let restored: { count: number | null; source: string } = { count: null, source: "" };
        let file = "";
        if (side === "raw") await stopTree(s.p.pid!, "SIGKILL");
        else {
          stopMs = await stopTree(s.p.pid!, "SIGTERM", 120000);
          file = findFile(s.dir, "SESSIONS.ser");
          progress(`${runtime}: restart ${side}`);
          const again = await startAndWait(side, s.cmd, s.dir, s.ports);
          restartMs = again.startMs;
          restored = await sessionsOf(again);
          await stopTree(again.p.pid!, "SIGKILL");
        }
        push(res.create, side, {
          rate: w.seconds > 0 ? w.requests / w.seconds : 0,
          perCpu: cpu > 0 ? w.requests / cpu : 0,
          made: made.count,
          rss,
          rssAfterMs: settled.afterMs,
          stopMs,
          restartMs,
          restored: restored.count,
          source: restored.source || made.source,
          file,
        });
        if (w.errors) res.notes.push(`${side}: ${w.errors} wrk errors while creating sessions`);
      }
    }
  }
  return res;
}

function tomcatVersion(): string {
  const r = spawnSync("java", ["-cp", `${CATALINA_HOME}/lib/catalina.jar`, "org.apache.catalina.util.ServerInfo"], {
    encoding: "utf8",
  });
  return /Server number:\s+(\S+)/.exec(r.stdout)?.[1] ?? "10";
}

function findFile(dir: string, name: string): string {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === name) {
      const p = join(e.parentPath, e.name);
      return `${(statSync(p).size / 1e6).toFixed(1)} MB`;
    }
  }
  return "none written";
}

// ---- output ----
const n0 = (x: number) => Math.round(x).toLocaleString("en-US");
const n1 = (x: number) => x.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined && a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : "—";

function print(r: Results): void {
  const rawName = r.runtime === "bun" ? "raw Bun" : "raw Deno";
  const bobName = `bobcat (${r.runtime === "bun" ? "Bun" : "Deno"})`;
  const tomcat = r.sides.includes("tomcat");
  console.log(`\n### ${r.runtime === "bun" ? "Bun" : "Deno"}\n`);
  console.log(
    `${r.versions}; ${rounds} interleaved round(s), medians; wrk -t1 -c${CONNECTIONS} -d${duration}s, TLS 1.3, RSA-2048; ${cpuCount()} cores shared by clients and servers. Higher is better for req/s and sessions/s, lower for ms and MiB; the ratios are bobcat's value divided by the other's.\n`,
  );
  console.log(
    `| measure | ${tomcat ? "Tomcat | " : ""}${rawName} | ${bobName} | ${
      tomcat ? "bobcat / Tomcat | " : ""
    }bobcat / ${rawName} |`,
  );
  console.log(`|---|${tomcat ? "---:|" : ""}---:|---:|${tomcat ? "---:|" : ""}---:|`);
  const line = (
    label: string,
    v: Partial<Record<Side, number | undefined>>,
    fmt: (x: number) => string,
    bob: Side = "bobcat",
  ) => {
    const cell = (x: number | undefined) => (x === undefined ? "—" : fmt(x));
    console.log(
      `| ${label} | ${tomcat ? `${cell(v.tomcat)} | ` : ""}${cell(v.raw)} | ${cell(v[bob])} | ${
        tomcat ? `${ratio(v[bob], v.tomcat)} | ` : ""
      }${ratio(v[bob], v.raw)} |`,
    );
  };
  const med = (xs: number[] | undefined) => (xs && xs.length ? median(xs) : undefined);
  const per = <T>(
    m: Map<Side, T[]> | undefined,
    f: (x: T) => number | null,
    sides: Side[] = ["tomcat", "raw", "bobcat", "exe"],
  ) => Object.fromEntries(sides.map((s) => [s, med(m?.get(s)?.map(f).filter((x): x is number => x !== null))]));
  const labels: Record<string, string> = {
    https: "HTTPS keep-alive hello",
    http: "plain HTTP hello",
    body: "HTTPS 16 KiB body",
    "new-session": "new session per request",
    cookie: "existing session (cookie)",
    mtls: "client certificate required, keep-alive hello (tls-load)",
    "mtls-none": "same client, no client certificate (tls-load)",
  };
  for (const row of ["https", "http", "body", "new-session", "cookie", "mtls", "mtls-none"]) {
    const m = r.tput.get(row);
    if (!m) continue;
    line(`${labels[row]}, req/s`, per(m, (x) => x.rps), n0);
    line(`${labels[row]}, req per server CPU-s`, per(m, (x) => x.perCpu), n0);
  }
  if (r.create.size) {
    line(`creating ${n0(sessionCount)} sessions, sessions/s`, per(r.create, (x) => x.rate), n0);
    line(`creating ${n0(sessionCount)} sessions, per server CPU-s`, per(r.create, (x) => x.perCpu), n0);
  }
  if (r.startup.size) {
    line("start → first HTTPS 200, ms", per(r.startup, (x) => x), n0);
    if (r.startup.has("exe")) {
      line(
        "start → first HTTPS 200, single executable, ms",
        per(r.startup, (x) => x),
        n0,
        "exe",
      );
    }
    const cs = (x: number) => x.toFixed(2);
    line("start → first HTTPS 200, server CPU-s", per(r.startupCpu, (x) => x), cs);
    if (r.startup.has("exe")) {
      line("start → first HTTPS 200, single executable, server CPU-s", per(r.startupCpu, (x) => x), cs, "exe");
    }
    line("idle RSS, MiB", per(r.idle, (x) => x), n1);
    if (r.idle.has("exe")) line("idle RSS, single executable, MiB", per(r.idle, (x) => x), n1, "exe");
  }
  if (r.create.size) {
    line(`RSS with ${n0(sessionCount)} sessions, MiB`, per(r.create, (x) => x.rss), n1);
    if (r.create.has("exe")) {
      line(`RSS with ${n0(sessionCount)} sessions, single executable, MiB`, per(r.create, (x) => x.rss), n1, "exe");
    }
    line(`SIGTERM → exit with ${n0(sessionCount)} sessions (persisting), ms`, per(r.create, (x) => x.stopMs), n0);
    line("restart → first HTTPS 200 (sessions restored), ms", per(r.create, (x) => x.restartMs), n0);
    const counts = (s: Side) => {
      const xs = r.create.get(s);
      if (!xs) return "—";
      if (s === "raw") return `${xs.map((x) => x.made === null ? "n/a" : n0(x.made)).join(" / ")} made, none kept`;
      return xs.map((x) => `${x.restored === null ? "n/a" : n0(x.restored)} of ${x.made === null ? "n/a" : n0(x.made)}`)
        .join(" / ");
    };
    console.log(
      `| sessions restored after restart (of those made) | ${tomcat ? `${counts("tomcat")} | ` : ""}${
        counts("raw")
      } | ${counts("bobcat")} | ${tomcat ? "| " : ""}|`,
    );
  }
  const mt = r.tput.get("mtls")?.get("bobcat");
  const mn = r.tput.get("mtls-none")?.get("bobcat");
  if (mt && mn) {
    console.log(
      `\nbobcat with a client certificate required / without: ${
        ratio(med(mt.map((x) => x.rps)), med(mn.map((x) => x.rps)))
      } by req/s, ${
        ratio(med(mt.map((x) => x.perCpu)), med(mn.map((x) => x.perCpu)))
      } by req per server CPU-s (same client, bench/tls-load.ts).`,
    );
  }
  // Round by round (the servers took turns within each round): how far one round's ratio is from another's.
  if (rounds > 1) {
    const lines: string[] = [];
    for (const row of ["https", "http", "body", "new-session", "cookie", "mtls", "mtls-none"]) {
      const raw = r.tput.get(row)?.get("raw");
      const bob = r.tput.get(row)?.get("bobcat");
      if (!raw || !bob || raw.length !== bob.length) continue;
      const each = bob.map((x, i) => (raw[i]!.perCpu > 0 ? x.perCpu / raw[i]!.perCpu : NaN));
      lines.push(`- ${labels[row]}: ${each.map((x) => x.toFixed(2)).join(" / ")} (median ${median(each).toFixed(2)})`);
    }
    if (lines.length) {
      console.log(`\nbobcat / ${rawName} per server CPU-second, round by round:\n${lines.join("\n")}`);
    }
    // The RSS row swings by a few MiB with when each server's collector last ran: each round's
    // figures, and how long after the burst each settled.
    const rssRounds = [...r.create];
    if (rssRounds.length) {
      console.log(
        `\nRSS with ${n0(sessionCount)} sessions, MiB (read once settled, seconds after the burst), round by round: ${
          rssRounds.map(([side, xs]) =>
            `${side} ${xs.map((x) => `${n1(x.rss)} (${(x.rssAfterMs / 1000).toFixed(1)} s)`).join(" / ")}`
          ).join("; ")
        }`,
      );
    }
  }
  const errors: string[] = [];
  for (const [row, m] of r.tput) {
    for (const [side, xs] of m) {
      const e = xs.reduce((a, x) => a + x.errors, 0);
      if (e) errors.push(`${row} ${side} ${e}`);
    }
  }
  if (errors.length) {
    console.log(`\nclient-side errors (socket errors, non-2xx; summed over rounds): ${errors.join(", ")}`);
  }
  const files = [...r.create].flatMap(([s, xs]) => xs.filter((x) => x.file).map((x) => `${s} ${x.file}`));
  if (files.length) console.log(`\nSESSIONS.ser after SIGTERM: ${files.join(", ")}`);
  const sources = [...r.create].map(([s, xs]) => `${s}: ${xs[0]?.source}`);
  if (sources.length) console.log(`session counts read from: ${sources.join("; ")}`);
  for (const n of r.notes) console.log(`- ${n}`);
  console.log("\ncommands:");
  for (const [side, cmd] of r.commands) console.log(`- ${side}: \`${cmd.replaceAll(work, "$WORK")}\``);
  console.log(
    `- load: \`wrk -t1 -c${CONNECTIONS} -d${duration}s --latency URL\` (cookie row: \`-H "Cookie: JSESSIONID=…"\`; ${
      n0(sessionCount)
    } sessions: \`-s create.lua\`, which stops the thread after ${
      n0(sessionCount)
    } responses to /create); client-certificate rows: \`deno run -A bench/tls-load.ts PORT ${CONNECTIONS} ${duration} [alice.pem alice-key.pem]\``,
  );
}

const cpuCount = () => readdirSync("/sys/devices/system/cpu").filter((d) => /^cpu\d+$/.test(d)).length;

const results: Results[] = [];
try {
  for (const runtime of runtimes) results.push(await measure(runtime));
} finally {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
}
console.log(`# bobcat side by side: \`bun bench/side-by-side.ts ${argv.join(" ")}\``);
if (runtimes.includes("deno")) console.log(`\nbobcat under Deno runs ${DENO_CLI.slice(ROOT.length + 1)}`);
for (const r of results) print(r);
