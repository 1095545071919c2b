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
  () => new Response(body, { headers: { "content-type": "text/plain" } }),
);
console.error(`listening on ${cert ? "https" : "http"}://127.0.0.1:${port}/`);
