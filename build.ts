#!/usr/bin/env bun
/**
 * Builds the single `bobcat` executable with the default config and built-in pages inside.
 *
 *   bun build.ts              → dist/bobcat        (bun build --compile; works offline)
 *   bun build.ts --deno       → dist/bobcat-deno   (deno compile; downloads Deno's `denort`
 *                                                   runtime once, or set DENORT_BIN to a local one)
 *   bun build.ts --deno --verify  runs deno compile with the Deno CLI standing in for denort,
 *                                 so everything short of the download is checked offline (type
 *                                 check, module graph, what is embedded); the output is deleted
 *   bun build.ts --node       → dist/bobcat-node.mjs (one-file bundle for `node`, used by --runtime node)
 *   bun build.ts --target bun-linux-arm64 → cross-compile (Bun downloads that runtime)
 *   bun build.ts --no-bytecode-order      → one build, without the profile run for the bytecode layout
 *
 * Generated sources (the embedded default config, the JSON Schema) are refreshed first.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { STARTUP_JIT_POLICY } from "./src/util/jit-policy.ts";

const root = import.meta.dir;
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

function run(cmd: string[], env?: Record<string, string>): void {
  console.log(`$ ${cmd.join(" ")}`);
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd: root,
    stdio: "inherit",
    env: env ? { ...process.env, ...env } : process.env,
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function fail(message: string): never {
  console.error(`build.ts: ${message}`);
  process.exit(1);
}

/**
 * What `deno compile` must leave out of the executable. With `nodeModulesDir: manual` it embeds
 * the whole node_modules; these are the runtimes npm installs for the launcher (Bun, Deno), type
 * packages and test tools, which bobcat never imports at run time. `.bin` goes too: its links
 * would pull the runtime binaries back in. Every devDependency goes as well (workerd and its
 * @cloudflare platform package alone are 160 MB).
 */
export const DENO_COMPILE_EXCLUDES = [
  ...new Set([
    ".bin",
    "bun",
    "@oven",
    "deno",
    "@deno",
    "typescript",
    "@typescript",
    "bun-types",
    "@types",
    "undici-types",
    "playwright-core",
    "@cloudflare",
    ...Object.keys(
      (JSON.parse(readFileSync(join(import.meta.dir, "package.json"), "utf8")) as {
        devDependencies?: Record<string, string>;
      }).devDependencies ?? {},
    ),
  ]),
];

/**
 * DENORT_BIN must be Deno's `denort` runtime. The full Deno CLI is accepted by deno compile
 * without a word, and the result is just a copy of the CLI that ignores the embedded program;
 * the CLI answers `--version` with "deno X.Y.Z", which denort does not.
 */
function checkDenort(path: string): void {
  if (!existsSync(path)) {
    fail(
      `DENORT_BIN=${path} does not exist; point it at Deno's denort binary, or unset it to let deno compile download denort`,
    );
  }
  const r = spawnSync(path, ["--version"], {
    encoding: "utf8",
    timeout: 20000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (/^deno \d+\.\d+\.\d+/m.test(out)) {
    fail(
      `DENORT_BIN=${path} is the full Deno CLI (${
        out.split("\n")[0]!.trim()
      }), not denort: deno compile would write a ` +
        "copy of the CLI that never runs bobcat. Point DENORT_BIN at the denort binary of the same Deno version " +
        "(denort-<target>.zip from the Deno release), or unset it to let deno compile download it.",
    );
  }
}

function compileWithDeno(verify: boolean): void {
  const deno = join(root, "node_modules/deno/deno");
  const denortEnv = process.env.DENORT_BIN;
  let output = option("--outfile") ?? "dist/bobcat-deno";
  let scratch: string | undefined;
  const env: Record<string, string> = { NO_COLOR: "1" };
  if (verify) {
    scratch = mkdtempSync(join(tmpdir(), "bobcat-deno-verify-"));
    output = join(scratch, "bobcat-deno");
    env.DENORT_BIN = deno;
  } else if (denortEnv) {
    checkDenort(denortEnv);
  }
  const cmd = [
    deno,
    "compile",
    "-A",
    "--unstable-net",
    "--unstable-no-legacy-abort",
    `--config=${join(root, "deno.json")}`,
    ...DENO_COMPILE_EXCLUDES.flatMap((dir) => ["--exclude", join(root, "node_modules", dir)]),
    "--output",
    output,
    "src/cli/main.ts",
  ];
  if (!verify) return run(cmd, env);
  console.log(`$ DENORT_BIN=${deno} ${cmd.join(" ")}`);
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
  // The stand-in executable is a copy of the Deno CLI, of no use: deleted before any verdict.
  rmSync(scratch!, { recursive: true, force: true });
  const report = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  process.stdout.write(report);
  if (r.status !== 0) fail(`deno compile failed (exit ${r.status ?? r.error?.message})`);
  const embedded = report.slice(report.indexOf("Embedded Files"));
  const leaked = DENO_COMPILE_EXCLUDES.filter((dir) =>
    new RegExp(`[├└]─+┬? ${dir.replace(/[.@]/g, "\\$&")}[/ ]`).test(embedded)
  );
  if (leaked.length) fail(`the executable would embed node_modules/${leaked.join(", node_modules/")}`);
  console.log("verified: deno compile type-checks, resolves and embeds bobcat without the excluded packages");
}

/**
 * x509.ts loads @peculiar/x509 with a top-level `await import()` so that, under `bun` from a
 * checkout, the reflect-metadata shim is in place first (Bun's loader evaluates a CommonJS
 * package before the module bodies that precede it). The bundle evaluates modules in import
 * order, so the executable gets a static import instead: a module graph without top-level
 * await is what Bun's bytecode compilation needs.
 */
const X509_STATIC = `import "./reflect-metadata.ts";
import * as X509 from "@peculiar/x509";
export const x509: typeof X509 = X509;
`;

/**
 * The single executable (bun build --compile), with the code compiled to bytecode ahead of time
 * and minified: start-up skips parsing and compiling the bundle (bench/startup.ts measures it).
 * Split into chunks at the dynamic imports, so that what start-up does not import (keystores,
 * @peculiar/x509, OCSP, ACME, the XML parser, the built-in apps and hono, database drivers) is
 * not loaded into memory at all: 5–7 MiB less idle RSS than one bundle with the same code.
 */
async function compileWithBun(target: string | undefined, outfile: string, order?: string): Promise<void> {
  console.log(
    `$ bun build --compile --bytecode${
      order ? ` --bytecode-order ${order}` : ""
    } --splitting --format=esm --minify --sourcemap src/cli/exe-main.ts --outfile ${outfile}`,
  );
  const result = await Bun.build({
    entrypoints: [join(root, "src/cli/exe-main.ts")],
    compile: {
      outfile: resolve(root, outfile),
      ...(target ? { target: target as Bun.Build.CompileTarget } : {}),
      // Handler modules beside the executable resolve their own node_modules and tsconfig (JSX) as under `bun`.
      autoloadPackageJson: true,
      autoloadTsconfig: true,
      ...(order ? { bytecodeOrder: order } : {}),
      // Start-up stays out of the JIT compilers until the connectors listen (src/util/jit-policy.ts).
      jitPolicy: STARTUP_JIT_POLICY,
    },
    bytecode: true,
    splitting: true,
    format: "esm",
    minify: true,
    sourcemap: "linked",
    plugins: [{
      name: "bobcat-x509-static",
      setup(build) {
        build.onLoad({ filter: /[\\/]src[\\/]tls[\\/]keystore[\\/]x509\.ts$/ }, () => ({
          loader: "ts",
          contents: X509_STATIC,
        }));
      },
    }],
  });
  for (const l of result.logs) console.error(String(l));
  if (!result.success) fail("bun build --compile failed");
}

/**
 * Profile-guided bytecode layout (`--bytecode-order`): runs the executable once — an HTTPS
 * connector with the test certificate (tests/fixtures/pki) and a hello handler, until its first
 * 200, then SIGTERM — with BUN_BYTECODE_ORDER_OUT recording the functions it used, and returns
 * that file (in `dir`, a scratch directory). Built again with it, the bytecode that start-up and a request use sits together at
 * the front of the embedded app, so far fewer of its pages are read in (bench/startup.ts --smaps:
 * the embedded app 3.0 → 0.9 MiB of idle RSS). Other functions keep working, from further back.
 * Returns undefined (and the first build stands) when the run cannot be made: no fixtures, a
 * cross-compiled target, or no 200 in time.
 */
async function recordBytecodeOrder(exe: string, dir: string): Promise<string | undefined> {
  const pki = join(root, "tests/fixtures/pki");
  if (!existsSync(join(pki, "localhost-rsa.pem"))) return undefined;
  const order = join(dir, "bytecode-order.txt");
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  writeFileSync(join(dir, "hello.ts"), `export default { fetch: () => new Response("Hello, world") };\n`);
  writeFileSync(
    join(dir, "server.yaml"),
    `logging: { level: warn }
server:
  services:
    - connectors:
        - { port: ${port}, address: 127.0.0.1, SSLEnabled: true, sslHostConfigs: [{ certificates: [{ certificateFile: ${
      join(pki, "localhost-rsa.pem")
    }, certificateKeyFile: ${join(pki, "localhost-rsa-key.pem")} }] }] }
      engine: { defaultHost: localhost, hosts: [{ name: localhost, contexts: [{ path: "", handler: hello.ts }] }] }
`,
  );
  console.log(`$ BUN_BYTECODE_ORDER_OUT=${order} ${exe} run   (one start and one request, for the bytecode layout)`);
  const child = spawn(resolve(root, exe), ["run", "--config", join(dir, "server.yaml")], {
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, BUN_BYTECODE_ORDER_OUT: order },
  });
  const exited = new Promise((r) => child.once("exit", r));
  try {
    const deadline = Date.now() + 30000;
    for (let ok = false; !ok;) {
      if (Date.now() > deadline || child.exitCode !== null) return undefined;
      try {
        const r = await fetch(`https://127.0.0.1:${port}/`, { tls: { rejectUnauthorized: false } } as RequestInit);
        ok = r.status === 200 && (await r.text()) === "Hello, world";
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
    return existsSync(order) && statSync(order).size > 0 ? order : undefined;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

if (import.meta.main) {
  // A DENORT_BIN that cannot work is refused before anything is written.
  if (flag("--deno") && !flag("--verify") && process.env.DENORT_BIN) checkDenort(process.env.DENORT_BIN);
  // Keep src/version.ts in step with package.json.
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const versionTs =
    `/** Kept in step with package.json by \`bun build.ts\`; read at run time by \`bobcat version\`. */\nexport const VERSION = "${version}";\n`;
  if (readFileSync(join(root, "src/version.ts"), "utf8") !== versionTs) {
    writeFileSync(join(root, "src/version.ts"), versionTs);
  }
  run([process.execPath, "scripts/gen-config-artifacts.ts"]);
  mkdirSync(join(root, "dist"), { recursive: true });

  if (flag("--node")) {
    run([
      process.execPath,
      "build",
      "--target=node",
      "src/cli/node-entry.ts",
      "--outfile",
      option("--outfile") ?? "dist/bobcat-node.mjs",
    ]);
  } else if (flag("--deno")) {
    compileWithDeno(flag("--verify"));
  } else {
    const outfile = option("--outfile") ?? "dist/bobcat";
    await compileWithBun(option("--target"), outfile);
    // A cross-compiled executable cannot run here to be profiled; --no-bytecode-order skips it.
    if (!option("--target") && !flag("--no-bytecode-order")) {
      const scratch = mkdtempSync(join(tmpdir(), "bobcat-order-"));
      try {
        const order = await recordBytecodeOrder(outfile, scratch);
        if (order) await compileWithBun(undefined, outfile, order);
        else console.log("bytecode layout: the profile run did not complete, the executable stays as first built");
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }
  }
}
