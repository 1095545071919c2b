/**
 * The built-in manager app (`handler: bobcat:manager`), the counterpart of Tomcat's manager
 * webapp and its JMX view: connectors and their back-ends, contexts with session statistics,
 * session lists, expiring sessions, reloading TLS certificates. Three faces, as in Tomcat:
 * an HTML page (role manager-gui), a text interface for scripts (/text/..., role
 * manager-script) and JSON (/json/..., manager-script).
 *
 * Access: a user with the role; or, when the context configures no login at all, a client on
 * this machine, as Tomcat's default manager context only admits localhost. "On this machine"
 * means the TCP peer is a loopback address (never a forwarded one), the request carries no
 * forwarded-for header, and no RemoteIpValve applies (with allowLoopbackBehindProxy: every
 * address the forwarded headers name is loopback too).
 *
 * Against browsers used as a weapon: every endpoint refuses cross-site requests (Sec-Fetch-Site,
 * Origin) and Host names that are not this host's names or an IP address (DNS rebinding);
 * state changes need POST, except the GET forms of /text/expire and /text/sslReload for script
 * accounts (manager-script without manager-gui), as Tomcat's text interface; pages cannot be
 * framed; session ids are shown in full only to users with the role, others get an opaque
 * handle (per app instance) to expire a session by.
 */
import { BodyTooLargeError, readForm } from "../core/body-limit.ts";
import { type Context, Hono } from "hono";
import { nodeCrypto } from "../util/node-crypto.ts";
import { toBase64 } from "../tls/keystore/bytes.ts";
import type { ContextConfig } from "../config/model.ts";
import type { BobcatContext } from "../core/context.ts";
import type { AdminView, ContextView } from "../core/admin.ts";
import { escapeHtml } from "../core/error-page.ts";
import { isLoopback, parseIp } from "../util/ip.ts";
import type { AppScope } from "../core/platform.ts";
import { METRICS_CONTENT_TYPE } from "../core/metrics.ts";
import type { StoreStatus } from "../session/stores/versioned.ts";

/** How the caller got in: with the face's role, or as a loopback client of a no-login context. */
type Access = "role" | "local";
type Env = { Bindings: BobcatContext; Variables: { access: Access } };
type Face = "text" | "json" | "html";

const STYLE =
  "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #d5d9e0;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f4f7}.msg{background:#e7f6ec;padding:.5rem .8rem;border-left:4px solid #2f9e55}ul{margin:0;padding-left:1rem}form.inline{display:inline}";
/**
 * No scripts at all; the one inline style by its hash; forms post back here only; no framing.
 * Hashed with Web Crypto at the first response: node:crypto at module load would load Deno's
 * Node layer with the app (~40 ms of a start, src/util/host/deno.ts), and an edge runtime
 * allows no crypto outside a request.
 */
let csp: Promise<string> | undefined;
const contentSecurityPolicy = () =>
  csp ??= crypto.subtle.digest("SHA-256", new TextEncoder().encode(STYLE)).then((hash) =>
    `default-src 'none'; style-src 'sha256-${
      toBase64(new Uint8Array(hash))
    }'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`
  );

/** `n` random bytes (the runtime's CSPRNG). */
const randomBytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const base64url = (b: Uint8Array) => toBase64(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const faceOf = (
  path: string,
): Face => (path.startsWith("/text/") ? "text" : path === "/json" || path.startsWith("/json/") ? "json" : "html");
const roleOf = (face: Face) => (face === "html" ? "manager-gui" : "manager-script");

export function managerApp(context: ContextConfig, scope: AppScope) {
  const app = new Hono<Env>();
  // Made on first use, not at module load: edge runtimes allow no randomness outside a request.
  let secrets: { csrf: string; handleKey: Uint8Array } | undefined;
  /** Per-app token that the HTML forms carry, against cross-site request forgery; and the key of
   * the session handles, HMAC(context, id), useless outside this app instance. */
  const keys = () => (secrets ??= { csrf: base64url(randomBytes(24)), handleKey: randomBytes(32) });
  const hostNames = new Set([scope.host.name, ...scope.host.aliases].map((n) => n.toLowerCase()));
  const proxied = [...scope.engine.valves, ...scope.host.valves, ...context.valves].some((v) =>
    v.className === "RemoteIpValve"
  );

  const deny = (c: Context<Env>, status: 403 | 405 | 421, message: string) => {
    const face = faceOf(c.req.path);
    if (face === "json") return c.json({ error: message }, status);
    return c.text(face === "text" ? `FAIL - ${message}\n` : `${message}\n`, status);
  };

  /** Headers through which a proxy names the client it forwards. */
  const forwardedFor = new Set([
    "x-forwarded-for",
    ...[...scope.engine.valves, ...scope.host.valves, ...context.valves].flatMap((
      v,
    ) => (v.className === "RemoteIpValve" ? [v.remoteIpHeader.toLowerCase()] : [])),
  ]);

  /** Tomcat's localhost-only rule, on the parsed TCP peer. */
  const local = (c: Context<Env>): boolean => {
    if (context.loginConfig) return false;
    const peer = parseIp(c.env.connectionAddr, { allowZone: true });
    if (!peer || !isLoopback(peer)) return false;
    if (c.req.header("forwarded") !== undefined) return false;
    const named = [...forwardedFor].map((h) => c.req.header(h)).filter((v) => v !== undefined);
    // Without a RemoteIpValve, a forwarded-for header means a proxy on this machine that bobcat
    // was not told about: whoever it forwards is not local.
    if (!proxied) return named.length === 0;
    // Behind a proxy on this machine every request arrives from loopback: only when allowed, and
    // only when every address the proxies name is loopback as well.
    if (!context.allowLoopbackBehindProxy) return false;
    return named.every((v) =>
      v.split(",").every((h) => {
        const a = parseIp(h.trim());
        return !!a && isLoopback(a);
      })
    );
  };

  const view = (): AdminView => {
    const v = scope.admin?.();
    if (!v) throw new Error("the manager app runs only inside a started bobcat server or edge handler");
    return v;
  };
  const findContext = (c: Context<Env>): ContextView | undefined => {
    const path = c.req.query("path") ?? "/";
    const host = c.req.query("host");
    const want = path === "/" ? "" : path;
    return view().contexts().find((x) => x.path === want && (!host || x.host.toLowerCase() === host.toLowerCase()));
  };
  const fullIds = (c: Context<Env>) => c.get("access") === "role";

  // ---- what every response carries: no framing, no sniffing, no caching, no referrer elsewhere ----
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("x-frame-options", "DENY");
    c.res.headers.set("content-security-policy", await contentSecurityPolicy());
    c.res.headers.set("x-content-type-options", "nosniff");
    c.res.headers.set("cache-control", "no-store");
    // Not no-referrer: with it, Chromium sends `Origin: null` on the page's own form posts.
    c.res.headers.set("referrer-policy", "same-origin");
  });

  // ---- DNS rebinding: the Host must be one of this host's names or an IP address ----
  app.use("*", async (c, next) => {
    const hostname = new URL(c.req.url).hostname.toLowerCase();
    const literal = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    if (hostNames.has(hostname) || parseIp(literal)) return next();
    return deny(
      c,
      421,
      `the manager answers only to the names of host ${scope.host.name} (${
        [...hostNames].join(", ")
      }) and to IP addresses, not to ${JSON.stringify(hostname)}; add it to the host's aliases if it is yours`,
    );
  });

  // ---- cross-site requests: a browser on another site cannot use the manager at all ----
  app.use("*", async (c, next) => {
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin" && site !== "none") {
      return deny(
        c,
        403,
        `cross-site request refused (Sec-Fetch-Site: ${site}); open the manager from its own address`,
      );
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && !ownOrigins(c).has(normalOrigin(origin) ?? "")) {
      return deny(c, 403, `cross-site request refused (Origin: ${origin}); open the manager from its own address`);
    }
    return next();
  });

  // ---- who: the face's role, or a loopback client of a context without login ----
  app.use("*", async (c, next) => {
    const role = roleOf(faceOf(c.req.path));
    // Scrapers get in with the metrics role; the manager's own roles see the metrics too.
    const roles = c.req.path === "/metrics" ? ["metrics", "manager-script", "manager-gui"] : [role];
    if (roles.some((r) => c.env.isUserInRole(r))) c.set("access", "role");
    else if (local(c)) c.set("access", "local");
    else {return deny(
        c,
        403,
        `access denied: role ${roles.join(" or ")}${
          context.loginConfig ? "" : ", or a client on this machine (loopback, not through a proxy)"
        }`,
      );}
    return next();
  });

  /**
   * State changes on GET only for a script account (manager-script without manager-gui), whose
   * tools are not browsers, as Tomcat's text interface; everyone else uses POST.
   */
  const changeAllowed = (c: Context<Env>) =>
    c.req.method === "POST" ||
    (c.get("access") === "role" && c.env.isUserInRole("manager-script") && !c.env.isUserInRole("manager-gui"));
  const postOnly = (c: Context<Env>) => {
    const res = deny(
      c,
      405,
      `use POST: a GET changes state only for a script account (role manager-script without manager-gui), e.g. curl -X POST '${c.req.path}'`,
    );
    res.headers.set("allow", "POST");
    return res;
  };

  // ---- text interface (Tomcat's /manager/text/...) ----
  app.get("/text/list", (c) => {
    const lines = view().contexts().map((x) =>
      `${x.path || "/"}:running:${x.manager.getStats().activeSessions}:${x.name}`
    );
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
  app.on(["GET", "POST"], "/text/expire", (c) => {
    if (!changeAllowed(c)) return postOnly(c);
    const x = findContext(c);
    if (!x) return c.text(`FAIL - No context exists for path [${c.req.query("path") ?? "/"}]\n`, 404);
    const idle = Number(c.req.query("idle") ?? "0");
    let expired = 0;
    for (const s of x.manager.findSessions()) {
      if ((Date.now() - s.lastAccessedTime) / 60000 >= idle && x.manager.expireSession(s.id)) expired++;
    }
    return c.text(`OK - Expired ${expired} session(s) idle for ${idle} minute(s) or more in [${x.path || "/"}]\n`);
  });
  app.on(["GET", "POST"], "/text/sslReload", async (c) => {
    if (!changeAllowed(c)) return postOnly(c);
    const r = await view().reloadTls(c.req.query("tlsHostName"));
    const ok = r.failed.length === 0;
    return c.text(
      `${ok ? "OK" : "FAIL"} - ${[...r.reloaded, ...r.failed].join("\n") || "no TLS connector matched"}\n`,
      ok ? 200 : 500,
    );
  });

  app.get("/text/certificates", (c) => {
    const rows = view().certificates?.() ?? [];
    return c.text(
      `OK - Listed certificates\n${
        rows.map((r) =>
          `${r.connector}:${r.hostName}:${r.source}:${r.names.join(",")}:${r.notAfter}:${r.daysLeft}:${
            r.nextRenewal ?? "-"
          }:${r.lastError ?? "-"}`
        ).join("\n")
      }\n`,
    );
  });
  app.on(["GET", "POST"], "/text/renewCertificate", async (c) => {
    if (!changeAllowed(c)) return postOnly(c);
    const r = await renew(c.req.query("name"));
    return "error" in r ? c.text(`FAIL - ${r.error}\n`, 404) : c.text(`OK - ${r.lines.join("\n")}\n`);
  });

  /** ACME renewals now, for one name or all; an unknown name is an error, not a no-op. */
  const renew = async (name: string | undefined): Promise<{ lines: string[] } | { error: string }> => {
    const v = view();
    if (!v.renewCertificate) return { error: "certificates cannot be renewed here" };
    try {
      const lines = await v.renewCertificate(name || undefined);
      return lines.length ? { lines } : { error: "no certificate of this server comes from ACME" };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };

  // ---- Prometheus ----
  app.get("/metrics", (c) => {
    const m = view().metrics;
    if (!m) return c.text("metrics are kept by a bobcat server only, not by an edge handler\n", 404);
    return c.body(m(), 200, { "content-type": METRICS_CONTENT_TYPE });
  });

  // ---- JSON ----
  app.get("/json", async (c) => c.json(await overview(view())));
  // Tomcat's /list: every context with its state and active session count.
  app.get("/json/list", (c) =>
    c.json({
      applications: view().contexts().map((x) => ({
        engine: x.engine,
        host: x.host,
        path: x.path || "/",
        state: "running",
        sessions: x.manager.getStats().activeSessions,
        name: x.name,
      })),
    }));
  app.get("/json/certificates", (c) => c.json({ certificates: view().certificates?.() ?? [] }));
  app.post("/json/renewCertificate", async (c) => {
    const r = await renew(c.req.query("name"));
    return "error" in r ? c.json(r, 404) : c.json({ renewed: r.lines, certificates: view().certificates?.() ?? [] });
  });
  app.get("/json/sessions", (c) => {
    const x = findContext(c);
    if (!x) return c.json({ error: `no context at path ${c.req.query("path") ?? "/"}` }, 404);
    const full = fullIds(c);
    return c.json({
      context: x.path || "/",
      stats: x.manager.getStats(),
      sessions: x.manager.findSessions().map((s) => ({
        id: full ? s.id : maskId(s.id),
        handle: sessionHandle(keys().handleKey, x, s.id),
        creationTime: s.creationTime,
        lastAccessedTime: s.lastAccessedTime,
        maxInactiveInterval: s.maxInactiveInterval,
        attributes: s.getAttributeNames(),
      })),
    });
  });
  app.post("/json/expire", (c) => {
    const x = findContext(c);
    const [given, handle] = [c.req.query("id"), c.req.query("handle")];
    if (!x || !(given || handle)) {
      return c.json({ error: "give path (and host) of the context and the session's id or handle" }, 400);
    }
    const id = given ?? idOfHandle(keys().handleKey, x, handle);
    // Answers with what the caller gave: the id it knew, or the handle.
    const named = given ?? handle;
    return id && x.manager.expireSession(id)
      ? c.json({ expired: named })
      : c.json({ error: `The session [${named}] was not found` }, 404);
  });
  app.post("/json/sslReload", async (c) => {
    const r = await view().reloadTls(c.req.query("tlsHostName"));
    return c.json(r, r.failed.length === 0 ? 200 : 500);
  });

  // ---- HTML ----
  app.get("/", async (c) => {
    const v = view();
    return c.html(page(v, c.env.contextPath, fullIds(c), keys(), "", await storeStatuses(v)));
  });
  app.post("/html/:action", async (c) => {
    // Bounded by the connector's maxPostSize (413 when larger).
    const form = await readForm(c.req.raw, c.env.connector.maxPostSize).catch((e) => e as Error);
    if (form instanceof BodyTooLargeError) return c.text(form.message, 413, { connection: "close" });
    if (form instanceof Error) throw form;
    if (form.csrf !== keys().csrf) return c.text("Bad request: stale or missing form token; reload the page", 400);
    const v = view();
    const full = fullIds(c);
    let message = "";
    if (c.req.param("action") === "expire") {
      const x = v.contexts().find((ctx) => ctx.host === form.host && (ctx.path || "/") === form.path);
      const id = x ? idOfHandle(keys().handleKey, x, String(form.handle ?? "")) : undefined;
      message = x && id && x.manager.expireSession(id)
        ? `Expired session ${full ? id : maskId(id)}`
        : "The session was not found (expired already?)";
    } else if (c.req.param("action") === "renewCertificate") {
      const r = await renew(String(form.name ?? ""));
      message = "error" in r ? r.error : r.lines.join("; ");
    } else if (c.req.param("action") === "sslReload") {
      const r = await v.reloadTls();
      message = [...r.reloaded, ...r.failed].join("; ") || "no TLS connector";
    }
    return c.html(page(v, c.env.contextPath, full, keys(), message, await storeStatuses(v)));
  });
  return app;
}

/** The origins this very request was addressed to: as received, and as a trusted proxy reports it. */
function ownOrigins(c: Context<Env>): Set<string> {
  const url = new URL(c.req.url);
  const out = new Set([url.origin]);
  const add = (scheme: string, host: string) => {
    const o = normalOrigin(`${scheme}://${host}`);
    if (o) out.add(o);
  };
  add(c.env.scheme, url.host);
  const name = c.env.serverName.includes(":") && !c.env.serverName.startsWith("[")
    ? `[${c.env.serverName}]`
    : c.env.serverName;
  add(c.env.scheme, `${name}:${c.env.serverPort}`);
  return out;
}

/** `https://Example.com:443` → `https://example.com`; null for `null` and other non-URLs. */
function normalOrigin(origin: string): string | null {
  try {
    const u = new URL(origin);
    return u.protocol === "http:" || u.protocol === "https:" ? u.origin : null;
  } catch {
    return null;
  }
}

/** Enough to tell sessions apart, far too little to take one over (at most a quarter of the id). */
function maskId(id: string): string {
  return `${id.slice(0, Math.min(8, Math.floor(id.length / 4)))}…`;
}

function sessionHandle(key: Uint8Array, x: ContextView, id: string): string {
  return nodeCrypto().createHmac("sha256", key).update(`${x.engine}\n${x.host}\n${x.path}\n${id}`).digest().subarray(
    0,
    16,
  ).toString(
    "base64url",
  );
}

function idOfHandle(key: Uint8Array, x: ContextView, handle: string | undefined): string | undefined {
  if (!handle) return undefined;
  return x.manager.findSessions().find((s) => sessionHandle(key, x, s.id) === handle)?.id;
}

/** `contexts()` builds new views on each call: contexts are told apart by engine, host and path. */
const contextKey = (x: ContextView) => `${x.engine}\n${x.host}\n${x.path}`;

/** Each context's session store as the manager app shows it; a store that does not answer within 2 s is shown without its count. */
async function storeStatuses(v: AdminView): Promise<Map<string, StoreStatus>> {
  const out = new Map<string, StoreStatus>();
  await Promise.all(
    v.contexts().map(async (x) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), 2000)));
      const status = await Promise.race([x.manager.storeStatus().catch(() => null), late]);
      clearTimeout(timer);
      if (status) out.set(contextKey(x), status);
    }),
  );
  return out;
}

async function overview(v: AdminView) {
  const stores = await storeStatuses(v);
  return {
    version: v.version,
    runtime: v.runtime,
    connectors: v.connectors(),
    certificates: v.certificates?.() ?? [],
    contexts: v.contexts().map((x) => ({
      engine: x.engine,
      host: x.host,
      path: x.path || "/",
      name: x.name,
      docBase: x.docBase,
      handler: x.handler,
      sessionTimeout: x.sessionTimeout,
      stats: x.manager.getStats(),
      ...(stores.has(contextKey(x)) ? { store: stores.get(contextKey(x)) } : {}),
    })),
  };
}

function page(
  v: AdminView,
  base: string,
  fullIds: boolean,
  keys: { csrf: string; handleKey: Uint8Array },
  message = "",
  stores: Map<string, StoreStatus> = new Map(),
): string {
  const e = escapeHtml;
  const connectors = v
    .connectors()
    .map((c) =>
      `<tr><td>${e(c.name)}</td><td><a href="${e(c.url)}">${e(c.url)}</a></td><td>${
        e(c.reason)
      }</td><td>${c.active} / ${c.queued} / ${c.rejected}</td><td>${e(c.tlsHosts.join(", "))}</td></tr>`
    )
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
            `<li><code>${e(fullIds ? ss.id : maskId(ss.id))}</code> last used ${
              e(new Date(ss.lastAccessedTime).toISOString())
            } <form class="inline" method="post" action="${
              e(base)
            }/html/expire"><input type="hidden" name="csrf" value="${keys.csrf}"><input type="hidden" name="host" value="${
              e(x.host)
            }"><input type="hidden" name="path" value="${e(x.path || "/")}"><input type="hidden" name="handle" value="${
              e(sessionHandle(keys.handleKey, x, ss.id))
            }"><button>Expire</button></form></li>`,
        )
        .join("");
      return `<tr><td>${e(x.host)}</td><td>${e(x.path || "/")}</td><td>${
        e(x.handler ?? x.docBase ?? "")
      }</td><td>${s.activeSessions}</td><td>${s.maxActive}</td><td>${s.sessionCounter}</td><td>${s.expiredSessions}</td><td>${s.rejectedSessions}</td><td>${s.sessionAverageAliveTime}s</td></tr>${
        sessions ? `<tr><td></td><td colspan="8"><ul>${sessions}</ul></td></tr>` : ""
      }`;
    })
    .join("");
  const renewForm = (name: string) =>
    `<form class="inline" method="post" action="${
      e(base)
    }/html/renewCertificate"><input type="hidden" name="csrf" value="${keys.csrf}"><input type="hidden" name="name" value="${
      e(name)
    }"><button>Renew</button></form>`;
  const certificates = (v.certificates?.() ?? [])
    .map((r) =>
      `<tr><td>${e(r.connector)}</td><td>${e(r.hostName)}</td><td>${e(r.source)}</td><td>${
        e(r.names.join(", "))
      }</td><td>${e(r.issuer)}</td><td>${e(r.notBefore)}</td><td>${e(r.notAfter)}</td><td>${r.daysLeft}</td><td>${
        e(r.nextRenewal ?? "")
      }</td><td>${e(r.lastError ?? "")}</td><td>${
        r.source.startsWith("acme") ? renewForm(r.names[0] ?? r.hostName) : ""
      }</td></tr>`
    )
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bobcat manager</title>
<style>${STYLE}</style>
</head><body><h1>bobcat manager</h1><p>bobcat ${e(v.version)} on ${e(v.runtime)}</p>
${message ? `<p class="msg">${e(message)}</p>` : ""}
<h2>Connectors</h2><table><tr><th>name</th><th>URL</th><th>back-end</th><th>in flight / queued / rejected</th><th>SSLHostConfigs</th></tr>${connectors}</table>
<form method="post" action="${
    e(base)
  }/html/sslReload"><input type="hidden" name="csrf" value="${keys.csrf}"><button>Reload TLS certificates</button></form>
<h2>Certificates</h2><table><tr><th>connector</th><th>SSLHostConfig</th><th>source</th><th>names</th><th>issuer</th><th>not before</th><th>not after</th><th>days left</th><th>next renewal</th><th>last ACME error</th><th></th></tr>${certificates}</table>
<h2>Applications</h2><table><tr><th>host</th><th>path</th><th>serves</th><th>active sessions</th><th>max active</th><th>session counter</th><th>expired</th><th>rejected</th><th>average alive</th></tr>${contexts}</table>
${
    stores.size
      ? `<h2>Session stores</h2><table><tr><th>host</th><th>path</th><th>store</th><th>consistency</th><th>sessions stored</th><th>pending writes</th><th>conflicts resolved</th><th>last error</th></tr>${
        v.contexts().filter((x) => stores.has(contextKey(x))).map((x) => [x, stores.get(contextKey(x))!] as const).map((
          [x, st],
        ) =>
          `<tr><td>${e(x.host)}</td><td>${e(x.path || "/")}</td><td>${e(st.store)}</td><td>${st.consistency}</td><td>${
            st.sessionsStored ?? "?"
          }</td><td>${st.pendingWrites} / ${st.pendingWritesLimit}</td><td>${st.conflictsResolved}</td><td>${
            st.lastError ? `${e(st.lastError)} (${e(new Date(st.lastErrorAt ?? 0).toISOString())})` : "none"
          }</td></tr>`
        ).join("")
      }</table>`
      : ""
  }
<p>Scripts: <code>${e(base)}/text/list</code>, <code>${e(base)}/text/sessions?path=/app</code>, <code>POST ${
    e(base)
  }/text/expire?path=/app&amp;idle=30</code>, <code>POST ${e(base)}/text/sslReload</code>, <code>${
    e(base)
  }/json</code>.</p>
</body></html>`;
}
