/**
 * The newer surfaces attacked from outside, with real clients against a running bobcat:
 * - client certificates verified by Bun.serve itself (needsPeerCertificates: false): no
 *   certificate under every SNI trick (none, an IP literal, an unknown name, upper case, a
 *   trailing dot) is refused in the handshake; on node-compat, where SSLHostConfigs differ, the
 *   protected name in any spelling as SNI demands the certificate too;
 *   (HTTP/3 beside them: attack-http3.test.ts);
 * - server.workers: the ports are shared with SO_REUSEPORT, but a process of another user cannot
 *   join the group and take connections; a single-process server does not share at all;
 * - /manager/json/list and /manager/metrics: roles, Origin, Sec-Fetch-Site and Host checked as on
 *   every manager endpoint; neither lists session ids or request paths.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  BUN,
  clientCertificates,
  freePort,
  httpGet,
  NATIVE_VERIFICATION,
  opensslConnect,
  PKI,
  plainConfig,
  run,
  type Running,
  RUNTIMES,
  SERVER_NAME_APP,
  sslHostConfig,
  startBobcat,
  tempDirs,
  tlsAppConfig,
} from "../helpers/bobcat.ts";

const dirs = tempDirs("bobcat-attack-");
afterAll(dirs.removeAll);
const base = dirs.make;

/** One HTTP/1.1 request through openssl s_client; the status line, or "" when the handshake refused it. */
async function sClient(port: number, sni: string | undefined, host: string, who?: string): Promise<string> {
  const r = await opensslConnect(port, {
    servername: sni ?? null,
    who,
    args: ["-quiet"],
    stdin: httpGet(host),
    timeoutMs: 10000,
  });
  return /^HTTP\/1\.1 \d+/m.exec(r.stdout)?.[0] ?? "";
}

const SNI_TRICKS: Array<string | undefined> = [
  undefined,
  "127.0.0.1",
  "unknown.example",
  "LOCALHOST",
  "localhost.",
  "WWW.LocalHost",
  "www.localhost.",
];

describe("client certificates verified by Bun.serve (native)", () => {
  test("no certificate is refused in the handshake under every SNI name; a trusted one is served", async () => {
    const port = await freePort();
    const s = await startBobcat({
      runtime: "bun",
      base: base(),
      files: { "app.ts": SERVER_NAME_APP },
      config: tlsAppConfig(
        port,
        `${sslHostConfig("_default_", clientCertificates())}\n${sslHostConfig("www.localhost", clientCertificates())}`,
        NATIVE_VERIFICATION,
      ),
    });
    try {
      expect(s.output()).toContain("client certificates verified in the handshake");
      // All at once (each is its own connection): no answer at all, in any of them.
      const tries = SNI_TRICKS.flatMap((sni) => [
        { sni, host: "localhost", who: undefined },
        { sni, host: "www.localhost", who: undefined },
        { sni, host: "localhost", who: "eve" },
      ]);
      const answers = await Promise.all(tries.map((t) => sClient(port, t.sni, t.host, t.who)));
      expect(tries.map((t, i) => ({ ...t, answer: answers[i] }))).toEqual(tries.map((t) => ({ ...t, answer: "" })));
      expect(await sClient(port, "www.localhost", "localhost", "alice")).toBe("HTTP/1.1 200");
      expect(await sClient(port, undefined, "localhost", "alice")).toBe("HTTP/1.1 200");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  }, 60_000);
});

for (const runtime of RUNTIMES) {
  test(
    `${runtime} node-compat, SSLHostConfigs that differ: the protected name in any spelling demands the certificate`,
    async () => {
      const port = await freePort();
      const s = await startBobcat({
        runtime,
        base: base(),
        files: { "app.ts": SERVER_NAME_APP },
        config: tlsAppConfig(
          port,
          `${sslHostConfig("_default_")}\n${sslHostConfig("secure.localhost", clientCertificates())}`,
          {
            ...NATIVE_VERIFICATION,
            hosts: `          - name: secure.localhost
            contexts:
              - path: ""
                handler: app.ts
                needsPeerCertificates: false
`,
          },
        ),
      });
      try {
        expect(s.output()).toContain("node-compat back-end");
        const tries = [
          // The protected name as SNI, however it is spelt: no certificate, no connection.
          ...["secure.localhost", "SECURE.LOCALHOST", "secure.localhost.", "Secure.LocalHost."].map((sni) => ({
            sni,
            host: "secure.localhost",
            want: "",
          })),
          // Another SNI (or none) and the protected name as Host: 421, never the application.
          ...[undefined, "127.0.0.1", "localhost", "unknown.example"].flatMap((sni) =>
            ["secure.localhost", "SECURE.localhost.", `secure.localhost:${port}`].map((host) => ({
              sni,
              host,
              want: "HTTP/1.1 421",
            }))
          ),
        ];
        const answers = await Promise.all(tries.map((t) => sClient(port, t.sni, t.host)));
        expect(tries.map((t, i) => ({ ...t, want: answers[i] }))).toEqual(tries);
        expect(await sClient(port, "SECURE.LOCALHOST.", "secure.localhost", "alice")).toBe("HTTP/1.1 200");
      } finally {
        await s.stop();
      }
    },
    60_000,
  );
}

describe("server.workers: the shared port", () => {
  const root = process.getuid?.() === 0 && existsSync("/usr/bin/setpriv");
  /** Another process tries to listen on the port with SO_REUSEPORT, as `uid` if given. */
  async function steal(port: number, uid?: number): Promise<string> {
    const code =
      `try { Bun.listen({ hostname: "127.0.0.1", port: ${port}, reusePort: true, socket: { data() {} } }).stop(true); console.log("bound"); } catch (e) { console.log(e.code ?? String(e)); }`;
    const cmd = uid === undefined
      ? [BUN, "-e", code]
      : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", BUN, "-e", code];
    return (await run(cmd, { timeoutMs: 15000 })).stdout.trim();
  }
  const config = (port: number, workers: number) =>
    `server:
  workers: ${workers}
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                docBase: site
`;

  for (const runtime of RUNTIMES) {
    test(
      `${runtime}: a process of another user cannot join the workers' port; a single server shares it with no one`,
      async () => {
        const port = await freePort();
        let s: Running | undefined;
        try {
          s = await startBobcat({
            runtime,
            base: base(),
            files: { "webapps/site/index.html": "site" },
            config: config(port, 2),
            connectors: 2,
          });
          // The kernel lets only the same effective user into a SO_REUSEPORT group.
          if (root) expect(await steal(port, 65534)).toBe("EADDRINUSE");
          expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("site");
        } finally {
          await s?.stop();
        }
        const single = await startBobcat({
          runtime,
          base: base(),
          files: { "webapps/site/index.html": "site" },
          config: config(port, 1),
        });
        try {
          // Without workers the listener does not set SO_REUSEPORT: not even this user can share it.
          expect(await steal(port)).toBe("EADDRINUSE");
        } finally {
          await single.stop();
        }
      },
      60_000,
    );
  }
});

for (const runtime of RUNTIMES) {
  test(
    `${runtime}: /manager/json/list and /manager/metrics: roles, cross-site, rebinding; no session ids or paths`,
    async () => {
      const port = await freePort();
      const s = await startBobcat({
        runtime,
        base: base(),
        files: { "app.ts": SERVER_NAME_APP },
        config: plainConfig(
          port,
          `              - path: /app
                handler: app.ts
              - path: /manager
                handler: bobcat:manager
                loginConfig: { authMethod: BASIC, realmName: manager }
                realm:
                  users:
                    - { username: ops, password: s3cret, roles: [manager-script] }
                    - { username: scrape, password: s3cret, roles: [metrics] }
                    - { username: guest, password: guest, roles: [] }
                securityConstraints:
                  - urlPatterns: ["/*"]
                    authRoles: [manager-script, manager-gui, metrics]
`,
        ),
      });
      const url = (p: string) => `http://127.0.0.1:${port}${p}`;
      const as = (user: string, pass: string, extra: Record<string, string> = {}) => ({
        headers: { authorization: `Basic ${btoa(`${user}:${pass}`)}`, ...extra },
      });
      try {
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push(await (await fetch(url("/app/session"))).text());
        await fetch(url("/app/private-path-zq81?token=abc"));

        const list = await fetch(url("/manager/json/list"), as("ops", "s3cret"));
        expect(list.status).toBe(200);
        const text = await list.text();
        expect(JSON.parse(text).applications.find((a: { path: string }) => a.path === "/app").sessions).toBe(3);
        const metrics = await (await fetch(url("/manager/metrics"), as("scrape", "s3cret"))).text();
        expect(metrics).toContain("bobcat_sessions_active");
        for (const out of [text, metrics]) {
          for (const id of ids) expect(out).not.toContain(id.slice(0, 12));
          expect(out).not.toContain("private-path-zq81");
          expect(out).not.toContain("token");
        }

        // Roles: the metrics role reads the metrics and nothing else; no role, no login: nothing.
        expect((await fetch(url("/manager/json/list"), as("scrape", "s3cret"))).status).toBe(403);
        for (const p of ["/manager/json/list", "/manager/metrics"]) {
          expect((await fetch(url(p), as("guest", "guest"))).status).toBe(403);
          expect((await fetch(url(p))).status).toBe(401);
          expect((await fetch(url(p), as("ops", "wrong"))).status).toBe(401);
          // With the right credentials, but from another site or another name: refused.
          expect((await fetch(url(p), as("ops", "s3cret", { origin: "http://evil.example" }))).status).toBe(403);
          expect((await fetch(url(p), as("ops", "s3cret", { "sec-fetch-site": "cross-site" }))).status).toBe(403);
          expect((await fetch(url(p), as("ops", "s3cret", { host: "rebound.example" }))).status).toBe(421);
        }
      } finally {
        await s.stop();
      }
    },
    60_000,
  );
}
