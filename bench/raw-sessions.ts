/**
 * The sessions baseline: a raw Bun.serve (under Bun) or Deno.serve (under Deno) with a Map for
 * sessions, doing what bench/sessions.ts asks of bobcat: 128-bit ids from crypto.getRandomValues
 * as upper-case hex, the JSESSIONID cookie with bobcat's attributes, two attributes per session.
 *
 *   bun bench/raw-sessions.ts PORT CERT KEY      deno run -A bench/raw-sessions.ts PORT CERT KEY
 *
 * Paths: /none (no session), /create (the cookie's session, else a new one), /read (the cookie's
 * session), /count.
 */
import { readFileSync } from "node:fs";

declare const Deno: {
  args: string[];
  serve(options: Record<string, unknown>, handler: (req: Request) => Response): unknown;
};
declare const Bun: { argv: string[]; serve(options: Record<string, unknown>): unknown } | undefined;

interface Session {
  created: number;
  lastAccessed: number;
  data: Record<string, unknown>;
}
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, "0"));

function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let id = "";
  for (const b of bytes) id += HEX[b];
  return id;
}

function cookieId(header: string | null): string | null {
  if (!header) return null;
  const i = header.indexOf("JSESSIONID=");
  if (i < 0) return null;
  const end = header.indexOf(";", i);
  return header.slice(i + 11, end < 0 ? undefined : end);
}

/** The baseline's handler and its Map (bench/session-path.ts calls it in-process). */
export function rawSessionApp(secure: boolean): { handle(req: Request): Response; sessions: Map<string, Session> } {
  const sessions = new Map<string, Session>();
  const COOKIE_ATTRS = `; Path=/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
  function handle(req: Request): Response {
    const path = new URL(req.url).pathname;
    if (path === "/none") return new Response("no session");
    if (path === "/count") return new Response(String(sessions.size));
    if (path === "/create") {
      // A session server looks for the client's session before making one (Tomcat's
      // getSession(true), bobcat's ctx.getSession()): a request with a live session's cookie keeps it.
      const known = cookieId(req.headers.get("cookie"));
      const s = known === null ? undefined : sessions.get(known);
      if (s) {
        s.lastAccessed = Date.now();
        return new Response(String(s.data.user));
      }
      const id = newId();
      const now = Date.now();
      const user = "u" + id.slice(0, 4);
      sessions.set(id, { created: now, lastAccessed: now, data: { user, n: 1 } });
      return new Response(user, { headers: { "set-cookie": `JSESSIONID=${id}${COOKIE_ATTRS}` } });
    }
    const s = sessions.get(cookieId(req.headers.get("cookie")) ?? "");
    if (s) s.lastAccessed = Date.now();
    return new Response(s ? String(s.data.user) : "none");
  }
  return { handle, sessions };
}

if (import.meta.main) {
  const [port, cert, key] = typeof Bun !== "undefined" ? Bun.argv.slice(2) : Deno.args;
  const tls = cert ? { cert: readFileSync(cert, "utf8"), key: readFileSync(key!, "utf8") } : null;
  const { handle } = rawSessionApp(tls !== null);
  const scheme = tls ? "https" : "http";
  if (typeof Bun !== "undefined") {
    Bun.serve({ port: Number(port), hostname: "127.0.0.1", ...(tls ? { tls } : {}), fetch: handle });
    console.error(`listening on ${scheme}://127.0.0.1:${port}/`);
  } else {
    Deno.serve({
      port: Number(port),
      hostname: "127.0.0.1",
      ...(tls ?? {}),
      onListen: () => console.error(`listening on ${scheme}://127.0.0.1:${port}/`),
    }, handle);
  }
}
