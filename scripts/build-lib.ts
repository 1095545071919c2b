#!/usr/bin/env bun
/**
 * Builds the library that the npm package ships (run by `npm pack` / `npm publish` as prepack):
 *
 *   dist-lib/mod.js    "bobcat": createServer, BobcatServer, the config API (Bun, Deno, Node)
 *   dist-lib/edge.js   "bobcat/edge": createHandler for edge runtimes
 *   dist-lib/types/    .d.ts for both (tsc --emitDeclarationOnly)
 *   dist-lib/cli.js    the CLI, which bin/bobcat.mjs runs under Deno (`BOBCAT_RUNTIME=deno npx bobcat`);
 *                      Bun runs src/cli/main.ts itself. Its dynamic imports stay dynamic: the
 *                      modules only some configs need are chunks in dist-lib/cli/, loaded when
 *                      asked for (in one file their packages' imports would all load at start).
 *
 * Deno refuses to strip types from .ts files inside node_modules and Node cannot load them at
 * all, so the package carries JavaScript; a checkout keeps running from source (mod.ts, edge.ts).
 * Dependencies stay external (the user's install provides them), except the YAML and TOML
 * parsers, bundled in their browser builds: the Node build of `yaml` reads process.env, so Deno
 * would demand --allow-env just to parse a config. `postgres` stays external so that a Workers
 * bundler picks its workerd build (cloudflare:sockets).
 *
 * The CLI is also minified (whitespace and syntax; names kept, so stack traces still read) and
 * written in ASCII only: V8 keeps every loaded module's source text for as long as the process
 * runs, in two bytes a character as soon as one character of it is not Latin-1, so comments and
 * the odd "—" in a message doubled what the sources cost in the idle heap
 * (`bun bench/startup.ts --runtime deno`, README "Figures measured here").
 *
 * The CLI's dynamic imports (of its own chunks, of packages) are written so that Deno's module
 * graph does not list them (see unlistedChunkImports): before running a file, Deno reads and
 * analyses every module its graph reaches, dynamic imports with a literal specifier included, and
 * for a start from a checkout that was all ~100 chunks for the handful a configuration loads.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { lineGranularMappings } from "./line-source-map.ts";

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

type Naming = { entry: string; chunk: string };

async function bundle(
  entry: string,
  target: "node" | "browser",
  external: string[],
  cli?: { naming: Naming },
): Promise<void> {
  const r = await Bun.build({
    plugins: [yamlBrowser],
    entrypoints: [join(root, entry)],
    outdir: out,
    ...(cli
      ? {
        naming: cli.naming,
        splitting: true,
        minify: { whitespace: true, syntax: true },
        // Deno runs the CLI's build: the require()s that only Bun reaches (it can load a module
        // synchronously) go with their branches, so the modules they name (the stores, the YAML
        // and TOML readers) stay out of the start-up graph, as dynamic imports.
        define: { "globalThis.Bun": "undefined" },
      }
      : {}),
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
  let chunks = 0, chunkBytes = 0;
  for (const o of r.outputs) {
    if (cli && o.path.endsWith(".js")) {
      writeFileSync(o.path, unlistedChunkImports(asciiOnly(readFileSync(o.path, "utf8"))));
    }
    if (cli && o.path.endsWith(".js.map")) {
      writeFileSync(o.path, sourceMapForPackage(readFileSync(o.path, "utf8"), relative(out, dirname(o.path))));
    }
    if (o.kind === "chunk" || o.kind === "sourcemap" && o.path.includes(`${sep}cli${sep}`)) {
      chunks++;
      chunkBytes += o.size;
      continue;
    }
    console.log(`  ${o.path.slice(root.length + 1)}  ${(o.size / 1024).toFixed(0)} KiB`);
  }
  if (chunks) {
    console.log(`  + ${chunks} chunk files (and maps) in dist-lib/cli/  ${(chunkBytes / 1024).toFixed(0)} KiB`);
  }
}

/**
 * A CLI source map as the package ships it: without the sources' text (`sourcesContent`, 70% of
 * each map), since its `sources` name the files under `src/`, which the package ships. Deno reads
 * the maps of some of the CLI's modules at every start (the entry's and a few chunks', though no
 * error is reported) and keeps what it read for the life of the server. `sources` are relative to
 * the output directory in the bundler's maps of chunks in a subdirectory (`cli/`), where they
 * named files under `dist-lib/src/` that do not exist: they are made relative to the map's own
 * directory (`dir`, relative to the output directory), as the format says. And they map each
 * original line once (scripts/line-source-map.ts): what Deno keeps of a map it read is ~40 bytes
 * a segment, and the minified build has one every few characters; a stack trace still names the
 * file and line, the column being that of the line's first expression.
 */
function sourceMapForPackage(map: string, dir: string): string {
  const parsed = JSON.parse(map) as { sources: string[]; sourcesContent?: unknown; mappings: string };
  delete parsed.sourcesContent;
  parsed.mappings = lineGranularMappings(parsed.mappings);
  if (dir) parsed.sources = parsed.sources.map((s) => relative(dir, s).split(sep).join("/"));
  return JSON.stringify(parsed);
}

/**
 * JavaScript source with every character above U+007F written as a \uXXXX escape (surrogate
 * pairs as two). The bundler's output has them in string, template and regular-expression
 * literals, where the escape means the same character (none of bobcat's String.raw templates or
 * regular expressions whose .source is read has one), and in identifiers, where it is allowed too.
 * The source map is not rewritten: on the few lines with such a character, columns after it are
 * off by five a character.
 */
function asciiOnly(js: string): string {
  // After a backslash the escape would change meaning (`\—` is the character itself): stop there.
  const escaped = /\\[^\x00-\x7f]/.exec(js);
  if (escaped) throw new Error(`a non-ASCII character after a backslash in the CLI build: ${escaped[0]}`);
  return js.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * `import("./cli/chunk-x.js")` → `import(String("./cli/chunk-x.js"))`, and so for a package
 * (`import("drizzle-orm")`) or a `node:` module: the same module, resolved the same way (against
 * the importing file, through the same package resolution) when the import runs, but no longer a
 * specifier Deno's module graph follows before the program starts. `deno run dist-lib/cli.js`
 * from a checkout otherwise read and hashed all of dist-lib/cli/ (3 MB) and looked each chunk up
 * in its analysis cache at every start (~25 ms of CPU), and resolved every package that some
 * configuration imports (drizzle-orm, fast-xml-parser, ...: their package.json read, Deno's npm
 * resolution run, 1.5 MiB of idle memory; `bun bench/startup.ts --runtime deno`). Deno does not
 * build that graph for files inside node_modules (the npm install), which this changes nothing
 * for. Every run of the CLI has read permission (the launcher passes -A), which a computed
 * specifier needs.
 */
function unlistedChunkImports(js: string): string {
  return js.replace(/\bimport\(("[^"\\]+")\)/g, "import(String($1))");
}

console.log("building dist-lib/");
await bundle("mod.ts", "node", externals(["yaml", "smol-toml"]));
await bundle("edge.ts", "browser", externals(["yaml", "smol-toml"]));
await bundle("src/cli/node-entry.ts", "node", externals(["yaml", "smol-toml"]), {
  naming: { entry: "cli.js", chunk: "cli/chunk-[hash].[ext]" },
});

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
