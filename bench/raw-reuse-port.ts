/**
 * The control of bench/workers.ts: N raw `Bun.serve` (under Bun) or `Deno.serve` (under Deno)
 * hello-world processes sharing one port with SO_REUSEPORT, started by this script as their
 * parent, which does nothing else. With N = 1 and N = 2 it shows what the runtime and the machine
 * charge per request for a second process on the same port, without any of bobcat's code.
 *
 *   bun bench/raw-reuse-port.ts PORT N [CERT KEY]
 *   deno run -A --unstable-net bench/raw-reuse-port.ts PORT N [CERT KEY]
 *
 * Prints "all N ready" on stderr once every child listens; SIGTERM stops them all.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";

const D = (globalThis as { Deno?: { args: string[]; execPath(): string; serve: (...a: unknown[]) => unknown } }).Deno;
const args = D?.args ?? process.argv.slice(2);
const [port, count, cert, key] = args;
const tls = cert ? { cert: readFileSync(cert, "utf8"), key: readFileSync(key!, "utf8") } : {};
const TEXT = { "content-type": "text/plain" };

if (process.env.RAW_REUSE_PORT_CHILD) {
  const options = { port: Number(port), hostname: "127.0.0.1", reusePort: true, ...tls };
  if (D) {
    // Takes the request, as bobcat's handler must (Deno skips building it otherwise).
    D.serve({ ...options, onListen() {} }, (_req: Request) => new Response("Hello, world", { headers: TEXT }));
  } else {
    Bun.serve({ ...options, fetch: (_req: Request) => new Response("Hello, world", { headers: TEXT }) });
  }
  console.error("listening");
} else {
  const me = new URL(import.meta.url).pathname;
  const cmd = D ? [D.execPath(), "run", "-A", "--unstable-net", me, ...args] : [process.execPath, me, ...args];
  let ready = 0;
  const children = Array.from({ length: Number(count) }, () => {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, RAW_REUSE_PORT_CHILD: "1" },
    });
    child.stderr!.on("data", (d: Uint8Array) => {
      if (String(d).includes("listening") && ++ready === Number(count)) console.error(`all ${count} ready`);
    });
    return child;
  });
  const stop = () => {
    for (const c of children) c.kill("SIGTERM");
    setTimeout(() => process.exit(0), 200);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
