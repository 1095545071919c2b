/**
 * Authentication for constrained URLs (web.xml `<auth-constraint>` + `<login-config>`), as
 * Tomcat's authenticators do it, against the context's realm (realm.ts):
 *  - BASIC: `Authorization: Basic`, challenge `Basic realm="..."`;
 *  - DIGEST (RFC 7616, Tomcat's DigestAuthenticator defaults): qop=auth, SHA-256 and MD5
 *    challenges, nonces valid 300 s and bound to the client address, nonce counts checked;
 *  - FORM: the request is saved in the session and the login page served in its place; a POST
 *    to `j_security_check` (j_username, j_password) logs in, changes the session id, and
 *    redirects (303) to the saved request, which is replayed (method and body) when it comes;
 *    a failed login gets the error page;
 *  - CLIENT-CERT: the verified TLS client certificate's subject, roles from the realm.
 * 401 when no credentials, 403 when the user lacks the role, as Tomcat answers. Logins with a
 * password go through the realm's LockOutRealm.
 */
import { nodeCrypto } from "../util/node-crypto.ts";
import type { X509Certificate } from "@peculiar/x509";
import type { ContextConfig, SecurityConstraintConfig } from "../config/model.ts";
import { ConstraintChecker } from "./constraints.ts";
import type { Principal, RequestContext } from "./context.ts";
import { errorPage } from "./error-page.ts";
import type { LockOut } from "./lockout.ts";
import { digestHex, type Realm } from "./realm.ts";
import { readForm, readLimited } from "./body-limit.ts";
import { logger } from "../util/log.ts";

const log = logger("core");

/** Java's X500Principal.toString(): most specific RDN first, ", " between them. */
export function subjectDn(cert: X509Certificate): string {
  const rdns = cert.subjectName.toJSON() as Array<Record<string, string[]>>;
  return rdns
    .map((rdn) => Object.entries(rdn).map(([k, vs]) => vs.map((v) => `${k}=${v}`).join(" + ")).join(" + "))
    .reverse()
    .join(", ");
}

export const normaliseDn = (dn: string) => dn.split(",").map((p) => p.trim()).join(",").toLowerCase();

/** Session note names, as Tomcat's Constants.FORM_REQUEST_NOTE. */
const SAVED_REQUEST = "org.apache.catalina.authenticator.REQUEST";

interface SavedRequest {
  method: string;
  /** Encoded path and query, context path included. */
  uri: string;
  contentType: string | null;
  body: string | null;
}

/** What the authenticator decided: go on (with this request, for a replayed one), or answer. */
export type AuthOutcome = Response | Request | undefined;

/** Serves a page of the context (FORM's login and error pages) without going through constraints. */
export type PageForwarder = (page: string, status: number) => Promise<Response>;

export class Authenticator {
  private readonly constraints: SecurityConstraintConfig[];
  private readonly checker: ConstraintChecker;
  /** Tomcat's DigestAuthenticator: one key and opaque per authenticator (made on first use). */
  #digestKey?: Buffer;
  #opaque?: string;
  private get digestKey(): Buffer {
    return (this.#digestKey ??= nodeCrypto().randomBytes(32));
  }
  private get opaque(): string {
    return (this.#opaque ??= nodeCrypto().randomBytes(16).toString("hex"));
  }
  private readonly nonceCounts = new Map<string, Set<string>>();

  constructor(
    private readonly context: ContextConfig,
    readonly realm: Realm,
  ) {
    this.constraints = context.securityConstraints.filter((c) => c.authConstraint || (c.authRoles?.length ?? 0) > 0);
    this.checker = new ConstraintChecker(context.securityConstraints, context.denyUncoveredHttpMethods);
  }

  get lockOut(): LockOut | undefined {
    return this.realm.lockOut;
  }

  get empty(): boolean {
    return this.constraints.length === 0 && !this.context.denyUncoveredHttpMethods &&
      this.context.loginConfig?.authMethod !== "FORM";
  }

  /** Roles a request to `path` needs ("deny": nobody may), or undefined when no auth constraint governs it. */
  requiredRoles(method: string, path: string): string[] | "deny" | undefined {
    return this.checker.decide(method, path).auth;
  }

  /** Does the principal have one of `roles`? `**` is any authenticated user; `*` any role of securityRoles when the context lists them. */
  private permitted(principal: Principal, roles: string[]): boolean {
    if (roles.includes("**")) return true;
    if (roles.includes("*")) {
      const declared = this.context.securityRoles;
      if (!declared) return true;
      if (declared.some((r) => principal.roles.includes(r))) return true;
    }
    return roles.some((r) => r !== "*" && principal.roles.includes(r));
  }

  /** undefined: go on; a Request: go on with that one (a replayed FORM request); a Response: 401, 403, a login page. */
  check(
    req: Request,
    ctx: RequestContext,
    path: string,
    requestUri: string,
    forward: PageForwarder,
  ): AuthOutcome | Promise<AuthOutcome> {
    const login = this.context.loginConfig;
    if (login?.authMethod === "FORM") {
      if (req.method === "POST" && (path === "/j_security_check" || path.endsWith("/j_security_check"))) {
        return this.formLogin(req, ctx, forward);
      }
      const replay = this.replay(req, ctx, requestUri);
      if (replay) return replay;
    }
    const roles = this.requiredRoles(req.method, path);
    if (!roles) return undefined;
    if (roles === "deny") return errorPage(403, "Access to the requested resource has been denied");
    const known = ctx.principal;
    if (known) return this.authorize(known, roles);
    const pending = this.authenticate(req, ctx);
    const decide = (principal: Principal | null): AuthOutcome | Promise<AuthOutcome> =>
      principal ? this.authorize(principal, roles) : this.challenge(req, ctx, requestUri, forward);
    return pending instanceof Promise ? pending.then(decide) : decide(pending);
  }

  private authorize(principal: Principal, roles: string[]): Response | undefined {
    if (this.permitted(principal, roles)) return undefined;
    return errorPage(
      403,
      `Access to the requested resource has been denied: ${principal.name} lacks the role ${roles.join(" or ")}`,
    );
  }

  private authenticate(req: Request, ctx: RequestContext): Principal | null | Promise<Principal | null> {
    const method = this.context.loginConfig?.authMethod;
    if (method === "CLIENT-CERT") {
      const leaf = ctx.peerCertificates[0];
      if (!leaf) return null;
      const name = subjectDn(leaf);
      return this.realm.roles(normaliseDn(name)).then((roles) => {
        const p: Principal = { name, roles: roles ?? [], authType: "CLIENT_CERT" };
        ctx.principal = p;
        return p;
      });
    }
    const header = req.headers.get("authorization");
    if (!header) return null;
    if (method === "BASIC") return this.basic(header, ctx);
    if (method === "DIGEST") return this.digest(header, req, ctx);
    return null;
  }

  private async basic(header: string, ctx: RequestContext): Promise<Principal | null> {
    if (!/^basic /i.test(header)) return null;
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(header.slice(6).trim()), (c) => c.charCodeAt(0)));
    } catch {
      return null;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return null;
    const user = await this.realm.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (!user) return null;
    const p: Principal = { name: user.name, roles: user.roles, authType: "BASIC" };
    ctx.principal = p;
    return p;
  }

  // ---- DIGEST ----------------------------------------------------------------------------------

  private nonce(ctx: RequestContext, time = Date.now()): string {
    const mac = nodeCrypto().createHmac("sha256", this.digestKey).update(`${ctx.remoteAddr}:${time}`).digest("hex");
    return `${time}:${mac}`;
  }

  private nonceValid(nonce: string, ctx: RequestContext): "ok" | "stale" | "bad" {
    const colon = nonce.indexOf(":");
    const time = Number(nonce.slice(0, colon));
    if (colon < 0 || !Number.isSafeInteger(time)) return "bad";
    const expected = this.nonce(ctx, time);
    if (expected.length !== nonce.length || !nodeCrypto().timingSafeEqual(Buffer.from(expected), Buffer.from(nonce))) {
      return "bad";
    }
    // Tomcat's nonceValidity: 5 minutes.
    return Date.now() - time > 300_000 ? "stale" : "ok";
  }

  private async digest(header: string, req: Request, ctx: RequestContext): Promise<Principal | null> {
    if (!/^digest /i.test(header)) return null;
    const p = parseDigestParams(header.slice(7));
    const login = this.context.loginConfig!;
    const algorithm = (p.algorithm ?? "MD5").toUpperCase();
    if (!p.username || !p.nonce || !p.uri || !p.response || p.realm !== login.realmName) return null;
    if (!["MD5", "SHA-256"].includes(algorithm) || !this.realm.digestAlgorithms().includes(algorithm)) return null;
    if (p.opaque !== this.opaque) return null;
    const valid = this.nonceValid(p.nonce, ctx);
    if (valid !== "ok") {
      if (valid === "stale") ctx.attributes.set("bobcat.digest.stale", true);
      return null;
    }
    // The digest covers the URI the client asked for: it must be this request's.
    const url = new URL(req.url, "http://x");
    if (p.uri !== url.pathname + url.search && p.uri !== ctx.requestURI + url.search && p.uri !== ctx.requestURI) {
      return null;
    }
    if (p.qop !== undefined) {
      if (p.qop !== "auth" || !p.nc || !p.cnonce || !/^[0-9a-f]{8}$/i.test(p.nc)) return null;
      // Each nonce count once per nonce (replays refused); bounded as Tomcat's nonceCountWindowSize.
      let seen = this.nonceCounts.get(p.nonce);
      if (!seen) {
        if (this.nonceCounts.size >= 1000) this.nonceCounts.delete(this.nonceCounts.keys().next().value!);
        this.nonceCounts.set(p.nonce, seen = new Set());
      }
      if (seen.has(p.nc) || seen.size >= 100) return null;
      seen.add(p.nc);
    }
    const ha1 = await this.realm.digestHa1(p.username, login.realmName, algorithm);
    let user: { name: string; roles: string[] } | null = null;
    if (ha1) {
      const ha2 = digestHex(algorithm, `${req.method}:${p.uri}`);
      const expected = p.qop
        ? digestHex(algorithm, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`)
        : digestHex(algorithm, `${ha1}:${p.nonce}:${ha2}`);
      if (
        expected.length === p.response.length &&
        nodeCrypto().timingSafeEqual(Buffer.from(expected), Buffer.from(p.response.toLowerCase()))
      ) {
        const roles = await this.realm.roles(p.username);
        user = { name: p.username, roles: roles ?? [] };
      }
    }
    const allowed = this.lockOut ? this.lockOut.filter(p.username, user) : user;
    if (!allowed) return null;
    const principal: Principal = { name: allowed.name, roles: allowed.roles, authType: "DIGEST" };
    ctx.principal = principal;
    return principal;
  }

  // ---- FORM ------------------------------------------------------------------------------------

  /** The saved request, when this is the request the login redirected to. */
  private replay(req: Request, ctx: RequestContext, requestUri: string): Request | undefined {
    const session = ctx.getSession(false);
    const saved = session?.getAttribute<SavedRequest>(SAVED_REQUEST);
    if (!session || !saved || !ctx.principal) return undefined;
    if (saved.uri !== requestUri) return undefined;
    session.removeAttribute(SAVED_REQUEST);
    const headers = new Headers(req.headers);
    if (saved.contentType) headers.set("content-type", saved.contentType);
    else headers.delete("content-type");
    headers.delete("content-length");
    const hasBody = saved.body !== null && saved.method !== "GET" && saved.method !== "HEAD";
    return new Request(req.url, { method: saved.method, headers, body: hasBody ? saved.body : undefined });
  }

  private async formLogin(req: Request, ctx: RequestContext, forward: PageForwarder): Promise<Response> {
    const login = this.context.loginConfig!;
    const form = await readForm(req, ctx.connector.maxPostSize);
    const name = typeof form.j_username === "string" ? form.j_username : "";
    const password = typeof form.j_password === "string" ? form.j_password : "";
    const user = name ? await this.realm.authenticate(name, password) : null;
    if (!user) {
      log.debug(`FORM login failed for [${name.slice(0, 100)}]`);
      return this.formPage(login.formErrorPage, forward, "the login failed");
    }
    // Tomcat's FormAuthenticator: without a session there is nothing to return to (408), with one
    // but no saved request the login page was reached directly (400).
    const session = ctx.getSession(false);
    if (!session) {
      return errorPage(
        408,
        "The time allowed for the login process has been exceeded: ask for the page you wanted again",
      );
    }
    const saved = session.getAttribute<SavedRequest>(SAVED_REQUEST);
    ctx.principal = { name: user.name, roles: user.roles, authType: "FORM" };
    // Into the session, with a new session id (Tomcat's changeSessionIdOnAuthentication).
    ctx.sessions.onLogin?.(ctx.principal);
    if (!saved) {
      return errorPage(400, "Invalid direct reference to form login page: there is no request to return to");
    }
    return new Response(null, { status: 303, headers: { location: saved.uri, "cache-control": "no-store" } });
  }

  private async formPage(page: string | undefined, forward: PageForwarder, what: string): Promise<Response> {
    if (!page) {
      return errorPage(
        500,
        `FORM login: ${what} and the context has no ${what === "the login failed" ? "formErrorPage" : "formLoginPage"}`,
      );
    }
    const res = await forward(page, 200);
    res.headers.set("cache-control", "private");
    return res;
  }

  private async challenge(
    req: Request,
    ctx: RequestContext,
    requestUri: string,
    forward: PageForwarder,
  ): Promise<Response> {
    const login = this.context.loginConfig;
    switch (login?.authMethod) {
      case "BASIC":
        return errorPage(401, "Authentication is required", {
          "www-authenticate": `Basic realm="${login.realmName}", charset="UTF-8"`,
        });
      case "DIGEST": {
        const nonce = this.nonce(ctx);
        const stale = ctx.attributes.get("bobcat.digest.stale") ? ", stale=true" : "";
        const res = errorPage(401, "Authentication is required");
        const algorithms = this.realm.digestAlgorithms().filter((a) => a === "SHA-256" || a === "MD5");
        if (algorithms.length === 0) {
          log.warn(
            `context ${
              this.context.path || "/"
            }: DIGEST needs plain or H(user:realm:password) stored passwords; this realm's cannot answer a DIGEST login`,
          );
        }
        for (const algorithm of algorithms) {
          res.headers.append(
            "www-authenticate",
            `Digest realm="${login.realmName}", qop="auth", nonce="${nonce}", opaque="${this.opaque}"${stale}, algorithm=${algorithm}`,
          );
        }
        return res;
      }
      case "FORM": {
        // Save the request (method, URI, body) to replay after the login, then show the login page.
        const session = ctx.getSession(true)!;
        const body = req.method === "GET" || req.method === "HEAD"
          ? null
          : new TextDecoder().decode(await readBodyLimited(req, ctx.connector.maxPostSize ?? 2097152));
        session.setAttribute(
          SAVED_REQUEST,
          {
            method: req.method,
            uri: requestUri,
            contentType: req.headers.get("content-type"),
            body,
          } satisfies SavedRequest,
        );
        return this.formPage(login.formLoginPage, forward, "a login is needed");
      }
      case "CLIENT-CERT":
        return errorPage(
          401,
          ctx.secure ? "No client certificate chain in this request" : "CLIENT-CERT authentication needs HTTPS",
        );
      default:
        return errorPage(403, "Access to the requested resource has been denied (no loginConfig on this context)");
    }
  }
}

function readBodyLimited(req: Request, limit: number): Promise<Uint8Array> {
  return readLimited(
    req,
    limit < 0 ? Number.MAX_SAFE_INTEGER : limit,
    "request body saved for the FORM login (maxPostSize)",
  );
}

/** `a="b", c=d` as RFC 7616 writes the Authorization parameters. */
export function parseDigestParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null && m[0] !== "") {
    out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!;
  }
  return out;
}
