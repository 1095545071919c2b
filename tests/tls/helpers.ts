/** Shared by the TLS tests: fixture paths, scratch directories, the real keytool/openssl, and keytool runs in-process. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { keytoolMain } from "../../src/cli/keytool/main.ts";

export const FIXTURES = resolve(import.meta.dirname, "../fixtures/keystores");
export const PEM = join(FIXTURES, "pem");
export const fixture = (name: string) => join(FIXTURES, name);
export const pem = (name: string) => join(PEM, name);
export const fixtureBytes = (name: string) => new Uint8Array(readFileSync(fixture(name)));
export const PW = "changeit";

const dirs: string[] = [];
export function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "bobcat-tls-"));
  dirs.push(d);
  return d;
}
export function cleanupScratch(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a real tool (keytool, openssl, deno) with a time limit. */
export function tool(
  cmd: string,
  args: string[],
  opts: { input?: string | Uint8Array; cwd?: string; timeout?: number; env?: Record<string, string> } = {},
): ToolResult {
  const env = opts.env ? { ...process.env, ...opts.env } : undefined;
  const r = spawnSync(cmd, args, {
    input: opts.input,
    cwd: opts.cwd,
    timeout: opts.timeout ?? 30_000,
    encoding: "utf8",
    env,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export interface KeytoolRun {
  code: number;
  out: string;
  err: string;
  /** stdout as bytes (for DER output). */
  raw: Uint8Array;
}

/** `bobcat keytool` in-process with captured output; `input` is what stdin delivers. */
export async function bobcatKeytool(
  args: string[],
  opts: { input?: string[]; isTTY?: boolean } = {},
): Promise<KeytoolRun> {
  const outChunks: Uint8Array[] = [];
  let err = "";
  const enc = new TextEncoder();
  const code = await keytoolMain(args, {
    stdout: { write: (s: string | Uint8Array) => outChunks.push(typeof s === "string" ? enc.encode(s) : s) },
    stderr: { write: (s: string | Uint8Array) => (err += typeof s === "string" ? s : new TextDecoder().decode(s)) },
    stdin: opts.input ?? [],
    isTTY: opts.isTTY ?? false,
  });
  const raw = new Uint8Array(outChunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of outChunks) raw.set(c, (off += c.length) - c.length);
  return { code, out: new TextDecoder().decode(raw), err, raw };
}
