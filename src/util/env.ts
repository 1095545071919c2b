/**
 * Runs `fn` (synchronously) with `process.env` reads that cannot fail. Some libraries read
 * environment variables they merely might use (postgres.js: PGAPPNAME, PGTARGETSESSIONATTRS, ...);
 * under Deno without --allow-env each such read throws NotCapable. Here an unreadable variable
 * reads as unset, and `process.env` is the real one again when `fn` returns.
 */
export function withOptionalEnv<T>(fn: () => T): T {
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
  const real = proc?.env;
  if (!proc || !real) return fn();
  proc.env = new Proxy({} as Record<string, string | undefined>, {
    get(_, name) {
      try {
        return typeof name === "string" ? real[name] : undefined;
      } catch {
        return undefined;
      }
    },
  });
  try {
    return fn();
  } finally {
    proc.env = real;
  }
}
