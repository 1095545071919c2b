#!/usr/bin/env bun
/**
 * Probe: does serving each connection with `Deno[Deno.internal].serveHttpOnConnection` (what
 * bobcat's native Deno back-end does, src/runtime/deno-conn.ts, so the ConnectionGate can count,
 * hold and time out connections) cost more per request than `Deno.serve` on a listener? Both
 * servers run bench/raw-sessions.ts's handler (the raw side of bench/sessions.ts), plain HTTP:
 *
 *   serve        Deno.serve (bench/raw-sessions.ts as it is)
 *   per-conn     Deno.listen, accept in JavaScript, serveHttpOnConnection per connection
 *   per-conn+nd  the same with setNoDelay(true) on each connection, as bobcat does over plain HTTP
 *
 * wrk rounds interleaved (keep-alive, -c32), requests per server CPU-second, medians and each
 * round's ratio to `serve`.
 *
 *   bun bench/probes/deno-serve-per-connection.ts [--rounds 5] [--seconds 3] [--path /none]
 *   deno run -A bench/probes/deno-serve-per-connection.ts --serve PORT [nodelay]   (one server)
 */
import { spawn } from "node:child_process";
import { bin, freePort, median, option, wrk } from "../lib.ts";

declare const Deno: {
  args: string[];
  internal: symbol;
  listen(o: { hostname: string; port: number }): {
    accept(): Promise<{ setNoDelay(on: boolean): void }>;
  };
  exit(code: number): never;
};

const inDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

if (inDeno && Deno.args[0] === "--serve") {
  // The server side: per-connection serving of the raw handler.
  const { rawSessionApp } = await import("../raw-sessions.ts");
  const { handle } = rawSessionApp(false);
  // A connection closing while its server finishes raises BadResource inside Deno (as in deno.ts).
  globalThis.addEventListener("error", (e) => e.preventDefault());
  globalThis.addEventListener("unhandledrejection", (e) => e.preventDefault());
  type ServeOnConnection = (
    conn: unknown,
    signal: AbortSignal,
    handler: (req: Request) => Response,
    onError: (e: unknown) => Response,
    onListen: () => void,
  ) => { finished: Promise<void> };
  const serveConn = (Deno as unknown as Record<symbol, { serveHttpOnConnection: ServeOnConnection }>)[Deno.internal]
    .serveHttpOnConnection;
  const nodelay = Deno.args[2] === "nodelay";
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[1]) });
  console.error(`listening on http://127.0.0.1:${Deno.args[1]}/`);
  for (;;) {
    const conn = await listener.accept();
    if (nodelay) conn.setNoDelay(true);
    const served = serveConn(
      conn,
      new AbortController().signal,
      handle,
      () => new Response(null, { status: 500 }),
      () => {},
    );
    served.finished.catch(() => {});
  }
} else if (!inDeno) {
  const rounds = Number(option("--rounds", "5"));
  const seconds = Number(option("--seconds", "3"));
  const path = option("--path", "/none");
  const here = new URL(import.meta.url).pathname;
  const raw = new URL("../raw-sessions.ts", import.meta.url).pathname;
  const variants: Array<[string, (port: number) => string[]]> = [
    ["serve", (p) => [raw, String(p)]],
    ["per-conn", (p) => [here, "--serve", String(p)]],
    ["per-conn+nd", (p) => [here, "--serve", String(p), "nodelay"]],
  ];
  const servers: Array<{ name: string; port: number; p: ReturnType<typeof spawn>; perCpu: number[] }> = [];
  for (const [name, args] of variants) {
    const port = await freePort();
    const p = spawn(bin("deno"), ["run", "-A", "--no-config", ...args(port)], { stdio: "ignore" });
    servers.push({ name, port, p, perCpu: [] as number[] });
  }
  process.on("exit", () => servers.forEach((s) => s.p.kill()));
  for (const s of servers) {
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${s.port}/none`).then((r) => r.text(), () => undefined)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (const s of servers) {
      wrk(`http://127.0.0.1:${s.port}${path}`, s.p.pid!, { seconds: 1 }); // warm-up
      s.perCpu.push(wrk(`http://127.0.0.1:${s.port}${path}`, s.p.pid!, { seconds }).perCpu);
    }
  }
  const base = servers[0]!;
  console.log(
    `${path}, plain HTTP, wrk -c32 -d${seconds}s, ${rounds} interleaved rounds (requests per server CPU-second)`,
  );
  for (const s of servers) {
    const ratios = s.perCpu.map((x, i) => (x / base.perCpu[i]!).toFixed(2)).join(" ");
    console.log(
      `${s.name.padEnd(12)} ${median(s.perCpu).toFixed(0).padStart(7)}  ${
        (median(s.perCpu) / median(base.perCpu)).toFixed(3)
      }  rounds: ${ratios}`,
    );
  }
  process.exit(0);
}
