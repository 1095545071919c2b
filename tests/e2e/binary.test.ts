/**
 * The single executable: built with `bun build --compile`, copied alone into an empty
 * directory (no source tree, no node_modules), started there, serving HTTPS.
 */
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, cleanup, freePort, ROOT, run, tempDir } from "../helpers/bobcat.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

test("bun build.ts makes one executable that runs from another directory and serves HTTPS", async () => {
  const out = tempDir();
  dirs.push(out);
  const build = await run([BUN, join(ROOT, "build.ts"), "--outfile", join(out, "bobcat")], { cwd: ROOT, timeoutMs: 120000 });
  expect(build.code).toBe(0);
  const site = tempDir();
  dirs.push(site);
  copyFileSync(join(out, "bobcat"), join(site, "bobcat"));
  const exe = join(site, "bobcat");

  const version = await run([exe, "version"], { cwd: site });
  expect(version.stdout).toMatch(/^bobcat \d+\.\d+\.\d+ \(Bun /);

  const http = await freePort();
  const https = await freePort();
  const proc = Bun.spawn([exe, "run"], {
    cwd: site,
    env: { PATH: "/usr/bin:/bin", HOME: site, BOBCAT_HTTP_PORT: String(http), BOBCAT_HTTPS_PORT: String(https), BOBCAT_ADDRESS: "127.0.0.1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let log = "";
  const reader = (async () => {
    for await (const chunk of proc.stderr) log += new TextDecoder().decode(chunk);
  })();
  try {
    const deadline = Date.now() + 20000;
    while ((log.match(/listening on/g) ?? []).length < 2 && Date.now() < deadline) await Bun.sleep(50);
    expect(log).toContain(`listening on https://127.0.0.1:${https}/`);
    expect(existsSync(join(site, "conf/localhost-cert.pem"))).toBe(true);
    const cert = readFileSync(join(site, "conf/localhost-cert.pem"), "utf8");
    const res = await fetch(`https://localhost:${https}/`, { tls: { ca: cert } } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("bobcat is running");
  } finally {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await reader;
  }
});
