/** The baseline: a raw Bun.serve hello world with the same certificate bobcat uses (none with --plain: pass "" for both). */
import { readFileSync } from "node:fs";
const [port, cert, key, size] = process.argv.slice(2);
const body = Number(size) > 0 ? "x".repeat(Number(size)) : "Hello, world";
Bun.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  ...(cert ? { tls: { cert: readFileSync(cert, "utf8"), key: readFileSync(key!, "utf8") } } : {}),
  fetch: (_req: Request) => new Response(body, { headers: { "content-type": "text/plain" } }),
});
console.error(`listening on ${cert ? "https" : "http"}://127.0.0.1:${port}/`);
