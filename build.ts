#!/usr/bin/env bun
/**
 * Builds the single `bobcat` executable with the default config and built-in pages inside.
 *
 *   bun build.ts              → dist/bobcat        (bun build --compile; works offline)
 *   bun build.ts --deno       → dist/bobcat-deno   (deno compile; downloads Deno's `denort`
 *                                                   runtime once, or set DENORT_BIN to a local one)
 *   bun build.ts --node       → dist/bobcat-node.mjs (one-file bundle for `node`, used by --runtime node)
 *   bun build.ts --target bun-linux-arm64 → cross-compile (Bun downloads that runtime)
 *
 * Generated sources (the embedded default config, the JSON Schema) are refreshed first.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = import.meta.dir;
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

function run(cmd: string[]): void {
  console.log(`$ ${cmd.join(" ")}`);
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// Keep src/version.ts in step with package.json.
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
writeFileSync(join(root, "src/version.ts"), `/** Kept in step with package.json by \`bun build.ts\`; read at run time by \`bobcat version\`. */\nexport const VERSION = "${version}";\n`);
run([process.execPath, "scripts/gen-config-artifacts.ts"]);
mkdirSync(join(root, "dist"), { recursive: true });

const entry = "src/cli/main.ts";
if (flag("--node")) {
  run([process.execPath, "build", "--target=node", "src/cli/node-entry.ts", "--outfile", option("--outfile") ?? "dist/bobcat-node.mjs"]);
} else if (flag("--deno")) {
  const deno = join(root, "node_modules/.bin/deno");
  run([deno, "compile", "-A", "--unstable-net", `--config=${join(root, "deno.json")}`, "--output", option("--outfile") ?? "dist/bobcat-deno", entry]);
} else {
  const target = option("--target");
  run([
    process.execPath, "build", "--compile", "--minify", "--sourcemap",
    ...(target ? [`--target=${target}`] : []),
    entry, "--outfile", option("--outfile") ?? "dist/bobcat",
  ]);
}
