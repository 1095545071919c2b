/** Servlet URL patterns (web.xml `<url-pattern>`), checked when the config is loaded; src/core/constraints.ts matches them. */

/**
 * Why a pattern can never mean what it says, or null. Tomcat refuses patterns that start with
 * neither "/" nor "*." and extension patterns with "/"; an extension with a "." (`*.tar.gz`)
 * never matches in Tomcat, so it is refused here too rather than protecting nothing.
 */
export function urlPatternProblem(pattern: string): string | null {
  if (pattern === "") return null;
  if (pattern.startsWith("*.")) {
    const ext = pattern.slice(2);
    if (ext === "" || ext.includes("/") || ext.includes(".") || ext.includes("*")) {
      return `extension pattern "${pattern}" can never match: the extension is what follows the last "." of the last segment`;
    }
    return null;
  }
  if (!pattern.startsWith("/")) return `"${pattern}" is not a URL pattern: it must start with "/" or "*."`;
  if (pattern.slice(0, -2).includes("*") || (pattern.endsWith("*") && !pattern.endsWith("/*"))) {
    return `"${pattern}" is not a URL pattern: "*" only stands at the end after "/" (\`/prefix/*\`) or at the start (\`*.ext\`)`;
  }
  return null;
}
