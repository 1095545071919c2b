/**
 * Session store metrics at /manager/metrics, scraped with curl after a scripted workload against
 * a FileStore and a DataSourceStore (SQLite) context, on Bun and Deno: per store and operation the
 * count, the failures and the latency histogram match what the workload did (saves at the end of
 * each changing request with maxIdleBackup 0, a removal per invalidation, a load per session id
 * not in memory, an error for a corrupt stored session), and every scrape passes `promtool check
 * metrics` (Prometheus' own parser and linter, Debian's prometheus package).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  plainConfig,
  run,
  runCli,
  type Running,
  RUNTIMES,
  sessionsDataSource,
  startBobcat,
  tempDir,
  writeFiles,
} from "../helpers/bobcat.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (promtool has checked the format itself). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return out;
}

const APP = `export default { fetch(req, ctx) {
  const p = new URL(req.url).pathname.replace(/^\\/(files|db)/, "");
  if (p === "/logout") { ctx.getSession(false)?.invalidate(); return new Response("bye"); }
  if (p === "/peek") return new Response(String(ctx.getSession(false)?.getAttribute("n") ?? "none"));
  const s = ctx.getSession();
  s.setAttribute("n", (s.getAttribute("n") ?? 0) + 1);
  return new Response(s.id);
} };`;

for (const runtime of RUNTIMES) {
  describe(`session store metrics (${runtime})`, () => {
    let srv: Running;
    let base: string;
    let port: number;
    const url = (p: string) => `http://127.0.0.1:${port}${p}`;

    /** One scrape, checked by promtool (Prometheus' own parser and linter). */
    const scrape = async (): Promise<Sample[]> => {
      const r = await run(["curl", "-s", "-f", url("/manager/metrics")]);
      expect(r.code).toBe(0);
      const check = await run(["promtool", "check", "metrics"], { stdin: r.stdout });
      expect(`${check.code} ${check.stdout}${check.stderr}`.trim()).toBe("0");
      return samples(r.stdout);
    };
    const value = (s: Sample[], name: string, labels: Record<string, string>): number =>
      s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
        .reduce((a, x) => a + x.value, 0);
    const ops = (s: Sample[], context: string, store: string) => {
      const out: Record<string, number> = {};
      for (const x of s) {
        if (
          x.name === "bobcat_session_store_operations_total" && x.labels.context === context && x.labels.store === store
        ) {
          out[x.labels.op!] = x.value;
        }
      }
      return out;
    };
    const get = async (p: string, cookie?: string) => {
      const res = await fetch(url(p), { headers: cookie ? { cookie } : {} });
      const text = await res.text();
      return { status: res.status, text, cookie: res.headers.get("set-cookie")?.split(";")[0] };
    };

    beforeAll(async () => {
      port = await freePort();
      base = tempDir();
      const config = plainConfig(
        port,
        `              - path: /files
                handler: app.js
                manager:
                  className: PersistentManager
                  maxIdleBackup: 0
                  store: { className: FileStore, directory: ${base}/store }
              - path: /db
                handler: app.js
                manager:
                  className: PersistentManager
                  maxIdleBackup: 0
                  store: { className: DataSourceStore, dataSourceName: jdbc/sessions }
              - path: /manager
                handler: bobcat:manager
`,
        sessionsDataSource(`sqlite:${base}/sessions.db`),
      );
      writeFiles(base, { "app.js": APP, "conf/server.yaml": config });
      // As in Tomcat, the session table must exist: `bobcat store init` creates it.
      const init = await runCli(runtime, ["store", "init", "--config", join(base, "conf/server.yaml"), "--base", base]);
      expect(init.code).toBe(0);
      srv = await startBobcat({ runtime, base, config });
    }, 60000);
    afterAll(async () => {
      await srv?.stop();
      cleanup(base);
    });

    test("operations, failures and latency per store match a scripted workload; the output parses", async () => {
      const before = await scrape();
      for (const ctx of ["/files", "/db"]) {
        const store = ctx === "/files" ? "FileStore" : "DataSourceStore";
        const b = ops(before, ctx, store);
        // Three new sessions, each saved before its response.
        const cookies: string[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await get(`${ctx}/new`);
          expect(r.status).toBe(200);
          cookies.push(r.cookie!);
        }
        // Two changes to the first session: two more saves. Reading changes nothing.
        await get(`${ctx}/again`, cookies[0]);
        await get(`${ctx}/again`, cookies[0]);
        expect((await get(`${ctx}/peek`, cookies[0])).text).toBe("3");
        // One invalidation: one removal.
        await get(`${ctx}/logout`, cookies[1]);
        // Two ids that are not in memory: a load each, which finds nothing.
        await get(`${ctx}/peek`, "JSESSIONID=" + "AB".repeat(16));
        await get(`${ctx}/peek`, "JSESSIONID=" + "CD".repeat(16));
        const a = ops(await scrape(), ctx, store);
        const delta = (op: string) => (a[op] ?? 0) - (b[op] ?? 0);
        expect({ save: delta("save"), remove: delta("remove"), load: delta("load") }).toEqual({
          save: 5,
          remove: 1,
          load: 2,
        });
      }

      // A corrupt stored session: its load fails and is counted as an error of the FileStore.
      const id = "EF".repeat(16);
      writeFileSync(join(base, "store", `${id}.session`), "not a session");
      const errorsBefore = value(await scrape(), "bobcat_session_store_errors_total", { context: "/files" });
      await get(`/files/peek`, `JSESSIONID=${id}`);
      const after = await scrape();
      expect(value(after, "bobcat_session_store_errors_total", { context: "/files", store: "FileStore" }))
        .toBe(errorsBefore + 1);
      expect(value(after, "bobcat_session_store_operation_errors_total", { context: "/files", op: "load" }))
        .toBeGreaterThanOrEqual(1);
      expect(value(after, "bobcat_session_store_errors_total", { context: "/db" })).toBe(0);

      // The latency histogram: one series per store and operation, its count equal to the counter,
      // cumulative buckets that never decrease and end at the count.
      const H = "bobcat_session_store_operation_duration_seconds";
      const counts = after.filter((x) => x.name === `${H}_count`);
      expect(counts.length).toBeGreaterThan(8);
      for (const c of counts) {
        expect(c.value).toBe(value(after, "bobcat_session_store_operations_total", c.labels));
        const buckets = after.filter((x) =>
          x.name === `${H}_bucket` && Object.entries(c.labels).every(([k, v]) => x.labels[k] === v)
        );
        expect(buckets.length).toBeGreaterThan(5);
        for (let i = 1; i < buckets.length; i++) {
          expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
        }
        expect(buckets.at(-1)!.labels.le).toBe("+Inf");
        expect(buckets.at(-1)!.value).toBe(c.value);
      }
      expect(value(after, `${H}_count`, { context: "/db", op: "save" })).toBeGreaterThanOrEqual(5);
      expect(value(after, `${H}_sum`, { context: "/db", op: "save" })).toBeGreaterThan(0);

      // Bounded labels: no session id anywhere in the output.
      const text = (await run(["curl", "-s", url("/manager/metrics")])).stdout;
      for (const c of [id, "AB".repeat(16)]) expect(text).not.toContain(c);
      const labelNames = new Set(
        after.filter((x) => x.name.startsWith("bobcat_session_store_")).flatMap((x) => Object.keys(x.labels)),
      );
      expect([...labelNames].sort()).toEqual(["context", "host", "le", "op", "store"]);
    }, 60000);
  });
}
