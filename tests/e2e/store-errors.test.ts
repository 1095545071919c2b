/**
 * A session store's data source that cannot be opened names the real cause, each with its own
 * fix: a package missing from bobcat's installation, a missing driver (node:sqlite on an old
 * Node under `--runtime node`; Node 22.13+ has it), an SQLite path bobcat cannot create, a file
 * that is not a database. Through `bobcat check`, under Bun and Deno.
 */
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  plainConfig,
  ROOT,
  run,
  runCli,
  RUNTIMES,
  sessionsDataSource,
  tempDir,
  writeFiles,
} from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

function sqliteConfig(port: number, url: string): string {
  return plainConfig(
    port,
    `              - path: ""
                handler: bobcat:root
                manager: { className: PersistentManager, store: { className: DataSourceStore, dataSourceName: jdbc/sessions } }
`,
    sessionsDataSource(url),
  );
}

for (const runtime of RUNTIMES) {
  test(`${runtime}: an SQLite path that cannot be created, and a file that is not a database`, async () => {
    const base = tempDir();
    dirs.push(base);
    const port = await freePort();
    writeFiles(base, {
      blocker: "a file where a directory should be",
      "junk.db": "this is not an SQLite database, not even close, and long enough to be read as one",
      "path.yaml": sqliteConfig(port, "sqlite:blocker/sessions.db"),
      "junk.yaml": sqliteConfig(port, "sqlite:junk.db"),
    });
    const path = await runCli(runtime, ["check", "--config", join(base, "path.yaml")]);
    expect(path.code).toBe(1);
    expect(path.output).toContain(
      `data source [jdbc/sessions]: cannot open the SQLite database [${join(base, "blocker/sessions.db")}]`,
    );
    expect(path.output).toContain(
      `fix: Point the url at a file in a directory bobcat may write to, or give the user bobcat runs as write access to ${
        join(base, "blocker")
      }`,
    );
    const junk = await runCli(runtime, ["check", "--config", join(base, "junk.yaml")]);
    expect(junk.code).toBe(1);
    expect(junk.output).toContain(`fix: ${join(base, "junk.db")} is not an SQLite database (or is damaged)`);
  }, 60000);

  test(`${runtime}: drizzle-orm missing from bobcat's installation is named as such`, async () => {
    // A copy of the checkout whose node_modules lacks drizzle-orm.
    const copy = tempDir("bobcat-incomplete-");
    dirs.push(copy);
    for (const f of ["src", "package.json", "deno.json", "tsconfig.json"]) {
      cpSync(join(ROOT, f), join(copy, f), { recursive: true });
    }
    mkdirSync(join(copy, "node_modules"));
    for (const entry of readdirSync(join(ROOT, "node_modules"))) {
      if (entry !== "drizzle-orm") symlinkSync(join(ROOT, "node_modules", entry), join(copy, "node_modules", entry));
    }
    const port = await freePort();
    writeFiles(copy, { "s.yaml": sqliteConfig(port, "sqlite:work/sessions.db") });
    const cmd = runtime === "bun" ? [join(ROOT, "node_modules/.bin/bun"), join(copy, "src/cli/main.ts")] : [
      join(ROOT, "node_modules/.bin/deno"),
      "run",
      "-A",
      "--quiet",
      `--config=${join(copy, "deno.json")}`,
      join(copy, "src/cli/main.ts"),
    ];
    const r = await run([...cmd, "check", "--config", join(copy, "s.yaml")], { cwd: copy, timeoutMs: 60000 });
    const output = r.stdout + r.stderr;
    expect(r.code).toBe(1);
    expect(output).toContain(
      "data source [jdbc/sessions]: the drizzle-orm package, which bobcat needs for it, cannot be loaded",
    );
    expect(output).toContain("fix: bobcat's installation is incomplete");
    expect(output).not.toContain("Point the url at a file");
  }, 60000);
}

test(
  "bobcat check --runtime node with a SQLite store: the Node version found and the one needed, or a working store",
  async () => {
    const node = spawnSync("node", ["--version"], { encoding: "utf8", timeout: 10000 }).stdout.trim().replace(/^v/, "");
    const [major, minor] = node.split(".").map(Number) as [number, number];
    const hasSqlite = major > 22 || (major === 22 && minor >= 13);

    const base = tempDir();
    dirs.push(base);
    const port = await freePort();
    writeFiles(base, { "s.yaml": sqliteConfig(port, "sqlite:work/sessions.db") });
    const init = await runCli("bun", ["store", "init", "--config", join(base, "s.yaml"), "--runtime", "node"], {
      timeoutMs: 60000,
    });
    const r = await runCli("bun", ["check", "--config", join(base, "s.yaml"), "--runtime", "node"], {
      timeoutMs: 60000,
    });
    if (hasSqlite) {
      expect(init.code).toBe(0);
      expect(r.code).toBe(0);
      expect(r.output).toContain("data source jdbc/sessions: reachable");
    } else {
      for (const out of [init, r]) {
        expect(out.code).toBe(1);
        expect(out.output).toContain(
          `data source [jdbc/sessions]: SQLite needs the node:sqlite module, which Node ${node} does not have (Node 22.13 or later has it)`,
        );
        expect(out.output).toContain(
          "fix: Upgrade Node to 22.13 or later, run bobcat on Bun or Deno (without --runtime node)",
        );
      }
    }
  },
  90000,
);
