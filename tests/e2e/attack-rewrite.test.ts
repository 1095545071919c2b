/**
 * RewriteValve attacked from outside: rules whose substitution takes parts of the request
 * (a query back-reference, a header, the path), asked with curl --path-as-is and raw sockets
 * against a running bobcat on Bun native, Bun node-compat and Deno native:
 * - an internal rewrite steered into WEB-INF, a constrained path, outside the docBase or into
 *   the manager (whose loopback, Origin and Host rules still hold after the rewrite);
 * - an R redirect whose path-only substitution starts with "/" or "\" from the request: the
 *   Location must stay on this origin (a browser reads "//evil" as another site), and nothing
 *   from the request may add a header line;
 * - a CO= cookie whose value comes from the request: no added cookie attributes, no broken header;
 * - a textbook N rule (`(.*)_(.*)` → `$1-$2`) fed a path of thousands of "_": refused once the
 *   rounds have gone over a bounded amount of URL, instead of a CPU-second per request;
 * - a path longer than any rule should see: refused by the server before the rules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { cleanup, freePort, run, type Running, type Runtime, startBobcat, tempDir } from "../helpers/bobcat.ts";

const RULES = `
RewriteRule ^/q$ /%{QUERY_STRING} [L]
RewriteCond %{QUERY_STRING} ^to=(.*)$
RewriteRule ^/go$ /%1 [R=302,L]
RewriteCond %{QUERY_STRING} ^to=(.*)$
RewriteRule ^/gone$ %1 [R=302,NE,L]
RewriteRule ^/hdr$ /%{HTTP:X-To} [R=302,L]
RewriteRule ^/strip/(.*)/$ /$1 [R=301,L]
RewriteCond %{QUERY_STRING} ^lang=(.*)$
RewriteRule ^/lang$ /index.html [CO=lang:%1:localhost:86400:/:true:true,L]
RewriteCond %{HTTP:X-Ref} ^(.+)$
RewriteRule ^/ref$ /index.html [CO=ref:%1,L]
RewriteRule ^/pc/(.*)$ /index.html [CO=p:$1,L]
RewriteRule ^/u/(.*)_(.*)$ /u/$1-$2 [N]
RewriteRule ^/m/(.*)$ /manager/$1 [L]
`;

const APP_RULES = `RewriteRule ^/in/(.*)$ /$1 [L]
RewriteRule ^/back$ /%{QUERY_STRING} [R,L]
`;

function config(port: number): string {
  return `server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            valves:
              - className: RewriteValve
                configuration: |
${RULES.trim().split("\n").map((l) => "                  " + l).join("\n")}
            contexts:
              - path: ""
                docBase: root
                loginConfig: { authMethod: BASIC, realmName: attack }
                securityConstraints:
                  - urlPatterns: [/secret/*]
                    authRoles: [staff]
              - path: /app
                docBase: app
                valves:
                  - className: RewriteValve
                    configuration: |
${APP_RULES.trim().split("\n").map((l) => "                      " + l).join("\n")}
              - path: /manager
                handler: bobcat:manager
`;
}

const FILES = {
  "webapps/root/index.html": "index",
  "webapps/root/WEB-INF/web.xml": "<web-app/>\n",
  "webapps/root/WEB-INF/secret.txt": "WEB-INF-SECRET",
  "webapps/root/secret/a.txt": "CONSTRAINED-SECRET",
  "webapps/root/u/a-b-c.txt": "dashed",
  "webapps/app/index.html": "app index",
  "webapps/app/WEB-INF/secret.txt": "APP-WEB-INF-SECRET",
  "outside.txt": "OUTSIDE-SECRET",
};
const SECRETS = ["WEB-INF-SECRET", "CONSTRAINED-SECRET", "APP-WEB-INF-SECRET", "OUTSIDE-SECRET"];

interface Answer {
  status: number;
  headers: string[];
  body: string;
}

/** One request on a raw socket, the target exactly as given. Bounded. */
function raw(port: number, target: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`GET ${target.slice(0, 80)}: no answer within 15 s`));
    }, 15000);
    const h = { host: `127.0.0.1:${port}`, connection: "close", ...headers };
    sock.on("connect", () => {
      sock.write(`GET ${target} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`);
    });
    const chunks: Buffer[] = [];
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", () => {});
    sock.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, end < 0 ? text.length : end).split("\r\n");
      resolve({
        status: Number(statusLine.split(" ")[1] ?? 0),
        headers: lines,
        body: end < 0 ? "" : text.slice(end + 4),
      });
    });
  });
}

const header = (a: Answer, name: string) =>
  a.headers.filter((l) => l.toLowerCase().startsWith(name + ":")).map((l) => l.slice(name.length + 1).trim());

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const BACKENDS: Array<[Runtime, "native" | "node-compat"]> = [["bun", "native"], ["bun", "node-compat"], [
  "deno",
  "native",
]];

for (const [runtime, backend] of BACKENDS) {
  describe(`RewriteValve attacks on ${runtime} ${backend}`, () => {
    let s: Running;
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      const base = tempDir("bobcat-attack-rewrite-");
      dirs.push(base);
      s = await startBobcat({
        runtime,
        base,
        files: FILES,
        config: config(port),
        env: backend === "node-compat" ? { BOBCAT_BACKEND: "node-compat" } : {},
      });
    });
    afterAll(async () => {
      await s?.stop();
    });

    test("a substitution from the query never reaches WEB-INF, a constrained path, the outside or another root", async () => {
      const cases: Array<[string, number[]]> = [
        ["WEB-INF/secret.txt", [404]],
        ["%57EB-INF/secret.txt", [404]],
        ["web-inf/secret.txt", [404]],
        ["x/../WEB-INF/secret.txt", [404]],
        ["./WEB-INF/secret.txt", [404]],
        ["WEB-INF;x=1/secret.txt", [404]],
        ["app/WEB-INF/secret.txt", [404]],
        ["app/x/../WEB-INF/secret.txt", [404]],
        ["secret/a.txt", [401]],
        ["secret;x/a.txt", [401]],
        ["%73ecret/a.txt", [401]],
        ["SECRET/a.txt", [404]],
        ["..%2fWEB-INF/secret.txt", [400]],
        ["WEB-INF%2fsecret.txt", [400]],
        ["WEB-INF%5csecret.txt", [400]],
        ["../outside.txt", [400]],
        ["%2e%2e/outside.txt", [400]],
        ["a%00b", [400]],
        // Decoded once, never twice: an encoded escape stays a literal name.
        ["%252e%252e/%252e%252e/outside.txt", [404]],
        ["..%252fWEB-INF/secret.txt", [404]],
        ["%2557EB-INF/secret.txt", [404]],
      ];
      for (const [q, want] of cases) {
        const a = await raw(port, `/q?${q}`);
        expect({ q, status: a.status }).toEqual({ q, status: want[0]! });
        for (const secret of SECRETS) expect(a.body).not.toContain(secret);
      }
      // A context's own rules stay inside the context: its WEB-INF and its parent are out of reach.
      for (const p of ["/app/in/WEB-INF/secret.txt", "/app/in/%57EB-INF/secret.txt"]) {
        const a = await raw(port, p);
        expect(a.status).toBe(404);
        expect(a.body).not.toContain("APP-WEB-INF-SECRET");
      }
      expect((await raw(port, "/app/in/../../outside.txt")).body).not.toContain("OUTSIDE-SECRET");
      expect((await raw(port, "/app/in/index.html")).body).toBe("app index");
    });

    test("rewritten into the manager: forwarded, cross-site and rebinding requests are still refused", async () => {
      expect((await raw(port, "/m/json/list")).status).toBe(200);
      const refused: Array<[Record<string, string>, number]> = [
        [{ "x-forwarded-for": "10.0.0.7" }, 403],
        [{ forwarded: "for=10.0.0.7" }, 403],
        [{ origin: "http://evil.example" }, 403],
        [{ "sec-fetch-site": "cross-site" }, 403],
        [{ host: "evil.example" }, 421],
      ];
      for (const [h, status] of refused) {
        const a = await raw(port, "/m/json/list", h);
        expect({ h, status: a.status }).toEqual({ h, status });
        expect(a.body).not.toContain("applications");
      }
    });

    test("a path-only redirect built from the request stays on this origin, with no header from the request", async () => {
      const origin = `http://127.0.0.1:${port}`;
      const cases: Array<[string, Record<string, string>]> = [
        ["/go?to=/evil.example/x", {}],
        ["/go?to=/%2fevil.example", {}],
        ["/go?to=/\\evil.example", {}],
        ["/go?to=\\\\evil.example", {}],
        ["/gone?to=%2f%2fevil.example", {}],
        ["/gone?to=%2f%5cevil.example", {}],
        ["/gone?to=%5c%5cevil.example", {}],
        ["/gone?to=%5c/evil.example", {}],
        ["/hdr", { "x-to": "/evil.example" }],
        ["/hdr", { "x-to": "\\evil.example" }],
        ["/strip//evil.example/", {}],
      ];
      for (const [target, h] of cases) {
        const a = await raw(port, target, h);
        const location = header(a, "location");
        if (a.status === 400) continue;
        expect({ target, status: a.status }).toEqual({ target, status: target.startsWith("/strip") ? 301 : 302 });
        expect(location.length).toBe(1);
        // As a browser resolves it against the page it came from.
        expect({ target, origin: new URL(location[0]!, origin + "/").origin }).toEqual({ target, origin });
      }
      // A CR LF decoded by NE never becomes a header line.
      for (const t of ["/gone?to=/x%0d%0aSet-Cookie:%20evil=1", "/gone?to=/x%0aX-Evil:%201", "/gone?to=/x%09/y"]) {
        const a = await raw(port, t);
        expect(a.status).toBe(400);
        expect(a.headers.join("\n").toLowerCase()).not.toMatch(/^(set-cookie: evil|x-evil)/m);
      }
      // What should work still does.
      const ok = await raw(port, "/go?to=index.html");
      expect(header(ok, "location")).toEqual(["/index.html?to=index.html"]);
      const back = await raw(port, "/app/back?index.html");
      expect(header(back, "location")[0]).toMatch(/^\/app\/index\.html/);
      expect(new URL(header(await raw(port, "/app/back?/evil.example"), "location")[0]!, origin + "/").origin).toBe(
        origin,
      );
    });

    test("a cookie value from the request cannot add attributes or break the header", async () => {
      const good = await raw(port, "/lang?lang=en");
      expect(good.status).toBe(200);
      expect(header(good, "set-cookie")[0]).toStartWith("lang=en; Domain=localhost; Max-Age=86400");
      const attacks: Array<[string, Record<string, string>]> = [
        ["/lang?lang=en;Domain=127.0.0.1;SameSite=None", {}],
        ["/ref", { "x-ref": "a; Domain=evil.example; Max-Age=99999999; Path=/" }],
        ["/ref", { "x-ref": "a, b=c" }],
        ["/pc/a%0d%0aSet-Cookie:%20evil=1", {}],
        ["/pc/a%20b", {}],
      ];
      for (const [target, h] of attacks) {
        const a = await raw(port, target, h);
        expect({ target, status: a.status }).toEqual({ target, status: 400 });
        expect(header(a, "set-cookie")).toEqual([]);
      }
      // The query is taken as sent: still encoded, it is one opaque value.
      expect(header(await raw(port, "/lang?lang=en%3b%20Max-Age=9"), "set-cookie")[0]).toStartWith(
        "lang=en%3b%20Max-Age=9; Domain=localhost",
      );
      // A ";" of the path reaches the rules re-encoded (%3b): part of the value, not an attribute.
      expect(header(await raw(port, "/pc/a%3bDomain=evil.example"), "set-cookie")).toEqual([
        "p=a%3bDomain=evil.example",
      ]);
      expect(s.output()).not.toContain("TypeError");
    });

    test("an N rule fed a path of thousands of '_' is refused after a bounded amount of work", async () => {
      // The rule does its job on an ordinary path...
      const ok = await raw(port, "/u/a_b_c.txt");
      expect([ok.status, ok.body]).toEqual([200, "dashed"]);
      // ...but 3,000 "_" would be 3,000 rounds over a 3 kB URL: refused, not served.
      const long = await raw(port, `/u/a${"_".repeat(3000)}b`);
      expect(long.status).toBe(500);
      expect(s.output()).toContain("more than the 1048576 characters of rewriting a request may cost");
      // The server is still there for everyone else.
      expect((await raw(port, "/index.html")).body).toBe("index");
    });

    test("a path far longer than a request line may be is refused before any rule sees it", async () => {
      const a = await raw(port, `/u/${"_".repeat(200_000)}`);
      expect([400, 413, 414, 431, 0]).toContain(a.status);
      expect(a.status).not.toBe(500);
      expect((await raw(port, "/index.html")).body).toBe("index");
    });
  });
}

test("curl --path-as-is: the redirect of //host/ stays on this origin (Bun native)", async () => {
  const port = await freePort();
  const base = tempDir("bobcat-attack-rewrite-");
  dirs.push(base);
  const s = await startBobcat({ runtime: "bun", base, files: FILES, config: config(port) });
  try {
    const r = await run([
      "curl",
      "-s",
      "--path-as-is",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{redirect_url}",
      `http://127.0.0.1:${port}/go?to=//evil.example/`,
    ]);
    const [code, url] = r.stdout.split(" ");
    expect(code).toBe("302");
    expect(new URL(url!).host).toBe(`127.0.0.1:${port}`);
  } finally {
    await s.stop();
  }
});
