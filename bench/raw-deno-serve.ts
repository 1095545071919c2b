/** The Deno baseline: a raw Deno.serve hello world with the same certificate bobcat uses (none with --plain: pass "" for both). */
declare const Deno: {
  args: string[];
  readTextFileSync(path: string): string;
  serve(options: Record<string, unknown>, handler: (req: Request) => Response): unknown;
};
const [port, cert, key, size] = Deno.args;
const body = Number(size) > 0 ? "x".repeat(Number(size)) : "Hello, world";
const tls = cert ? { cert: Deno.readTextFileSync(cert), key: Deno.readTextFileSync(key!) } : {};
Deno.serve(
  { port: Number(port), hostname: "127.0.0.1", ...tls, onListen() {} },
  // Takes the request: Deno.serve skips building it for a handler without parameters, and
  // bobcat's handler cannot be one, so the comparison would not be like for like.
  (_req: Request) => new Response(body, { headers: { "content-type": "text/plain" } }),
);
console.error(`listening on ${cert ? "https" : "http"}://127.0.0.1:${port}/`);
