/**
 * SQLite under `--runtime node` needs node:sqlite (Node 22.13+). On an older Node, `bobcat check`
 * says so with the version found and the one needed; on a newer one the store works.
 */
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { cleanup, freePort, runCli, tempDir, writeFiles } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

test("bobcat check --runtime node with a SQLite store: the Node version found and the one needed, or a working store", async () => {
  const node = spawnSync("node", ["--version"], { encoding: "utf8", timeout: 10000 }).stdout.trim().replace(/^v/, "");
  const [major, minor] = node.split(".").map(Number) as [number, number];
  const hasSqlite = major > 22 || (major === 22 && minor >= 13);

  const base = tempDir();
  dirs.push(base);
  const port = await freePort();
  writeFiles(base, {
    "s.yaml": `server:
  globalNamingResources:
    resources:
      - { name: jdbc/sessions, url: "sqlite:work/sessions.db" }
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: bobcat:root
                manager: { className: PersistentManager, store: { className: DataSourceStore, dataSourceName: jdbc/sessions } }
`,
  });
  const init = await runCli("bun", ["store", "init", "--config", join(base, "s.yaml"), "--runtime", "node"], { timeoutMs: 60000 });
  const r = await runCli("bun", ["check", "--config", join(base, "s.yaml"), "--runtime", "node"], { timeoutMs: 60000 });
  if (hasSqlite) {
    expect(init.code).toBe(0);
    expect(r.code).toBe(0);
    expect(r.output).toContain("data source jdbc/sessions: reachable");
  } else {
    for (const out of [init, r]) {
      expect(out.code).toBe(1);
      expect(out.output).toContain(`data source [jdbc/sessions]: SQLite needs the node:sqlite module, which Node ${node} does not have (Node 22.13 or later has it)`);
      expect(out.output).toContain("fix: Upgrade Node to 22.13 or later, run bobcat on Bun or Deno (without --runtime node)");
    }
  }
}, 90000);
