/**
 * A RewriteValve on a Host or a Context: where its rules come from, the request as the rules
 * see it, and what the engine does with their result (rewrite.ts has the rules themselves).
 *
 * The engine calls decide() after mapping, before constraints and the handler. An internal
 * rewrite comes back as a new raw path that the engine routes again from the start: the path
 * goes through normalizePath (request-target.ts) like any request's, a context's rewrite is
 * confined below its context path (".." cannot climb out of it), and the new path is mapped,
 * constrained and served as if the client had asked for it.
 */
import { isAbsolute, resolve } from "../util/host/path.ts";
import type { RewriteValveConfig } from "../config/model.ts";
import { sourceOf } from "../config/validate.ts";
import { BobcatError } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import type { RequestContext } from "./context.ts";
import { errorPage } from "./error-page.ts";
import type { Platform } from "./platform.ts";
import { normalizePath } from "./request-target.ts";
import {
  decodeLoosely,
  encodeForRewrite,
  encodeRewrittenPath,
  encodeRewrittenQuery,
  parseRewriteConfig,
  RewriteLoopError,
  type RewriteRequest,
  type RewriteRules,
} from "./rewrite.ts";

const log = logger("core");

export class RewriteValveRuntime {
  constructor(
    readonly rules: RewriteRules,
    /** On a Context: the rules see paths below the context path, and write paths below it. */
    readonly contextLevel: boolean,
    /** For logs: "host localhost", "context /app". */
    readonly label: string,
  ) {}

  /**
   * The valve's rules: its `configuration` text, else `file` (conf/<Engine>/<Host>/rewrite.config
   * for a host, WEB-INF/rewrite.config for a context). Undefined when the valve is disabled or has
   * no rules. A missing file is an error: a valve configured to redirect or refuse must not
   * quietly do nothing.
   */
  static async load(
    valve: RewriteValveConfig,
    opts: { contextLevel: boolean; label: string; file: string | undefined; baseDir: string; platform: Platform },
  ): Promise<RewriteValveRuntime | undefined> {
    if (!valve.enabled) return undefined;
    const src = sourceOf(valve);
    let rules: RewriteRules;
    if (valve.configuration !== undefined) {
      rules = parseRewriteConfig(valve.configuration, src.attr("configuration"), 1, true);
    } else {
      const where = src.self;
      if (!opts.file) {
        throw new BobcatError(
          "config.rewrite",
          `RewriteValve on ${opts.label}: a context without a docBase has no WEB-INF/rewrite.config`,
          { where, fix: "give the rules in the valve's configuration attribute" },
        );
      }
      const file = isAbsolute(opts.file) ? opts.file : resolve(opts.baseDir, opts.file);
      if (!opts.platform.readTextFile) {
        throw new BobcatError(
          "platform.noFiles",
          `RewriteValve on ${opts.label}: ${file} is a file, which ${opts.platform.name} does not have`,
          { where, fix: "give the rules in the valve's configuration attribute" },
        );
      }
      let text: string;
      try {
        text = await opts.platform.readTextFile(file);
      } catch (e) {
        throw new BobcatError(
          "config.rewrite",
          `RewriteValve on ${opts.label}: cannot read its rules from ${file}: ${(e as Error).message}`,
          {
            where,
            fix:
              `write the rules to ${file} (Tomcat reads them from there), or give them in the valve's configuration attribute`,
          },
        );
      }
      rules = parseRewriteConfig(text, { file }, 1);
    }
    if (rules.empty) {
      log.info(`RewriteValve on ${opts.label}: no rules, the valve does nothing`);
      return undefined;
    }
    return new RewriteValveRuntime(rules, opts.contextLevel, opts.label);
  }
}

/** What the engine knows of a mapped request when the rules run. */
export interface RewriteInput {
  req: Request;
  ctx: RequestContext;
  /** The raw path as the client sent it (Tomcat's getRequestURI), or as an earlier rewrite made it. */
  requestURI: string;
  /** "?..." or "". */
  search: string;
  /** The decoded, normalised path, context path included. */
  pathname: string;
  /** The mapped context, if any: its path (decoded and encoded) and docBase. */
  contextPath: string;
  encodedContextPath: string;
  docBase: string | undefined;
  platform: Platform;
}

/** The rules' verdict for the engine. */
export type RewriteDecision =
  | { kind: "respond"; response: Response }
  | {
    kind: "continue";
    /** A new raw path (and query) to route from the start, when a rule changed the URL. */
    rawPath?: string;
    search?: string;
    attributes: Array<[string, string]>;
    cookies: string[];
    type?: string;
  };

/** Runs one valve's rules over a request. Undefined: nothing matched that changes anything. */
export function decide(valve: RewriteValveRuntime, input: RewriteInput): RewriteDecision | undefined {
  const relPath = input.pathname.slice(input.contextPath.length);
  const url = valve.contextLevel ? relPath : input.pathname;
  let result;
  try {
    result = valve.rules.evaluate(encodeForRewrite(url), requestView(input, relPath));
  } catch (e) {
    if (!(e instanceof RewriteLoopError)) throw e;
    log.error(`RewriteValve on ${valve.label}: ${e.message}`);
    return {
      kind: "respond",
      response: errorPage(500, "The rewrite rules did not come to an end for this request"),
    };
  }
  const originalQuery = input.search.slice(1);
  if (result.kind === "status") {
    log.debug(`RewriteValve on ${valve.label}: ${input.pathname} → ${result.status} (line ${result.rule.line})`);
    return {
      kind: "respond",
      response: errorPage(
        result.status,
        result.status === 400
          ? "A cookie the rewrite rules set from this request would not be a valid cookie value"
          : result.status === 403
          ? `Access to the requested resource [${input.pathname}] has been denied`
          : `The requested resource [${input.pathname}] is no longer available`,
      ),
    };
  }
  if (result.kind === "redirect") {
    const [p, q] = splitQuery(result.url);
    let location = encodeRewrittenPath(p);
    if (!result.qsdiscard && originalQuery !== "") {
      if (q === undefined) location += "?" + originalQuery;
      else if (result.qsappend) location += "?" + encodeRewrittenQuery(q) + "&" + originalQuery;
      else if (q !== "") location += "?" + encodeRewrittenQuery(q);
    } else if (q !== undefined) {
      location += "?" + encodeRewrittenQuery(q);
    }
    if (valve.contextLevel && location.startsWith("/") && !hasScheme(location)) {
      location = input.encodedContextPath + location;
    }
    if (result.noescape) location = decodeLoosely(location);
    if (!hasScheme(location)) {
      const base = new URL("http://h" + input.requestURI);
      let abs = resolveUrl(location, base);
      if (abs?.host !== base.host) {
        // A location without a scheme is a resource of this server, but a browser reads "//x"
        // or "/\\x" as the origin x: a back-reference or header that starts with "/"
        // (`RewriteRule ^/go$ /%1 [R]` with ?to=/evil.example) must not send the client to
        // another site. Its leading separators are one "/" here (as the server maps such a path).
        let i = 0;
        while (location[i] === "/" || location[i] === "\\") i++;
        location = "/" + location.slice(i);
        abs = resolveUrl(location, base);
      }
      if (abs?.host !== base.host) {
        return { kind: "respond", response: errorPage(400, "The rewritten redirect location is not a valid URL") };
      }
      // Relative to the request's URL, as Tomcat's sendRedirect resolves it.
      if (!location.startsWith("/")) location = abs.pathname + abs.search + abs.hash;
    }
    // A Location must be one header line of visible ASCII (an NE redirect may have decoded
    // it into something else): Tomcat answers 400 to that.
    if (!/^[\x21-\x7e]+$/.test(location)) {
      return {
        kind: "respond",
        response: errorPage(400, "The rewritten redirect location is not a valid URL"),
      };
    }
    log.debug(`RewriteValve on ${valve.label}: ${input.pathname} → ${result.status} ${location}`);
    return { kind: "respond", response: new Response(null, { status: result.status, headers: { location } }) };
  }
  const decision: RewriteDecision = {
    kind: "continue",
    attributes: result.attributes,
    cookies: result.cookies,
    type: result.type,
  };
  if (result.url === undefined) {
    if (result.attributes.length === 0 && result.cookies.length === 0 && result.type === undefined) return undefined;
    if (result.qsdiscard) decision.search = "";
    return decision;
  }
  const [p, q] = splitQuery(result.url);
  let raw = encodeRewrittenPath(p);
  if (!raw.startsWith("/")) raw = "/" + raw;
  // The same checks as a request's path: no %2F, no "\" or NUL, no ".." above the root —
  // and the root is the context's for a context's valve, so it cannot climb out of it.
  const checked = normalizePath(raw);
  if (!checked.ok) {
    log.debug(`RewriteValve on ${valve.label}: ${input.pathname} → ${raw} refused: ${checked.reason}`);
    return {
      kind: "respond",
      response: errorPage(400, `Bad Request: the rewritten path is refused: ${checked.reason}`),
    };
  }
  decision.rawPath = (valve.contextLevel ? input.encodedContextPath : "") + raw;
  if (q === undefined) decision.search = result.qsdiscard ? "" : input.search;
  else {
    const parts = [encodeRewrittenQuery(q)];
    if (result.qsappend && !result.qsdiscard) parts.push(originalQuery);
    const joined = parts.filter((s) => s !== "").join("&");
    decision.search = joined === "" ? "" : "?" + joined;
  }
  log.debug(`RewriteValve on ${valve.label}: ${input.pathname} → ${decision.rawPath}${decision.search}`);
  return decision;
}

/** Adds the T= type and CO= cookies of the rules that matched to the response. */
export function decorate(res: Response, cookies: string[], type: string | undefined): Response {
  if (cookies.length === 0 && (type === undefined || res.headers.has("content-type"))) return res;
  const headers = new Headers(res.headers);
  for (const c of cookies) headers.append("set-cookie", c);
  if (type !== undefined && !headers.has("content-type")) headers.set("content-type", type);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

function splitQuery(url: string): [string, string | undefined] {
  const q = url.indexOf("?");
  return q < 0 ? [url, undefined] : [url.slice(0, q), url.slice(q + 1)];
}

/** `location` resolved against `base` as a browser would; null when it is no URL at all. */
function resolveUrl(location: string, base: URL): URL | null {
  try {
    return new URL(location, base);
  } catch {
    return null;
  }
}

function hasScheme(s: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s);
}

const DAY = ["", "1", "2", "3", "4", "5", "6", "7"];

/** The request as the rules see it (Tomcat's ResolverImpl). */
function requestView(input: RewriteInput, relPath: string): RewriteRequest {
  const { req, ctx } = input;
  const h = (name: string) => req.headers.get(name) ?? "";
  const protocol = ctx.conn.httpVersion ?? "HTTP/1.1";
  return {
    variable(name) {
      switch (name) {
        case "HTTP_USER_AGENT":
          return h("user-agent");
        case "HTTP_REFERER":
          return h("referer");
        case "HTTP_COOKIE":
          return h("cookie");
        case "HTTP_FORWARDED":
          return h("forwarded");
        case "HTTP_HOST":
          return ctx.serverName;
        case "HTTP_PROXY_CONNECTION":
          return h("proxy-connection");
        case "HTTP_ACCEPT":
          return h("accept");
        case "REMOTE_ADDR":
        case "REMOTE_HOST":
          return ctx.remoteAddr;
        case "REMOTE_PORT":
          return String(ctx.remotePort);
        case "REQUEST_METHOD":
          return req.method;
        case "SCRIPT_FILENAME":
          return input.docBase ? input.docBase + relPath : "";
        case "REQUEST_PATH":
        case "SERVLET_PATH":
        case "REQUEST_FILENAME":
          return relPath;
        case "CONTEXT_PATH":
          return input.contextPath;
        case "QUERY_STRING":
          return input.search.slice(1);
        case "DOCUMENT_ROOT":
          return input.docBase ?? "";
        case "SERVER_NAME":
          return ctx.serverName;
        case "SERVER_ADDR":
          return ctx.connector.address ?? "";
        case "SERVER_PORT":
          return String(ctx.connector.port);
        case "SERVER_PROTOCOL":
          return protocol;
        case "SERVER_SOFTWARE":
          return "bobcat";
        case "THE_REQUEST":
          return `${req.method} ${input.requestURI} ${protocol}`;
        case "REQUEST_URI":
          return input.requestURI;
        case "HTTPS":
          return ctx.secure ? "on" : "off";
        // As Tomcat's java.util.Calendar fields: the month counts from 0, the week day from Sunday = 1.
        case "TIME_YEAR":
          return String(new Date().getFullYear());
        case "TIME_MON":
          return String(new Date().getMonth());
        case "TIME_DAY":
          return String(new Date().getDate());
        case "TIME_HOUR":
          return String(new Date().getHours());
        case "TIME_MIN":
          return String(new Date().getMinutes());
        case "TIME_SEC":
          return String(new Date().getSeconds());
        case "TIME_WDAY":
          return DAY[new Date().getDay() + 1]!;
        case "TIME":
          return new Date().toUTCString();
        // REMOTE_USER, REMOTE_IDENT, AUTH_TYPE, PATH_INFO: the rules run before authentication,
        // and the default servlet has no path info.
        default:
          return "";
      }
    },
    header: h,
    env(name) {
      const v = ctx.attributes.get(name);
      return v === undefined || v === null ? "" : String(v);
    },
    setEnv(name, value) {
      ctx.attributes.set(name, value);
    },
    ssl(name) {
      if (!ctx.secure) return "";
      switch (name) {
        case "HTTPS":
          return "on";
        case "SSL_SESSION_ID":
          return ctx.sslSessionId ?? "";
        case "SSL_CIPHER":
          return ctx.cipherSuite ?? "";
        case "SSL_PROTOCOL":
          return ctx.conn.tls?.protocol ?? "";
        default:
          return "";
      }
    },
    resource(kind, path) {
      if (!input.docBase || !input.platform.statResource) return false;
      // A decoded path: resolve "." and "..", never above the docBase.
      const out: string[] = [];
      for (const seg of path.split("/")) {
        if (seg === "" || seg === ".") continue;
        if (seg === "..") {
          if (out.length === 0) return false;
          out.pop();
        } else if (seg.includes("\\") || seg.includes("\0")) return false;
        else out.push(seg);
      }
      const st = input.platform.statResource(input.docBase, "/" + out.join("/"));
      if (!st) return false;
      return kind === "d" ? st.isDirectory : kind === "f" ? st.isFile : st.isFile && st.size > 0;
    },
  };
}
