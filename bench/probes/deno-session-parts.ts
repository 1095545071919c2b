/**
 * The parts of a new-session response timed one by one, in a loop, on the runtime running it
 * (meant for Deno, where Headers and Response go through webidl in JavaScript): the Set-Cookie
 * header appended to a made Response against one given in the Response's init, and the ways of
 * spelling a 16-byte id as hex. ns per operation, median of rounds.
 *
 *   deno run -A bench/probes/deno-session-parts.ts [--rounds 7] [--iterations 200000] [--only NAME]
 *
 * Each case is best run alone (--only): run together, the call sites in the loop see them all.
 */
import { median, option } from "../lib.ts";
import { SessionIdGenerator } from "../../src/session/id-generator.ts";

const rounds = Number(option("--rounds", "7"));
const iterations = Number(option("--iterations", "200000"));
const TEXT = { "content-type": "text/plain" };
const COOKIE = "JSESSIONID=0123456789ABCDEF0123456789ABCDEF; Path=/; HttpOnly; Secure";
let sink: unknown;

const gen = new SessionIdGenerator();
const cases: Record<string, () => unknown> = {
  "Response, headers init": () => new Response("u1234", { headers: TEXT }),
  "Response + headers.append(set-cookie)": () => {
    const r = new Response("u1234", { headers: TEXT });
    r.headers.append("set-cookie", COOKIE);
    return r;
  },
  "Response, init with set-cookie": () => new Response("u1234", { headers: { ...TEXT, "set-cookie": COOKIE } }),
  "read res.headers only": () => new Response("u1234", { headers: TEXT }).headers,
  "res.headers.has(set-cookie)": () => new Response("u1234", { headers: TEXT }).headers.has("set-cookie"),
  "id: SessionIdGenerator.generate": () => gen.generate(),
  "Date.now()": () => Date.now(),
  "performance.now()": () => performance.now(),
};
const only = option("--only", "");
const results: Record<string, number[]> = {};
for (let r = -1; r < rounds; r++) {
  for (const [name, f] of Object.entries(cases)) {
    if (only && name !== only) continue;
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) sink = f();
    const ns = ((performance.now() - t0) * 1e6) / iterations;
    if (r >= 0) (results[name] ??= []).push(ns);
  }
}
for (const [name, v] of Object.entries(results)) {
  console.log(`${name.padEnd(40)} ${median(v).toFixed(0).padStart(6)} ns`);
}
if (sink === 42) console.log();
