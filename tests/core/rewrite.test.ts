/**
 * RewriteValve semantics, case by case from Tomcat's TestRewriteValve (the same rules, requests
 * and expected request URI / query string / attribute), through the engine: a ROOT context whose
 * handler reports what it was asked for (Tomcat's SnoopServlet), with the valve on the context or
 * the host. Redirects are followed once, as the Tomcat tests' client does. Where bobcat answers
 * differently on purpose (an encoded "/" produced by a rewrite), the test says so.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigText } from "../../src/config/load.ts";
import type { BobcatContext } from "../../src/core/context.ts";
import { Engine } from "../../src/core/engine.ts";
import { parseRewriteConfig, tokenize } from "../../src/core/rewrite.ts";
import { SERVER_PLATFORM } from "../../src/runtime/server-platform.ts";
import { BobcatError } from "../../src/util/errors.ts";
import { cleanup, tempDir } from "../helpers/bobcat.ts";
import { startedEngine } from "../helpers/engine.ts";

const http = { name: "http", port: 8080, scheme: "http", secure: false, redirectPort: 8443 };

const handlers: Record<string, unknown> = {
  "app:snoop": {
    fetch: (req: Request, ctx: BobcatContext) => {
      const url = new URL(req.url);
      return Response.json({
        uri: ctx.requestURI,
        path: url.pathname,
        query: url.search === "" ? null : url.search.slice(1),
        attr: ctx.attributes.get("X-Test") ?? null,
      });
    },
  },
};

async function engineFor(rules: string, level: "context" | "host" = "context", extra = ""): Promise<Engine> {
  const valve = `[{ className: org.apache.catalina.valves.rewrite.RewriteValve, configuration: ${
    JSON.stringify(rules)
  } }]`;
  const config = loadConfigText(
    "/c/server.yaml",
    `
server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            ${level === "host" ? `valves: ${valve}` : ""}
            contexts:
              - path: ""
                handler: app:snoop
                ${level === "context" ? `valves: ${valve}` : ""}
${extra}
`,
    { env: {} },
  );
  const engine = new Engine(config.server.services[0]!, {
    strictServletCompliance: false,
    baseDir: "/c",
    platform: SERVER_PLATFORM,
    handlers,
  });
  await engine.start();
  return engine;
}

async function get(engine: Engine, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return await engine.handle(new Request(`http://localhost:8080${path}`, { headers }), http, {
    remoteAddr: "127.0.0.1",
    remotePort: 40000,
  });
}

interface Snoop {
  status: number;
  uri?: string;
  path?: string;
  query?: string | null;
  attr?: string | null;
}

/** Tomcat's doTestRewrite: the request as the application sees it, after following one redirect. */
async function rewrite(rules: string, path: string, level: "context" | "host" = "context"): Promise<Snoop> {
  const engine = await engineFor(rules, level);
  try {
    let res = await get(engine, path);
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get("location")!;
      res = await get(engine, loc.replace(/^http:\/\/[^/]+/, ""));
    }
    if (res.status !== 200) return { status: res.status };
    return { status: 200, ...(await res.json()) };
  } finally {
    await engine.stop();
  }
}

const cases: Array<[string, string, string, string | null, string?]> = [
  // [rules, request, expected URI, expected query, expected X-Test attribute]
  ["", "/a/%255A", "/a/%255A", null],
  ["RewriteRule ^(.*) /a/\\%5A", "/", "/a/%5A", null],
  ["RewriteRule ^(.*) $1", "/a/%255A", "/a/%255A", null],
  ["RewriteRule ^/b(.*) /a$1", "/b/%255A", "/a/%255A", null],
  ["RewriteRule ^/b/(.*) /b/../a/$1", "/b/%255A", "/b/../a/%255A", null],
  ["RewriteRule ^/a(.*) /b$1 [C]\nRewriteRule ^/b(.*) /c$1", "/a/x", "/c/x", null],
  ["RewriteRule ^/never(.*) /c$1 [C]\nRewriteRule ^/c(.*) /W$1", "/c/x", "/c/x", null],
  ["RewriteRule ^/a(.*) /c$1 [C]\nRewriteRule ^/nomatch(.*) /x$1 [C]\nRewriteRule ^/c(.*) /W$1", "/a/y", "/c/y", null],
  ["RewriteMap lc int:tolower\nRewriteRule ^(.*) ${lc:$1}", "/C/AaA", "/c/aaa", null],
  ["RewriteMap lc int:toupper\nRewriteRule ^(.*) ${lc:$1}", "/w/aAa", "/W/AAA", null],
  ["RewriteRule /b/(.*).html$ /c%{SERVLET_PATH}", "/b/x.html", "/c/b/x.html", null],
  [
    "RewriteRule ^/b/(.*)$ /c/?param=$1 [L]",
    "/b/%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
    "/c/",
    "param=%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
  ],
  [
    "RewriteRule ^/b/(.*) /c/$1",
    "/b/%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
    "/c/%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
    null,
  ],
  [
    "RewriteRule ^/b/(.*) /c/$1 [R]",
    "/b/%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
    "/c/%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
    null,
  ],
  ["RewriteRule ^/b/(.*) /c/$1?je=2", "/b/id=1", "/c/id=1", "je=2"],
  ["RewriteRule ^/b/(.*) /c/$1?je=2 [QSA]", "/b/id=1", "/c/id=1", "je=2"],
  ["RewriteRule ^/b/(.*) /c/$1?je=2 [QSD]", "/b/id=1", "/c/id=1", "je=2"],
  ["RewriteRule ^/b/(.*) /c?$1", "/b/id=1", "/c", "id=1"],
  ["RewriteRule ^/b/(.*) /c/$1", "/b/d?id=1", "/c/d", "id=1"],
  ["RewriteRule ^/b/(.*) /c/$1 [QSA]", "/b/d?id=1", "/c/d", "id=1"],
  ["RewriteRule ^/b/(.*) /c/$1 [QSD]", "/b/d?id=1", "/c/d", null],
  ["RewriteRule ^/b/(.*) /c/$1 [QSA,QSD]", "/b/d?id=1", "/c/d", null],
  ["RewriteRule ^/b/(.*) /c/$1?id=1", "/b/d?je=2", "/c/d", "id=1"],
  ["RewriteRule ^/b/(.*) /c/$1?id=1 [QSA]", "/b/d?je=2", "/c/d", "id=1&je=2"],
  ["RewriteRule ^/b/(.*) /c/$1?id=1 [QSD]", "/b/d?je=2", "/c/d", "id=1"],
  ["RewriteRule ^/b/(.*) /c/$1?id=1 [QSA,QSD]", "/b/d?je=2", "/c/d", "id=1"],
  ["RewriteCond %{QUERY_STRING} a=(.*)\nRewriteRule ^/b.*$ /%1 [QSD]", "/b?a=c", "/c", null],
  ["RewriteRule ^/b/(.*) /c/$1?", "/b/d?id=1", "/c/d", null],
  [
    "RewriteRule ^/b/(.*) /c?$1",
    "/b/id=%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
    "/c",
    "id=%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
  ],
  [
    "RewriteRule ^/b/(.*)/(.*) /c/$1?$2",
    "/b/%E5%9C%A8%E7%BA%BF/id=%E6%B5%8B%E8%AF%95",
    "/c/%E5%9C%A8%E7%BA%BF",
    "id=%E6%B5%8B%E8%AF%95",
  ],
  [
    "RewriteRule ^/b/(.*) /c?$1 [R]",
    "/b/id=%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
    "/c",
    "id=%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
  ],
  [
    "RewriteRule ^/b/(.*)/id=(.*) /c?filename=$1&id=$2 [B]",
    "/b/file01/id=%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
    "/c",
    "filename=file01&id=%E5%9C%A8%E7%BA%BF%E6%B5%8B%E8%AF%95",
  ],
  ["RewriteRule ^/b/(.*)/(.*) /c/\u00A1$1?$2", "/b/%C2%A1/id=%C2%A1?di=%C2%AE", "/c/%C2%A1%C2%A1", "id=%C2%A1"],
  ["RewriteRule ^/b/(.*)/(.*) /c/\u00A1$1?$2 [R]", "/b/%C2%A1/id=%C2%A1?di=%C2%AE", "/c/%C2%A1%C2%A1", "id=%C2%A1"],
  [
    "RewriteRule ^/b/(.*)/(.*) /c/\u00A1$1?$2 [B,QSA]",
    "/b/%C2%A1/id=%C2%A1?di=%C2%AE",
    "/c/%C2%A1%C2%A1",
    "id=%C2%A1&di=%C2%AE",
  ],
  [
    "RewriteRule ^/b/(.*)/(.*) /c/\u00A1$1?$2 [R,QSA]",
    "/b/%C2%A1/id=%C2%A1?di=%C2%AE",
    "/c/%C2%A1%C2%A1",
    "id=%C2%A1&di=%C2%AE",
  ],
  ["RewriteRule ^/b/(.*) /c/\u00A1$1", "/b/%C2%A1?id=%C2%A1", "/c/%C2%A1%C2%A1", "id=%C2%A1"],
  ["RewriteRule ^/b/(.*) /c/\u00A1$1 [R]", "/b/%C2%A1?id=%C2%A1", "/c/%C2%A1%C2%A1", "id=%C2%A1"],
  ["RewriteRule ^/b/(.*) /c/\u00A1$1", "/b/%C2%A1", "/c/%C2%A1%C2%A1", null],
  ["RewriteCond %{QUERY_STRING} a=([a-z]*) [NC]\nRewriteRule .* - [E=X-Test:%1]", "/c?a=aAa", "/c", "a=aAa", "aAa"],
  ["RewriteRule ^/b(.*) http://%{HTTP_HOST}:%{SERVER_PORT}/a$1 [R]", "/b/%255A", "/a/%255A", null],
  ["RewriteRule ^/b/(rest)?$ /c/$1", "/b/rest", "/c/rest", null],
  ["RewriteRule ^/b/(rest)?$ /c/$1", "/b/", "/c/", null],
  ["RewriteRule !^/b/.* /c/", "/b", "/c/", null],
  ["RewriteRule !^/b/.* /c/", "/d/e/f", "/c/", null],
  ["RewriteRule !^/c/.* /b/", "/c/", "/c/", null],
  ["RewriteRule /dummy /anotherDummy [L]\nRewriteRule ^/a /c [L]", "/a", "/c", null],
  ["RewriteRule /dummy /a\nRewriteRule /a /c [L]", "/dummy", "/c", null],
  // A pattern matches the whole URL (Java's Matcher.matches), not a part of it.
  ["RewriteRule /b /c", "/b/x", "/b/x", null],
  [
    "RewriteCond %{HTTP_HOST} localhost [OR]\nRewriteCond %{HTTP_HOST} 127.0.0.1\nRewriteCond %{REQUEST_URI} ^/admin\nRewriteRule ^(.*) /blocked$1 [R]",
    "/other",
    "/other",
    null,
  ],
  // S=n skips rules; L stops; lexicographic conditions.
  ["RewriteRule ^/a$ /b [S=1]\nRewriteRule ^/b$ /never\nRewriteRule ^/b$ /c", "/a", "/c", null],
  ["RewriteCond %{QUERY_STRING} >m\nRewriteRule ^/x$ /late", "/x?z", "/late", "z"],
  ["RewriteCond %{QUERY_STRING} !<m\nRewriteRule ^/x$ /late", "/x?a", "/x", "a"],
  ["RewriteCond %{QUERY_STRING} =a=1\nRewriteRule ^/x$ /eq", "/x?a=1", "/eq", "a=1"],
];

describe("RewriteValve: Tomcat's TestRewriteValve cases", () => {
  for (const [rules, request, uri, query, attr] of cases) {
    test(`${JSON.stringify(rules)} ${request}`, async () => {
      const got = await rewrite(rules, request);
      expect(got.status).toBe(200);
      expect(got.uri).toBe(uri);
      expect(got.query ?? null).toBe(query);
      if (attr !== undefined) expect(got.attr).toBe(attr);
    });
  }

  test("the same rules on the host see the whole path", async () => {
    for (const seg of ["aaa", "a%3fa", "%3faa", "aa%3f", "a%3ba", "%3baa", "aa%3b", "a+b"]) {
      const got = await rewrite("RewriteRule ^/source/(.*)$ /target/$1", `/source/${seg}`, "host");
      expect(got.uri).toBe(`/target/${seg}`);
      expect(got.path).toBe(`/target/${seg.replace("%3f", "%3F").replace("%3b", "%3B")}`);
      expect(got.query).toBeNull();
    }
    const q = await rewrite("RewriteRule ^/source/(.*)$ /target/$1", "/source/a%3fa?b=c", "host");
    expect([q.uri, q.query]).toEqual(["/target/a%3fa", "b=c"]);
  });
});

describe("RewriteValve: responses", () => {
  test("redirect codes, F, G and Location", async () => {
    const engine = await engineFor(
      [
        "RewriteRule ^/from/a$ /to/b [R]",
        "RewriteRule ^/from/t$ /to/b [R=temp]",
        "RewriteRule ^/from/p$ /to/b [R=permanent]",
        "RewriteRule ^/from/s$ /to/b [R=seeother]",
        "RewriteRule ^/from/7$ /to/b [R=307]",
        "RewriteRule ^/forbidden$ - [F]",
        "RewriteRule ^/gone$ - [G]",
        "RewriteRule ^/ne$ /x?a=\\%2Fb [R,NE]",
        "RewriteRule ^/rel$ other [R]",
        "RewriteRule ^/uni/(.*)$ /u/\u00A1$1 [R,NE]",
      ].join("\n"),
    );
    try {
      for (
        const [path, status] of [["/from/a", 302], ["/from/t", 302], ["/from/p", 301], ["/from/s", 303], [
          "/from/7",
          307,
        ]] as const
      ) {
        const res = await get(engine, path);
        expect(res.status).toBe(status);
        expect(res.headers.get("location")).toBe("/to/b");
      }
      expect((await get(engine, "/from/a?x=1")).headers.get("location")).toBe("/to/b?x=1");
      expect((await get(engine, "/forbidden")).status).toBe(403);
      expect((await get(engine, "/gone")).status).toBe(410);
      expect((await get(engine, "/ne")).headers.get("location")).toBe("/x?a=/b");
      expect((await get(engine, "/rel")).headers.get("location")).toBe("/other");
      // Tomcat: an unescaped non-ASCII Location is a 400.
      expect((await get(engine, "/uni/x")).status).toBe(400);
    } finally {
      await engine.stop();
    }
  });

  test("N runs the rules again; a set that never ends answers 500 instead of looping", async () => {
    const engine = await engineFor("RewriteRule ^/x(.*)$ /$1 [N]\nRewriteRule ^/loop(.*)$ /loop/$1 [N]");
    try {
      const ok = await get(engine, "/xxxab");
      expect(await ok.json()).toMatchObject({ uri: "/ab" });
      expect((await get(engine, "/loop")).status).toBe(500);
    } finally {
      await engine.stop();
    }
  });

  test("CO= sets a cookie and T= a type where the response has none", async () => {
    const engine = await engineFor(
      "RewriteRule ^/c$ - [CO=seen:yes:.example.com:60:/:true:true]\nRewriteRule ^/d$ /c [CO=k:%{REQUEST_METHOD}]",
    );
    try {
      const res = await get(engine, "/c");
      expect(res.status).toBe(200);
      const cookie = res.headers.get("set-cookie")!;
      expect(cookie).toMatch(/^seen=yes; Domain=\.example\.com; Max-Age=60; Expires=.+; Path=\/; Secure; HttpOnly$/);
      expect((await get(engine, "/d")).headers.get("set-cookie")).toBe("k=GET");
    } finally {
      await engine.stop();
    }
  });
});

describe("RewriteValve: a rewrite is a request like any other", () => {
  const base = tempDir("bobcat-rewrite-unit-");
  const docBase = join(base, "webapps", "ROOT");
  mkdirSync(join(docBase, "WEB-INF"), { recursive: true });
  mkdirSync(join(docBase, "admin"), { recursive: true });
  mkdirSync(join(docBase, "dir"), { recursive: true });
  writeFileSync(join(docBase, "WEB-INF", "web.xml"), "<web-app/>");
  writeFileSync(join(docBase, "admin", "secret.txt"), "secret");
  writeFileSync(join(docBase, "public.txt"), "public");
  writeFileSync(join(docBase, "index.html"), "home");
  writeFileSync(join(base, "outside.txt"), "outside");

  async function fileEngine(rules: string): Promise<Engine> {
    return startedEngine(
      base,
      `
server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            appBase: webapps
            contexts:
              - path: ""
                docBase: ROOT
                valves: [{ className: RewriteValve, configuration: ${JSON.stringify(rules)} }]
                loginConfig: { authMethod: BASIC, realmName: r }
                securityConstraints: [{ urlPatterns: ["/admin/*"], authRoles: [boss] }]
`,
    );
  }

  test("constraints, WEB-INF and docBase apply to the rewritten path", async () => {
    const engine = await fileEngine(
      [
        "RewriteRule ^/open/(.*)$ /admin/$1",
        "RewriteRule ^/conf/(.*)$ /WEB-INF/$1",
        "RewriteRule ^/up/(.*)$ /../$1",
        "RewriteRule ^/up2/(.*)$ /x/../../$1",
        "RewriteRule ^/enc/(.*)$ /a\\%2Fb/$1",
        "RewriteRule ^/bs/(.*)$ /a\\%5Cb/$1",
        "RewriteRule ^/pub$ /public.txt",
      ].join("\n"),
    );
    try {
      const open = await get(engine, "/open/secret.txt");
      expect(open.status).toBe(401);
      expect(await open.text()).not.toContain("secret");
      const conf = await get(engine, "/conf/web.xml");
      expect(conf.status).toBe(404);
      for (const p of ["/up/outside.txt", "/up2/outside.txt", "/enc/x", "/bs/x"]) {
        const res = await get(engine, p);
        expect(res.status).toBe(400);
        expect(await res.text()).not.toContain("outside");
      }
      const pub = await get(engine, "/pub");
      expect(pub.status).toBe(200);
      expect(await pub.text()).toBe("public");
    } finally {
      await engine.stop();
    }
  });

  test("-f, -d and !-f test the docBase, never outside it", async () => {
    const engine = await fileEngine(
      [
        "RewriteCond %{REQUEST_FILENAME} !-f",
        "RewriteCond %{REQUEST_FILENAME} !-d",
        "RewriteRule ^/(.*)$ /index.html [L]",
      ].join("\n"),
    );
    try {
      expect(await (await get(engine, "/public.txt")).text()).toBe("public");
      expect(await (await get(engine, "/no/such/route")).text()).toBe("home");
      // A directory is left alone (here: it redirects to its slash form or lists nothing).
      expect((await get(engine, "/dir")).status).not.toBe(200);
    } finally {
      await engine.stop();
    }
  });

  test("a context's rewrite stays below its context path", () => {
    // Covered end to end in tests/e2e/rewrite.test.ts; here only the parser's view.
    expect(tokenize('RewriteRule "^/a b$" /c [L] # comment')).toEqual(["RewriteRule", "^/a b$", "/c", "[L]"]);
  });

  afterAll(() => cleanup(base));
});

describe("RewriteValve: configuration errors name the line and the fix", () => {
  const bad: Array<[string, RegExp]> = [
    ["RewriteEngine On", /RewriteEngine is an Apache httpd directive/],
    ["RewriteRule ^/a /b [P]", /cannot proxy/],
    ["RewriteRule ^/a /b [H]", /not supported/],
    ["RewriteRule ^/a /b [XYZ]", /flag "XYZ"/],
    ["RewriteRule ^/a /b [R=200]", /300–399/],
    ["RewriteRule ^/(a /b", /not a valid regular expression/],
    ["RewriteRule ^/a /b%xc", /not followed by a digit/],
    ["RewriteRule ^/a /b%20c", /%2 .*no RewriteCond/],
    ["RewriteRule ^/(a) /b$2", /\$2, but the pattern has 1 group/],
    ["RewriteRule ^/a %{NO_SUCH_VAR}", /not a server variable/],
    ["RewriteCond %{HTTP:} .+\nRewriteRule .* - [F]", /is not a header name/],
    ["RewriteCond %{HTTPS} on [XX]\nRewriteRule ^/a /b", /flag "XX"/],
    ["RewriteCond %{HTTPS} -x\nRewriteRule ^/a /b", /test -x/],
    ["RewriteRule ^/a /b\nRewriteCond %{HTTPS} on", /apply to no RewriteRule/],
    ["RewriteMap m txt:/etc/map.txt", /int: maps/],
    ["RewriteRule (?i)^/a /b", /inline flags/],
    ["rewriterule ^/a /b", /unknown directive/],
  ];
  for (const [text, message] of bad) {
    test(JSON.stringify(text), () => {
      let err: unknown;
      try {
        parseRewriteConfig("# first line\n" + text, { file: "/x/rewrite.config" });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BobcatError);
      const e = err as BobcatError;
      expect(e.message).toMatch(message);
      expect(e.where.file).toBe("/x/rewrite.config");
      expect(e.where.line).toBeGreaterThanOrEqual(2);
      expect(e.fix).toBeTruthy();
    });
  }

  test("a RewriteValve whose file is missing stops start-up, naming the file", async () => {
    const base = tempDir("bobcat-rewrite-missing-");
    try {
      const config = loadConfigText(
        join(base, "server.yaml"),
        `
server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        name: Catalina
        defaultHost: localhost
        hosts:
          - name: localhost
            valves: [{ className: RewriteValve }]
            contexts: [{ path: "", handler: app:snoop }]
`,
        { env: {} },
      );
      const engine = new Engine(config.server.services[0]!, {
        strictServletCompliance: false,
        baseDir: base,
        platform: SERVER_PLATFORM,
        handlers,
      });
      await expect(engine.start()).rejects.toThrow(/conf\/Catalina\/localhost\/rewrite\.config/);
    } finally {
      cleanup(base);
    }
  });
});

describe("RewriteValve and the synchronous fast path (Engine.handleSync)", () => {
  const sync = async (engine: Engine, path: string, host = "localhost:8080"): Promise<Response> =>
    await engine.handleSync(new Request(`http://${host}${path}`, { headers: { host } }), http, {
      remoteAddr: "127.0.0.1",
      remotePort: 40000,
    });

  async function plainEngine(
    hostValves: string,
    contexts = '[{ path: "", handler: app:snoop }, { path: /sub, handler: app:snoop }]',
  ): Promise<Engine> {
    return startedEngine(
      "/c",
      `
server:
  services:
    - connectors: [{ port: 8080 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            valves: ${hostValves}
            contexts: ${contexts}
`,
      { handlers },
    );
  }

  test("a handler context without valves is direct; a host's or context's RewriteValve makes it not", async () => {
    const plain = await plainEngine("[]");
    const host = await engineFor("RewriteRule ^/old/(.*)$ /new/$1", "host");
    const context = await engineFor("RewriteRule ^/old/(.*)$ /new/$1", "context");
    try {
      expect(plain.contexts.map((c) => c.direct)).toEqual([true, true]);
      expect(host.contexts.map((c) => c.direct)).toEqual([false]);
      expect(context.contexts.map((c) => c.direct)).toEqual([false]);
      for (const engine of [host, context]) {
        const res = await sync(engine, "/old/x?q=1");
        expect(res.status).toBe(200);
        const got = await res.json();
        expect([got.uri, got.path, got.query]).toEqual(["/new/x", "/new/x", "q=1"]);
      }
      const refused = await engineFor("RewriteRule ^/blocked$ - [F]", "host");
      try {
        expect((await sync(refused, "/blocked")).status).toBe(403);
        expect((await sync(refused, "/open")).status).toBe(200);
      } finally {
        await refused.stop();
      }
    } finally {
      await Promise.all([plain.stop(), host.stop(), context.stop()]);
    }
  });

  test("the host's ErrorReportValve renders the boundary's 400 and the no-context 404 on the fast path too", async () => {
    const onlySub = "[{ path: /sub, handler: app:snoop }]";
    const engine = await plainEngine(
      "[{ className: ErrorReportValve, showReport: false, showServerInfo: false }]",
      onlySub,
    );
    try {
      // The valve is also the contexts' ErrorReportValve: they are not direct; the boundary answers either way.
      expect(engine.contexts.map((c) => c.direct)).toEqual([false]);
      const plain = await plainEngine("[]", onlySub);
      try {
        expect(plain.contexts.map((c) => c.direct)).toEqual([true]);
        for (const e of [engine, plain]) {
          const bad = await sync(e, "/a%2Fb");
          expect(bad.status).toBe(400);
          // showReport false: the page leaves the message out.
          expect((await bad.text()).includes("Bad Request:")).toBe(e === plain);
          const missing = await sync(e, "/nothing");
          expect(missing.status).toBe(404);
          expect((await missing.text()).includes("The requested resource")).toBe(e === plain);
          expect((await sync(e, "/sub/x")).status).toBe(200);
        }
      } finally {
        await plain.stop();
      }
    } finally {
      await engine.stop();
    }
  });
});
