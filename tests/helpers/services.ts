/**
 * Throw-away MariaDB, Redis and HAProxy servers for tests, each on 127.0.0.1 on a free port in
 * a temporary directory, stopped and deleted afterwards (also when the test process exits
 * early). Needs the Debian packages `mariadb-server`, `redis-server` and `haproxy` (.ci/run
 * installs them); without them the tests fail with a message naming the package. Every wait is
 * bounded.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./bobcat.ts";

function need(binary: string, pkg: string): string {
  for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]) {
    if (existsSync(join(dir, binary))) return join(dir, binary);
  }
  throw new Error(
    `${binary} is required by these tests but was not found: install the Debian package \`${pkg}\` (apt-get install -y ${pkg}; .ci/run installs it)`,
  );
}

async function waitPort(port: number, what: string, log: () => string, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s:\n${log().slice(-2000)}`);
}

function onExit(fn: () => void): () => void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    process.off("exit", once);
    fn();
  };
  process.on("exit", once);
  return once;
}

async function stopChild(proc: ChildProcess | null, timeoutMs = 10000): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const t = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(t);
}

export interface Service {
  readonly port: number;
  readonly url: string;
  /** Stops the server, keeping its data (an outage). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

// ---- Redis -------------------------------------------------------------------------------------

export interface RedisServer extends Service {
  /** Runs redis-cli with these arguments and returns its output. */
  cli(...args: string[]): string;
}

export async function startRedis(): Promise<RedisServer> {
  const bin = need("redis-server", "redis-server");
  const dir = mkdtempSync(join(tmpdir(), "bobcat-redis-"));
  const port = await freePort();
  let proc: ChildProcess | null = null;
  let out = "";
  const start = async () => {
    proc = spawn(bin, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "no",
      "--protected-mode",
      "no",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    await waitPort(port, "redis-server", () => out);
  };
  const stop = () => stopChild(proc);
  const cleanup = onExit(() => {
    proc?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    start,
    stop,
    async destroy() {
      await stop();
      cleanup();
    },
    cli: (...args) => {
      const r = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], {
        encoding: "utf8",
        timeout: 10000,
      });
      return r.stdout;
    },
  };
}

// ---- MariaDB -----------------------------------------------------------------------------------

export interface MariaDbServer extends Service {
  /** Runs SQL through the mariadb client (database `bobcat`), returning tab-separated rows. */
  sql(statement: string): string;
}

export async function startMariaDb(): Promise<MariaDbServer> {
  const mariadbd = need("mariadbd", "mariadb-server");
  const installDb = need("mariadb-install-db", "mariadb-server");
  const dir = mkdtempSync(join(tmpdir(), "bobcat-mariadb-"));
  const asRoot = process.getuid?.() === 0;
  let user: string[] = [];
  if (asRoot) {
    const uid = Number(spawnSync("id", ["-u", "mysql"], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", "mysql"], { encoding: "utf8" }).stdout.trim());
    if (!uid) throw new Error("running as root, MariaDB needs the `mysql` user (the Debian package creates it)");
    chownSync(dir, uid, gid);
    user = ["--user=mysql"];
  }
  const data = join(dir, "data");
  // Its own temporary directory: servers started at once (other test files) share /tmp, and
  // their bootstrap temporary tables can collide there.
  const tmp = join(dir, "tmp");
  mkdirSync(tmp);
  if (asRoot) chownSync(tmp, statSync(dir).uid, statSync(dir).gid);
  const r = spawnSync(installDb, [
    `--datadir=${data}`,
    `--tmpdir=${tmp}`,
    ...user,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    "--skip-name-resolve",
  ], { encoding: "utf8", timeout: 120000 });
  if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr}${r.stdout}`);
  const port = await freePort();
  const socket = join(dir, "mysqld.sock");
  let proc: ChildProcess | null = null;
  let out = "";
  const start = async () => {
    proc = spawn(mariadbd, [
      "--no-defaults",
      `--datadir=${data}`,
      `--tmpdir=${tmp}`,
      ...user,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--socket=${socket}`,
      `--pid-file=${join(dir, "mysqld.pid")}`,
      "--skip-name-resolve",
      "--innodb-flush-log-at-trx-commit=2",
      "--innodb-buffer-pool-size=32M",
      "--skip-log-bin",
      "--max-connections=300",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    await waitPort(port, "mariadbd", () => out, 60000);
  };
  const stop = () => stopChild(proc, 30000);
  const cleanup = onExit(() => {
    proc?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  const client = (statement: string, db?: string) => {
    const res = spawnSync("mariadb", [
      "--no-defaults",
      "-uroot",
      `--socket=${socket}`,
      "-N",
      "-B",
      ...(db ? [db] : []),
      "-e",
      statement,
    ], {
      encoding: "utf8",
      timeout: 30000,
    });
    if (res.status !== 0) throw new Error(`mariadb -e ${statement}: ${res.stderr}`);
    return res.stdout;
  };
  client(
    "CREATE DATABASE bobcat; CREATE USER 'bobcat'@'127.0.0.1' IDENTIFIED BY 'bobcat'; GRANT ALL ON bobcat.* TO 'bobcat'@'127.0.0.1';",
  );
  return {
    port,
    url: `mysql://bobcat:bobcat@127.0.0.1:${port}/bobcat`,
    start,
    stop,
    async destroy() {
      await stop();
      cleanup();
    },
    sql: (statement) => client(statement, "bobcat"),
  };
}

// ---- HAProxy -----------------------------------------------------------------------------------

export interface HaproxyOptions {
  backends: { name: string; port: number }[];
  /** Route by the jvmRoute suffix of the session cookie (`.name`), falling back to round robin. */
  stickyCookie?: string;
}

export interface Haproxy {
  readonly port: number;
  readonly url: string;
  destroy(): Promise<void>;
}

/** HAProxy round-robin over the backends, health-checked every 250 ms, retrying refused connections elsewhere. */
export async function startHaproxy(options: HaproxyOptions): Promise<Haproxy> {
  const bin = need("haproxy", "haproxy");
  const dir = mkdtempSync(join(tmpdir(), "bobcat-haproxy-"));
  const port = await freePort();
  const sticky = options.stickyCookie
    ? options.backends.map((b) => `  use-server ${b.name} if { req.cook(${options.stickyCookie}) -m end .${b.name} }`)
    : [];
  const config = [
    "global",
    "  maxconn 2000",
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 30s",
    "  timeout server 30s",
    // Retries (on another server: redispatch) only when the connection could not be made, so the
    // request was never sent: a request that reached a server is never replayed.
    "  retries 3",
    "  retry-on conn-failure",
    "  option redispatch",
    // A request that reached a server is never sent again: on a reused server connection that
    // dies (a SIGKILLed server), HAProxy would otherwise retry it elsewhere and apply it twice.
    "  http-reuse never",
    "  timeout check 2s",
    "frontend web",
    `  bind 127.0.0.1:${port}`,
    "  default_backend bobcats",
    "backend bobcats",
    "  balance roundrobin",
    "  option httpchk GET /health",
    ...sticky,
    ...options.backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check inter 250ms fall 2 rise 1`),
    "",
  ].join("\n");
  writeFileSync(join(dir, "haproxy.cfg"), config);
  let out = "";
  const proc = spawn(bin, ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const cleanup = onExit(() => {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  await waitPort(port, "haproxy", () => out + readFileSync(join(dir, "haproxy.cfg"), "utf8"));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async destroy() {
      await stopChild(proc);
      cleanup();
    },
  };
}

// ---- A slow link ---------------------------------------------------------------------------------

export interface LatencyProxy {
  readonly port: number;
  /** Milliseconds added to every chunk in each direction; change it at any time. */
  delayMs: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy to 127.0.0.1:`target` that delays every chunk by `delayMs`. Order is kept even when
 * the delay is lowered: a chunk never overtakes one that arrived before it.
 */
export async function startLatencyProxy(target: number, delayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const proxy: LatencyProxy = {
    port: 0,
    delayMs,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const pipe = (from: Socket, to: Socket) => {
    const queue: { due: number; chunk: Buffer | null }[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    const drain = () => {
      timer = null;
      while (queue.length && queue[0]!.due <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (to.destroyed) continue;
        if (chunk) to.write(chunk);
        else to.destroy();
      }
      if (queue.length) timer = setTimeout(drain, Math.max(0, queue[0]!.due - Date.now()));
    };
    const push = (chunk: Buffer | null) => {
      queue.push({ due: Date.now() + Math.max(0, proxy.delayMs), chunk });
      if (!timer) drain();
    };
    from.on("data", (chunk: Buffer) => push(chunk));
    from.on("close", () => push(null));
    from.on("error", () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("close", () => sockets.delete(client));
    upstream.on("close", () => sockets.delete(upstream));
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  (proxy as { port: number }).port = (server.address() as { port: number }).port;
  return proxy;
}
