/**
 * web.xml security constraints: servlet URL-pattern matching and the transport guarantee.
 * A CONFIDENTIAL (or INTEGRAL) constraint on a non-secure request redirects to the
 * connector's redirectPort with 302, as Tomcat's RealmBase.hasUserDataPermission does;
 * a redirectPort <= 0 answers 403.
 */
import type { SecurityConstraintConfig } from "../config/model.ts";
import { sizedBody } from "./error-page.ts";
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

/** Does a constraint apply to this method (httpMethods, or not one of httpMethodOmissions)? */
function appliesTo(c: SecurityConstraintConfig, method: string): boolean {
  if (c.httpMethods && c.httpMethods.length > 0) return c.httpMethods.includes(method);
  if (c.httpMethodOmissions && c.httpMethodOmissions.length > 0) return !c.httpMethodOmissions.includes(method);
  return true;
}

/** What the constraints that govern one request demand. */
export interface ConstraintDecision {
  /** CONFIDENTIAL/INTEGRAL: a plain-HTTP request is redirected to the redirectPort. */
  secure: boolean;
  /** undefined: no login needed; "deny": nobody (403); otherwise the roles (`*`, `**` included). */
  auth?: "deny" | string[];
}

/**
 * The constraints of a context, found for a request as Tomcat's RealmBase.findSecurityConstraints
 * finds them: the exact patterns first (matched at all, the answer is the ones for this method,
 * possibly none), then the longest `/prefix/*` that applies to the method, then extensions, then
 * `/`. Combined as the Servlet specification says: a constraint without user-data (NONE) or
 * without auth-constraint among them lifts that requirement; an auth-constraint without roles
 * denies everybody.
 */
export class ConstraintChecker {
  private readonly all: SecurityConstraintConfig[];

  constructor(constraints: SecurityConstraintConfig[], private readonly denyUncovered = false) {
    this.all = constraints;
  }

  get empty(): boolean {
    return this.all.length === 0;
  }

  /** The governing constraints, or null when none covers the path (for any method). */
  find(method: string, path: string): SecurityConstraintConfig[] | null {
    const uri = path || "/";
    let found = false;
    let results: SecurityConstraintConfig[] = [];
    for (const c of this.all) {
      if (c.urlPatterns.some((p) => p === uri || (p === "" && uri === "/"))) {
        found = true;
        if (appliesTo(c, method)) results.push(c);
      }
    }
    if (found) return results;
    let longest = -1;
    let covered = false;
    for (const c of this.all) {
      let length = -1;
      for (const p of c.urlPatterns) {
        if (!p.startsWith("/") || !p.endsWith("/*") || p.length < longest || p.length < length) continue;
        if (p.length === 2 || urlPatternMatches(p, uri)) length = p.length;
      }
      if (length < 0) continue;
      covered = true;
      if (length > longest) {
        found = false;
        results = [];
        longest = length;
      }
      if (appliesTo(c, method)) {
        found = true;
        results.push(c);
      }
    }
    if (found) return results;
    for (const c of this.all) {
      if (c.urlPatterns.some((p) => p.startsWith("*.") && urlPatternMatches(p, uri))) {
        found = true;
        covered = true;
        if (appliesTo(c, method)) results.push(c);
      }
    }
    if (found) return results;
    for (const c of this.all) {
      if (c.urlPatterns.includes("/")) {
        covered = true;
        if (appliesTo(c, method)) results.push(c);
      }
    }
    if (results.length > 0) return results;
    return covered ? [] : null;
  }

  decide(method: string, path: string): ConstraintDecision {
    const found = this.find(method, path);
    if (found === null) return { secure: false };
    // <deny-uncovered-http-methods/>: a covered path with no constraint for this method is refused.
    if (found.length === 0) return this.denyUncovered ? { secure: false, auth: "deny" } : { secure: false };
    const secure = found.every((c) => c.transportGuarantee !== "NONE");
    if (found.some((c) => !c.authConstraint)) return { secure };
    const roles = found.flatMap((c) => c.authRoles ?? []);
    return { secure, auth: roles.length === 0 ? "deny" : roles };
  }

  /** Does a request for `path` (relative to the context) need a secure transport? */
  needsSecure(method: string, path: string): boolean {
    return this.decide(method, path).secure;
  }
}

export function secureRedirect(pathname: string, search: string, serverName: string, redirectPort: number): Response {
  if (redirectPort <= 0) {
    const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
    const body = sizedBody(`HTTP Status 403 – Forbidden: ${pathname} requires a secure connection`, headers);
    return new Response(body, { status: 403, headers });
  }
  const host = serverName.includes(":") && !serverName.startsWith("[") ? `[${serverName}]` : serverName;
  const port = redirectPort === 443 ? "" : `:${redirectPort}`;
  return new Response(null, {
    status: 302,
    headers: { location: `https://${host}${port}${pathname}${search}` },
  });
}
