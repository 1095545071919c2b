#!/usr/bin/env node
// `npx bobcat ...` / `npm exec bobcat`: runs the CLI under the Bun that npm installed with it
// (set BOBCAT_RUNTIME=deno to use Deno instead).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const cli = join(here, "..", "src", "cli", "main.ts");
const runtime = process.env.BOBCAT_RUNTIME === "deno" ? "deno" : "bun";
const pkgBin = (pkg, rel) => join(dirname(require.resolve(`${pkg}/package.json`)), rel);
const cmd =
  runtime === "deno"
    ? [pkgBin("deno", "bin.cjs"), ["run", "-A", `--config=${join(here, "..", "deno.json")}`, cli, ...process.argv.slice(2)]]
    : [pkgBin("bun", "bin/bun.exe"), [cli, ...process.argv.slice(2)]];
const child = spawn(cmd[0], cmd[1], { stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
