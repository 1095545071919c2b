#!/usr/bin/env bun
/**
 * Builds the library that the npm package ships (run by `npm pack` / `npm publish` as prepack):
 *
 *   dist-lib/mod.js    "bobcat": createServer, BobcatServer, the config API (Bun, Deno, Node)
 *   dist-lib/edge.js   "bobcat/edge": createHandler for edge runtimes
 *   dist-lib/types/    .d.ts for both (tsc --emitDeclarationOnly)
 *   dist-lib/cli.js    the CLI, which bin/bobcat.mjs runs under Deno (`BOBCAT_RUNTIME=deno npx bobcat`);
 *                      Bun runs src/cli/main.ts itself
 *
 * Deno refuses to strip types from .ts files inside node_modules and Node cannot load them at
 * all, so the package carries JavaScript; a checkout keeps running from source (mod.ts, edge.ts).
 * Dependencies stay external (the user's install provides them), except the YAML and TOML
 * parsers, bundled in their browser builds: the Node build of `yaml` reads process.env, so Deno
 * would demand --allow-env just to parse a config. `postgres` stays external so that a Workers
 * bundler picks its workerd build (cloudflare:sockets).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const out = join(root, "dist-lib");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
const deps = Object.keys(pkg.dependencies);
const externals = (except: string[] = []) => deps.filter((d) => !except.includes(d)).flatMap((d) => [d, `${d}/*`]);

rmSync(out, { recursive: true, force: true });

/** `yaml` → its browser build, whatever the target's conditions would pick. */
const yamlBrowser: import("bun").BunPlugin = {
  name: "yaml-browser",
  setup(build) {
    build.onResolve({ filter: /^yaml$/ }, () => ({ path: join(root, "node_modules", "yaml", "browser", "index.js") }));
  },
};

async function bundle(entry: string, target: "node" | "browser", external: string[], naming?: string): Promise<void> {
  const r = await Bun.build({
    plugins: [yamlBrowser],
    entrypoints: [join(root, entry)],
    outdir: out,
    ...(naming ? { naming } : {}),
    target,
    format: "esm",
    // Builtins of every runtime stay imports; bun: and cloudflare: ones are only reached where they exist.
    external: [...external, "node:*", "bun:*", "cloudflare:*"],
    sourcemap: "linked",
  });
  if (!r.success) {
    for (const l of r.logs) console.error(l);
    throw new Error(`bundling ${entry} failed`);
  }
  for (const o of r.outputs) console.log(`  ${o.path.slice(root.length + 1)}  ${(o.size / 1024).toFixed(0)} KiB`);
}

console.log("building dist-lib/");
await bundle("mod.ts", "node", externals(["yaml", "smol-toml"]));
await bundle("edge.ts", "browser", externals(["yaml", "smol-toml"]));
await bundle("src/cli/node-entry.ts", "node", externals(["yaml", "smol-toml"]), "cli.js");

// Declarations: tsc on the two entries, with the project's compiler options.
const tsconfig = join(root, "tsconfig.lib.json");
writeFileSync(
  tsconfig,
  JSON.stringify({
    extends: "./tsconfig.json",
    compilerOptions: {
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      rootDir: ".",
      outDir: "dist-lib/types",
    },
    include: [],
    files: ["mod.ts", "edge.ts"],
  }),
);
try {
  const tsc = join(root, "node_modules", ".bin", "tsc");
  const r = spawnSync(existsSync(tsc) ? tsc : "tsc", ["-p", tsconfig], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`tsc --emitDeclarationOnly failed (exit ${r.status ?? r.signal})`);
} finally {
  rmSync(tsconfig, { force: true });
}
console.log("  dist-lib/types/mod.d.ts, dist-lib/types/edge.d.ts");
