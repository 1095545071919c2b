/**
 * The built-in manager app (`handler: bobcat:manager`), the counterpart of Tomcat's manager
 * webapp and its JMX view: connectors and their back-ends, contexts with session statistics,
 * session lists, expiring sessions, reloading TLS certificates. Three faces, as in Tomcat:
 * an HTML page (role manager-gui), a text interface for scripts (/text/..., role
 * manager-script) and JSON (/json/..., manager-script).
 *
 * Access: a user with the role; or, when the context configures no login at all, a client on
 * this machine (loopback), as Tomcat's default manager context only admits localhost.
 */
import { BodyTooLargeError, readForm } from "../core/body-limit.ts";
import { Hono, type Context } from "hono";
import type { ContextConfig } from "../config/model.ts";
import type { BobcatContext } from "../core/context.ts";
import { adminView, type AdminView, type ContextView } from "../core/admin.ts";
import { escapeHtml } from "../core/error-page.ts";

type Env = { Bindings: BobcatContext };
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;
/** Per-process token that the HTML forms carry, against cross-site request forgery. */
const CSRF = crypto.randomUUID();

export function managerApp(context: ContextConfig) {
  const app = new Hono<Env>();
  const allowed = (c: Context<Env>, role: "manager-gui" | "manager-script") => {
    if (c.env.isUserInRole(role)) return true;
    return !context.loginConfig && LOOPBACK.test(c.env.remoteAddr);
  };
  const view = (): AdminView => {
    const v = adminView();
    if (!v) throw new Error("the manager app runs only inside a started bobcat server");
    return v;
  };
  const findContext = (c: Context<Env>): ContextView | undefined => {
    const path = c.req.query("path") ?? "/";
    const host = c.req.query("host");
    const want = path === "/" ? "" : path;
    return view().contexts().find((x) => x.path === want && (!host || x.host.toLowerCase() === host.toLowerCase()));
  };

  app.use("/text/*", async (c, next) => (allowed(c, "manager-script") ? next() : c.text("FAIL - Access denied (role manager-script, or a loopback client)\n", 403)));
  app.use("/json/*", async (c, next) => (allowed(c, "manager-script") ? next() : c.json({ error: "access denied: role manager-script, or a loopback client" }, 403)));
  app.use("/*", async (c, next) => {
    if (c.req.path.startsWith("/text/") || c.req.path.startsWith("/json/") || c.req.path === "/json") return next();
    return allowed(c, "manager-gui") ? next() : c.text("Access denied: role manager-gui, or a loopback client", 403);
  });

  // ---- text interface (Tomcat's /manager/text/...) ----
  app.get("/text/list", (c) => {
    const lines = view().contexts().map((x) => `${x.path || "/"}:running:${x.manager.getStats().activeSessions}:${x.name}`);
    return c.text(`OK - Listed applications\n${lines.join("\n")}\n`);
  });
  app.get("/text/sessions", (c) => {
    const x = findContext(c);
    if (!x) return c.text(`FAIL - No context exists for path [${c.req.query("path") ?? "/"}]\n`, 404);
    const s = x.manager.getStats();
    return c.text(
      `OK - Session information for application at context path [${x.path || "/"}]\n` +
        `Default maximum session inactive interval is [${x.sessionTimeout}] minutes\n` +
        Object.entries(s).map(([k, v]) => `${k}=${v}`).join("\n") + "\n",
    );
  });
  app.get("/text/expire", (c) => {
    const x = findContext(c);
    if (!x) return c.text(`FAIL - No context exists for path [${c.req.query("path") ?? "/"}]\n`, 404);
    const idle = Number(c.req.query("idle") ?? "0");
    let expired = 0;
    for (const s of x.manager.findSessions()) {
      if ((Date.now() - s.lastAccessedTime) / 60000 >= idle && x.manager.expireSession(s.id)) expired++;
    }
    return c.text(`OK - Expired ${expired} session(s) idle for ${idle} minute(s) or more in [${x.path || "/"}]\n`);
  });
  app.get("/text/sslReload", async (c) => {
    const r = await view().reloadTls(c.req.query("tlsHostName"));
    const ok = r.failed.length === 0;
    return c.text(`${ok ? "OK" : "FAIL"} - ${[...r.reloaded, ...r.failed].join("\n") || "no TLS connector matched"}\n`, ok ? 200 : 500);
  });

  // ---- JSON ----
  app.get("/json", (c) => c.json(overview(view())));
  app.get("/json/sessions", (c) => {
    const x = findContext(c);
    if (!x) return c.json({ error: `no context at path ${c.req.query("path") ?? "/"}` }, 404);
    return c.json({
      context: x.path || "/",
      stats: x.manager.getStats(),
      sessions: x.manager.findSessions().map((s) => ({
        id: s.id,
        creationTime: s.creationTime,
        lastAccessedTime: s.lastAccessedTime,
        maxInactiveInterval: s.maxInactiveInterval,
        attributes: s.getAttributeNames(),
      })),
    });
  });
  app.post("/json/expire", (c) => {
    const x = findContext(c);
    const id = c.req.query("id");
    if (!x || !id) return c.json({ error: "give path (and host) of the context and the session id" }, 400);
    return x.manager.expireSession(id) ? c.json({ expired: id }) : c.json({ error: `The session [${id}] was not found` }, 404);
  });
  app.post("/json/sslReload", async (c) => {
    const r = await view().reloadTls(c.req.query("tlsHostName"));
    return c.json(r, r.failed.length === 0 ? 200 : 500);
  });

  // ---- HTML ----
  app.get("/", (c) => c.html(page(view(), c.env.contextPath)));
  app.post("/html/:action", async (c) => {
    // Bounded by the connector's maxPostSize (413 when larger).
    const form = await readForm(c.req.raw, c.env.connector.maxPostSize).catch((e) => e as Error);
    if (form instanceof BodyTooLargeError) return c.text(form.message, 413, { connection: "close" });
    if (form instanceof Error) throw form;
    if (form.csrf !== CSRF) return c.text("Bad request: stale or missing form token; reload the page", 400);
    const v = view();
    let message = "";
    if (c.req.param("action") === "expire") {
      const x = v.contexts().find((ctx) => ctx.host === form.host && (ctx.path || "/") === form.path);
      message = x && x.manager.expireSession(String(form.id)) ? `Expired session ${form.id}` : `The session [${form.id}] was not found`;
    } else if (c.req.param("action") === "sslReload") {
      const r = await v.reloadTls();
      message = [...r.reloaded, ...r.failed].join("; ") || "no TLS connector";
    }
    return c.html(page(v, c.env.contextPath, message));
  });
  return app;
}

function overview(v: AdminView) {
  return {
    version: v.version,
    runtime: v.runtime,
    connectors: v.connectors(),
    contexts: v.contexts().map((x) => ({ engine: x.engine, host: x.host, path: x.path || "/", name: x.name, docBase: x.docBase, handler: x.handler, sessionTimeout: x.sessionTimeout, stats: x.manager.getStats() })),
  };
}

function page(v: AdminView, base: string, message = ""): string {
  const e = escapeHtml;
  const connectors = v
    .connectors()
    .map((c) => `<tr><td>${e(c.name)}</td><td><a href="${e(c.url)}">${e(c.url)}</a></td><td>${e(c.reason)}</td><td>${c.active} / ${c.queued} / ${c.rejected}</td><td>${e(c.tlsHosts.join(", "))}</td></tr>`)
    .join("");
  const contexts = v
    .contexts()
    .map((x) => {
      const s = x.manager.getStats();
      const sessions = x.manager
        .findSessions()
        .slice(0, 50)
        .map(
          (ss) =>
            `<li><code>${e(ss.id)}</code> last used ${e(new Date(ss.lastAccessedTime).toISOString())} <form method="post" action="${base}/html/expire" style="display:inline"><input type="hidden" name="csrf" value="${CSRF}"><input type="hidden" name="host" value="${e(x.host)}"><input type="hidden" name="path" value="${e(x.path || "/")}"><input type="hidden" name="id" value="${e(ss.id)}"><button>Expire</button></form></li>`,
        )
        .join("");
      return `<tr><td>${e(x.host)}</td><td>${e(x.path || "/")}</td><td>${e(x.handler ?? x.docBase ?? "")}</td><td>${s.activeSessions}</td><td>${s.maxActive}</td><td>${s.sessionCounter}</td><td>${s.expiredSessions}</td><td>${s.rejectedSessions}</td><td>${s.sessionAverageAliveTime}s</td></tr>${sessions ? `<tr><td></td><td colspan="8"><ul>${sessions}</ul></td></tr>` : ""}`;
    })
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bobcat manager</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #d5d9e0;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f4f7}.msg{background:#e7f6ec;padding:.5rem .8rem;border-left:4px solid #2f9e55}ul{margin:0;padding-left:1rem}</style>
</head><body><h1>bobcat manager</h1><p>bobcat ${e(v.version)} on ${e(v.runtime)}</p>
${message ? `<p class="msg">${e(message)}</p>` : ""}
<h2>Connectors</h2><table><tr><th>name</th><th>URL</th><th>back-end</th><th>in flight / queued / rejected</th><th>SSLHostConfigs</th></tr>${connectors}</table>
<form method="post" action="${base}/html/sslReload"><input type="hidden" name="csrf" value="${CSRF}"><button>Reload TLS certificates</button></form>
<h2>Applications</h2><table><tr><th>host</th><th>path</th><th>serves</th><th>active sessions</th><th>max active</th><th>session counter</th><th>expired</th><th>rejected</th><th>average alive</th></tr>${contexts}</table>
<p>Scripts: <code>${base}/text/list</code>, <code>${base}/text/sessions?path=/app</code>, <code>${base}/text/expire?path=/app&amp;idle=30</code>, <code>${base}/text/sslReload</code>, <code>${base}/json</code>.</p>
</body></html>`;
}
