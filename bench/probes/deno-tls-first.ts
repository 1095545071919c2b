#!/usr/bin/env bun
/**
 * Deno's first TLS handshake: a raw `Deno.listenTls` (the RSA test certificate) answers two
 * connections of this process's client, one after the other, and reports how long each
 * handshake took from the accept; with `warm`, it first asks Web Crypto for a P-256 key pair
 * (src/runtime/deno-tls-warmup.ts) and waits for it, so its set-up is out of the way. Medians of
 * --rounds fresh processes, with the client's time to the first response (this process's own
 * TLS client is warmed up first).
 *
 *   bun bench/probes/deno-tls-first.ts [--rounds 5]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, freePort, median, option, ROOT } from "../lib.ts";

const rounds = Number(option("--rounds", "5"));
const pki = join(ROOT, "tests/fixtures/pki");
const dir = mkdtempSync(join(tmpdir(), "bobcat-deno-tls-first-"));
const script = join(dir, "server.ts");
writeFileSync(
  script,
  `const cert = Deno.readTextFileSync(${JSON.stringify(join(pki, "localhost-rsa.pem"))});
const key = Deno.readTextFileSync(${JSON.stringify(join(pki, "localhost-rsa-key.pem"))});
if (Deno.args[1] === "warm") await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
const l = Deno.listenTls({ hostname: "127.0.0.1", port: Number(Deno.args[0]), cert, key, alpnProtocols: ["http/1.1"] });
console.error("listening");
const handshakes = [];
for (let i = 0; i < 2; i++) {
  const c = await l.accept();
  const t0 = performance.now();
  await c.handshake();
  handshakes.push(performance.now() - t0);
  await c.read(new Uint8Array(4096));
  await c.write(new TextEncoder().encode("HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\nconnection: close\\r\\n\\r\\nok"));
  c.close();
}
console.error(JSON.stringify(handshakes));
`,
);

const insecure = { tls: { rejectUnauthorized: false }, keepalive: false } as RequestInit;

async function once(mode: string): Promise<{ first: number; second: number; client: number }> {
  const port = await freePort();
  const p = spawn(bin("deno"), ["run", "-A", "--quiet", script, String(port), mode], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  let listening = () => {};
  const ready = new Promise<void>((r) => (listening = r));
  p.stderr!.on("data", (d) => {
    log += d;
    if (log.includes("listening")) listening();
  });
  const exited = new Promise((r) => p.once("exit", r));
  await ready;
  const t0 = performance.now();
  await (await fetch(`https://127.0.0.1:${port}/`, insecure)).text();
  const client = performance.now() - t0;
  await (await fetch(`https://127.0.0.1:${port}/`, insecure)).text();
  await exited;
  const [first, second] = JSON.parse(log.trim().split("\n").pop()!) as number[];
  return { first: first!, second: second!, client };
}

try {
  // This process's TLS client, set up before anything is timed.
  const warm = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: Bun.file(join(pki, "localhost-rsa.pem")), key: Bun.file(join(pki, "localhost-rsa-key.pem")) },
    fetch: () => new Response("w"),
  });
  await (await fetch(`https://127.0.0.1:${warm.port}/`, insecure)).text();
  warm.stop(true);
  const results: Record<string, Array<{ first: number; second: number; client: number }>> = { cold: [], warm: [] };
  for (let i = 0; i < rounds; i++) for (const mode of ["cold", "warm"]) results[mode]!.push(await once(mode));
  console.log(`| server | first handshake, ms | second handshake, ms | client: listening → first response, ms |`);
  console.log("|---|---:|---:|---:|");
  for (const [mode, xs] of Object.entries(results)) {
    console.log(
      `| ${mode === "warm" ? "P-256 key generated first" : "as it starts"} | ${
        median(xs.map((x) => x.first)).toFixed(1)
      } | ${median(xs.map((x) => x.second)).toFixed(1)} | ${median(xs.map((x) => x.client)).toFixed(1)} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
