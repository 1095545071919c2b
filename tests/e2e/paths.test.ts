/**
 * Path encoding and request-line attacks against a running bobcat, the way an attacker sends
 * them: curl --path-as-is and raw sockets, over plain HTTP and HTTPS, on Bun native, Deno
 * native and the node-compat back-end of each runtime (selected by BOBCAT_BACKEND=node-compat).
 *
 * The context protects /secs/sub/* and *.bin with BASIC and /pay/* with CONFIDENTIAL. Every
 * spelling of those paths must get what Tomcat answers (401, 302, 400 or 404), never the file;
 * the plain spellings with credentials, and the public files, still get 200.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import {
  CA_PEM,
  cleanup,
  freePort,
  HTTP2_CONNECTOR,
  httpsConfig,
  PKI,
  run,
  type Running,
  type Runtime,
  RUNTIMES,
  startBobcat,
  tempDir,
} from "../helpers/bobcat.ts";

const SECRET = "secret file\n";
const BIN = "binary secret\n";
const PAY = "pay page\n";
const PUBLIC = "public file\n";
const AUTH = "Basic " + btoa("alice:wonderland");

const APP = `export default { fetch(req, ctx) {
  const u = new URL(req.url);
  if (!u.pathname.startsWith("/echo")) return new Response("not mine", { status: 404 });
  return Response.json({ url: req.url, path: u.pathname, search: u.search, requestURI: ctx.requestURI, serverName: ctx.serverName, method: req.method });
} };`;

function config(http: number, https: number): string {
  return httpsConfig(http, https, {
    connectorExtra: HTTP2_CONNECTOR.trimEnd(),
    contexts: `              - path: ""
                handler: app.ts
                docBase: \${catalina.base}/site
                loginConfig: { authMethod: BASIC, realmName: paths }
                realm:
                  users:
                    - { username: alice, password: wonderland, roles: [staff] }
                securityConstraints:
                  - urlPatterns: ["/secs/sub/*", "*.bin"]
                    authRoles: [staff]
                  - urlPatterns: ["/pay/*"]
                    transportGuarantee: CONFIDENTIAL
              - path: /ctx
                handler: app.ts
          - name: other.test
            contexts: [{ path: "", handler: app.ts }]`,
  });
}

const FILES = {
  "app.ts": APP,
  "site/secs/sub/a.txt": SECRET,
  "site/big.bin": BIN,
  "site/pay/x": PAY,
  "site/public.txt": PUBLIC,
  "site/sub/index.html": "<p>sub</p>\n",
};

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

function parseResponse(text: string): Answer {
  const split = text.indexOf("\r\n\r\n");
  const head = split >= 0 ? text.slice(0, split) : text;
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = new Map<string, string>();
  for (const l of lines) {
    const colon = l.indexOf(":");
    if (colon > 0) headers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
  }
  return { status: Number(statusLine!.split(" ")[1] ?? 0), headers, body: split >= 0 ? text.slice(split + 4) : "" };
}

/** curl with the path exactly as written; -i for the head, never following redirects. */
async function curl(base: string, path: string, headers: string[] = [], version = "--http1.1"): Promise<Answer> {
  const args = [
    "curl",
    "-s",
    "-i",
    "--path-as-is",
    ...version.split(" "),
    "--max-time",
    "10",
    "--cacert",
    join(PKI, "ca.pem"),
  ];
  for (const h of headers) args.push("-H", h);
  const r = await run([...args, base + path]);
  if (r.code !== 0) throw new Error(`curl ${base}${path} failed (${r.code}): ${r.stderr}`);
  return parseResponse(r.stdout);
}

/** One request written byte for byte on a fresh connection; read until the server closes it (bounded). */
function raw(port: number, tls: boolean, request: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = tls
      ? tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ca: CA_PEM, ALPNProtocols: ["http/1.1"] })
      : netConnect(port, "127.0.0.1");
    let data = "";
    const timer = setTimeout(() => {
      socket.destroy();
      data ? resolve(parseResponse(data)) : reject(new Error(`no answer to ${JSON.stringify(request)}`));
    }, 5000);
    socket.once(tls ? "secureConnect" : "connect", () => socket.write(request));
    socket.on("data", (d) => (data += d));
    socket.on("error", (e) => {
      clearTimeout(timer);
      data ? resolve(parseResponse(data)) : reject(e);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(parseResponse(data));
    });
  });
}

interface Server {
  label: string;
  runtime: Runtime;
  compat: boolean;
  http: number;
  https: number;
  s: Running;
  base: string;
}

const BACKENDS: Array<{ runtime: Runtime; compat: boolean }> = RUNTIMES.flatMap((runtime) => [
  { runtime, compat: false },
  { runtime, compat: true },
]);

const servers = new Map<string, Server>();
const dirs: string[] = [];

beforeAll(async () => {
  await Promise.all(
    BACKENDS.map(async ({ runtime, compat }) => {
      const base = tempDir();
      dirs.push(base);
      const [http, https] = [await freePort(), await freePort()];
      const s = await startBobcat({
        runtime,
        base,
        files: FILES,
        config: config(http, https),
        connectors: 2,
        timeoutMs: 60000,
        env: compat ? { BOBCAT_BACKEND: "node-compat" } : {},
      });
      const label = `${runtime} ${compat ? "node-compat" : "native"}`;
      const expected = compat
        ? "node-compat back-end"
        : runtime === "bun"
        ? "native Bun.serve"
        : "native Deno HTTP server";
      if (!s.output().includes(expected)) {
        throw new Error(`${label}: expected the ${expected} back-end:\n${s.output()}`);
      }
      servers.set(label, { label, runtime, compat, http, https, s, base });
    }),
  );
}, 120000);

afterAll(async () => {
  for (const srv of servers.values()) expect(await srv.s.stop()).toBe(0);
  dirs.forEach(cleanup);
});

/** Bun.serve resolves "..", "%2e" and "\" itself before bobcat sees the URL (clamping ".." at the root). */
const bunNative = (srv: Server) => srv.runtime === "bun" && !srv.compat;

for (const { runtime, compat } of BACKENDS) {
  const label = `${runtime} ${compat ? "node-compat" : "native"}`;
  for (const scheme of ["http", "https"] as const) {
    describe(`${label}, ${scheme}`, () => {
      const srv = () => servers.get(label)!;
      const base = () => `${scheme}://localhost:${scheme === "http" ? srv().http : srv().https}`;

      test("every spelling of a BASIC-protected path asks for credentials (401) or is refused (400)", async () => {
        const spellings: Array<[string, number]> = [
          ["/secs/sub/a.txt", 401],
          ["/secs/%73ub/a.txt", 401],
          ["/secs//sub/a.txt", 401],
          ["//secs/sub/a.txt", 401],
          ["/secs/x/..;/sub/a.txt", 401],
          ["/secs/x/../sub/a.txt", 401],
          ["/x/../secs/sub/a.txt", 401],
          ["/secs/./sub/a.txt", 401],
          ["/secs/sub;x=1/a.txt", 401],
          ["/secs/sub/a.txt;jsessionid=0123", 401],
          ["/secs/%2e%2e/secs/sub/a.txt", 401],
          ["/secs/sub/%61.txt", 401],
          ["/big.bin", 401],
          ["/big%2ebin", 401],
          ["/big%2Ebin", 401],
          ["/big.bin;x=y", 401],
          ["/x/../big.bin", 401],
          ["/secs/sub%2fa.txt", 400],
          ["/secs%2Fsub%2Fa.txt", 400],
          ["/secs/sub%5ca.txt", 400],
          ["/secs/sub/a.txt%00", 400],
          ["/secs/sub/a.txt%00.html", 400],
          ["/%ZZ/secs/sub/a.txt", 400],
          ["/secs/sub/%C3.txt", 400],
          ["/secs/sub/%FF.txt", 400],
          // Bun.serve clamps ".." at the root before bobcat sees it: still protected (401), not 400.
          ["/../secs/sub/a.txt", bunNative(srv()) ? 401 : 400],
          ["/%2e%2e/secs/sub/a.txt", bunNative(srv()) ? 401 : 400],
          ["/secs/../../secs/sub/a.txt", bunNative(srv()) ? 401 : 400],
        ];
        const got: string[] = [];
        for (const [path, status] of spellings) {
          const res = await curl(base(), path);
          got.push(`${path} → ${res.status}`);
          expect(`${path} → ${res.status}`).toBe(`${path} → ${status}`);
          expect(res.body).not.toContain(SECRET.trim());
          expect(res.body).not.toContain(BIN.trim());
          if (status === 401) expect(res.headers.get("www-authenticate")).toBe(`Basic realm="paths", charset="UTF-8"`);
        }
      });

      test("other case: 404 (URL patterns and file names are case-sensitive)", async () => {
        for (const path of ["/SECS/sub/a.txt", "/secs/SUB/a.txt", "/big.BIN", "/big.bin/"]) {
          const res = await curl(base(), path);
          expect(`${path} → ${res.status}`).toBe(`${path} → 404`);
        }
      });

      test("with credentials the same spellings reach the file", async () => {
        for (const path of ["/secs/sub/a.txt", "/secs/%73ub/a.txt", "/secs//sub/a.txt", "/secs/x/..;/sub/a.txt"]) {
          const res = await curl(base(), path, [`Authorization: ${AUTH}`]);
          expect(`${path} → ${res.status}`).toBe(`${path} → 200`);
          expect(res.body).toBe(SECRET);
        }
        const bin = await curl(base(), "/big%2ebin", [`Authorization: ${AUTH}`]);
        expect(bin.status).toBe(200);
        expect(bin.body).toBe(BIN);
      });

      test("CONFIDENTIAL paths: every spelling redirects plain HTTP to HTTPS; HTTPS serves them", async () => {
        for (const path of ["/pay/x", "/%70ay/x", "/pay//x", "/x/../pay/x", "/pay;a=b/x", "/./pay/x", "/%70%61%79/x"]) {
          const res = await curl(base(), path);
          if (scheme === "http") {
            expect(`${path} → ${res.status}`).toBe(`${path} → 302`);
            // The redirect names the normalised path, not the spelling.
            expect(res.headers.get("location")).toBe(`https://localhost:${srv().https}/pay/x`);
            expect(res.body).not.toContain(PAY.trim());
          } else {
            expect(`${path} → ${res.status}`).toBe(`${path} → 200`);
            expect(res.body).toBe(PAY);
          }
        }
      });

      test("legitimate requests are served", async () => {
        expect((await curl(base(), "/public.txt")).body).toBe(PUBLIC);
        expect((await curl(base(), "/public%2etxt")).body).toBe(PUBLIC);
        const dir = await curl(base(), "/x/../sub/");
        expect(dir.status).toBe(200);
        expect(dir.body).toBe("<p>sub</p>\n");
        const redirect = await curl(base(), "/sub");
        expect(redirect.status).toBe(302);
        expect(redirect.headers.get("location")).toBe("/sub/");
      });

      test("handlers see the normalised path, canonically encoded; requestURI is the path as sent", async () => {
        const a = await curl(base(), "/echo/a%20b/%41%3b;jsessionid=XYZ/c?q=%2F");
        expect(a.status).toBe(200);
        const json = JSON.parse(a.body);
        expect(json.path).toBe("/echo/a%20b/A%3B/c");
        expect(json.search).toBe("?q=%2F");
        expect(json.requestURI).toBe("/echo/a%20b/%41%3b;jsessionid=XYZ/c");
        const b = JSON.parse((await curl(base(), "/echo/x/../y/./z")).body);
        expect(b.path).toBe("/echo/y/z");
        // A non-ROOT context sees the path below its context path.
        const c = JSON.parse((await curl(base(), "/ctx/echo/%7e/..//q")).body);
        expect(c.path).toBe("/echo/q");
        expect(c.url).toBe(`${scheme}://localhost:${scheme === "http" ? srv().http : srv().https}/echo/q`);
      });

      test("Host: two headers, spaces or characters no host has → 400", async () => {
        const port = scheme === "http" ? srv().http : srv().https;
        const tls = scheme === "https";
        for (
          const host of [
            "Host: localhost\r\nHost: localhost",
            "Host: localhost\r\nHost: evil.example",
            "Host: a b",
            "Host: a@localhost",
            "Host: localhost/x",
            "Host: localhost:99999",
            "Host: local<host>",
            "Host: [::1",
          ]
        ) {
          const res = await raw(port, tls, `GET /public.txt HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`);
          expect(`${JSON.stringify(host)} → ${res.status}`).toBe(`${JSON.stringify(host)} → 400`);
          expect(res.body).not.toContain(PUBLIC.trim());
          expect(res.body).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
        }
        for (
          const host of [
            "Host: LOCALHOST",
            `Host: localhost:${port}`,
            `Host: [::1]:${port}`,
            "Host: 127.0.0.1",
            "Host: unknown.example",
          ]
        ) {
          const res = await raw(port, tls, `GET /public.txt HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`);
          expect(`${JSON.stringify(host)} → ${res.status}`).toBe(`${JSON.stringify(host)} → 200`);
          expect(res.body).toBe(PUBLIC);
        }
      });

      test("HTTP/1.1 without Host → 400; HTTP/1.0 without Host is served by the default host", async () => {
        const port = scheme === "http" ? srv().http : srv().https;
        const tls = scheme === "https";
        const v11 = await raw(port, tls, "GET /public.txt HTTP/1.1\r\nConnection: close\r\n\r\n");
        // Deno.serve does not tell the HTTP version; a request without Host is taken as HTTP/1.0 there.
        const denoNative = srv().runtime === "deno" && !srv().compat;
        expect(v11.status).toBe(denoNative ? 200 : 400);
        const v10 = await raw(port, tls, "GET /public.txt HTTP/1.0\r\n\r\n");
        expect(v10.status).toBe(200);
        expect(v10.body).toBe(PUBLIC);
        const echo = await raw(port, tls, "GET /echo/x/../y?z=1 HTTP/1.0\r\n\r\n");
        expect(echo.status).toBe(200);
        const json = JSON.parse(echo.body);
        expect(json.path).toBe("/echo/y");
        expect(json.search).toBe("?z=1");
        expect(json.serverName).toBe("localhost");
        const secret = await raw(port, tls, "GET /secs/%73ub/a.txt HTTP/1.0\r\n\r\n");
        expect(secret.status).toBe(401);
      });

      test("an absolute-form target naming another host than Host is refused", async () => {
        const port = scheme === "http" ? srv().http : srv().https;
        const res = await raw(
          port,
          scheme === "https",
          `GET ${scheme}://evil.example/public.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
        );
        // Bun.serve drops the target's authority and keeps Host: served as /public.txt on localhost.
        expect(res.status).toBe(bunNative(srv()) ? 200 : 400);
        const same = await raw(
          port,
          scheme === "https",
          `GET ${scheme}://localhost/x/../public.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
        );
        expect(same.status).toBe(200);
        expect(same.body).toBe(PUBLIC);
      });

      test("TRACE answers 405 and never reaches the handler", async () => {
        const port = scheme === "http" ? srv().http : srv().https;
        const res = await raw(
          port,
          scheme === "https",
          "TRACE /echo/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        expect(res.status).toBe(405);
        expect(res.headers.get("allow")).not.toContain("TRACE");
        expect(res.body).not.toContain("requestURI");
        const protectedTrace = await raw(
          port,
          scheme === "https",
          "TRACE /secs/sub/a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        expect(protectedTrace.status).toBe(405);
        expect(protectedTrace.body).not.toContain(SECRET.trim());
      });

      // Deno and node:http2 serve h2 here (Http2Protocol is on); Bun.serve's h2 is tested in realms.test.ts.
      if (scheme === "https" && !(runtime === "bun" && !compat)) {
        test("HTTP/2: the same spellings, and :authority picks the host", async () => {
          const h2 = (path: string, headers: string[] = []) => curl(base(), path, headers, "--http2");
          for (
            const [path, status] of [
              ["/secs/sub/a.txt", 401],
              ["/secs/%73ub/a.txt", 401],
              ["/secs//sub/a.txt", 401],
              ["/secs/x/..;/sub/a.txt", 401],
              ["/big%2ebin", 401],
              ["/../secs/sub/a.txt", 400],
              ["/secs/sub%2fa.txt", 400],
              ["/public.txt", 200],
            ] as const
          ) {
            const res = await h2(path);
            expect(`${path} → ${res.status}`).toBe(`${path} → ${status}`);
            expect(res.body).not.toContain(SECRET.trim());
          }
          const other = JSON.parse((await h2("/echo/x/../y", ["Host: other.test"])).body);
          expect(other).toMatchObject({ path: "/echo/y", serverName: "other.test" });
          const trace = await curl(base(), "/echo/x", ["X-Probe: 1"], "--http2 -X TRACE");
          expect(trace.status).toBe(405);
          expect(trace.body).not.toContain("requestURI");
        });
      }

      test("raw characters Tomcat refuses in a path, and a fragment, are 400", async () => {
        const port = scheme === "http" ? srv().http : srv().https;
        for (const target of ["/secs/sub/a.txt#frag", "/pub<lic>.txt", '/pub"lic.txt', "/secs\\sub\\a.txt"]) {
          const res = await raw(
            port,
            scheme === "https",
            `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
          );
          // Bun.serve turns "\" into "/" and percent-encodes '<', '>' and '"' before bobcat sees the
          // URL: then the path is protected (401) or names no file (404).
          const want = !bunNative(srv()) ? 400 : target.includes("\\") ? 401 : target.includes("#") ? 400 : 404;
          expect(`${target} → ${res.status}`).toBe(`${target} → ${want}`);
          expect(res.body).not.toContain(SECRET.trim());
        }
      });
    });
  }
}
