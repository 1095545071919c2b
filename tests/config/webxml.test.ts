/**
 * web.xml as Tomcat reads it (parse, merge conf/web.xml with WEB-INF/web.xml, apply under the
 * config's own settings), the appBase naming rules, and which constraints govern a request.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { applyWebXml, mergeWebXml, parseWebXml } from "../../src/config/webxml.ts";
import { contextNameOf } from "../../src/config/deploy.ts";
import { ConstraintChecker } from "../../src/core/constraints.ts";
import type { SecurityConstraintConfig } from "../../src/config/model.ts";
import { BobcatErrors } from "../../src/util/errors.ts";
import { loadXmlParser } from "../../src/config/xml-parser.ts";

// The XML readers are synchronous; their async callers load fast-xml-parser first.
beforeAll(async () => {
  await loadXmlParser();
});

const wrap = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">\n${body}\n</web-app>\n`;

const DEFAULTS = parseWebXml(
  wrap(`
  <servlet><servlet-name>default</servlet-name><servlet-class>org.apache.catalina.servlets.DefaultServlet</servlet-class></servlet>
  <servlet><servlet-name>jsp</servlet-name><servlet-class>org.apache.jasper.servlet.JspServlet</servlet-class></servlet>
  <servlet-mapping><servlet-name>default</servlet-name><url-pattern>/</url-pattern></servlet-mapping>
  <servlet-mapping><servlet-name>jsp</servlet-name><url-pattern>*.jsp</url-pattern></servlet-mapping>
  <session-config><session-timeout>30</session-timeout></session-config>
  <mime-mapping><extension>css</extension><mime-type>text/css</mime-type></mime-mapping>
  <mime-mapping><extension>x</extension><mime-type>application/x-default</mime-type></mime-mapping>
  <welcome-file-list><welcome-file>index.html</welcome-file><welcome-file>index.jsp</welcome-file></welcome-file-list>`),
  "conf/web.xml",
);

describe("web.xml", () => {
  test("the application's web.xml over conf/web.xml, as Tomcat merges them", () => {
    const app = parseWebXml(
      wrap(`
  <security-constraint>
    <display-name>both</display-name>
    <web-resource-collection><web-resource-name>a</web-resource-name><url-pattern>/a/*</url-pattern><http-method>GET</http-method></web-resource-collection>
    <web-resource-collection><web-resource-name>b</web-resource-name><url-pattern>*.do</url-pattern><http-method-omission>GET</http-method-omission></web-resource-collection>
    <auth-constraint><role-name>staff</role-name></auth-constraint>
    <user-data-constraint><transport-guarantee>confidential</transport-guarantee></user-data-constraint>
  </security-constraint>
  <security-constraint>
    <web-resource-collection><web-resource-name>c</web-resource-name><url-pattern>/closed/*</url-pattern></web-resource-collection>
    <auth-constraint/>
  </security-constraint>
  <login-config><auth-method>FORM</auth-method><form-login-config><form-login-page>/login.html</form-login-page><form-error-page>/error.html</form-error-page></form-login-config></login-config>
  <security-role><role-name>staff</role-name></security-role>
  <session-config>
    <session-timeout>15</session-timeout>
    <cookie-config><name>APPID</name><path>/</path><http-only>false</http-only><secure>true</secure></cookie-config>
    <tracking-mode>COOKIE</tracking-mode>
  </session-config>
  <error-page><error-code>404</error-code><location>/404.html</location></error-page>
  <error-page><exception-type>java.lang.Throwable</exception-type><location>/oops.html</location></error-page>
  <mime-mapping><extension>x</extension><mime-type>application/x-app</mime-type></mime-mapping>
  <servlet><servlet-name>hello</servlet-name><servlet-class>com.example.Hello</servlet-class></servlet>
  <servlet-mapping><servlet-name>hello</servlet-name><url-pattern>/hello</url-pattern></servlet-mapping>
  <welcome-file-list><welcome-file>start.html</welcome-file></welcome-file-list>`),
      "WEB-INF/web.xml",
    );
    const raw: Record<string, unknown> = { path: "/app", sessionTimeout: 60 };
    applyWebXml(raw, mergeWebXml(DEFAULTS, app)!);
    expect(raw.sessionTimeout).toBe(60); // the config's own setting wins
    expect(raw.welcomeFiles).toEqual(["start.html"]); // the application's list replaces the defaults'
    expect(raw).toMatchObject({
      sessionCookieName: "APPID",
      sessionCookiePath: "/",
      useHttpOnly: false,
      sessionCookieSecure: true,
      sessionTrackingModes: ["COOKIE"],
      securityRoles: ["staff"],
      loginConfig: {
        authMethod: "FORM",
        realmName: "Authentication required",
        formLoginPage: "/login.html",
        formErrorPage: "/error.html",
      },
    });
    expect(raw.securityConstraints).toEqual([
      {
        displayName: "both",
        urlPatterns: ["/a/*"],
        httpMethods: ["GET"],
        authConstraint: true,
        authRoles: ["staff"],
        transportGuarantee: "CONFIDENTIAL",
      },
      {
        displayName: "both",
        urlPatterns: ["*.do"],
        httpMethodOmissions: ["GET"],
        authConstraint: true,
        authRoles: ["staff"],
        transportGuarantee: "CONFIDENTIAL",
      },
      { urlPatterns: ["/closed/*"], authConstraint: true, authRoles: [], transportGuarantee: "NONE" },
    ]);
    expect(raw.errorPages).toEqual([
      { errorCode: 404, location: "/404.html" },
      { exceptionType: "java.lang.Throwable", location: "/oops.html" },
    ]);
    expect(raw.mimeMappings).toContainEqual({ extension: "x", mimeType: "application/x-app" });
    expect(raw.mimeMappings).toContainEqual({ extension: "css", mimeType: "text/css" });
    // Servlets bobcat cannot run: their paths are never sent as files.
    expect(raw.servletMappings).toEqual([
      { servletName: "jsp", servletClass: "org.apache.jasper.servlet.JspServlet", urlPatterns: ["*.jsp"] },
      { servletName: "hello", servletClass: "com.example.Hello", urlPatterns: ["/hello"] },
    ]);
  });

  test("a JSP welcome file is dropped: its source would be sent", () => {
    const raw: Record<string, unknown> = {};
    applyWebXml(raw, DEFAULTS);
    expect(raw.welcomeFiles).toEqual(["index.html"]);
  });

  test("what cannot be honoured, with the line: an access filter, a bad auth method, both method lists", () => {
    const bad = wrap(`
  <filter><filter-name>ips</filter-name><filter-class>org.apache.catalina.filters.RemoteAddrFilter</filter-class></filter>
  <filter><filter-name>unmapped</filter-name><filter-class>org.apache.catalina.filters.RemoteCIDRFilter</filter-class></filter>
  <filter><filter-name>headers</filter-name><filter-class>org.apache.catalina.filters.HttpHeaderSecurityFilter</filter-class></filter>
  <filter-mapping><filter-name>ips</filter-name><url-pattern>/*</url-pattern></filter-mapping>
  <filter-mapping><filter-name>headers</filter-name><url-pattern>/*</url-pattern></filter-mapping>
  <login-config><auth-method>SPNEGO</auth-method></login-config>
  <security-constraint>
    <web-resource-collection><web-resource-name>x</web-resource-name><url-pattern>/x</url-pattern>
      <http-method>GET</http-method><http-method-omission>POST</http-method-omission></web-resource-collection>
  </security-constraint>`);
    let caught: unknown;
    try {
      parseWebXml(bad, "WEB-INF/web.xml");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BobcatErrors);
    const errors = (caught as BobcatErrors).errors;
    expect(errors.map((e) => e.where.line)).toEqual([9, 11, 4]);
    expect(errors[0]!.message).toContain("SPNEGO");
    expect(errors[1]!.message).toContain("both <http-method> and <http-method-omission>");
    // A mapped filter that refuses requests; an unmapped one does nothing in Tomcat either.
    expect(errors[2]!.message).toContain("filter ips (org.apache.catalina.filters.RemoteAddrFilter) restricts access");
  });

  test("a mapped filter that changes no access decision is a note", () => {
    const web = parseWebXml(
      wrap(`
  <filter><filter-name>headers</filter-name><filter-class>org.apache.catalina.filters.HttpHeaderSecurityFilter</filter-class></filter>
  <filter-mapping><filter-name>headers</filter-name><url-pattern>/*</url-pattern></filter-mapping>`),
      "WEB-INF/web.xml",
    );
    expect(web.notes).toEqual([
      expect.stringContaining("WEB-INF/web.xml:4: filter headers (HttpHeaderSecurityFilter) is not run"),
    ]);
  });

  test("appBase names: ROOT, foo#bar, ##versions", () => {
    expect(contextNameOf("ROOT")).toEqual({ path: "", version: "" });
    expect(contextNameOf("ROOT##3")).toEqual({ path: "", version: "3" });
    expect(contextNameOf("foo")).toEqual({ path: "/foo", version: "" });
    expect(contextNameOf("foo#bar##v2")).toEqual({ path: "/foo/bar", version: "v2" });
  });
});

describe("which constraints govern a request (Tomcat's RealmBase.findSecurityConstraints)", () => {
  const c = (
    urlPatterns: string[],
    extra: Partial<SecurityConstraintConfig> = {},
  ): SecurityConstraintConfig => ({
    urlPatterns,
    transportGuarantee: "NONE",
    authConstraint: (extra.authRoles?.length ?? 0) > 0,
    ...extra,
  });

  test("the most specific pattern decides; a constraint without auth or transport lifts them", () => {
    const checker = new ConstraintChecker([
      c(["/*"], { authRoles: ["staff"], transportGuarantee: "CONFIDENTIAL" }),
      c(["/public/*"]),
      c(["/public/exact"], { authRoles: ["boss"] }),
      c(["*.secret"], { authRoles: ["spy"] }),
    ]);
    expect(checker.decide("GET", "/x")).toEqual({ secure: true, auth: ["staff"] });
    expect(checker.decide("GET", "/public/page")).toEqual({ secure: false });
    expect(checker.decide("GET", "/public/exact")).toEqual({ secure: false, auth: ["boss"] });
    // A prefix pattern beats an extension one.
    expect(checker.decide("GET", "/public/a.secret")).toEqual({ secure: false });
  });

  test("methods and omissions; an empty auth-constraint refuses everybody; uncovered methods", () => {
    const examples = [
      c(["/protected/*"], { httpMethods: ["GET", "POST"], authRoles: ["tomcat"] }),
      c(["/protected/*"], { httpMethodOmissions: ["GET", "POST"], authConstraint: true, authRoles: [] }),
    ];
    const checker = new ConstraintChecker(examples);
    expect(checker.decide("GET", "/protected/a")).toEqual({ secure: false, auth: ["tomcat"] });
    expect(checker.decide("HEAD", "/protected/a")).toEqual({ secure: false, auth: "deny" });
    expect(checker.decide("GET", "/other")).toEqual({ secure: false });

    // The longest prefix without a constraint for the method gives way to shorter rules.
    const onlyGet = new ConstraintChecker([c(["/a/*"], { httpMethods: ["GET"], authRoles: ["r"] })]);
    expect(onlyGet.decide("PUT", "/a/x")).toEqual({ secure: false });
    const deny = new ConstraintChecker([c(["/a/*"], { httpMethods: ["GET"], authRoles: ["r"] })], true);
    expect(deny.decide("PUT", "/a/x")).toEqual({ secure: false, auth: "deny" });
    expect(deny.decide("PUT", "/b")).toEqual({ secure: false });

    // An exact pattern that matches decides even when none of its constraints is for this method.
    const exact = new ConstraintChecker([
      c(["/*"], { authRoles: ["staff"] }),
      c(["/login"], { httpMethods: ["POST"], authRoles: ["x"] }),
    ]);
    expect(exact.decide("GET", "/login")).toEqual({ secure: false });
  });
});
