import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contentTypeFor, serveStatic } from "../../src/core/static/index.ts";
import type { StaticOptions } from "../../src/core/static/index.ts";
import { normalizePath } from "../../src/core/request-target.ts";

const HELLO = "Hello, world!\n"; // 14 bytes
const MIB = 1024 * 1024;
const UNICODE_NAME = "日本語 café.txt";

let docBase: string;
let outside: string;
let opts: StaticOptions;

/** Byte i of big.bin is i % 251, so any slice can be checked without keeping a copy. */
function pattern(start: number, length: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (start + i) % 251);
}

beforeAll(async () => {
  docBase = await mkdtemp(join(tmpdir(), "bobcat-static-"));
  outside = await mkdtemp(join(tmpdir(), "bobcat-outside-"));
  await writeFile(join(outside, "secret.txt"), "top secret\n");

  await writeFile(join(docBase, "hello.txt"), HELLO);
  await writeFile(join(docBase, "page.html"), "<h1>page</h1>\n");
  await writeFile(join(docBase, "empty.txt"), "");
  await writeFile(join(docBase, "a b.txt"), "space\n");
  await writeFile(join(docBase, "a%20b.txt"), "literal percent\n");
  await writeFile(join(docBase, UNICODE_NAME), "unicode\n");
  await writeFile(join(docBase, "big.bin"), pattern(0, MIB));
  await writeFile(join(docBase, "data.unknownext"), "?");

  await mkdir(join(docBase, "sub"));
  await writeFile(join(docBase, "sub", "index.html"), "<p>sub index</p>\n");
  await mkdir(join(docBase, "htmonly"));
  await writeFile(join(docBase, "htmonly", "index.htm"), "<p>htm</p>\n");
  await mkdir(join(docBase, "my dir"));
  await writeFile(join(docBase, "my dir", "index.html"), "<p>my dir</p>\n");

  await mkdir(join(docBase, "noindex"));
  await writeFile(join(docBase, "noindex", "one.txt"), "1".repeat(2048));
  await writeFile(join(docBase, "noindex", `<b>&"q".txt`), "x");
  await writeFile(join(docBase, "noindex", "hash#query?.txt"), "x");
  await mkdir(join(docBase, "noindex", "child"));
  await mkdir(join(docBase, "noindex", "WEB-INF"));
  await symlink(join(outside, "secret.txt"), join(docBase, "noindex", "leak.txt"));
  await symlink(join(docBase, "nowhere"), join(docBase, "noindex", "dangling.txt"));

  await mkdir(join(docBase, "WEB-INF"));
  await writeFile(join(docBase, "WEB-INF", "web.xml"), "<web-app/>");
  await mkdir(join(docBase, "META-INF"));
  await writeFile(join(docBase, "META-INF", "context.xml"), "<Context/>");

  await symlink(join(outside, "secret.txt"), join(docBase, "link-out.txt"));
  await symlink(outside, join(docBase, "link-out-dir"));
  await symlink(join(docBase, "hello.txt"), join(docBase, "link-in.html"));
  await symlink(join(docBase, "sub"), join(docBase, "link-in-dir"));

  opts = { docBase, contextPath: "/app" };
});

afterAll(async () => {
  await rm(docBase, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** `relPath` as a client sends it; serveStatic gets it as the engine hands it over, normalised once by the boundary. */
function get(
  relPath: string,
  headers: Record<string, string> = {},
  method = "GET",
  options: Partial<StaticOptions> = {},
) {
  const normalized = relPath === "" ? { ok: true as const, path: "" } : normalizePath(relPath);
  if (!normalized.ok) throw new Error(`the request boundary refuses ${relPath}: ${normalized.reason}`);
  return serveStatic(new Request("http://x/app" + relPath, { method, headers }), normalized.path, {
    ...opts,
    ...options,
  });
}

/** serveStatic with a non-null answer, for tests where a file is expected. */
async function must(
  relPath: string,
  headers: Record<string, string> = {},
  method = "GET",
  options: Partial<StaticOptions> = {},
) {
  const res = await get(relPath, headers, method, options);
  if (res === null) throw new Error(`expected a response for ${relPath}`);
  return res;
}

async function helloValidators() {
  const stats = await stat(join(docBase, "hello.txt"));
  const ms = Math.trunc(stats.mtimeMs);
  return { etag: `W/"14-${ms}"`, lastModified: new Date(ms).toUTCString(), ms };
}

describe("contentTypeFor", () => {
  test("known types, charset on text, case-insensitive extension", () => {
    expect(contentTypeFor("/a/index.html")).toBe("text/html; charset=utf-8");
    expect(contentTypeFor("app.mjs")).toBe("text/javascript; charset=utf-8");
    expect(contentTypeFor("data.json")).toBe("application/json; charset=utf-8");
    expect(contentTypeFor("icon.svg")).toBe("image/svg+xml; charset=utf-8");
    expect(contentTypeFor("PHOTO.JPG")).toBe("image/jpeg");
    expect(contentTypeFor("font.woff2")).toBe("font/woff2");
    expect(contentTypeFor("mod.wasm")).toBe("application/wasm");
    expect(contentTypeFor("archive.tar.gz")).toBe("application/gzip");
  });

  test("unknown, missing or hidden-file extensions fall back to octet-stream", () => {
    expect(contentTypeFor("file.unknownext")).toBe("application/octet-stream");
    expect(contentTypeFor("Makefile")).toBe("application/octet-stream");
    expect(contentTypeFor(".htaccess")).toBe("application/octet-stream");
    expect(contentTypeFor("dir.html/README")).toBe("application/octet-stream");
    expect(contentTypeFor("x.constructor")).toBe("application/octet-stream");
    expect(contentTypeFor("x.__proto__")).toBe("application/octet-stream");
  });
});

describe("files", () => {
  test("GET serves the file with type, length and validators", async () => {
    const res = await must("/hello.txt");
    const { etag, lastModified } = await helloValidators();
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(HELLO);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("content-length")).toBe("14");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("etag")).toBe(etag);
    expect(res.headers.get("last-modified")).toBe(lastModified);
  });

  test("HEAD has the same headers and no body", async () => {
    const [getRes, headRes] = await Promise.all([must("/hello.txt"), must("/hello.txt", {}, "HEAD")]);
    expect(headRes.status).toBe(200);
    expect(headRes.body).toBeNull();
    for (const name of ["content-type", "content-length", "etag", "last-modified", "accept-ranges"]) {
      expect(headRes.headers.get(name)).toBe(getRes.headers.get(name));
    }
  });

  test("empty file is 200 with Content-Length 0", async () => {
    const res = await must("/empty.txt");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("0");
    expect(await res.text()).toBe("");
  });

  test("unknown extension is application/octet-stream", async () => {
    expect((await must("/data.unknownext")).headers.get("content-type")).toBe("application/octet-stream");
  });

  test("missing file, and a file asked for as a directory, are null (404)", async () => {
    expect(await get("/nope.txt")).toBeNull();
    expect(await get("/sub/nope/deeper.txt")).toBeNull();
    expect(await get("/hello.txt/")).toBeNull();
    expect(await get("/hello.txt/x")).toBeNull();
  });

  test("percent-encoded names are decoded exactly once", async () => {
    expect(await (await must("/a%20b.txt")).text()).toBe("space\n");
    expect(await (await must("/a%2520b.txt")).text()).toBe("literal percent\n");
    const unicode = await must("/" + encodeURIComponent(UNICODE_NAME));
    expect(await unicode.text()).toBe("unicode\n");
    expect(unicode.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });

  test("dot segments that stay inside docBase are resolved", async () => {
    expect(await (await must("/sub/../hello.txt")).text()).toBe(HELLO);
    expect(await (await must("/./sub/%2e%2e/hello.txt")).text()).toBe(HELLO);
    expect(await (await must("//hello.txt")).text()).toBe(HELLO);
  });
});

describe("methods", () => {
  test("POST, PUT, DELETE, PATCH on a file are 405 with Allow", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const res = await must("/hello.txt", {}, method);
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    }
  });

  test("OPTIONS is 200 with Allow", async () => {
    const res = await must("/hello.txt", {}, "OPTIONS");
    expect(res.status).toBe(200);
    expect(res.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
  });

  test("POST on a directory is 405; on nothing it is null", async () => {
    expect((await must("/sub/", {}, "POST")).status).toBe(405);
    expect(await get("/nope.txt", {}, "POST")).toBeNull();
  });
});

describe("path safety", () => {
  const refused = [
    "/../etc/passwd",
    "/..",
    "/%2e%2e/",
    "/%2e%2e/etc/passwd",
    "/%2E%2E/%2E%2E/etc/passwd",
    "/sub/../../hello.txt",
    "/%2f",
    "/%2Fetc%2Fpasswd",
    "/sub%2findex.html",
    "/a%00b",
    "/hello.txt%00.html",
    "/a%5cb",
    "/..%5c..%5cetc%5cpasswd",
    "/a\\b",
    "/a\0b",
    "/%zz",
    "/%e2%82",
    "/%",
  ];
  // The request boundary refuses these (400) before any context or docBase sees them.
  for (const path of refused) {
    test(`refused before serveStatic: ${JSON.stringify(path)}`, () => {
      expect(normalizePath(path).ok).toBe(false);
      expect(() => get(path)).toThrow("the request boundary refuses");
    });
  }

  test("a path that is not normalised is a programming error, never served", async () => {
    for (
      const path of [
        "/../etc/passwd",
        "/sub/../hello.txt",
        "//hello.txt",
        "/./hello.txt",
        "/a\\b",
        "/a\0b",
        "hello.txt",
      ]
    ) {
      await expect(serveStatic(new Request("http://x/app/"), path, opts)).rejects.toThrow("is not normalised");
    }
  });

  test("an absolute-looking path stays below docBase", async () => {
    expect(await get("//etc/passwd")).toBeNull();
    expect(await get("///etc/hostname")).toBeNull();
  });

  test("symbolic links leaving docBase are not followed", async () => {
    expect(await get("/link-out.txt")).toBeNull();
    expect(await get("/link-out-dir/secret.txt")).toBeNull();
    expect(await get("/link-out-dir/")).toBeNull();
    expect(await get("/noindex/leak.txt")).toBeNull();
    expect(await get("/noindex/dangling.txt")).toBeNull();
  });

  test("symbolic links inside docBase are followed; the requested name picks the type", async () => {
    const res = await must("/link-in.html");
    expect(await res.text()).toBe(HELLO);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await (await must("/link-in-dir/")).text()).toBe("<p>sub index</p>\n");
  });

  test("WEB-INF and META-INF are hidden, whatever the case or spelling", async () => {
    for (
      const path of [
        "/WEB-INF/web.xml",
        "/web-inf/web.xml",
        "/%57EB-INF/web.xml",
        "/sub/../WEB-INF/web.xml",
        "/./WEB-INF/web.xml",
        "/WEB-INF",
        "/WEB-INF/",
        "/META-INF/context.xml",
        "/Meta-Inf/context.xml",
      ]
    ) {
      expect(await get(path, {}, "GET", { listings: true })).toBeNull();
    }
  });

  test("a FIFO is not opened (it would block) and counts as absent", async () => {
    const fifo = join(docBase, "pipe.txt");
    try {
      execFileSync("mkfifo", [fifo]);
    } catch {
      return; // no mkfifo on this system
    }
    try {
      expect(await get("/pipe.txt")).toBeNull();
    } finally {
      await rm(fifo);
    }
  });

  test("an unreadable file is 403 for GET and HEAD", async () => {
    const file = join(docBase, "locked.txt");
    await writeFile(file, "locked");
    await chmod(file, 0o000);
    try {
      if (process.getuid?.() !== 0) {
        expect((await must("/locked.txt")).status).toBe(403);
        expect((await must("/locked.txt", {}, "HEAD")).status).toBe(403);
        return;
      }
      // Root reads every file: ask again as nobody, in a process of its own.
      await chmod(docBase, 0o755);
      const script = `import { serveStatic } from ${
        JSON.stringify(join(import.meta.dir, "../../src/core/static/index.ts"))
      };
const o = { docBase: ${JSON.stringify(docBase)}, contextPath: "/app" };
const g = await serveStatic(new Request("http://x/app/locked.txt"), "/locked.txt", o);
const h = await serveStatic(new Request("http://x/app/locked.txt", { method: "HEAD" }), "/locked.txt", o);
console.log(g.status, h.status);`;
      const scriptFile = join(tmpdir(), `static-as-nobody-${process.pid}.ts`);
      await writeFile(scriptFile, script);
      await chmod(scriptFile, 0o644);
      try {
        const out = execFileSync("setpriv", [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          process.execPath,
          scriptFile,
        ], { encoding: "utf8", timeout: 20000, env: { ...process.env, HOME: tmpdir() } });
        expect(out.trim()).toBe("403 403");
      } finally {
        await rm(scriptFile, { force: true });
      }
    } finally {
      await rm(file);
    }
  });
});

describe("directories", () => {
  test("no trailing slash → 302 to the slash form, with context path and query", async () => {
    const res = await must("/sub", {}, "GET");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/app/sub/");

    const withQuery = await serveStatic(new Request("http://x/app/sub?x=1&y=%20"), "/sub", opts);
    expect(withQuery!.headers.get("location")).toBe("/app/sub/?x=1&y=%20");
  });

  test("context root without slash redirects to it; ROOT context has no prefix", async () => {
    expect((await must("")).headers.get("location")).toBe("/app/");
    expect((await must("/sub", {}, "GET", { contextPath: "" })).headers.get("location")).toBe("/sub/");
  });

  test("redirect Location is percent-encoded and never protocol-relative", async () => {
    expect((await must("/my%20dir")).headers.get("location")).toBe("/app/my%20dir/");
    const rootCtx = await must("//sub", {}, "GET", { contextPath: "" });
    expect(rootCtx.headers.get("location")).toBe("/sub/");
  });

  test("welcome files: index.html, then index.htm, or the configured list", async () => {
    const sub = await must("/sub/");
    expect(await sub.text()).toBe("<p>sub index</p>\n");
    expect(sub.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await (await must("/htmonly/")).text()).toBe("<p>htm</p>\n");
    expect(await (await must("/", {}, "GET", { welcomeFiles: ["hello.txt"] })).text()).toBe(HELLO);
    expect(await get("/sub/", {}, "GET", { welcomeFiles: ["missing.html"] })).toBeNull();
  });

  test("without a welcome file and with listings off (the default) → null", async () => {
    expect(await get("/noindex/")).toBeNull();
    expect(await get("/")).toBeNull();
  });

  test("listing: escaped names, encoded links, sizes, dates, parent link, hidden entries", async () => {
    const res = await must("/noindex/", {}, "GET", { listings: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await res.text();
    expect(Number(res.headers.get("content-length"))).toBe(new TextEncoder().encode(html).byteLength);

    expect(html).toContain("Directory Listing For [/noindex/]");
    expect(html).toContain(`<a href="/app/"><b>Up To [/]</b></a>`);
    expect(html).toContain(`<a href="/app/noindex/one.txt"><tt>one.txt</tt></a>`);
    expect(html).toContain("2.0 KiB");
    expect(html).toContain(`<a href="/app/noindex/child/"><tt>child/</tt></a>`);
    expect(html).toContain(`href="/app/noindex/%3Cb%3E%26%22q%22.txt"><tt>&lt;b&gt;&amp;&quot;q&quot;.txt</tt>`);
    expect(html).toContain(`href="/app/noindex/hash%23query%3F.txt"`);
    expect(html).not.toContain("<b>&");
    const oneMtime = (await stat(join(docBase, "noindex", "one.txt"))).mtime;
    expect(html).toContain(new Date(Math.trunc(oneMtime.getTime())).toUTCString());

    expect(html).not.toContain("WEB-INF");
    expect(html).not.toContain("leak.txt");
    expect(html).not.toContain("dangling.txt");
    // Directories first.
    expect(html.indexOf("child/")).toBeLessThan(html.indexOf("one.txt"));
  });

  test("root listing has no parent link and hides WEB-INF, META-INF and outward links", async () => {
    const html = await (await must("/", {}, "GET", { listings: true, contextPath: "" })).text();
    expect(html).toContain("Directory Listing For [/]");
    expect(html).not.toContain("Up To");
    expect(html).toContain(`href="/a%20b.txt"`);
    expect(html).toContain(`href="/${encodeURIComponent(UNICODE_NAME)}"`);
    expect(html).toContain(`href="/link-in-dir/"`);
    expect(html).not.toContain("WEB-INF");
    expect(html).not.toContain("META-INF");
    expect(html).not.toContain("link-out");
  });

  test("a welcome file wins over the listing; HEAD of a listing has its length and no body", async () => {
    expect(await (await must("/sub/", {}, "GET", { listings: true })).text()).toBe("<p>sub index</p>\n");
    const head = await must("/noindex/", {}, "HEAD", { listings: true });
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
  });
});

describe("conditional requests", () => {
  test("If-None-Match with the ETag → 304 carrying ETag and Last-Modified, no body", async () => {
    const { etag, lastModified } = await helloValidators();
    const res = await must("/hello.txt", { "if-none-match": etag });
    expect(res.status).toBe(304);
    expect(res.headers.get("etag")).toBe(etag);
    expect(res.headers.get("last-modified")).toBe(lastModified);
    expect(res.body).toBeNull();
    expect((await must("/hello.txt", { "if-none-match": etag }, "HEAD")).status).toBe(304);
  });

  test("If-None-Match: lists, weak comparison, *, mismatch, malformed", async () => {
    const { etag } = await helloValidators();
    const strongForm = etag.slice(2);
    expect((await must("/hello.txt", { "if-none-match": `"other", ${etag}` })).status).toBe(304);
    expect((await must("/hello.txt", { "if-none-match": strongForm })).status).toBe(304);
    expect((await must("/hello.txt", { "if-none-match": "*" })).status).toBe(304);
    expect((await must("/hello.txt", { "if-none-match": `"other", W/"x"` })).status).toBe(200);
    expect((await must("/hello.txt", { "if-none-match": "unquoted" })).status).toBe(400);
    expect((await must("/hello.txt", { "if-none-match": `*, ${etag}` })).status).toBe(400);
  });

  test("If-Modified-Since → 304 when not newer, in all three HTTP date forms", async () => {
    const { lastModified, ms } = await helloValidators();
    expect((await must("/hello.txt", { "if-modified-since": lastModified })).status).toBe(304);
    expect((await must("/hello.txt", { "if-modified-since": new Date(ms + 3_600_000).toUTCString() })).status).toBe(
      304,
    );
    expect((await must("/hello.txt", { "if-modified-since": new Date(ms - 10_000).toUTCString() })).status).toBe(200);

    const d = new Date(ms);
    const day = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][d.getUTCDay()];
    const [, dd, mon, yyyy, time] = lastModified.split(" ");
    const rfc850 = `${day}, ${dd}-${mon}-${yyyy.slice(2)} ${time} GMT`;
    const asctime = `${day.slice(0, 3)} ${mon} ${String(d.getUTCDate()).padStart(2, " ")} ${time} ${yyyy}`;
    expect((await must("/hello.txt", { "if-modified-since": rfc850 })).status).toBe(304);
    expect((await must("/hello.txt", { "if-modified-since": asctime })).status).toBe(304);
  });

  test("invalid If-Modified-Since dates are ignored", async () => {
    for (const value of ["yesterday", "1", "Sun, 31 Feb 2099 00:00:00 GMT", "Sun, 06 Nov 2099 25:00:00 GMT"]) {
      expect((await must("/hello.txt", { "if-modified-since": value })).status).toBe(200);
    }
  });

  test("If-None-Match overrides If-Modified-Since", async () => {
    const { lastModified } = await helloValidators();
    const res = await must("/hello.txt", { "if-none-match": `"other"`, "if-modified-since": lastModified });
    expect(res.status).toBe(200);
  });

  test("If-Match: * passes; the weak ETag never matches strongly → 412; malformed → 400", async () => {
    const { etag } = await helloValidators();
    expect((await must("/hello.txt", { "if-match": "*" })).status).toBe(200);
    expect((await must("/hello.txt", { "if-match": etag })).status).toBe(412);
    expect((await must("/hello.txt", { "if-match": `"nope"` })).status).toBe(412);
    expect((await must("/hello.txt", { "if-match": "nope" })).status).toBe(400);
  });

  test("If-Unmodified-Since: 412 when modified after it, else served; invalid ignored", async () => {
    const { lastModified, ms } = await helloValidators();
    expect((await must("/hello.txt", { "if-unmodified-since": new Date(ms - 10_000).toUTCString() })).status).toBe(412);
    expect((await must("/hello.txt", { "if-unmodified-since": lastModified })).status).toBe(200);
    expect((await must("/hello.txt", { "if-unmodified-since": "garbage" })).status).toBe(200);
  });

  test("a 412 precondition wins over If-None-Match", async () => {
    const { etag } = await helloValidators();
    expect((await must("/hello.txt", { "if-match": `"nope"`, "if-none-match": etag })).status).toBe(412);
  });
});

describe("ranges", () => {
  async function range(value: string, path = "/hello.txt", extra: Record<string, string> = {}) {
    return must(path, { range: value, ...extra });
  }

  test("single range → 206 with Content-Range and Content-Length", async () => {
    const res = await range("bytes=0-4");
    expect(res.status).toBe(206);
    expect(await res.text()).toBe("Hello");
    expect(res.headers.get("content-range")).toBe("bytes 0-4/14");
    expect(res.headers.get("content-length")).toBe("5");
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("etag")).toBe((await helloValidators()).etag);
  });

  test("suffix, open-ended, clamped and one-byte ranges", async () => {
    const suffix = await range("bytes=-7");
    expect([suffix.status, await suffix.text(), suffix.headers.get("content-range")]).toEqual([
      206,
      "world!\n",
      "bytes 7-13/14",
    ]);
    const open = await range("bytes=7-");
    expect([await open.text(), open.headers.get("content-range")]).toEqual(["world!\n", "bytes 7-13/14"]);
    const clamped = await range("bytes=12-1000");
    expect([await clamped.text(), clamped.headers.get("content-range")]).toEqual(["!\n", "bytes 12-13/14"]);
    const bigSuffix = await range("bytes=-1000");
    expect([await bigSuffix.text(), bigSuffix.headers.get("content-range")]).toEqual([HELLO, "bytes 0-13/14"]);
    expect(await (await range("bytes=0-0")).text()).toBe("H");
    expect(await (await range(" BYTES = 1 - 2 ")).text()).toBe("el");
  });

  test("multiple ranges → 206 multipart/byteranges with exact Content-Length", async () => {
    const res = await range("bytes=0-4, 7-11");
    expect(res.status).toBe(206);
    const type = res.headers.get("content-type")!;
    const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1];
    expect(boundary).toBeDefined();
    const body = await res.text();
    expect(Number(res.headers.get("content-length"))).toBe(new TextEncoder().encode(body).byteLength);
    expect(body).toBe(
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-4/14\r\n\r\nHello\r\n` +
        `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 7-11/14\r\n\r\nworld\r\n` +
        `--${boundary}--\r\n`,
    );
    expect(res.headers.get("content-range")).toBeNull();
  });

  test("unsatisfiable → 416 with Content-Range bytes */size", async () => {
    for (const value of ["bytes=14-", "bytes=100-200", "bytes=-0", "bytes=20-30, 40-"]) {
      const res = await range(value);
      expect(res.status).toBe(416);
      expect(res.headers.get("content-range")).toBe("bytes */14");
    }
  });

  test("unsatisfiable ranges next to satisfiable ones are dropped", async () => {
    const res = await range("bytes=0-1, 100-200");
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 0-1/14");
  });

  test("malformed bytes ranges → 416, as Tomcat answers", async () => {
    for (
      const value of [
        "bytes=abc",
        "bytes=5-1",
        "bytes=0-1,",
        "bytes=-",
        "bytes=1-2-3",
        "bytes",
        "=0-1",
        "bytes=99999999999999999999-",
      ]
    ) {
      const res = await range(value);
      expect(res.status).toBe(416);
      expect(res.headers.get("content-range")).toBe("bytes */14");
    }
  });

  test("unknown range units are ignored → 200 whole file", async () => {
    const res = await range("items=0-1");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(HELLO);
  });

  test("more than two overlapping ranges → 416; two are served", async () => {
    expect((await range("bytes=0-5, 2-8, 4-10")).status).toBe(416);
    expect((await range("bytes=0-5, 0-5, 0-5")).status).toBe(416);
    expect((await range("bytes=0-5, 2-8")).status).toBe(206);
  });

  test("Range is ignored for HEAD and for an empty file", async () => {
    const head = await must("/hello.txt", { range: "bytes=0-4" }, "HEAD");
    expect([head.status, head.headers.get("content-length"), head.headers.get("content-range")]).toEqual([
      200,
      "14",
      null,
    ]);
    const empty = await range("bytes=0-4", "/empty.txt");
    expect([empty.status, empty.headers.get("content-length")]).toEqual([200, "0"]);
  });

  test("If-Range with the Last-Modified date → 206; older date or ETag → whole file", async () => {
    const { etag, lastModified, ms } = await helloValidators();
    expect((await range("bytes=0-4", "/hello.txt", { "if-range": lastModified })).status).toBe(206);
    const older = await range("bytes=0-4", "/hello.txt", { "if-range": new Date(ms - 10_000).toUTCString() });
    expect([older.status, await older.text()]).toEqual([200, HELLO]);
    // Weak (and thus never strongly matching) entity tags must send the current whole file.
    expect((await range("bytes=0-4", "/hello.txt", { "if-range": etag })).status).toBe(200);
    expect((await range("bytes=0-4", "/hello.txt", { "if-range": etag.slice(2) })).status).toBe(200);
  });

  test("malformed If-Range → 400", async () => {
    expect((await range("bytes=0-4", "/hello.txt", { "if-range": "next tuesday" })).status).toBe(400);
    expect((await range("bytes=0-4", "/hello.txt", { "if-range": `"a", "b"` })).status).toBe(400);
  });

  test("a matching If-None-Match answers 304 before ranges are considered", async () => {
    const { etag } = await helloValidators();
    expect((await range("bytes=0-4", "/hello.txt", { "if-none-match": etag })).status).toBe(304);
  });
});

describe("large files", () => {
  test("a 1 MiB file streams in chunks and arrives intact", async () => {
    const res = await must("/big.bin");
    expect(res.headers.get("content-length")).toBe(String(MIB));
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Math.max(...chunks.map((c) => c.byteLength))).toBeLessThanOrEqual(64 * 1024);
    expect(Buffer.concat(chunks).equals(pattern(0, MIB))).toBe(true);
  });

  test("ranges of a large file read the right bytes", async () => {
    const single = await must("/big.bin", { range: "bytes=500000-599999" });
    expect(single.headers.get("content-range")).toBe(`bytes 500000-599999/${MIB}`);
    expect(new Uint8Array(await single.arrayBuffer())).toEqual(pattern(500000, 100000));

    const tail = await must("/big.bin", { range: "bytes=-70000" });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(pattern(MIB - 70000, 70000));

    const multi = await must("/big.bin", { range: "bytes=0-99999,1000000-" });
    const body = new Uint8Array(await multi.arrayBuffer());
    expect(body.byteLength).toBe(Number(multi.headers.get("content-length")));
    const text = new TextDecoder("latin1").decode(body);
    expect(text).toContain(`Content-Range: bytes 1000000-${MIB - 1}/${MIB}`);
  });

  /** Open descriptors of this process, where /proc shows them (Linux). */
  function openFds(): number | null {
    try {
      return readdirSync("/proc/self/fd").length;
    } catch {
      return null;
    }
  }

  test("the file is closed once the body is read or cancelled, and small bodies close at once", async () => {
    const baseline = openFds();
    if (baseline === null) return;

    const cancelled = await must("/big.bin");
    expect(openFds()).toBe(baseline + 1);
    const reader = cancelled.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(openFds()).toBe(baseline);

    const read = await must("/big.bin", { range: "bytes=1-200000" });
    await read.arrayBuffer();
    expect(openFds()).toBe(baseline);

    await must("/hello.txt");
    await must("/big.bin", {}, "HEAD");
    expect(openFds()).toBe(baseline);
  });

  test("a file that shrinks mid-stream aborts the body instead of hanging", async () => {
    const path = join(docBase, "shrinking.bin");
    await copyFile(join(docBase, "big.bin"), path);
    try {
      const res = await must("/shrinking.bin");
      await truncate(path, 100_000);
      await expect(res.arrayBuffer()).rejects.toThrow(/shrank/);
    } finally {
      await rm(path);
    }
  });
});
