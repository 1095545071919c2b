/**
 * The `bobcat` command as npm installs it (bin/bobcat.mjs, run by Node), and bobcat's own child
 * for `--runtime node`: signals sent to the PID a user started reach the server, which stops
 * gracefully (sessions saved, exit 0); SIGKILL of that PID leaves no process of bobcat's behind:
 * every descendant stops by itself and the port is free within 5 s.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { BUN, cleanup, CLI, freePort, plainConfig, ROOT, tempDir, writeFiles } from "../helpers/bobcat.ts";

const LAUNCHER = join(ROOT, "bin", "bobcat.mjs");
const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

/** JavaScript, so that Node runs it too (Node 20 does not run TypeScript). */
const APP = `export default { fetch(req, ctx) {
  const s = ctx.getSession();
  s.setAttribute("n", (s.getAttribute("n") ?? 0) + 1);
  return new Response(s.id);
} };`;

function config(port: number): string {
  return plainConfig(
    port,
    `              - path: ""
                handler: app.js
                manager: { pathname: SESSIONS.ser }
`,
  );
}

/** Every process below `pid`, from ps (bounded: one snapshot). */
function descendants(pid: number): number[] {
  const ps = spawnSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8", timeout: 10000 });
  const children = new Map<number, number[]>();
  for (const line of ps.stdout.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    children.set(pp!, [...(children.get(pp!) ?? []), p!]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Running (a zombie waiting for a reaper has stopped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

function exeOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return "";
  }
}

type Mode = {
  name: string;
  cmd: (args: string[]) => string[];
  env?: Record<string, string>;
  server: RegExp;
  tree: RegExp[];
};

const MODES: Mode[] = [
  {
    name: "node bin/bobcat.mjs (Bun)",
    cmd: (args) => ["node", LAUNCHER, ...args],
    server: /on Bun /,
    tree: [/node_modules\/bun\/bin\/bun\.exe$/],
  },
  {
    name: "BOBCAT_RUNTIME=deno node bin/bobcat.mjs",
    cmd: (args) => ["node", LAUNCHER, ...args],
    env: { BOBCAT_RUNTIME: "deno" },
    server: /on Deno /,
    tree: [/node_modules\/(deno\/deno|@deno\/[^/]+\/deno)$/],
  },
  {
    name: "node bin/bobcat.mjs --runtime node",
    cmd: (args) => ["node", LAUNCHER, ...args, "--runtime", "node"],
    server: /on Node /,
    tree: [/node_modules\/bun\/bin\/bun\.exe$/, /\/node$/],
  },
  {
    name: "bun main.ts --runtime node",
    cmd: (args) => [BUN, CLI, ...args, "--runtime", "node"],
    server: /on Node /,
    tree: [/\/node$/],
  },
];

async function startUserProcess(mode: Mode, opts: { detached?: boolean } = {}) {
  const base = tempDir("bobcat-launcher-");
  dirs.push(base);
  const port = await freePort();
  writeFiles(base, { "app.js": APP, "conf/server.yaml": config(port) });
  const [cmd, ...args] = mode.cmd(["run", "--config", join(base, "conf/server.yaml"), "--base", base]);
  const proc = spawn(cmd!, args, {
    cwd: base,
    env: { ...process.env, NO_COLOR: "1", ...mode.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.detached,
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal }))
  );
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + 40000;
  while (!out.includes("listening on")) {
    if (done || Date.now() > deadline) {
      for (const p of descendants(proc.pid!)) process.kill(p, "SIGKILL");
      proc.kill("SIGKILL");
      throw new Error(`${mode.name} did not start:\n${out}`);
    }
    await Bun.sleep(50);
  }
  expect(out).toMatch(mode.server);
  return { proc, base, port, exited, output: () => out };
}

describe("the PID a user started", () => {
  for (const mode of MODES) {
    for (const signal of ["SIGTERM", "SIGINT", "SIGKILL"] as const) {
      test(
        `${mode.name}: ${signal} leaves no process and a free port within 5 s${
          signal === "SIGKILL" ? "" : "; exit 0, sessions saved"
        }`,
        async () => {
          const { proc, base, port, exited, output } = await startUserProcess(mode);
          const tree = descendants(proc.pid!);
          try {
            // The real runtime binaries, no wrapper in between (npm's deno/bin.cjs would be a node process).
            expect(tree.map(exeOf)).toEqual(mode.tree.map((re) => expect.stringMatching(re)));
            // Deno is told not to look for a newer release of itself at every start.
            if (mode.env?.BOBCAT_RUNTIME === "deno") {
              const environ = readFileSync(`/proc/${tree[0]}/environ`, "utf8").split("\0");
              expect(environ).toContain("DENO_NO_UPDATE_CHECK=1");
            }
            const res = await fetch(`http://127.0.0.1:${port}/`);
            expect(res.status).toBe(200);
            expect(res.headers.get("set-cookie")).toContain("JSESSIONID=");

            proc.kill(signal);
            const deadline = Date.now() + 5000;
            while (Date.now() < deadline && (tree.some(alive) || !(await portFree(port)))) await Bun.sleep(50);
            expect(tree.filter(alive)).toEqual([]);
            expect(await portFree(port)).toBe(true);
            const { code, signal: by } = await exited;
            if (signal === "SIGKILL") expect(by).toBe("SIGKILL");
            else expect({ code, by }).toEqual({ code: 0, by: null });
            // Graceful in every case: with SIGKILL the server saw its parent's pipe close and stopped as on SIGTERM.
            expect(output()).toContain("Saved 1 session(s)");
            expect(existsSync(join(base, "work/Catalina/localhost/ROOT/SESSIONS.ser"))).toBe(true);
          } finally {
            for (const p of [proc.pid!, ...tree]) if (alive(p)) process.kill(p, "SIGKILL");
          }
        },
        60000,
      );
    }
  }
});

describe("a terminal's Ctrl-C (SIGINT to the whole process group)", () => {
  for (const mode of MODES) {
    test(`${mode.name}: one graceful stop, exit 0, sessions saved`, async () => {
      // Its own process group, as a shell gives a foreground job.
      const { proc, port, exited, output } = await startUserProcess(mode, { detached: true });
      const tree = descendants(proc.pid!);
      try {
        expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
        process.kill(-proc.pid!, "SIGINT");
        const result = await Promise.race([exited, Bun.sleep(10000).then(() => null)]);
        expect(result).toEqual({ code: 0, signal: null });
        expect(output()).toContain("Saved 1 session(s)");
        expect(output()).not.toContain("exiting without waiting");
        expect(tree.filter(alive)).toEqual([]);
      } finally {
        for (const p of [proc.pid!, ...tree]) if (alive(p)) process.kill(p, "SIGKILL");
      }
    }, 60000);
  }
});

describe("the launcher", () => {
  test("exits with the status of the command it ran", async () => {
    const base = tempDir("bobcat-launcher-");
    dirs.push(base);
    writeFiles(base, { "bad.yaml": "server: { services: [ { connectors: [ { port: -1 } ] } ] }\n" });
    for (const env of [{}, { BOBCAT_RUNTIME: "deno" }]) {
      const r = spawnSync("node", [LAUNCHER, "check", "--config", join(base, "bad.yaml")], {
        encoding: "utf8",
        timeout: 30000,
        env: { ...process.env, ...env },
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("port");
      const v = spawnSync("node", [LAUNCHER, "version"], {
        encoding: "utf8",
        timeout: 30000,
        env: { ...process.env, ...env },
      });
      expect(v.status).toBe(0);
      expect(v.stdout).toMatch(/^bobcat \d+\.\d+\.\d+ \((Bun|Deno) /);
    }
  }, 60000);

  test("dies by the signal that killed its child", async () => {
    const { proc, exited } = await startUserProcess(MODES[0]!);
    const [child] = descendants(proc.pid!);
    process.kill(child!, "SIGKILL");
    const result = await Promise.race([exited, Bun.sleep(10000).then(() => null)]);
    if (!result) proc.kill("SIGKILL");
    expect(result).toEqual({ code: null, signal: "SIGKILL" });
  }, 60000);
});
