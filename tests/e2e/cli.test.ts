/**
 * The CLI as a user meets it: help, version, check, the default config from an empty
 * directory, and the start-up errors (bad config, missing certificate, port in use, a
 * privileged port), under Bun and Deno.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import {
  cliCommand,
  freePort,
  httpsConfig,
  PKI,
  runCli,
  RUNTIMES,
  startBobcat,
  tempDirs,
  tfetch,
  writeFiles,
} from "../helpers/bobcat.ts";

const dirs = tempDirs();
afterAll(dirs.removeAll);
const dir = dirs.make;

describe("bobcat CLI basics (Bun)", () => {
  test("--help lists the commands; each command has its own help", async () => {
    const main = await runCli("bun", ["--help"]);
    expect(main.code).toBe(0);
    for (const c of ["run", "check", "keytool", "version"]) expect(main.stdout).toContain(c);
    const run = await runCli("bun", ["run", "--help"]);
    expect(run.stdout).toContain("--config FILE");
    expect(run.stdout).toContain("--base DIR");
    const check = await runCli("bun", ["check", "--help"]);
    expect(check.stdout).toContain("short of listening");
  });

  test("version names the runtime", async () => {
    const r = await runCli("bun", ["version"]);
    expect(r.stdout).toMatch(/^bobcat \d+\.\d+\.\d+ \(Bun /);
  });

  test("unknown command and unknown option are usage errors (exit 2)", async () => {
    expect((await runCli("bun", ["frobnicate"])).code).toBe(2);
    const r = await runCli("bun", ["run", "--colour"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --colour");
  });

  test("schema prints the JSON Schema", async () => {
    const r = await runCli("bun", ["schema"]);
    const schema = JSON.parse(r.stdout);
    expect(schema.$defs.Connector.properties.SSLEnabled).toBeDefined();
  });

  test("check prints the effective config with secrets masked", async () => {
    const d = dir();
    const http = await freePort();
    const https = await freePort();
    writeFiles(d, {
      "server.yaml": httpsConfig(http, https).replace(
        "certificateChainFile:",
        "certificateKeyPassword: hunter2\n                  certificateChainFile:",
      ),
    });
    const r = await runCli("bun", ["check", "--config", join(d, "server.yaml")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`port: ${https}`);
    expect(r.stdout).toContain('certificateKeyPassword: "********"');
    expect(r.stdout).not.toContain("hunter2");
    expect(r.stderr).toContain("native Bun.serve");
  });

  test("check reports every config problem with file:line:col and exits 1", async () => {
    const d = dir();
    writeFiles(d, {
      "bad.yaml":
        'server:\n  services:\n    - connectors:\n        - port: 8080\n          redirecPort: 8443\n      engine:\n        defaultHost: localhst\n        hosts:\n          - name: localhost\n            contexts: [{ path: "", handler: "bobcat:root" }]\n',
    });
    const r = await runCli("bun", ["check", "--config", join(d, "bad.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${join(d, "bad.yaml")}:5:11: server.services[0].connectors[0].redirecPort: unknown attribute`,
    );
    expect(r.stderr).toContain('did you mean "redirectPort"');
    expect(r.stderr).toContain(`${join(d, "bad.yaml")}:7:22`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  test("a missing config file is a clear error", async () => {
    const r = await runCli("bun", ["run", "--config", "/nonexistent/server.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot read config file /nonexistent/server.yaml: no such file");
  });

  test("a --base that does not exist is an error, not the built-in config run there", async () => {
    const base = join(dir(), "no-such-base");
    for (const command of ["run", "check"]) {
      const r = await runCli("bun", [command, "--base", base]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${base}: the base directory ${base} does not exist`);
      expect(r.stderr).toContain("fix: correct --base");
    }
    // Nothing made there (the built-in config would have made conf/ and its certificate).
    expect(existsSync(base)).toBe(false);
  });
});

for (const runtime of RUNTIMES) {
  describe(`start-up errors under ${runtime}`, () => {
    test("missing certificate file: the absolute path, the attribute, and no listener left behind", async () => {
      const d = dir();
      const http = await freePort();
      const https = await freePort();
      writeFiles(d, {
        "conf/server.yaml": httpsConfig(http, https).replace(`${PKI}/localhost-rsa.pem`, "conf/missing.pem"),
      });
      const r = await runCli(runtime, ["run", "--config", join(d, "conf/server.yaml"), "--base", d]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(join(d, "conf/missing.pem"));
      expect(r.stderr).toContain("certificateFile");
      // Never half-started: the plain HTTP connector must not have been left listening.
      await expect(fetch(`http://127.0.0.1:${http}/`)).rejects.toThrow();
    });

    test("port already in use names the port and what to do", async () => {
      const blocker = createServer().listen(0, "127.0.0.1");
      await new Promise((r) => blocker.once("listening", r));
      const port = (blocker.address() as { port: number }).port;
      try {
        const d = dir();
        writeFiles(d, {
          "s.yaml":
            `server:\n  services:\n    - connectors:\n        - port: ${port}\n          address: 127.0.0.1\n      engine:\n        defaultHost: localhost\n        hosts:\n          - name: localhost\n            contexts: [{ path: "", handler: "bobcat:root" }]\n`,
        });
        const r = await runCli(runtime, ["run", "--config", join(d, "s.yaml")]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`port ${port} is already in use`);
        expect(r.stderr).toContain("s.yaml:4:17");
        expect(r.stderr).toContain("fix:");
      } finally {
        blocker.close();
      }
    });

    test("a privileged port without the privilege says what to do", async () => {
      const d = dir();
      writeFiles(d, {
        "s.yaml":
          `server:\n  services:\n    - connectors:\n        - port: 80\n          address: 127.0.0.1\n      engine:\n        defaultHost: localhost\n        hosts:\n          - name: localhost\n            contexts: [{ path: "", handler: "bobcat:root" }]\n`,
      });
      // As root, drop to nobody so binding port 80 is really refused.
      const asRoot = process.getuid?.() === 0;
      chmodSync(d, 0o755);
      const cmd = cliCommand(runtime, ["run", "--config", join(d, "s.yaml"), "--base", d]);
      const full = asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...cmd] : cmd;
      const proc = Bun.spawn(full, {
        stdout: "pipe",
        stderr: "pipe",
        cwd: d,
        env: { ...process.env, HOME: d, DENO_DIR: join(d, ".deno") },
      });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30000);
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      clearTimeout(timer);
      expect(code).toBe(1);
      expect(stderr).toContain("ports below 1024 are privileged");
      expect(stderr).toContain("cap_net_bind_service");
    });

    test("the default config from an empty directory: self-signed cert made once, HTTP redirects to HTTPS", async () => {
      const d = dir();
      const http = await freePort();
      const https = await freePort();
      const env = { BOBCAT_HTTP_PORT: String(http), BOBCAT_HTTPS_PORT: String(https), BOBCAT_ADDRESS: "127.0.0.1" };
      const s = await startBobcat({ runtime, base: d, cwd: d, args: ["run"], connectors: 2, env });
      try {
        expect(existsSync(join(d, "conf/localhost-cert.pem"))).toBe(true);
        const cert = readFileSync(join(d, "conf/localhost-cert.pem"), "utf8");
        const redirect = await fetch(`http://127.0.0.1:${http}/`, { redirect: "manual" });
        expect(redirect.status).toBe(302);
        expect(redirect.headers.get("location")).toBe(`https://127.0.0.1:${https}/`);
        // Trust exactly the certificate bobcat made.
        const page = await fetch(`https://localhost:${https}/`, { tls: { ca: cert } } as RequestInit);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain("bobcat is running");
      } finally {
        expect(await s.stop()).toBe(0);
      }
      // Second start keeps the certificate.
      const before = readFileSync(join(d, "conf/localhost-cert.pem"), "utf8");
      const again = await startBobcat({ runtime, base: d, cwd: d, args: ["run"], connectors: 2, env });
      expect(again.output()).not.toContain("creating a self-signed certificate");
      expect(await again.stop()).toBe(0);
      expect(readFileSync(join(d, "conf/localhost-cert.pem"), "utf8")).toBe(before);
    });
  });
}

describe("command-line options: one table per command, parsed the same on Bun and Deno", () => {
  for (const runtime of RUNTIMES) {
    test(
      `${runtime}: every spelling of an option, -D properties, and errors that name the option and the command's help`,
      async () => {
        const d = dir();
        const port = await freePort();
        writeFiles(d, {
          "s.yaml":
            `server:\n  services:\n    - connectors:\n        - port: \${http.port}\n          address: 127.0.0.1\n      engine:\n        defaultHost: localhost\n        hosts:\n          - name: localhost\n            contexts: [{ path: "", handler: "bobcat:root" }]\n`,
        });
        const file = join(d, "s.yaml");
        for (const args of [["--config", file], [`--config=${file}`], ["-c", file], ["-c=" + file]]) {
          const r = await runCli(runtime, ["check", ...args, "-b", d, `-Dhttp.port=${port}`]);
          expect(r.stderr).not.toContain("bobcat check:");
          expect(r.code).toBe(0);
          expect(r.stderr).toContain(`http-nio-127.0.0.1-${port}`);
        }
        const cases: [string[], string, string][] = [
          [["run", "--colour"], "bobcat run: unknown option --colour", "bobcat run --help"],
          [["check", "--config"], "bobcat check: --config needs a value: --config FILE", "bobcat check --help"],
          [["check", "-Dport"], "bobcat check: -Dport: write -Dname=value", "bobcat check --help"],
          [
            ["check", "-D__proto__=1"],
            "bobcat check: -D__proto__=1: __proto__ cannot be a property name",
            "bobcat check --help",
          ],
          [["store", "init", "--print=yes"], "bobcat store: --print takes no value", "bobcat store --help"],
          [["acme", "frob"], 'bobcat acme: unknown subcommand "frob"', "bobcat acme --help"],
          [["version", "extra"], 'bobcat version: unexpected argument "extra"', "bobcat version --help"],
          [["convert", "-x", "a.xml"], "bobcat convert: unknown option -x", "bobcat convert --help"],
          [["ca", "issue", "--dir", d, "--nope"], "bobcat ca issue: unknown option --nope", "bobcat ca issue --help"],
        ];
        for (const [args, message, help] of cases) {
          const r = await runCli(runtime, args);
          expect(r.code).toBe(2);
          expect(r.stderr).toContain(message);
          expect(r.stderr).toContain(`Run '${help}'`);
        }
      },
      120_000,
    );
  }

  test("each command's --help lists the options its parser accepts", async () => {
    const store = await runCli("bun", ["store", "--help"]);
    expect(store.code).toBe(0);
    expect(store.stdout).toStartWith("Usage: bobcat store init [--config FILE] [--base DIR]");
    for (
      const o of ["-c, --config FILE", "-b, --base DIR", "--runtime node", "--print", "-Dname=value", "-h, --help"]
    ) {
      expect(store.stdout).toContain(o);
    }
    // `bobcat help <command>` is the command's --help.
    expect((await runCli("bun", ["help", "store"])).stdout).toBe(store.stdout);
    const acme = await runCli("bun", ["acme", "-h"]);
    expect(acme.stdout).toStartWith("Usage: bobcat acme status|renew|revoke [NAME] [--config FILE]");
    const version = await runCli("bun", ["version", "--help"]);
    expect(version.stdout).toStartWith("Usage: bobcat version\n");
  });
});

describe("graceful stop", () => {
  for (const runtime of RUNTIMES) {
    test(`${runtime}: a request in flight finishes after SIGTERM; new connections are refused`, async () => {
      const d = dir();
      const http = await freePort();
      writeFiles(d, {
        "slow.ts":
          `export default { async fetch(req) { await new Promise((r) => setTimeout(r, 1500)); return new Response("finished"); } };`,
      });
      const s = await startBobcat({
        runtime,
        base: d,
        config:
          `server:\n  services:\n    - connectors:\n        - port: ${http}\n          address: 127.0.0.1\n      engine:\n        defaultHost: localhost\n        hosts:\n          - name: localhost\n            contexts: [{ path: "", handler: slow.ts }]\n`,
      });
      const inFlight = fetch(`http://127.0.0.1:${http}/`).then((r) => r.text());
      await Bun.sleep(300);
      s.proc.kill("SIGTERM");
      expect(await inFlight).toBe("finished");
      expect(await s.exited).toBe(0);
      await expect(fetch(`http://127.0.0.1:${http}/`)).rejects.toThrow();
    });
  }

  test("a second signal exits at once", async () => {
    const d = dir();
    const http = await freePort();
    writeFiles(d, {
      "slow.ts":
        `export default { async fetch() { await new Promise((r) => setTimeout(r, 20000)); return new Response("late"); } };`,
    });
    const s = await startBobcat({
      runtime: "bun",
      base: d,
      config:
        `server:\n  services:\n    - connectors:\n        - port: ${http}\n          address: 127.0.0.1\n      engine:\n        defaultHost: localhost\n        hosts:\n          - name: localhost\n            contexts: [{ path: "", handler: slow.ts }]\n`,
    });
    fetch(`http://127.0.0.1:${http}/`).catch(() => {});
    await Bun.sleep(300);
    const t0 = Date.now();
    s.proc.kill("SIGTERM");
    await Bun.sleep(200);
    s.proc.kill("SIGTERM");
    expect(await s.exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(10000);
  });
});

describe("connector limits", () => {
  for (const runtime of RUNTIMES) {
    test(`${runtime}: maxThreads + acceptCount, then 503`, async () => {
      const d = dir();
      const http = await freePort();
      writeFiles(d, {
        "slow.ts":
          `export default { async fetch() { await new Promise((r) => setTimeout(r, 1500)); return new Response("ok"); } };`,
      });
      const s = await startBobcat({
        runtime,
        base: d,
        config:
          `server:\n  services:\n    - connectors:\n        - port: ${http}\n          address: 127.0.0.1\n          maxThreads: 2\n          acceptCount: 1\n      engine:\n        defaultHost: localhost\n        hosts:\n          - name: localhost\n            contexts: [{ path: "", handler: slow.ts }]\n`,
      });
      try {
        const statuses = await Promise.all(
          Array.from({ length: 5 }, () => fetch(`http://127.0.0.1:${http}/`).then((r) => r.status)),
        );
        expect(statuses.filter((x) => x === 200).length).toBe(3);
        expect(statuses.filter((x) => x === 503).length).toBe(2);
      } finally {
        await s.stop();
      }
    });
  }

  test("maxConnections selects the node-compat back-end, holds acceptCount more and closes the rest", async () => {
    const d = dir();
    const http = await freePort();
    writeFiles(d, {
      "slow.ts":
        `export default { async fetch() { await new Promise((r) => setTimeout(r, 1000)); return new Response("ok"); } };`,
    });
    const s = await startBobcat({
      runtime: "bun",
      base: d,
      config:
        `server:\n  services:\n    - connectors:\n        - port: ${http}\n          address: 127.0.0.1\n          maxConnections: 2\n          acceptCount: 1\n      engine:\n        defaultHost: localhost\n        hosts:\n          - name: localhost\n            contexts: [{ path: "", handler: slow.ts }]\n`,
    });
    try {
      expect(s.output()).toContain(
        "node-compat back-end, because the native one cannot do: maxConnections",
      );
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () => fetch(`http://127.0.0.1:${http}/`, { keepalive: false }).then((r) => r.status)),
      );
      expect(results.filter((r) => r.status === "fulfilled" && r.value === 200).length).toBe(3);
      expect(results.filter((r) => r.status === "rejected").length).toBe(1);
    } finally {
      await s.stop();
    }
  });
});
