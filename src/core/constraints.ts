/**
 * web.xml security constraints: servlet URL-pattern matching and the transport guarantee.
 * A CONFIDENTIAL (or INTEGRAL) constraint on a non-secure request redirects to the
 * connector's redirectPort with 302, as Tomcat's RealmBase.hasUserDataPermission does;
 * a redirectPort <= 0 answers 403.
 */
import type { SecurityConstraintConfig } from "../config/model.ts";
export { urlPatternProblem } from "../config/url-pattern.ts";

/**
 * Servlet 12.2 matching as Tomcat's RealmBase does it, case-sensitively, on the decoded and
 * normalised path below the context: `/` and `/*` match everything, `/prefix/*` the prefix
 * itself and what lies below it, `*.ext` a last segment ending in `.ext` (the extension is
 * what follows the last "."), `""` the context root, anything else the exact path.
 */
export function urlPatternMatches(pattern: string, path: string): boolean {
  if (pattern === "/" || pattern === "/*") return true;
  if (pattern === "") return path === "/";
  if (pattern.endsWith("/*")) {
    const prefix = pattern.slice(0, -2);
    return path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47);
  }
  if (pattern.startsWith("*.")) {
    const slash = path.lastIndexOf("/");
    const dot = path.lastIndexOf(".");
    return slash >= 0 && dot > slash && dot !== path.length - 1 && path.length - dot === pattern.length - 1 &&
      path.endsWith(pattern.slice(1));
  }
  return path === pattern;
}

export class ConstraintChecker {
  private readonly confidential: SecurityConstraintConfig[];

  constructor(constraints: SecurityConstraintConfig[]) {
    this.confidential = constraints.filter((c) => c.transportGuarantee !== "NONE");
  }

  get empty(): boolean {
    return this.confidential.length === 0;
  }

  /** Does a request for `path` (relative to the context) need a secure transport? */
  needsSecure(method: string, path: string): boolean {
    for (const c of this.confidential) {
      if (c.httpMethods && c.httpMethods.length > 0 && !c.httpMethods.includes(method)) continue;
      if (c.urlPatterns.some((p) => urlPatternMatches(p, path || "/"))) return true;
    }
    return false;
  }
}

export function secureRedirect(pathname: string, search: string, serverName: string, redirectPort: number): Response {
  if (redirectPort <= 0) {
    return new Response(`HTTP Status 403 – Forbidden: ${pathname} requires a secure connection`, {
      status: 403,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
  const host = serverName.includes(":") && !serverName.startsWith("[") ? `[${serverName}]` : serverName;
  const port = redirectPort === 443 ? "" : `:${redirectPort}`;
  return new Response(null, {
    status: 302,
    headers: { location: `https://${host}${port}${pathname}${search}` },
  });
}
