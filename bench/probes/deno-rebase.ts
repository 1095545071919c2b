/**
 * Probe: what rebasing a request costs under Deno.serve (the engine gives a handler below the
 * root its request at a new URL, src/core/rebase-request.ts): server CPU per request while wrk
 * (keep-alive, plain HTTP, Host as its only header) drives a hello world whose handler first
 * makes, per variant,
 *
 *   none          nothing (the hello world alone)
 *   constructor   new Request(url, req)
 *   rebaseRequest bobcat's rebase (a template copy that reads req.signal only once its own is read)
 *   signal        nothing but a read of req.signal
 *   dependent     AbortSignal.any([req.signal]) (what the constructor makes to follow req's signal)
 *
 * Variants interleaved, rounds of each, medians in µs of this process's CPU per request (the
 * wrk client is another process).
 *
 *   deno run -A bench/probes/deno-rebase.ts [--rounds 3] [--seconds 4]
 */
import { rebaseRequest } from "../../src/core/rebase-request.ts";
import { median, option } from "../lib.ts";

declare const Deno: {
  args: string[];
  serve(
    options: Record<string, unknown>,
    handler: (req: Request) => Response,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  readTextFileSync(path: string): string;
  Command: new (cmd: string, options: { args: string[] }) => { output(): Promise<{ stdout: Uint8Array }> };
};

const rounds = Number(option("--rounds", "3", Deno.args));
const seconds = Number(option("--seconds", "4", Deno.args));
const VARIANTS = ["none", "constructor", "rebaseRequest", "signal", "dependent"] as const;
type Variant = (typeof VARIANTS)[number];
let sink: unknown;

/** utime + stime of this process, in seconds (/proc/self/stat, clock ticks of 10 ms). */
function cpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function wrk(url: string, secs: number, connections: number): Promise<number> {
  const out = await new Deno.Command("wrk", { args: ["-t1", `-c${connections}`, `-d${secs}s`, url] }).output();
  return Number(/(\d+) requests in/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? 0);
}

async function measure(variant: Variant): Promise<number> {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = "http://127.0.0.1/inner/x?q=1";
    if (variant === "constructor") sink = new Request(url, req);
    else if (variant === "rebaseRequest") sink = rebaseRequest(url, req);
    else if (variant === "signal") sink = req.signal;
    else if (variant === "dependent") sink = AbortSignal.any([req.signal]);
    return new Response("Hello, world", { headers: { "content-type": "text/plain" } });
  });
  const url = `http://127.0.0.1:${server.addr.port}/app/x`;
  await wrk(url, 1, 8);
  const c0 = cpuSeconds();
  const n = await wrk(url, seconds, 32);
  const us = ((cpuSeconds() - c0) * 1e6) / n;
  await server.shutdown();
  return us;
}

const results = new Map<Variant, number[]>();
for (let r = 0; r < rounds; r++) {
  for (const v of VARIANTS) results.set(v, [...(results.get(v) ?? []), await measure(v)]);
}
console.log(`Deno.serve, plain HTTP, wrk -t1 -c32 -d${seconds}s, ${rounds} rounds; µs of server CPU per request`);
const none = median(results.get("none")!);
for (const v of VARIANTS) {
  const m = median(results.get(v)!);
  console.log(`${v.padEnd(14)} ${m.toFixed(1).padStart(6)} µs  (+${(m - none).toFixed(1)})`);
}
if (sink === 42) console.log();
