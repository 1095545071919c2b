/**
 * server.workers: 2 worker processes share the ports; the primary restarts a killed worker and
 * passes SIGHUP and SIGTERM to every worker; a session made on one worker is read and changed on
 * the other (an SQLite store in WAL mode), and no acknowledged change of it is lost. On Bun and
 * Deno, native back-end and node-compat. Every loop is bounded in count; no timing assertions.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { connect } from "node:tls";
import { request } from "node:http";
import {
  cleanup,
  copyLocalhostCertificate,
  freePort,
  PKI,
  runCli,
  type Running,
  RUNTIMES,
  startBobcat,
  tempDir,
  waitUntil,
  writeFiles,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const APP = `
export default {
  fetch(req, ctx) {
    const url = new URL(req.url);
    if (url.pathname === "/inc") {
      const s = ctx.getSession(true);
      const n = (s.getAttribute("n") ?? 0) + 1;
      s.setAttribute("n", n);
      return Response.json({ pid: process.pid, n });
    }
    if (url.pathname === "/die") {
      // Dies while this request holds the session's turn.
      ctx.getSession(false);
      process.kill(process.pid, "SIGKILL");
      return new Response("unreachable");
    }
    if (url.pathname === "/get") {
      const s = ctx.getSession(false);
      return Response.json({ pid: process.pid, n: s ? s.getAttribute("n") ?? 0 : null });
    }
    return new Response(String(process.pid));
  },
};
`;

function config(http: number, https: number, workers = "2", manager?: string): string {
  return `
server:
  workers: ${workers}
  gracefulStopTimeout: 5
  globalNamingResources:
    resources:
      - { name: jdbc/sessions, type: DataSource, url: "sqlite:work/sessions.db" }
  services:
    - connectors:
        - port: ${http}
          address: 127.0.0.1
        - port: ${https}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: conf/cert.pem
                  certificateKeyFile: conf/key.pem
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.mjs
                manager:
${
    manager ??
      `                  className: PersistentManager
                  consistency: shared
                  sessionLockWait: 600000
                  store: { className: DataSourceStore, dataSourceName: jdbc/sessions }`
  }
              - path: /manager
                handler: bobcat:manager
`;
}

/** One request on a fresh connection (Connection: close): status, body, and the Set-Cookie. */
function get(port: number, path: string, cookie?: string): Promise<{ status: number; body: string; cookie?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, agent: false, headers: { connection: "close", ...(cookie ? { cookie } : {}) } },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on(
          "end",
          () => resolve({ status: res.statusCode!, body, cookie: res.headers["set-cookie"]?.[0]?.split(";")[0] }),
        );
      },
    );
    req.setTimeout(10000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

function post(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "POST", agent: false, headers: { connection: "close" } },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A fresh TLS connection: the certificate it was served (fingerprint) and the pid of the worker that answered. */
function tlsPid(port: number): Promise<{ fingerprint: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false }, () => {
      const fingerprint = s.getPeerCertificate().fingerprint256;
      s.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      let data = "";
      s.on("data", (d) => (data += d));
      s.on("end", () => resolve({ fingerprint, pid: Number(data.split("\r\n\r\n")[1]) }));
    });
    s.setTimeout(10000, () => s.destroy(new Error("timed out")));
    s.on("error", reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** waitUntil counted in tries of 50 ms. */
const waitFor = (cond: () => boolean, tries = 300) => waitUntil(cond, tries * 50);

/** Worker pids by number, from the primary's "worker N (pid P) ready" lines (the latest per worker). */
function readyWorkers(out: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of out.matchAll(/\[workers\] worker (\d+) \(pid (\d+)\) ready/g)) m.set(Number(x[1]), Number(x[2]));
  return m;
}

async function fingerprintOf(pem: string): Promise<string> {
  const { X509Certificate } = await import("node:crypto");
  return new X509Certificate(await Bun.file(pem).text()).fingerprint256;
}

async function start(runtime: "bun" | "deno", env?: Record<string, string>) {
  const base = tempDir("bobcat-workers-");
  dirs.push(base);
  const [http, https] = [await freePort(), await freePort()];
  writeFiles(base, { "app.mjs": APP, "work/.keep": "", "conf/.keep": "" });
  copyLocalhostCertificate(join(base, "conf"), "rsa");
  const s = await startBobcat({ runtime, base, config: config(http, https), connectors: 4, timeoutMs: 60000, env });
  expect(await waitFor(() => s.output().includes("all 2 workers ready"))).toBe(true);
  return { s, base, http, https };
}

/** A failure with the server's output (primary and workers) appended, so a rare one can be read from CI. */
function explained(e: unknown, s: Running): Error {
  const message = e instanceof Error ? e.message : String(e);
  return new Error(`${message}\n--- bobcat output ---\n${s.output()}`, { cause: e });
}

async function withOutput(s: Running, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    throw explained(e, s);
  }
}

/** Fresh connections until `want` distinct pids answered (bounded): the kernel spreads them. */
async function pidsSeen(http: number, want: number, tries = 200): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < tries && pids.size < want; i++) pids.add(Number((await get(http, "/")).body));
  return pids;
}

for (const runtime of RUNTIMES) {
  describe(`server.workers: 2 on ${runtime}`, () => {
    test(
      "connections reach both workers; sessions are shared without lost changes; SIGHUP, restart and SIGTERM reach every worker",
      async () => {
        const { s, base, http, https } = await start(runtime);
        let stopped = false;
        try {
          const workers = readyWorkers(s.output());
          expect(workers.size).toBe(2);
          expect(s.output()).toContain("[worker 1] [connector]");
          expect(s.output()).toContain("[worker 2] [connector]");

          // Fresh connections are spread over both workers.
          const pids = await pidsSeen(http, 2);
          expect([...pids].sort()).toEqual([...workers.values()].sort());

          // A session made on one worker is read and changed on the other.
          const first = await get(http, "/inc");
          expect(first.status).toBe(200);
          const cookie = first.cookie!;
          expect(cookie).toMatch(/^JSESSIONID=/);
          const ackedBy = new Set<number>([JSON.parse(first.body).pid]);
          let acked = 1;
          for (let i = 0; i < 100 && ackedBy.size < 2; i++) {
            const r = await get(http, "/inc", cookie);
            expect(r.status).toBe(200);
            const j = JSON.parse(r.body);
            acked++;
            expect(j.n).toBe(acked); // one at a time: every change seen by the next request, whichever worker
            ackedBy.add(j.pid);
          }
          expect(ackedBy.size).toBe(2);

          // 8 clients increment one attribute of one session at once, on fresh connections spread
          // over both workers: requests of a session take turns (on a worker, and across workers
          // through the primary), so none is refused and each increment sees the one before.
          // A 503 would need one request to wait sessionLockWait for its turn.
          const refused: string[] = [];
          const seen: number[] = [];
          const servedBy = new Set<number>();
          const start = acked;
          await Promise.all(Array.from({ length: 8 }, async () => {
            for (let i = 0; i < 12; i++) {
              const r = await get(http, "/inc", cookie);
              if (r.status !== 200) {
                refused.push(`${r.status} ${r.body}`);
                continue;
              }
              const j = JSON.parse(r.body);
              acked++;
              seen.push(j.n);
              servedBy.add(j.pid);
            }
          }));
          expect(refused).toEqual([]);
          expect(servedBy.size).toBe(2);
          // Serial: the values acknowledged are exactly the next 96 numbers, each once.
          expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 96 }, (_, i) => start + 1 + i));
          const stored = JSON.parse((await get(http, "/get", cookie)).body).n;
          expect(stored).toBe(acked);

          // SIGHUP reaches both workers: new certificate files, then every worker serves them.
          const newFp = await fingerprintOf(join(PKI, "localhost-ec.pem"));
          expect((await tlsPid(https)).fingerprint).not.toBe(newFp);
          copyLocalhostCertificate(join(base, "conf"), "ec");
          s.proc.kill("SIGHUP");
          const reloaded = (n: number) =>
            new RegExp(`\\[worker ${n}\\] \\[connector\\] .*: reloaded `).test(s.output());
          expect(await waitFor(() => reloaded(1) && reloaded(2))).toBe(true);
          const tlsPids = new Set<number>();
          for (let i = 0; i < 200 && tlsPids.size < 2; i++) {
            const r = await tlsPid(https);
            expect(r.fingerprint).toBe(newFp);
            tlsPids.add(r.pid);
          }
          expect(tlsPids.size).toBe(2);

          // A reload from the manager app (answered by one worker) reaches the other one too.
          const reloads = (n: number) =>
            (s.output().match(new RegExp(`\\[worker ${n}\\] \\[connector\\] [^\\n]*: reloaded `, "g")) ?? []).length;
          const before = [reloads(1), reloads(2)];
          const answer = await post(http, "/manager/text/sslReload");
          expect(answer.body).toMatch(/^OK - .*: reloaded /);
          expect(await waitFor(() => reloads(1) > before[0]! && reloads(2) > before[1]!)).toBe(true);

          // A killed worker is started again, and serves.
          const victim = workers.get(1)!;
          process.kill(victim, "SIGKILL");
          expect(
            await waitFor(() => {
              const now = readyWorkers(s.output()).get(1);
              return now !== undefined && now !== victim;
            }, 600),
          ).toBe(true);
          const replacement = readyWorkers(s.output()).get(1)!;
          expect(s.output()).toMatch(/worker 1 \(pid \d+\) exited by SIGKILL; starting it again/);
          expect(alive(victim)).toBe(false);
          const after = await pidsSeen(http, 2);
          expect(after.has(replacement)).toBe(true);
          // The session survived the worker (it lives in the store).
          expect(JSON.parse((await get(http, "/get", cookie)).body).n).toBe(acked);

          // A worker killed while a request holds the session's turn: the primary passes the turn
          // on at once. With sessionLockWait 600 s, a turn left held would keep the next requests
          // waiting past their 10-s timeout.
          const heldBefore = (s.output().match(/held 1 session turn\(s\): passed on/g) ?? []).length;
          const readyBefore = s.output().match(/\[workers\] worker \d \(pid \d+\) ready/g)!.length;
          await get(http, "/die", cookie).then(() => {}, () => {});
          expect(
            await waitFor(() => (s.output().match(/held 1 session turn\(s\): passed on/g) ?? []).length > heldBefore),
          ).toBe(true);
          for (let i = 0; i < 6; i++) {
            const r = await get(http, "/inc", cookie);
            expect(r.status).toBe(200);
            expect(JSON.parse(r.body).n).toBe(++acked);
          }
          // The killed worker is back before the stop below.
          expect(
            await waitFor(
              () => s.output().match(/\[workers\] worker \d \(pid \d+\) ready/g)!.length > readyBefore,
              600,
            ),
          ).toBe(true);

          // SIGTERM stops every worker, then the primary, with status 0.
          const all = [...readyWorkers(s.output()).values()];
          const code = await s.stop("SIGTERM");
          stopped = true;
          expect(code).toBe(0);
          expect(await waitFor(() => all.every((p) => !alive(p)), 100)).toBe(true);
          expect(s.output()).toMatch(/\[worker 1\] \[connector\] bobcat stopped/);
          expect(s.output()).toMatch(/\[worker 2\] \[connector\] bobcat stopped/);
          // The turns were the primary's (one message asks, one answers), not a store lease.
          expect(s.output()).toMatch(/\[workers\] session turns: [1-9]\d* granted/);
        } catch (e) {
          throw explained(e, s);
        } finally {
          if (!stopped) {
            for (const p of readyWorkers(s.output()).values()) if (alive(p)) process.kill(p, "SIGKILL");
            await s.stop("SIGKILL");
          }
        }
      },
      180000,
    );

    test("node-compat back-end: the ports are shared too", async () => {
      const { s, http } = await start(runtime, { BOBCAT_BACKEND: "node-compat" });
      await withOutput(s, async () => {
        try {
          expect(s.output()).toContain("node-compat");
          const pids = await pidsSeen(http, 2);
          expect(pids.size).toBe(2);
        } finally {
          const all = [...readyWorkers(s.output()).values()];
          expect(await s.stop("SIGTERM")).toBe(0);
          expect(await waitFor(() => all.every((p) => !alive(p)), 100)).toBe(true);
        }
      });
    }, 120000);
  });
}

describe("server.workers: checks", () => {
  test("in-memory sessions are refused with workers > 1, naming the attribute and the fix", async () => {
    const base = tempDir("bobcat-workers-");
    dirs.push(base);
    writeFiles(base, { "app.mjs": APP });
    const file = join(base, "conf/server.yaml");
    writeFiles(base, {
      "conf/server.yaml": config(await freePort(), await freePort(), "2", "                  pathname: SESSIONS.ser")
        .replace("conf/cert.pem", join(PKI, "localhost-rsa.pem")).replace(
          "conf/key.pem",
          join(PKI, "localhost-rsa-key.pem"),
        ),
    });
    for (const command of ["check", "run"]) {
      const r = await runCli("bun", [command, "--config", file, "--base", base]);
      expect(r.code).toBe(1);
      expect(r.output).toContain(
        "server.workers is 2, but context localhost/ keeps its sessions in one process's memory",
      );
      expect(r.output).toContain("consistency: shared");
      expect(r.output).toMatch(/server\.yaml:3:\d+/);
    }
  }, 60000);

  test(
    "a worker that cannot start stops them all (status 1); a port in use is refused before any worker starts",
    async () => {
      const base = tempDir("bobcat-workers-");
      dirs.push(base);
      const file = join(base, "conf/server.yaml");
      const [http, https] = [await freePort(), await freePort()];
      const yaml = (c: string) =>
        c.replace("conf/cert.pem", join(PKI, "localhost-rsa.pem")).replace(
          "conf/key.pem",
          join(PKI, "localhost-rsa-key.pem"),
        );
      // The handler throws when imported: the primary cannot know, the workers find out.
      writeFiles(base, {
        "app.mjs": `throw new Error("broken on purpose");\n`,
        "conf/server.yaml": yaml(config(http, https)),
      });
      const r = await runCli("bun", ["run", "--config", file, "--base", base], { timeoutMs: 60000 });
      expect(r.code).toBe(1);
      expect(r.output).toContain("broken on purpose");
      expect(r.output).toMatch(/worker \d \(pid \d+\) exited with status 1 before it was ready: stopping/);
      for (const m of r.output.matchAll(/\(pid (\d+)\)/g)) expect(alive(Number(m[1]))).toBe(false);

      // Another server holds the HTTP port.
      const { createServer } = await import("node:net");
      const holder = createServer().listen(http, "127.0.0.1");
      await new Promise((ok) => holder.once("listening", ok));
      try {
        writeFiles(base, { "app.mjs": APP });
        const busy = await runCli("bun", ["run", "--config", file, "--base", base], { timeoutMs: 60000 });
        expect(busy.code).toBe(1);
        expect(busy.output).toContain(`port ${http} is already in use`);
        expect(busy.output).not.toContain("starting 2 workers");
      } finally {
        holder.close();
      }
    },
    120000,
  );

  test("a bad workers value names the attribute", async () => {
    const base = tempDir("bobcat-workers-");
    dirs.push(base);
    writeFiles(base, { "app.mjs": APP });
    const file = join(base, "conf/server.yaml");
    writeFiles(base, {
      "conf/server.yaml": config(await freePort(), await freePort(), "many")
        .replace("conf/cert.pem", join(PKI, "localhost-rsa.pem")).replace(
          "conf/key.pem",
          join(PKI, "localhost-rsa-key.pem"),
        ),
    });
    const r = await runCli("bun", ["run", "--config", file, "--base", base]);
    expect(r.code).toBe(1);
    expect(r.output).toContain("server.workers is [many]");
    expect(r.output).toContain("auto");
  }, 30000);
});
