/**
 * The built-in manager app: JSON, text and HTML faces, session statistics and expiry, TLS reload
 * through the API, and who may use it — attacked as an attacker would, through raw sockets
 * against a running bobcat on Bun and on Deno: forged X-Forwarded-For values from clients the
 * RemoteIpValve trusts and from clients it does not, forged Host names (DNS rebinding),
 * cross-site Origin / Sec-Fetch-Site on state-changing endpoints, GET state changes, and the
 * headers of the HTML page.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync } from "node:fs";
import { connect } from "node:net";
import { cleanup, freePort, PKI, type Running, RUNTIMES, startBobcat, tempDir, tfetch } from "../helpers/bobcat.ts";

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 request on a raw socket, optionally from another loopback address. Bounded. */
function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  opts: { from?: string; body?: string } = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port, localAddress: opts.from });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${method} ${path}: no answer within 15 s`));
    }, 15000);
    const h: Record<string, string> = { host: `127.0.0.1:${port}`, connection: "close", ...headers };
    if (opts.body !== undefined) h["content-length"] = String(Buffer.byteLength(opts.body));
    const chunks: Buffer[] = [];
    sock.on(
      "connect",
      () =>
        sock.write(
          `${method} ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n${
            opts.body ?? ""
          }`,
        ),
    );
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = text.slice(end + 4);
      if (headers["transfer-encoding"] === "chunked") body = unchunk(body);
      resolve({ status: Number(statusLine?.split(" ")[1]), headers, body });
    });
  });
}

function unchunk(s: string): string {
  let out = "";
  for (let i = 0;;) {
    const nl = s.indexOf("\r\n", i);
    const n = parseInt(s.slice(i, nl), 16);
    if (!n) return out;
    out += s.slice(nl + 2, nl + 2 + n);
    i = nl + 2 + n + 2;
  }
}

const basic = (u: string, p: string) => ({ authorization: `Basic ${btoa(`${u}:${p}`)}` });

for (const runtime of RUNTIMES) {
  describe(`manager on ${runtime}`, () => {
    let s: Running;
    let http: number;
    let https: number;
    let proxied: number;
    /** The same two services on the node-compat back-end (maxConnections selects it). */
    let nodeHttp: number;
    let nodeProxied: number;

    beforeAll(async () => {
      [http, https, proxied, nodeHttp, nodeProxied] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      const base = tempDir();
      chmodSync(base, 0o755);
      const contexts = (extra: string) =>
        `              - path: /app
                handler: app.ts
              - path: /manager
                handler: bobcat:manager
${extra}`;
      s = await startBobcat({
        runtime,
        base,
        connectors: 5,
        files: {
          "app.ts": `export default { fetch(req, ctx) {
            if (new URL(req.url).pathname === "/who") return Response.json({ remoteAddr: ctx.remoteAddr, connectionAddr: ctx.connectionAddr });
            const s = ctx.getSession(); s.setAttribute("cart", [1, 2]); return new Response(s.id);
          } };`,
        },
        config: `
server:
  services:
    - name: Direct
      connectors:
        - { port: ${http}, address: 127.0.0.1, redirectPort: ${https} }
        - port: ${https}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${PKI}/localhost-rsa.pem
                  certificateKeyFile: ${PKI}/localhost-rsa-key.pem
                  certificateChainFile: ${PKI}/intermediate.pem
        - { port: ${nodeHttp}, address: 127.0.0.1, maxConnections: 1000 }
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            aliases: [bobcat.test]
            contexts:
${
          contexts(`              - path: /secured-manager
                handler: bobcat:manager
                loginConfig: { authMethod: BASIC, realmName: bobcat manager }
                realm:
                  users:
                    - { username: ops, password: s3cret, roles: [manager-script, manager-gui] }
                    - { username: script, password: s3cret, roles: [manager-script] }
                    - { username: gui, password: s3cret, roles: [manager-gui] }
                    - { username: guest, password: guest, roles: [] }
                securityConstraints:
                  - urlPatterns: ["/*"]
                    authRoles: [manager-script, manager-gui]`)
        }
    - name: Proxied
      connectors:
        - { port: ${proxied}, address: 127.0.0.1 }
        - { port: ${nodeProxied}, address: 127.0.0.1, maxConnections: 1000 }
      engine:
        name: Proxied
        defaultHost: localhost
        valves:
          - className: RemoteIpValve
        hosts:
          - name: localhost
            contexts:
${
          contexts(`              - path: /manager-local
                handler: bobcat:manager
                allowLoopbackBehindProxy: true`)
        }
`,
      });
    });

    afterAll(async () => {
      await s?.stop();
      if (s) cleanup(s.base);
    });

    const newSession = async () => (await raw(http, "GET", "/app/")).body;
    const alive = async (id: string) =>
      (await raw(http, "GET", "/manager/json/sessions?path=/app&host=localhost")).body.includes(id.slice(0, 8));

    test("JSON overview: connectors with back-ends, contexts with Tomcat's session statistics", async () => {
      await newSession();
      const j = await (await tfetch(`http://127.0.0.1:${http}/manager/json`)).json();
      expect(j.runtime).toContain(runtime === "bun" ? "Bun" : "Deno");
      expect(j.connectors.map((c: { name: string }) => c.name)).toEqual([
        `http-nio-127.0.0.1-${http}`,
        `https-jsse-nio-127.0.0.1-${https}`,
        `http-nio-127.0.0.1-${nodeHttp}`,
        `http-nio-127.0.0.1-${proxied}`,
        `http-nio-127.0.0.1-${nodeProxied}`,
      ]);
      // maxConnections needs node-compat on Bun; Deno's native back-end enforces it itself.
      const counted = runtime === "bun" ? "node-compat" : "native";
      expect(j.connectors.map((c: { backend: string }) => c.backend)).toEqual([
        "native",
        "native",
        counted,
        "native",
        counted,
      ]);
      const app = j.contexts.find((c: { path: string; engine: string }) =>
        c.path === "/app" && c.engine === "Catalina"
      );
      expect(app.stats).toMatchObject({ activeSessions: 1, maxActive: 1, sessionCounter: 1, rejectedSessions: 0 });
    });

    test("session ids: in full for the manager-script role, truncated with a handle for a loopback client without login", async () => {
      const id = await newSession();
      expect(id).toMatch(/^[0-9A-F]{32}$/);
      const local = await (await tfetch(`http://127.0.0.1:${http}/manager/json/sessions?path=/app&host=localhost`))
        .text();
      expect(local).not.toContain(id);
      const mine = JSON.parse(local).sessions.find((x: { id: string }) => x.id === `${id.slice(0, 8)}…`);
      expect(mine).toMatchObject({ attributes: ["cart"], maxInactiveInterval: 1800 });
      expect(mine.handle).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const html = await (await tfetch(`http://127.0.0.1:${http}/manager/`)).text();
      expect(html).not.toContain(id);
      expect(html).toContain(`${id.slice(0, 8)}…`);
      const full =
        await (await tfetch(`http://127.0.0.1:${http}/secured-manager/json/sessions?path=/app&host=localhost`, {
          headers: basic("script", "s3cret"),
        })).json();
      expect(full.sessions.map((x: { id: string }) => x.id)).toContain(id);
      // The handle expires the session without anyone seeing its id.
      const res = await raw(http, "POST", `/manager/json/expire?path=/app&host=localhost&handle=${mine.handle}`);
      expect([res.status, JSON.parse(res.body)]).toEqual([200, { expired: mine.handle }]);
      expect(await alive(id)).toBe(false);
      expect((await raw(http, "POST", `/manager/json/expire?path=/app&host=localhost&handle=${mine.handle}`)).status)
        .toBe(404);
    });

    test("expire by id (POST) and the text statistics", async () => {
      const id = await newSession();
      const expire = await raw(http, "POST", `/manager/json/expire?path=/app&host=localhost&id=${id}`);
      expect(JSON.parse(expire.body)).toEqual({ expired: id });
      const after = (await raw(http, "GET", "/manager/text/sessions?path=/app&host=localhost")).body;
      expect(after).toContain("OK - Session information for application at context path [/app]");
      expect(after).toMatch(/expiredSessions=[1-9]/);
    });

    test("text interface: list; sslReload and expire by POST", async () => {
      const list = (await raw(http, "GET", "/manager/text/list")).body;
      expect(list).toMatch(/^OK - Listed applications\n/);
      expect(list).toContain("/app:running:");
      const reload = await raw(http, "POST", "/manager/text/sslReload");
      expect(reload.body).toMatch(/^OK - https-jsse-nio-127\.0\.0\.1-\d+: reloaded _default_/);
      const id = await newSession();
      const expire = await raw(http, "POST", "/manager/text/expire?path=/app&host=localhost&idle=0");
      expect(expire.body).toMatch(/^OK - Expired [1-9]\d* session\(s\) idle for 0 minute\(s\) or more in \[\/app\]/);
      expect(await alive(id)).toBe(false);
    });

    test("no state change on GET except for a script account (manager-script without manager-gui)", async () => {
      const id = await newSession();
      for (
        const [who, path, headers] of [
          ["loopback client without login", "/manager", {}],
          ["user with manager-script and manager-gui", "/secured-manager", basic("ops", "s3cret")],
        ] as const
      ) {
        for (const action of ["expire?path=/app&host=localhost&idle=0", "sslReload"]) {
          const res = await raw(http, "GET", `${path}/text/${action}`, headers);
          expect([who, action, res.status, res.headers.allow]).toEqual([who, action, 405, "POST"]);
          expect(res.body).toStartWith("FAIL - use POST");
        }
      }
      expect(await alive(id)).toBe(true);
      // A manager-gui user gets no text interface at all.
      expect((await raw(http, "GET", "/secured-manager/text/expire?path=/app&idle=0", basic("gui", "s3cret"))).status)
        .toBe(403);
      // Tomcat's script usage still works for a script account.
      const ok = await raw(
        http,
        "GET",
        "/secured-manager/text/expire?path=/app&host=localhost&idle=0",
        basic("script", "s3cret"),
      );
      expect([ok.status, ok.body]).toEqual([200, expect.stringMatching(/^OK - Expired [1-9]/)]);
      expect(await alive(id)).toBe(false);
      expect((await raw(http, "GET", "/secured-manager/text/sslReload", basic("script", "s3cret"))).body).toStartWith(
        "OK - ",
      );
      expect((await raw(http, "POST", "/secured-manager/text/sslReload", basic("ops", "s3cret"))).body).toStartWith(
        "OK - ",
      );
    });

    test("HTML page: no framing, a strict CSP whose style hash matches the inline style, no scripts", async () => {
      const res = await raw(http, "GET", "/manager/");
      expect(res.status).toBe(200);
      expect(res.body).toContain("<h1>bobcat manager</h1>");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["cache-control"]).toBe("no-store");
      // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the page's own forms.
      expect(res.headers["referrer-policy"]).toBe("same-origin");
      const csp = res.headers["content-security-policy"]!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(csp).not.toContain("unsafe");
      expect(csp).not.toContain("script-src");
      const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)![1]!;
      expect(csp).toContain(`style-src 'sha256-${createHash("sha256").update(style).digest("base64")}'`);
      expect(res.body).not.toMatch(/<script|\sstyle=|\son[a-z]+=/i);
      // Every face carries the framing and sniffing headers, refusals included.
      for (
        const [path, headers] of [["/manager/json", {}], ["/manager/text/list", { origin: "https://evil.example" }], [
          "/manager/json",
          { host: "evil.example" },
        ]] as Array<[string, Record<string, string>]>
      ) {
        expect([path, headers, (await raw(http, "GET", path, headers)).headers["x-frame-options"]]).toEqual([
          path,
          headers,
          "DENY",
        ]);
      }
      expect((await raw(http, "GET", "/secured-manager/json", basic("gui", "s3cret"))).headers["x-frame-options"]).toBe(
        "DENY",
      );
    });

    test("HTML forms need the page's token", async () => {
      const forged = await raw(http, "POST", "/manager/html/sslReload", {
        "content-type": "application/x-www-form-urlencoded",
      }, { body: "csrf=nope" });
      expect(forged.status).toBe(400);
    });

    test("DNS rebinding: a Host name that is not this host's name or an IP address gets 421 on every face", async () => {
      for (const port of [http, nodeHttp]) {
        const id = await newSession();
        for (
          const host of [
            "evil.example",
            `evil.example:${port}`,
            "localhost.",
            "LOCALHOST.evil.example",
            "127.0.0.1.evil.example",
          ]
        ) {
          for (
            const [method, path] of [
              ["GET", "/manager/json/sessions?path=/app&host=localhost"],
              ["GET", "/manager/"],
              ["GET", "/manager/text/list"],
              ["POST", `/manager/json/expire?path=/app&host=localhost&id=${id}`],
              ["POST", "/manager/text/expire?path=/app&host=localhost&idle=0"],
            ] as const
          ) {
            const res = await raw(port, method, path, { host });
            expect([host, method, path, res.status]).toEqual([host, method, path, 421]);
            expect(res.body).not.toContain(id.slice(0, 8));
          }
        }
        // With a manager's credentials too (a rebinding page can carry the user's BASIC login).
        const secured = await raw(port, "GET", "/secured-manager/json/sessions?path=/app&host=localhost", {
          host: "evil.example",
          ...basic("ops", "s3cret"),
        });
        expect(secured.status).toBe(421);
        expect(await alive(id)).toBe(true);
        // The host's own names and aliases, and IP addresses, are fine.
        for (
          const host of [
            `localhost:${port}`,
            "LocalHost",
            `bobcat.test:${port}`,
            `127.0.0.1:${port}`,
            `[::1]:${port}`,
            "[0:0:0:0:0:0:0:1]",
          ]
        ) {
          expect([host, (await raw(port, "GET", "/manager/text/list", { host })).status]).toEqual([host, 200]);
        }
      }
    });

    test("cross-site requests are refused on every endpoint: Origin and Sec-Fetch-Site", async () => {
      for (const port of [http, nodeHttp]) {
        const id = await newSession();
        const attacks: Array<Record<string, string>> = [
          { origin: "https://evil.example" },
          { origin: `http://localhost.evil.example:${port}` },
          { origin: "null" },
          { origin: `https://127.0.0.1:${port}` },
          { origin: `http://127.0.0.1:${https}` },
          { "sec-fetch-site": "cross-site" },
          { "sec-fetch-site": "same-site" },
          { "sec-fetch-site": "cross-site", origin: `http://127.0.0.1:${port}` },
        ];
        for (const headers of attacks) {
          for (
            const [method, path, extra] of [
              ["POST", `/manager/json/expire?path=/app&host=localhost&id=${id}`, {}],
              ["POST", "/manager/text/expire?path=/app&host=localhost&idle=0", {}],
              ["POST", "/manager/json/sslReload", {}],
              ["GET", "/manager/json/sessions?path=/app&host=localhost", {}],
              ["GET", "/manager/", {}],
              // Cached BASIC credentials of a script account, used cross-site.
              ["GET", "/secured-manager/text/expire?path=/app&host=localhost&idle=0", basic("script", "s3cret")],
              ["POST", "/secured-manager/json/expire?path=/app&host=localhost&id=" + id, basic("ops", "s3cret")],
            ] as Array<[string, string, Record<string, string>]>
          ) {
            const res = await raw(port, method, path, { ...headers, ...extra });
            expect([headers, method, path, res.status]).toEqual([headers, method, path, 403]);
            expect(res.body).toContain("cross-site request refused");
          }
        }
        expect(await alive(id)).toBe(true);
        // The HTML form with a valid token is refused cross-site as well.
        const token = /name="csrf" value="([^"]+)"/.exec((await raw(port, "GET", "/manager/")).body)![1]!;
        const form = await raw(port, "POST", "/manager/html/sslReload", {
          "content-type": "application/x-www-form-urlencoded",
          origin: "https://evil.example",
        }, { body: `csrf=${token}` });
        expect(form.status).toBe(403);
        // Same-origin and user-initiated requests go through.
        for (
          const headers of [
            { origin: `http://127.0.0.1:${port}` },
            { origin: `http://localhost:${port}`, host: `localhost:${port}` },
            { "sec-fetch-site": "same-origin" },
            { "sec-fetch-site": "none" },
          ] as Array<Record<string, string>>
        ) {
          expect([headers, (await raw(port, "POST", "/manager/json/sslReload", headers)).status]).toEqual([
            headers,
            200,
          ]);
        }
        const sameOrigin = await raw(port, "POST", "/manager/html/sslReload", {
          "content-type": "application/x-www-form-urlencoded",
          origin: `http://127.0.0.1:${port}`,
          "sec-fetch-site": "same-origin",
        }, { body: `csrf=${token}` });
        expect([sameOrigin.status, sameOrigin.body]).toEqual([200, expect.stringContaining("reloaded _default_")]);
        expect(
          (await raw(port, "POST", `/manager/json/expire?path=/app&host=localhost&id=${id}`, {
            origin: `http://127.0.0.1:${port}`,
          })).status,
        ).toBe(200);
      }
    });

    test("loopback rule without a RemoteIpValve: the TCP peer decides; a forwarded-for header means a proxy, so no", async () => {
      for (const port of [http, nodeHttp]) {
        // 127.0.0.2 is on this machine too.
        expect((await raw(port, "GET", "/manager/json", {}, { from: "127.0.0.2" })).status).toBe(200);
        for (const xff of ["127.0.0.1", "127.0.0.1000", "<script>", "::1", "203.0.113.5"]) {
          for (const from of ["127.0.0.1", "127.0.0.2"]) {
            const res = await raw(port, "GET", "/manager/json", { "x-forwarded-for": xff }, { from });
            expect([xff, from, res.status]).toEqual([xff, from, 403]);
          }
        }
        expect((await raw(port, "GET", "/manager/json", { forwarded: "for=127.0.0.1" })).status).toBe(403);
      }
    });

    test("behind a RemoteIpValve: forged X-Forwarded-For never opens the manager, and never becomes remoteAddr", async () => {
      for (const port of [proxied, nodeProxied]) {
        const forged = [
          "127.0.0.1000",
          "<script>",
          "127.0.0.1",
          "127.0.0.1, 10.0.0.1",
          "::1",
          "0:0:0:0:0:0:0:1",
          "::ffff:127.0.0.1",
          "[::1]",
          "localhost",
        ];
        // From 127.0.0.1 (an internal proxy by default) and 127.0.0.2 (also inside the default
        // internalProxies: the "client in a private range" of the attack), and without any header.
        for (const from of ["127.0.0.1", "127.0.0.2"]) {
          expect((await raw(port, "GET", "/manager/json", {}, { from })).status).toBe(403);
          for (const xff of forged) {
            const res = await raw(port, "GET", "/manager/json", { "x-forwarded-for": xff }, { from });
            expect([from, xff, res.status]).toEqual([from, xff, 403]);
            expect(res.body).toContain("access denied");
          }
        }
        const who = async (xff: string, from = "127.0.0.2") =>
          JSON.parse((await raw(port, "GET", "/app/who", { "x-forwarded-for": xff }, { from })).body);
        expect(await who("127.0.0.1000")).toEqual({ remoteAddr: "127.0.0.2", connectionAddr: "127.0.0.2" });
        expect(await who("<script>")).toEqual({ remoteAddr: "127.0.0.2", connectionAddr: "127.0.0.2" });
        expect(await who("127.0.0.1000, 203.0.113.9")).toEqual({
          remoteAddr: "203.0.113.9",
          connectionAddr: "127.0.0.2",
        });
        expect(await who("::FFFF:203.0.113.9")).toEqual({ remoteAddr: "203.0.113.9", connectionAddr: "127.0.0.2" });
        expect(await who("2001:DB8:0:0:0:0:0:1")).toEqual({ remoteAddr: "2001:db8::1", connectionAddr: "127.0.0.2" });
        expect(await who("127.0.0.1, 10.0.0.1")).toEqual({ remoteAddr: "127.0.0.1", connectionAddr: "127.0.0.2" });
      }
    });

    test("allowLoopbackBehindProxy: in only when the connection and every forwarded address are loopback", async () => {
      for (const port of [proxied, nodeProxied]) {
        expect((await raw(port, "GET", "/manager-local/json")).status).toBe(200);
        expect(
          (await raw(port, "GET", "/manager-local/json", { "x-forwarded-for": "127.0.0.1" }, { from: "127.0.0.2" }))
            .status,
        ).toBe(200);
        expect((await raw(port, "GET", "/manager-local/json", { "x-forwarded-for": "::1, 127.0.0.5" })).status).toBe(
          200,
        );
        for (
          const xff of [
            "127.0.0.1000",
            "<script>",
            "203.0.113.5",
            "127.0.0.1, 203.0.113.5",
            "203.0.113.5, 127.0.0.1",
            "127.0.0.1000, 127.0.0.1",
            "10.0.0.1",
            "",
          ]
        ) {
          const res = await raw(port, "GET", "/manager-local/json", { "x-forwarded-for": xff });
          expect([xff, res.status]).toEqual([xff, 403]);
        }
        expect((await raw(port, "GET", "/manager-local/json", { forwarded: "for=127.0.0.1" })).status).toBe(403);
      }
    });

    test("with BASIC login: 401 without credentials, 403 without the role, 200 for a manager, wherever the client is", async () => {
      const url = "/secured-manager/text/list";
      const none = await raw(http, "GET", url);
      expect(none.status).toBe(401);
      expect(none.headers["www-authenticate"]).toBe('Basic realm="bobcat manager", charset="UTF-8"');
      expect((await raw(http, "GET", url, basic("guest", "guest"))).status).toBe(403);
      expect((await raw(http, "GET", url, basic("ops", "wrong"))).status).toBe(401);
      expect((await raw(http, "GET", url, { ...basic("ops", "s3cret"), "x-forwarded-for": "203.0.113.5" })).status)
        .toBe(200);
    });
  });
}
