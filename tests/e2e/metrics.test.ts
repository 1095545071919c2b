/**
 * /manager/metrics scraped with curl after a scripted workload, on Bun native, Bun node-compat
 * and Deno native, parsed by a small text-format parser: names follow Prometheus conventions,
 * every sample belongs to a declared family of its type, histograms are complete, counters match
 * the requests sent and move, requests to many distinct paths add no series, and the role and
 * loopback rules hold (metrics role for a scraper, 403 without it).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  cleanup,
  freePort,
  opensslConnect,
  PKI,
  run,
  type Running,
  type Runtime,
  startBobcat,
  tempDir,
} from "../helpers/bobcat.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

/** The Prometheus text format (0.0.4), strictly: throws on any line it does not understand. */
function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (families.has(m[1]!)) throw new Error(`family ${m[1]} declared twice`);
      families.set(m[1]!, { type: "", help: m[2]!, samples: [] });
      current = m[1];
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      if (m[1] !== current) throw new Error(`TYPE for ${m[1]} outside its HELP`);
      families.get(m[1]!)!.type = m[2]!;
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g;
      let consumed = 0;
      for (let l; (l = re.exec(m[2]));) {
        labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        consumed = re.lastIndex;
      }
      if (consumed !== m[2].length) throw new Error(`bad labels: ${line}`);
    }
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") throw new Error(`bad value: ${line}`);
    const fam = families.get(current ?? "");
    const base = m[1]!.replace(/_(bucket|sum|count)$/, "");
    if (!fam || (m[1] !== current && !(fam.type === "histogram" && base === current))) {
      throw new Error(`sample ${m[1]} outside its family (${current})`);
    }
    fam.samples.push({ name: m[1]!, labels, value });
  }
  return families;
}

function count(f: Map<string, Family>, name: string, labels: Record<string, string>): number {
  const fam = f.get(name) ?? f.get(name.replace(/_(bucket|sum|count)$/, ""));
  return (fam?.samples ?? [])
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

const COMBOS: Array<{ runtime: Runtime; backend: "native" | "node-compat" }> = [
  { runtime: "bun", backend: "native" },
  { runtime: "bun", backend: "node-compat" },
  { runtime: "deno", backend: "native" },
];

for (const { runtime, backend } of COMBOS) {
  describe(`/manager/metrics (${runtime}, ${backend})`, () => {
    let srv: Running;
    let base: string;
    let port: number;
    let tlsPort: number;
    const scrape = async (user = "scraper:s3cret") => {
      const r = await run([
        "curl",
        "-s",
        "-u",
        user,
        "-w",
        "\n%{http_code} %{content_type}",
        `http://127.0.0.1:${port}/manager/metrics`,
      ]);
      const cut = r.stdout.lastIndexOf("\n");
      return { body: r.stdout.slice(0, cut), status: r.stdout.slice(cut + 1) };
    };

    beforeAll(async () => {
      port = await freePort();
      tlsPort = await freePort();
      base = tempDir();
      srv = await startBobcat({
        runtime,
        base,
        connectors: 2,
        env: backend === "node-compat" ? { BOBCAT_BACKEND: "node-compat" } : {},
        files: {
          "app.js":
            `export default { fetch(req, ctx) { const p = new URL(req.url).pathname; if (p === "/s") { ctx.getSession(); return new Response("s"); } if (p === "/boom") throw new Error("boom"); return p.startsWith("/missing") ? new Response("no", { status: 404 }) : new Response("ok"); } };`,
        },
        config: `
server:
  services:
    - connectors:
        - { port: ${port}, address: 127.0.0.1 }
        - port: ${tlsPort}
          address: 127.0.0.1
          SSLEnabled: true
          sslHostConfigs:
            - certificates:
                - certificateFile: ${PKI}/localhost-rsa.pem
                  certificateKeyFile: ${PKI}/localhost-rsa-key.pem
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app.js
              - path: /manager
                handler: bobcat:manager
                loginConfig: { authMethod: BASIC, realmName: m }
                realm:
                  users:
                    - { username: scraper, password: s3cret, roles: [metrics] }
                    - { username: nobody, password: x, roles: [other] }
                securityConstraints: [{ urlPatterns: ["/*"], authRoles: ["*"] }]
`,
      });
    });
    afterAll(async () => {
      await srv?.stop();
      cleanup(base);
    });

    test("a scripted workload is counted exactly; the output parses and follows the conventions", async () => {
      const before = parse((await scrape()).body);
      const okBefore = count(before, "bobcat_http_requests_total", { context: "/", method: "GET", code: "200" });
      for (let i = 0; i < 7; i++) expect((await fetch(`http://127.0.0.1:${port}/a`)).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await fetch(`http://127.0.0.1:${port}/missing`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/x`, { method: "POST", body: "1" })).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/boom`)).status).toBe(500);
      for (let i = 0; i < 2; i++) await fetch(`http://127.0.0.1:${port}/s`);
      const { body, status } = await scrape();
      expect(status).toBe("200 text/plain; version=0.0.4; charset=utf-8");
      const f = parse(body);
      for (const [name, fam] of f) {
        expect(name).toMatch(/^[a-z_]+$/);
        if (fam.type === "counter") expect(name.endsWith("_total")).toBe(true);
        expect(fam.help.length).toBeGreaterThan(5);
      }
      const lbl = { host: "localhost", context: "/" };
      expect(count(f, "bobcat_http_requests_total", { ...lbl, method: "GET", code: "200" }) - okBefore).toBe(7 + 2);
      expect(count(f, "bobcat_http_requests_total", { ...lbl, method: "GET", code: "404" })).toBe(3);
      expect(count(f, "bobcat_http_requests_total", { ...lbl, method: "POST", code: "200" })).toBe(1);
      expect(count(f, "bobcat_http_requests_total", { ...lbl, method: "GET", code: "500" })).toBe(1);
      // Histogram: cumulative buckets ending in +Inf = _count.
      const buckets = f.get("bobcat_http_request_duration_seconds")!.samples.filter((s) =>
        s.name.endsWith("_bucket") && s.labels.context === "/" && s.labels.method === "GET"
      );
      expect(buckets.at(-1)!.labels.le).toBe("+Inf");
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(buckets.at(-1)!.value).toBe(
        count(f, "bobcat_http_request_duration_seconds_count", { context: "/", method: "GET" }),
      );
      expect(count(f, "bobcat_sessions_created_total", lbl)).toBe(2);
      expect(count(f, "bobcat_sessions_active", lbl)).toBe(2);
      expect(f.get("bobcat_sessions_expired_total")!.type).toBe("counter");
      expect(f.get("bobcat_sessions_rejected_total")!.type).toBe("counter");
      const days = f.get("bobcat_tls_certificate_expiry_days")!.samples;
      expect(days.length).toBe(1);
      expect(days[0]!.value).toBeGreaterThan(0);
      expect(count(f, "process_resident_memory_bytes", {})).toBeGreaterThan(1e6);
      expect(f.get("bobcat_event_loop_lag_seconds")!.type).toBe("gauge");
      // Connections: the back-ends that accept connections themselves report them; Bun.serve does not.
      const open = f.get("bobcat_connections_open")!.samples;
      if (runtime === "bun" && backend === "native") expect(open.length).toBe(0);
      else expect(open.length).toBe(2);
    });

    test("TLS handshakes and failures by reason (node-compat only)", async () => {
      await run(["curl", "-sk", "-o", "/dev/null", `https://127.0.0.1:${tlsPort}/`]);
      // TLS 1.1 is never enabled: a protocol failure.
      await opensslConnect(tlsPort, { args: ["-tls1_1"], stdin: "", timeoutMs: 5000 });
      const f = parse((await scrape()).body);
      const hs = f.get("bobcat_tls_handshakes_total")!.samples;
      const failures = f.get("bobcat_tls_handshake_failures_total")!.samples;
      if (backend === "native") {
        expect(hs.length).toBe(0);
        expect(failures.length).toBe(0);
      } else {
        expect(hs.reduce((a, s) => a + s.value, 0)).toBeGreaterThanOrEqual(1);
        expect(failures.reduce((a, s) => a + s.value, 0)).toBeGreaterThanOrEqual(1);
        for (const s of failures) {
          expect(["protocol", "cipher", "certificate", "client_closed", "other"]).toContain(s.labels.reason);
        }
      }
    });

    test("cardinality stays bounded under many distinct paths and odd methods", async () => {
      const series = (t: string) => t.split("\n").filter((l) => l && !l.startsWith("#")).length;
      await fetch(`http://127.0.0.1:${port}/missing/0`);
      await fetch(`http://127.0.0.1:${port}/missing/1`, { method: "PROPFIND" });
      await scrape();
      const n1 = series((await scrape()).body);
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          fetch(`http://127.0.0.1:${port}/missing/${i}-${Math.random()}`, {
            method: i % 2 ? "GET" : "PROPFIND",
          }).then((r) => r.arrayBuffer())),
      );
      const text = (await scrape()).body;
      expect(series(text)).toBe(n1);
      expect(text).not.toContain("/missing/");
      expect(count(parse(text), "bobcat_http_requests_total", { method: "OTHER" })).toBeGreaterThanOrEqual(100);
    });

    test("the metrics role lets a scraper in; other users get 403", async () => {
      expect((await scrape("nobody:x")).status).toMatch(/^403/);
      expect((await scrape("scraper:s3cret")).status).toMatch(/^200/);
    });
  });
}
