/**
 * The key under which a shared store (DataSourceStore's app column, RedisStore's keys) keeps a
 * context's sessions: `/Engine/Host/context`, so contexts, hosts and several bobcat instances can
 * share one table or one Redis. Kept apart from the stores so the config check can make it
 * without loading them.
 */

/** The manager's name, as the core gives it: `/<Engine>/<Host><context path>` ("/Catalina/localhost/app"). */
export function managerName(engineName: string, hostName: string, contextPath: string): string {
  return `/${engineName}/${hostName}${contextPath}`;
}

/** Tomcat's name for the root context's application is `/Engine/Host/`; the core calls it `/Engine/Host`. */
export function applicationName(managerName: string): string {
  return /^\/[^/]+\/[^/]+$/.test(managerName) ? `${managerName}/` : managerName;
}
