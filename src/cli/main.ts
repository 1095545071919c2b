#!/usr/bin/env bun
/**
 * The `bobcat` command: run, check, version, keytool. Errors from config and TLS are printed
 * as `file:line:col: path: message` with a fix, never as a stack trace.
 */
import { stringify } from "yaml";
import { loadServerConfig } from "../config/catalina.ts";
import { redactSecrets } from "../config/redact.ts";
import type { BobcatConfig } from "../config/model.ts";
import { DEFAULT_CONFIG_NAME, DEFAULT_CONFIG_YAML } from "./default-config.ts";
import { UsageError } from "../util/errors.ts";
import { printError } from "./errors.ts";
import { VERSION } from "../version.ts";
import { RUNTIME, runtimeLabel } from "../util/runtime.ts";
import { checkConfig, startFromConfig, storeInit } from "./commands.ts";
import { Schema } from "../config/schema-json.ts";
import { watchParent } from "../runtime/parent-watch.ts";
import { ACME_HELP, acmeMain } from "./acme.ts";

const HELP: Record<string, string> = {
  main: `bobcat ${VERSION} — a Tomcat-style web server for Bun and Deno

Usage: bobcat <command> [options]

Commands:
  run        start the server (default command)
  check      validate a config, open its keystores, print the effective config
  keytool    manage keystores with Java keytool's flags (bobcat keytool -help)
  ca         a small CA for tests and development: issue certificates with OCSP URLs, CRLs
  acme       status|renew|revoke: certificates obtained over ACME (bobcat acme --help)
  store      store init: create the session table of each DataSourceStore (--print: show the SQL)
  convert    translate a Tomcat server.xml into bobcat's YAML
  schema     print the JSON Schema of the config file
  version    print the version and runtime

Run 'bobcat <command> --help' for a command's options.
With no --config, bobcat runs its built-in default config (HTTP 8080 → HTTPS 8443,
a self-signed localhost certificate kept in the base directory).`,
  run: `Usage: bobcat run [--config FILE] [--base DIR] [--runtime node] [-Dname=value ...]

Starts the server and runs until SIGINT or SIGTERM (graceful stop: stop accepting,
finish requests in flight, persist sessions; a second signal exits at once).

Options:
  -c, --config FILE   YAML or TOML config, or Tomcat's server.xml as it is (default: the
                      config in --base, else the built-in config/server.yaml)
  -b, --base DIR      base directory, like $CATALINA_BASE: relative paths in the config
                      resolve against it (default: the config file's directory, or the
                      current directory for the built-in config). Without --config, its
                      conf/bobcat.yaml, conf/server.yaml (or .toml) or conf/server.xml is run:
                      a Tomcat CATALINA_BASE runs as it is, webapps/ deployed, web.xml read
  -Dname=value        define a property for \${name} expansion (wins over the file's)
  --runtime node      run under Node (>= 20) instead: the only TLS stack that staples OCSP
                      responses and restricts TLS 1.3 cipher suites
  -h, --help          this help`,
  check: `Usage: bobcat check [--config FILE] [--base DIR] [-Dname=value ...]

Does everything 'run' does short of listening: validates the config, opens keystores,
checks passwords, aliases and chains, loads handler modules, and prints the effective
config (passwords masked). Exit status 0 when the config is usable, 1 otherwise.

Options: as for 'bobcat run'.`,
  store: `Usage: bobcat store init [--config FILE] [--base DIR] [--print]

Creates the session table (and its columns, as named by the DataSourceStore's sessionTable,
sessionIdCol, ... attributes) in the database of every context whose manager is a
PersistentManager with a DataSourceStore. --print only prints the CREATE TABLE statement for each
database (SQLite, PostgreSQL, MySQL) without connecting.`,
  acme: ACME_HELP,
  version: `Usage: bobcat version\n\nPrints bobcat's version and the runtime it runs on.`,
  schema: `Usage: bobcat schema\n\nPrints the JSON Schema of the config file (also in config/server.schema.json).`,
};

interface Parsed {
  command: string;
  /** store init --print */
  print: boolean;
  runtime?: string;
  config?: string;
  base?: string;
  properties: Record<string, string>;
  help: boolean;
  rest: string[];
}

export function parseArgs(argv: string[]): Parsed {
  const out: Parsed = { command: "run", properties: {}, help: false, rest: [], print: false };
  let i = 0;
  if (argv[0] && !argv[0].startsWith("-")) out.command = argv[i++]!;
  if (out.command === "store" && argv[i] && !argv[i]!.startsWith("-")) out.rest = [argv[i++]!];
  if (out.command === "acme") {
    while (argv[i] && !argv[i]!.startsWith("-") && out.rest.length < 2) out.rest.push(argv[i++]!);
  }
  if (out.command === "keytool" || out.command === "ca" || out.command === "convert") {
    out.rest = argv.slice(i);
    return out;
  }
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const eq = a.indexOf("=");
      if (a.startsWith("--") && eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "-h" || a === "--help" || a === "help") out.help = true;
    else if (a === "-c" || a === "--config" || a.startsWith("--config=")) out.config = value();
    else if (a === "-b" || a === "--base" || a.startsWith("--base=")) out.base = value();
    else if (a === "--runtime" || a.startsWith("--runtime=")) out.runtime = value();
    else if (a === "--print" && out.command === "store") out.print = true;
    else if (a.startsWith("-D")) {
      const eq = a.indexOf("=");
      if (eq < 0) throw new UsageError(`${a}: write -Dname=value`);
      out.properties[a.slice(2, eq)] = a.slice(eq + 1);
    } else throw new UsageError(`unknown option ${a}`);
  }
  return out;
}

export function loadFromArgs(p: Parsed): Promise<BobcatConfig> {
  return loadServerConfig({
    config: p.config,
    base: p.base,
    properties: p.properties,
    mode: p.command === "run" ? "run" : "check",
    builtin: { name: DEFAULT_CONFIG_NAME, yaml: DEFAULT_CONFIG_YAML },
  });
}

export async function main(argv: string[]): Promise<number> {
  watchParent();
  let p: Parsed;
  try {
    p = parseArgs(argv);
  } catch (e) {
    printError(e);
    return 2;
  }
  if (p.help && HELP[p.command]) {
    console.log(p.command === "run" && argv.length === 1 ? HELP.main : HELP[p.command]);
    return 0;
  }
  if (p.runtime && p.runtime !== RUNTIME) {
    if (p.runtime !== "node") {
      printError(
        new UsageError(
          `--runtime ${p.runtime}: start bobcat with ${p.runtime} itself (bobcat's npm package has both: npx bobcat, or BOBCAT_RUNTIME=deno npx bobcat)`,
        ),
      );
      return 2;
    }
    try {
      return await (await import("./node-runtime.ts")).runUnderNode(
        argv.filter((a, i) => a !== "--runtime" && argv[i - 1] !== "--runtime" && !a.startsWith("--runtime=")),
      );
    } catch (e) {
      printError(e);
      return 1;
    }
  }
  try {
    switch (p.command) {
      case "run":
        return await startFromConfig(await loadFromArgs(p), () => loadFromArgs(p));
      case "check": {
        const config = await loadFromArgs(p);
        const ok = await checkConfig(config);
        if (ok) console.log(stringify(redactSecrets(config)));
        return ok ? 0 : 1;
      }
      case "version":
        console.log(
          `bobcat ${VERSION} (${runtimeLabel()}, ${
            RUNTIME === "node" ? "node-compat" : "native + node-compat"
          } back-ends)`,
        );
        return 0;
      case "schema":
        console.log(JSON.stringify(Schema(), null, 2));
        return 0;
      case "store": {
        if (p.rest[0] !== "init") {
          printError(
            new UsageError("bobcat store: the only subcommand is init (bobcat store init --config FILE [--print])"),
          );
          return 2;
        }
        return await storeInit(await loadFromArgs(p), p.print);
      }
      case "acme": {
        return await acmeMain(await loadFromArgs(p), p.rest[0], p.rest[1]);
      }
      case "convert": {
        const { convertMain } = await import("../config/convert.ts");
        return await convertMain(p.rest);
      }
      case "ca": {
        const { caMain } = await import("../tls/ca/index.ts");
        return await caMain(p.rest);
      }
      case "keytool": {
        const { keytoolMain } = await import("../tls/keytool/index.ts");
        return await keytoolMain(p.rest);
      }
      default:
        printError(new UsageError(`unknown command "${p.command}"`));
        return 2;
    }
  } catch (e) {
    printError(e);
    return 1;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
