/**
 * web.xml, as Tomcat reads it: conf/web.xml gives every application its defaults, the
 * application's WEB-INF/web.xml is merged over them (ContextConfig.webConfig), and the result
 * becomes context attributes: securityConstraints, loginConfig, securityRoles, the session
 * settings, welcomeFiles, errorPages, mimeMappings, and the servlet mappings bobcat cannot run
 * (so a JSP's source is never sent as a file). What restricts access and cannot be honoured is
 * an error, never a note.
 */
import { parseXml, type XmlElement } from "./convert.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";

export interface WebXmlConstraint {
  displayName?: string;
  urlPatterns: string[];
  httpMethods?: string[];
  httpMethodOmissions?: string[];
  authConstraint: boolean;
  authRoles: string[];
  transportGuarantee: "NONE" | "INTEGRAL" | "CONFIDENTIAL";
}

export interface WebXml {
  file: string;
  welcomeFiles?: string[];
  sessionTimeout?: number;
  cookie: {
    sessionCookieName?: string;
    sessionCookieDomain?: string;
    sessionCookiePath?: string;
    useHttpOnly?: boolean;
    sessionCookieSecure?: boolean;
  };
  trackingModes?: string[];
  securityConstraints: WebXmlConstraint[];
  loginConfig?: { authMethod: string; realmName?: string; formLoginPage?: string; formErrorPage?: string };
  securityRoles: string[];
  /** Keyed by "code:404", "type:java.lang.Throwable" or "default", so a later file replaces an entry. */
  errorPages: Map<string, { errorCode?: number; exceptionType?: string; location: string }>;
  mimeMappings: Map<string, string>;
  /** servlet name → class or JSP file. */
  servlets: Map<string, string>;
  /** url pattern → servlet name. */
  mappings: Map<string, string>;
  distributable?: boolean;
  denyUncoveredHttpMethods?: boolean;
  notes: string[];
}

/** The servlet that serves static files: patterns mapped to it are bobcat's static docBase. */
const DEFAULT_SERVLET = "org.apache.catalina.servlets.DefaultServlet";

/**
 * Filters that refuse requests (Tomcat's address and CSRF filters, Spring Security, Shiro,
 * Keycloak, rate limits): bobcat runs no servlet filters, so a mapped one stops deployment.
 */
const ACCESS_FILTERS =
  /(RemoteAddrFilter|RemoteCIDRFilter|RemoteHostFilter|CsrfPreventionFilter|RestCsrfPreventionFilter|RateLimitFilter|DelegatingFilterProxy|ShiroFilter|KeycloakOIDCFilter|SecurityFilter|AuthenticationFilter|AuthFilter)$/;

/** Filters whose absence changes no access decision. */
const HARMLESS_FILTERS =
  /^org\.apache\.catalina\.filters\.(SetCharacterEncodingFilter|AddDefaultCharsetFilter|RequestDumperFilter|ExpiresFilter|FailedRequestFilter)$/;

const AUTH_METHODS: Record<string, string> = {
  BASIC: "BASIC",
  DIGEST: "DIGEST",
  FORM: "FORM",
  "CLIENT-CERT": "CLIENT-CERT",
  CLIENT_CERT: "CLIENT-CERT",
};

export function parseWebXml(text: string, file: string): WebXml {
  const root = parseXml(text, file);
  const errors: BobcatError[] = [];
  const err = (el: XmlElement, message: string, fix: string) =>
    errors.push(new BobcatError("webxml.invalid", message, { where: { file, line: el.line }, fix }));
  if (root.name !== "web-app" && root.name !== "web-fragment") {
    throw new BobcatError("webxml.root", `the root element is <${root.name}>, not <web-app>`, {
      where: { file, line: root.line },
      fix: "WEB-INF/web.xml must be a web application deployment descriptor (<web-app>)",
    });
  }
  const out: WebXml = {
    file,
    cookie: {},
    securityConstraints: [],
    securityRoles: [],
    errorPages: new Map(),
    mimeMappings: new Map(),
    servlets: new Map(),
    mappings: new Map(),
    notes: [],
  };
  const kids = (el: XmlElement, name: string) => el.children.filter((c) => localName(c.name) === name);
  const filters = new Map<string, { cls: string; el: XmlElement }>();
  const mapped = new Set<string>();
  const text1 = (el: XmlElement, name: string) => kids(el, name)[0]?.text.trim();
  for (const el of root.children) {
    switch (localName(el.name)) {
      case "welcome-file-list":
        out.welcomeFiles = [...(out.welcomeFiles ?? []), ...kids(el, "welcome-file").map((w) => w.text.trim())];
        break;
      case "session-config": {
        const timeout = text1(el, "session-timeout");
        if (timeout !== undefined && timeout !== "") {
          if (!/^-?\d+$/.test(timeout)) {
            err(el, `<session-timeout> "${timeout}" is not a whole number of minutes`, "write e.g. 30");
          } else out.sessionTimeout = Number(timeout);
        }
        const cookie = kids(el, "cookie-config")[0];
        if (cookie) {
          const c = out.cookie;
          const name = text1(cookie, "name");
          if (name) c.sessionCookieName = name;
          const domain = text1(cookie, "domain");
          if (domain) c.sessionCookieDomain = domain;
          const path = text1(cookie, "path");
          if (path) c.sessionCookiePath = path;
          const httpOnly = text1(cookie, "http-only");
          if (httpOnly) c.useHttpOnly = httpOnly.toLowerCase() === "true";
          const secure = text1(cookie, "secure");
          if (secure) c.sessionCookieSecure = secure.toLowerCase() === "true";
        }
        const modes = kids(el, "tracking-mode").map((m) => m.text.trim().toUpperCase());
        if (modes.length > 0) out.trackingModes = modes;
        break;
      }
      case "security-constraint": {
        const auth = kids(el, "auth-constraint")[0];
        const roles = auth ? kids(auth, "role-name").map((r) => r.text.trim()) : [];
        const udc = kids(el, "user-data-constraint")[0];
        const tg = (udc ? text1(udc, "transport-guarantee") : undefined)?.toUpperCase() ?? "NONE";
        if (!["NONE", "INTEGRAL", "CONFIDENTIAL"].includes(tg)) {
          err(
            udc!,
            `<transport-guarantee> "${tg}" is not NONE, INTEGRAL or CONFIDENTIAL`,
            "use CONFIDENTIAL to require HTTPS",
          );
        }
        const displayName = text1(el, "display-name");
        const collections = kids(el, "web-resource-collection");
        if (collections.length === 0) {
          err(el, "<security-constraint> has no <web-resource-collection>", "add the URL patterns it protects");
        }
        for (const col of collections) {
          const urlPatterns = kids(col, "url-pattern").map((p) => p.text.trim());
          const methods = kids(col, "http-method").map((m) => m.text.trim());
          const omissions = kids(col, "http-method-omission").map((m) => m.text.trim());
          if (methods.length > 0 && omissions.length > 0) {
            err(
              col,
              "a <web-resource-collection> has both <http-method> and <http-method-omission>",
              "use one or the other (the Servlet specification forbids both)",
            );
          }
          out.securityConstraints.push({
            ...(displayName ? { displayName } : {}),
            urlPatterns,
            ...(methods.length ? { httpMethods: methods } : {}),
            ...(omissions.length ? { httpMethodOmissions: omissions } : {}),
            authConstraint: auth !== undefined,
            authRoles: roles,
            transportGuarantee: tg as WebXmlConstraint["transportGuarantee"],
          });
        }
        break;
      }
      case "login-config": {
        const method = text1(el, "auth-method")?.toUpperCase();
        const form = kids(el, "form-login-config")[0];
        const realmName = text1(el, "realm-name");
        if (method && !AUTH_METHODS[method]) {
          err(el, `<auth-method> "${method}" is not one bobcat has`, "use BASIC, DIGEST, FORM or CLIENT-CERT");
          break;
        }
        if (!method) {
          // A login-config with only a realm name: Tomcat's default is no authenticator; constraints then 403.
          out.notes.push(`${file}:${el.line}: <login-config> without <auth-method>: constrained URLs answer 403`);
          break;
        }
        out.loginConfig = {
          authMethod: AUTH_METHODS[method]!,
          ...(realmName ? { realmName } : {}),
          ...(form
            ? { formLoginPage: text1(form, "form-login-page"), formErrorPage: text1(form, "form-error-page") }
            : {}),
        };
        break;
      }
      case "security-role": {
        const name = text1(el, "role-name");
        if (name) out.securityRoles.push(name);
        break;
      }
      case "error-page": {
        const code = text1(el, "error-code");
        const type = text1(el, "exception-type");
        const location = text1(el, "location");
        if (!location) {
          err(el, "<error-page> has no <location>", "add <location>/error.html</location>");
          break;
        }
        if (code !== undefined) {
          const n = Number(code);
          if (!/^\d{3}$/.test(code) || n < 400 || n > 599) {
            err(el, `<error-code> "${code}" is not an error status (400-599)`, "write e.g. 404");
            break;
          }
          out.errorPages.set(`code:${n}`, { errorCode: n, location });
        } else if (type) out.errorPages.set(`type:${type}`, { exceptionType: type, location });
        else out.errorPages.set("default", { location });
        break;
      }
      case "mime-mapping": {
        const ext = text1(el, "extension");
        const type = text1(el, "mime-type");
        if (ext && type) out.mimeMappings.set(ext.toLowerCase(), type);
        break;
      }
      case "servlet": {
        const name = text1(el, "servlet-name");
        const cls = text1(el, "servlet-class") ?? text1(el, "jsp-file");
        if (name) out.servlets.set(name, cls ?? "");
        break;
      }
      case "servlet-mapping": {
        const name = text1(el, "servlet-name");
        if (!name) break;
        for (const p of kids(el, "url-pattern")) out.mappings.set(p.text.trim(), name);
        break;
      }
      case "filter": {
        const name = text1(el, "filter-name");
        if (name) filters.set(name, { cls: text1(el, "filter-class") ?? "", el });
        break;
      }
      case "filter-mapping": {
        const name = text1(el, "filter-name");
        if (name) mapped.add(name);
        break;
      }
      case "distributable":
        out.distributable = true;
        break;
      case "deny-uncovered-http-methods":
        out.denyUncoveredHttpMethods = true;
        break;
    }
  }
  for (const [name, { cls, el }] of filters) {
    if (!mapped.has(name)) continue;
    if (cls === "org.apache.catalina.filters.HttpHeaderSecurityFilter") {
      out.notes.push(
        `${file}:${el.line}: filter ${name} (HttpHeaderSecurityFilter) is not run: bobcat sends HSTS with the context's hstsEnabled, and no X-Frame-Options / X-Content-Type-Options headers`,
      );
    } else if (ACCESS_FILTERS.test(cls)) {
      err(
        el,
        `filter ${name} (${cls}) restricts access, and bobcat runs no servlet filters: without it every request it refuses would be let in`,
        "put the rule in the config instead (a securityConstraint, an address valve on the context, or the application's handler), then remove the filter and its mapping",
      );
    } else if (!HARMLESS_FILTERS.test(cls)) {
      out.notes.push(`${file}:${el.line}: filter ${name} (${cls}) is not run: bobcat runs no servlet filters`);
    }
  }
  if (errors.length > 0) throw new BobcatErrors(errors, `${file}: ${errors.length} problem(s)`);
  return out;
}

/**
 * The application's web.xml over the defaults (conf/web.xml), as Tomcat merges them: the
 * application's welcome files replace the defaults' when it lists any; its mappings, error
 * pages and mime mappings win per key; its session settings win where set; constraints, roles
 * and login config are the application's (added to any the defaults have).
 */
export function mergeWebXml(defaults: WebXml | undefined, app: WebXml | undefined): WebXml | undefined {
  if (!defaults) return app;
  if (!app) return defaults;
  return {
    file: app.file,
    welcomeFiles: app.welcomeFiles ?? defaults.welcomeFiles,
    sessionTimeout: app.sessionTimeout ?? defaults.sessionTimeout,
    cookie: { ...defaults.cookie, ...app.cookie },
    trackingModes: app.trackingModes ?? defaults.trackingModes,
    securityConstraints: [...defaults.securityConstraints, ...app.securityConstraints],
    loginConfig: app.loginConfig ?? defaults.loginConfig,
    securityRoles: [...new Set([...defaults.securityRoles, ...app.securityRoles])],
    errorPages: new Map([...defaults.errorPages, ...app.errorPages]),
    mimeMappings: new Map([...defaults.mimeMappings, ...app.mimeMappings]),
    servlets: new Map([...defaults.servlets, ...app.servlets]),
    mappings: new Map([...defaults.mappings, ...app.mappings]),
    distributable: app.distributable ?? defaults.distributable,
    denyUncoveredHttpMethods: app.denyUncoveredHttpMethods ?? defaults.denyUncoveredHttpMethods,
    notes: [...defaults.notes, ...app.notes],
  };
}

/**
 * The context attributes web.xml gives, applied under what the config itself sets (the
 * config's own attribute wins; its lists come first). `raw` is the unvalidated context.
 */
export function applyWebXml(raw: Record<string, unknown>, web: WebXml): void {
  const setIfAbsent = (key: string, value: unknown) => {
    if (value !== undefined && (raw[key] === undefined || raw[key] === null)) raw[key] = value;
  };
  // A welcome file mapped to a servlet bobcat cannot run (index.jsp) would send its source.
  const unrunnable = unrunnableMappings(web);
  const servedByServlet = (name: string) =>
    unrunnable.some((m) => m.urlPatterns.some((p) => p.startsWith("*.") && name.endsWith(p.slice(1))));
  if (web.welcomeFiles) setIfAbsent("welcomeFiles", web.welcomeFiles.filter((w) => !servedByServlet(w)));
  setIfAbsent("sessionTimeout", web.sessionTimeout);
  for (const [k, v] of Object.entries(web.cookie)) setIfAbsent(k, v);
  setIfAbsent("sessionTrackingModes", web.trackingModes);
  setIfAbsent("distributable", web.distributable);
  setIfAbsent("denyUncoveredHttpMethods", web.denyUncoveredHttpMethods);
  if (web.loginConfig) {
    // Tomcat's BASIC and DIGEST challenge name a realm even when web.xml names none.
    setIfAbsent("loginConfig", { realmName: "Authentication required", ...web.loginConfig });
  }
  if (web.securityRoles.length > 0 || web.securityConstraints.length > 0) {
    setIfAbsent("securityRoles", web.securityRoles);
  }
  const list = (key: string, items: unknown[]) => {
    if (items.length === 0) return;
    const own = Array.isArray(raw[key]) ? (raw[key] as unknown[]) : raw[key] ? [raw[key]] : [];
    raw[key] = [...own, ...items];
  };
  list("securityConstraints", web.securityConstraints);
  list("errorPages", [...web.errorPages.values()]);
  list("mimeMappings", [...web.mimeMappings].map(([extension, mimeType]) => ({ extension, mimeType })));
  list("servletMappings", unrunnable);
}

/** Servlet mappings other than the DefaultServlet's: bobcat cannot run them. */
function unrunnableMappings(web: WebXml): Array<{ servletName: string; servletClass?: string; urlPatterns: string[] }> {
  const byServlet = new Map<string, string[]>();
  for (const [pattern, name] of web.mappings) {
    const cls = web.servlets.get(name);
    if (cls === DEFAULT_SERVLET) continue;
    byServlet.set(name, [...(byServlet.get(name) ?? []), pattern]);
  }
  return [...byServlet].map(([servletName, urlPatterns]) => ({
    servletName,
    ...(web.servlets.get(servletName) ? { servletClass: web.servlets.get(servletName) } : {}),
    // "/" maps the default servlet's place: another servlet there would take every request.
    urlPatterns: urlPatterns.filter((p) => p !== ""),
  })).filter((m) => m.urlPatterns.length > 0);
}

function localName(name: string): string {
  const colon = name.indexOf(":");
  return colon >= 0 ? name.slice(colon + 1) : name;
}
