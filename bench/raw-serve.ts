/**
 * The raw-runtime reference of bench/side-by-side.ts: a plain `Bun.serve` (under Bun) or
 * `Deno.serve` (under Deno) with the same certificate as bobcat and Tomcat, the same paths and
 * a Map for sessions (cookie in, random 128-bit id out), nothing else. The session cookie has
 * the attributes bobcat's has on this context (Path, HttpOnly, SameSite=Lax, Secure).
 *
 *   bun bench/raw-serve.ts|deno run -A bench/raw-serve.ts HTTPS_PORT HTTP_PORT CERT KEY [MTLS_PORT CLIENT_CA]
 *
 *   /        "Hello, world"           /body    16 KiB of "x"
 *   /create  the cookie's session, else a new one (Set-Cookie)   /read   the cookie's session
 *   /count   the number of sessions
 *
 * MTLS_PORT (Bun only: Deno.serve cannot ask for client certificates) serves the same on a
 * listener that requires a client certificate issued by CLIENT_CA.
 */
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";

const BODY = "x".repeat(16384);
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex").toUpperCase();
const TEXT = { "content-type": "text/plain" };

/** The server's handler and its Map (bench/session-path.ts --baseline serve calls it in-process). */
export function rawServeApp(): {
  handle(req: Request): Response;
  sessions: Map<string, { user: string; n: number; created: number; lastAccessed: number }>;
} {
  const sessions = new Map<string, { user: string; n: number; created: number; lastAccessed: number }>();
  function sessionOf(req: Request) {
    const m = /(?:^|;\s*)JSESSIONID=([^;]+)/.exec(req.headers.get("cookie") ?? "");
    return m ? sessions.get(m[1]!) : undefined;
  }
  return { handle, sessions };

  function handle(req: Request): Response {
    const url = req.url;
    const q = url.indexOf("?", 8);
    const path = url.slice(url.indexOf("/", 8), q < 0 ? undefined : q);
    if (path === "/body") return new Response(BODY, { headers: TEXT });
    if (path === "/create") {
      // A session server looks for the client's session before making one (getSession(true)).
      const known = sessionOf(req);
      if (known) {
        known.lastAccessed = Date.now();
        return new Response(known.user, { headers: TEXT });
      }
      const id = hex(crypto.getRandomValues(new Uint8Array(16)));
      const now = Date.now();
      sessions.set(id, { user: "u" + id.slice(0, 4), n: 1, created: now, lastAccessed: now });
      // The attributes bobcat sends on this context (sameSiteCookies defaults to lax), in its order.
      return new Response("u" + id.slice(0, 4), {
        headers: { ...TEXT, "set-cookie": `JSESSIONID=${id}; Path=/; HttpOnly; SameSite=Lax; Secure` },
      });
    }
    if (path === "/read") {
      const s = sessionOf(req);
      if (s) s.lastAccessed = Date.now();
      return new Response(s ? s.user : "none", { headers: TEXT });
    }
    if (path === "/count") return new Response(String(sessions.size), { headers: TEXT });
    return new Response("Hello, world", { headers: TEXT });
  }
}

const D = (globalThis as {
  Deno?: {
    serve: (o: Record<string, unknown>, h: (r: Request) => Response) => unknown;
  };
}).Deno;
if (import.meta.main) serve();

function serve(): void {
  const [httpsPort, httpPort, certFile, keyFile, mtlsPort, clientCa] = (globalThis as { Deno?: { args: string[] } })
    .Deno?.args ?? process.argv.slice(2);
  const { handle } = rawServeApp();
  const cert = readFileSync(certFile!, "utf8");
  const key = readFileSync(keyFile!, "utf8");
  if (D) {
    const quiet = () => {};
    D.serve({ port: Number(httpsPort), hostname: "127.0.0.1", cert, key, onListen: quiet }, handle);
    D.serve({ port: Number(httpPort), hostname: "127.0.0.1", onListen: quiet }, handle);
  } else {
    Bun.serve({ port: Number(httpsPort), hostname: "127.0.0.1", tls: { cert, key }, fetch: handle });
    Bun.serve({ port: Number(httpPort), hostname: "127.0.0.1", fetch: handle });
    if (mtlsPort) {
      Bun.serve({
        port: Number(mtlsPort),
        hostname: "127.0.0.1",
        tls: { cert, key, ca: readFileSync(clientCa!, "utf8"), requestCert: true, rejectUnauthorized: true },
        fetch: handle,
      });
    }
  }
  console.error(`listening on https://127.0.0.1:${httpsPort}/ and http://127.0.0.1:${httpPort}/`);
}
