/**
 * A throw-away PostgreSQL server for tests: initdb into a temporary directory, listening on
 * 127.0.0.1 on a free port, stopped and deleted afterwards. Needs the Debian `postgresql`
 * package (its binaries under /usr/lib/postgresql/<version>/bin); as root, the server runs as
 * the `postgres` user, since PostgreSQL refuses to run as root. Every step is bounded in time.
 * There is no skipping: without PostgreSQL the tests fail with a message saying what to install.
 */
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PostgresServer {
  /** postgres://bobcat@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the server (fast shutdown), keeping its data, e.g. to simulate an outage. */
  stop(): void;
  /** Starts it again on the same port. */
  start(): void;
  /** Runs SQL through psql and returns its unaligned output. */
  psql(sql: string): string;
  /** Stops the server and deletes its directory. */
  destroy(): void;
}

const STEP_TIMEOUT_MS = 60000;

function findBinDir(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv && existsSync(join(fromEnv, "initdb"))) return fromEnv;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length) return join(root, versions[0]!, "bin");
  throw new Error(
    "PostgreSQL is required by these tests but its server binaries were not found " +
      "(looked in $PG_BIN and /usr/lib/postgresql/*/bin). Install the Debian package `postgresql` " +
      "(apt-get install -y postgresql; .ci/run installs it), or set PG_BIN to the directory holding initdb and pg_ctl.",
  );
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function postgresUid(): { uid: number; gid: number } {
  const r = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (r.status !== 0 || g.status !== 0) {
    throw new Error(
      "running as root, PostgreSQL needs an unprivileged user, but there is no `postgres` user (the Debian package creates it)",
    );
  }
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findBinDir();
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? postgresUid() : null;
  const dataDir = mkdtempSync(join(tmpdir(), "bobcat-pg-"));
  if (owner) chownSync(dataDir, owner.uid, owner.gid);
  const pgdata = join(dataDir, "data");
  const logFile = join(dataDir, "server.log");
  const port = await freePort();

  const run = (tool: string, args: string[], input?: string) => {
    const argv = [join(bin, tool), ...args];
    const [cmd, full] = owner
      ? ["setpriv", [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--clear-groups", ...argv]]
      : [argv[0]!, argv.slice(1)];
    const r = spawnSync(cmd, full, {
      encoding: "utf8",
      timeout: STEP_TIMEOUT_MS,
      input,
      cwd: dataDir,
      env: { ...process.env, LC_ALL: "C" },
    });
    if (r.error || r.status !== 0) {
      const log = existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-2000) : "";
      throw new Error(
        `${tool} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}${r.stdout}${
          log ? `\nserver log:\n${log}` : ""
        }`,
      );
    }
    return r.stdout;
  };

  run("initdb", [
    "-D",
    pgdata,
    "-U",
    "bobcat",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--no-locale",
    "--no-sync",
    "--no-instructions",
  ]);
  const start = () =>
    run("pg_ctl", [
      "start",
      "-D",
      pgdata,
      "-l",
      logFile,
      "-w",
      "-t",
      "30",
      "-o",
      `-h 127.0.0.1 -p ${port} -k ${dataDir} -c fsync=off -c full_page_writes=off -c synchronous_commit=off`,
    ]);
  const stop = () => run("pg_ctl", ["stop", "-D", pgdata, "-m", "fast", "-w", "-t", "30"]);
  let running = false;
  try {
    start();
    running = true;
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    process.off("exit", destroy);
    try {
      if (running) stop();
    } finally {
      running = false;
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  // A test run that ends early (timeout, crash) must not leave a server or its directory behind.
  process.on("exit", destroy);
  return {
    url: `postgres://bobcat@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    stop() {
      stop();
      running = false;
    },
    start() {
      start();
      running = true;
    },
    psql(sql: string) {
      return run("psql", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "bobcat",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-AtX",
        "-c",
        sql,
      ]);
    },
    destroy,
  };
}
