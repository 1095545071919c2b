/**
 * The ROOT page of the default config: tells the user the server runs, what it is serving
 * them over, and where to go next (the config file, TLS, sessions).
 */
import { Hono } from "hono";
import type { ContextConfig } from "../config/model.ts";
import type { BobcatContext } from "../core/context.ts";
import { escapeHtml } from "../core/error-page.ts";
import { VERSION } from "../version.ts";

export function rootApp(_context: ContextConfig) {
  const app = new Hono<{ Bindings: BobcatContext }>();
  app.get("/", (c) => c.html(page(c.env)));
  app.get("/favicon.ico", () => new Response(null, { status: 204 }));
  return app;
}

function page(ctx: BobcatContext): string {
  const tls = ctx.secure
    ? `<p class="ok">You are connected over <b>HTTPS</b>${
      ctx.cipherSuite ? ` (${escapeHtml(ctx.cipherSuite)})` : ""
    }.</p>`
    : `<p class="warn">You are connected over plain <b>HTTP</b>.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bobcat ${VERSION} is running</title>
<style>
body{font-family:system-ui,-apple-system,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1d2330;line-height:1.5}
h1{font-size:1.8rem;margin-bottom:.2rem}.sub{color:#5a6270;margin-top:0}
.ok{background:#e7f6ec;border-left:4px solid #2f9e55;padding:.6rem .8rem}
.warn{background:#fff6e0;border-left:4px solid #d9a300;padding:.6rem .8rem}
code,pre{background:#f3f4f7;border-radius:4px;padding:.1rem .3rem}pre{padding:.7rem;overflow:auto}
li{margin:.3rem 0}
</style></head><body>
<h1>bobcat is running</h1>
<p class="sub">A Tomcat-style web server for Bun and Deno &middot; version ${escapeHtml(VERSION)}</p>
${tls}
<h2>Where to go next</h2>
<ul>
<li><b>Your own site:</b> add a context to the host in your config:
<pre>contexts:
  - path: /app
    docBase: /srv/www/app        # static files
    handler: app/server.ts       # or a Hono app / { fetch(request, ctx) }</pre></li>
<li><b>Your own certificate:</b> point the HTTPS connector's certificate at a keystore
(<code>certificateKeystoreFile</code>, JKS or PKCS12) or PEM files (<code>certificateFile</code>,
<code>certificateKeyFile</code>). The default config uses a self-signed certificate for
<code>localhost</code> made on first start, which is why browsers warn about it.</li>
<li><b>Check a config before using it:</b> <code>bobcat check --config server.yaml</code></li>
<li><b>Coming from Tomcat?</b> Attribute names are the ones of <code>server.xml</code>:
<code>connectors</code>, <code>sslHostConfigs</code>, <code>certificates</code>, <code>hosts</code>,
<code>contexts</code>, <code>manager</code>.</li>
</ul>
<h2>This request</h2>
<ul>
<li>scheme <code>${escapeHtml(ctx.scheme)}</code>, server <code>${escapeHtml(ctx.serverName)}:${ctx.serverPort}</code>,
connector <code>${escapeHtml(ctx.connector.name)}</code></li>
<li>from <code>${escapeHtml(ctx.remoteAddr)}</code></li>
</ul>
</body></html>
`;
}
