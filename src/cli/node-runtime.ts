/**
 * `--runtime node`: runs the same CLI under Node (>= 20.16), whose OpenSSL can staple OCSP
 * responses and restrict TLS 1.3 suites. Node runs the bundle `bun build.ts --node` makes
 * (dist/bobcat-node.mjs, or bobcat-node.mjs beside the executable); from a source checkout
 * under Bun the bundle is built on the fly.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BobcatError } from "../util/errors.ts";
import { RUNTIME } from "../util/runtime.ts";
import { PARENT_FD_ENV, whenParentExits } from "../runtime/parent-watch.ts";

declare const Bun: { build(o: Record<string, unknown>): Promise<{ success: boolean; logs: unknown[] }> } | undefined;

/** Temporary bundle directories made here, removed when the Node child exits. */
const madeDirs: string[] = [];

async function findBundle(): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(dirname(process.execPath), "bobcat-node.mjs"),
    join(here, "..", "..", "dist", "bobcat-node.mjs"),
  ];
  const entry = join(here, "node-entry.ts");
  if (RUNTIME === "bun" && existsSync(entry)) {
    // From source: always build, so the bundle matches the code being run.
    const out = mkdtempSync(join(tmpdir(), "bobcat-node-"));
    madeDirs.push(out);
    const r = await Bun!.build({ entrypoints: [entry], target: "node", outdir: out, naming: "bobcat-node.mjs" });
    if (!r.success) throw new Error(`building the Node bundle failed: ${r.logs.join("\n")}`);
    return join(out, "bobcat-node.mjs");
  }
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new BobcatError(
      "runtime.noNodeBundle",
      `--runtime node needs the Node bundle, looked for: ${candidates.join(", ")}`,
      {
        fix:
          "build it with `bun build.ts --node` (it writes dist/bobcat-node.mjs) and keep it beside the bobcat executable",
      },
    );
  }
  return found;
}

export async function runUnderNode(args: string[]): Promise<number> {
  const probe = spawnSync("node", ["--version"], { encoding: "utf8" });
  // process.getBuiltinModule (lazily loaded node:crypto) came in Node 20.16 and 22.3.
  const [major, minor] = (/^v(\d+)\.(\d+)/.exec(probe.stdout ?? "") ?? []).slice(1).map(Number);
  if (probe.error || !(major! > 20 || (major === 20 && minor! >= 16))) {
    throw new BobcatError(
      "runtime.noNode",
      `--runtime node needs Node 20.16 or later on the PATH (found: ${probe.error ? "none" : probe.stdout.trim()})`,
      {
        fix: "install Node.js 20.16 or later (https://nodejs.org) or run without --runtime node",
      },
    );
  }
  const bundle = await findBundle();
  // fd 3 is a pipe the child watches: when this process ends, even by SIGKILL, Node stops too.
  const child = spawn("node", [bundle, ...args], {
    stdio: ["inherit", "inherit", "inherit", "pipe"],
    env: { ...process.env, [PARENT_FD_ENV]: "3" },
  });
  // Signals sent to this process alone are passed on. A terminal's Ctrl-C reaches both
  // processes; the child counts the same signal twice within a second as one.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => child.kill(sig));
  // This process's own parent (the launcher) exited: stop Node as SIGTERM would.
  whenParentExits(() => child.kill("SIGTERM"));
  return new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      for (const d of madeDirs) rmSync(d, { recursive: true, force: true });
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
    })
  );
}
