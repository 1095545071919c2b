/**
 * Authentication for constrained URLs (web.xml `<auth-constraint>` + `<login-config>`):
 * CLIENT-CERT takes the verified TLS client certificate's subject as the user, BASIC checks a
 * user name and password; the realm (Tomcat's MemoryRealm) gives the roles. 401 when no
 * credentials, 403 when the user lacks the role, as Tomcat answers. BASIC logins go through
 * Tomcat's LockOutRealm (lockout.ts): a user name with too many failures in a row gets 401.
 */
import { timingSafeEqual } from "node:crypto";
import type { X509Certificate } from "@peculiar/x509";
import type { ContextConfig, SecurityConstraintConfig } from "../config/model.ts";
import { ConstraintChecker } from "./constraints.ts";
import type { Principal, RequestContext } from "./context.ts";
import { errorPage } from "./error-page.ts";
import { LockOut } from "./lockout.ts";

/** Java's X500Principal.toString(): most specific RDN first, ", " between them. */
export function subjectDn(cert: X509Certificate): string {
  const rdns = cert.subjectName.toJSON() as Array<Record<string, string[]>>;
  return rdns
    .map((rdn) => Object.entries(rdn).map(([k, vs]) => vs.map((v) => `${k}=${v}`).join(" + ")).join(" + "))
    .reverse()
    .join(", ");
}

const normaliseDn = (dn: string) => dn.split(",").map((p) => p.trim()).join(",").toLowerCase();

export class Authenticator {
  private readonly constraints: SecurityConstraintConfig[];
  private readonly checker: ConstraintChecker;
  private readonly users = new Map<string, { password?: string; roles: string[] }>();
  /** Tomcat's LockOutRealm around the realm, for user name and password logins (not CLIENT-CERT). */
  readonly lockOut: LockOut;

  constructor(private readonly context: ContextConfig) {
    this.lockOut = new LockOut(context.realm);
    this.constraints = context.securityConstraints.filter((c) => c.authConstraint || (c.authRoles?.length ?? 0) > 0);
    this.checker = new ConstraintChecker(context.securityConstraints, context.denyUncoveredHttpMethods);
    for (const u of context.realm?.users ?? []) {
      const key = context.loginConfig?.authMethod === "CLIENT-CERT" ? normaliseDn(u.username) : u.username;
      this.users.set(key, { password: u.password, roles: u.roles });
    }
  }

  get empty(): boolean {
    return this.constraints.length === 0 && !this.context.denyUncoveredHttpMethods;
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

  /** undefined: go on; a Response: 401 or 403. */
  check(req: Request, ctx: RequestContext, path: string): Response | undefined {
    const roles = this.requiredRoles(req.method, path);
    if (!roles) return undefined;
    if (roles === "deny") return errorPage(403, "Access to the requested resource has been denied");
    const principal = ctx.principal ?? this.authenticate(req, ctx);
    if (!principal) return this.challenge(ctx);
    if (this.permitted(principal, roles)) return undefined;
    return errorPage(
      403,
      `Access to the requested resource has been denied: ${principal.name} lacks the role ${roles.join(" or ")}`,
    );
  }

  private authenticate(req: Request, ctx: RequestContext): Principal | null {
    const method = this.context.loginConfig?.authMethod;
    let principal: Principal | null = null;
    if (method === "CLIENT-CERT") {
      const leaf = ctx.peerCertificates[0];
      if (leaf) {
        const name = subjectDn(leaf);
        principal = { name, roles: this.users.get(normaliseDn(name))?.roles ?? [], authType: "CLIENT_CERT" };
      }
    } else if (method === "BASIC") {
      principal = this.basic(req.headers.get("authorization"));
    }
    if (principal) ctx.principal = principal;
    return principal;
  }

  private basic(header: string | null): Principal | null {
    if (!header || !/^basic /i.test(header)) return null;
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(header.slice(6).trim()), (c) => c.charCodeAt(0)));
    } catch {
      return null;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return null;
    const [name, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    return this.lockOut.filter(name, this.checkPassword(name, password));
  }

  private checkPassword(name: string, password: string): Principal | null {
    const user = this.users.get(name);
    if (!user?.password) return null;
    const a = new TextEncoder().encode(password);
    const b = new TextEncoder().encode(user.password);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
    return { name, roles: user.roles, authType: "BASIC" };
  }

  private challenge(ctx: RequestContext): Response {
    const login = this.context.loginConfig;
    if (login?.authMethod === "BASIC") {
      return errorPage(401, "Authentication is required", {
        "www-authenticate": `Basic realm="${login.realmName}", charset="UTF-8"`,
      });
    }
    if (login?.authMethod === "CLIENT-CERT") {
      return errorPage(
        401,
        ctx.secure ? "No client certificate chain in this request" : "CLIENT-CERT authentication needs HTTPS",
      );
    }
    return errorPage(403, "Access to the requested resource has been denied (no loginConfig on this context)");
  }
}
