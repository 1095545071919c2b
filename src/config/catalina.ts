/**
 * Where a server's config comes from, as a Tomcat user expects: `--config FILE` (YAML, TOML, or
 * Tomcat's server.xml itself), or `--base DIR` alone, which runs DIR/conf/bobcat.yaml,
 * conf/server.yaml (or .toml) or conf/server.xml — a CATALINA_BASE as it is — and the built-in
 * default config otherwise. Every host then deploys its appBase (deploy.ts) and every context
 * reads conf/web.xml and its WEB-INF/web.xml. Server-only.
 */
import { existsSync } from "../util/host/fs.ts";
import { basename, dirname, join, resolve } from "../util/host/path.ts";
import { cwd } from "../util/host/proc.ts";
import type { BobcatConfig } from "./model.ts";
import { loadConfigText, type LoadOptions } from "./load.ts";
import { loadConfigFile } from "./load-file.ts";
import { loadXmlConfig, withXmlConfig } from "./xml-config.ts";
import { readLoggingProperties } from "./logging-properties.ts";
import { withConfigReaders } from "./yaml-reader.ts";
import { deployInto, type DeployRecord } from "./deploy.ts";
import { BobcatError } from "../util/errors.ts";
import { MAX_CONFIG_FILE_BYTES, readRegularTextFile } from "../util/files.ts";

export interface ServerConfigArgs {
  config?: string;
  base?: string;
  properties?: Record<string, string>;
  /** check writes nothing (copyXML); run may. */
  mode: "run" | "check";
  /** The built-in config, used when neither --config nor a config in --base is found. */
  builtin: { name: string; yaml: string };
}

/** What deploy.ts recorded for each loaded config, for autoDeploy. */
export const deployRecords = new WeakMap<BobcatConfig, DeployRecord>();

/** The config files `--base DIR` looks for, in this order. */
export const BASE_CONFIG_FILES = [
  "conf/bobcat.yaml",
  "conf/bobcat.yml",
  "conf/server.yaml",
  "conf/server.yml",
  "conf/bobcat.toml",
  "conf/server.toml",
  "conf/server.xml",
];

export function loadServerConfig(args: ServerConfigArgs): Promise<BobcatConfig> {
  // Deployment may find context.xml/web.xml files: the XML parser (and convert.ts, webxml.ts) is
  // loaded when one turns up.
  // So may they find a META-INF/context.yaml beyond the plain subset: the YAML reader likewise.
  return withXmlConfig(() => withConfigReaders(() => loadServerConfigOnce(args)));
}

async function loadServerConfigOnce(args: ServerConfigArgs): Promise<BobcatConfig> {
  const base = args.base ? resolve(args.base) : undefined;
  let file = args.config ? resolve(args.config) : undefined;
  if (!file && base) {
    // A mistyped --base would otherwise run the built-in config, and make its certificate there.
    if (!existsSync(base)) {
      throw new BobcatError("config.base", `the base directory ${base} does not exist`, {
        where: { file: base },
        fix: "correct --base (Tomcat's CATALINA_BASE: the directory that holds conf/), or create it",
      });
    }
    const found = BASE_CONFIG_FILES.map((f) => join(base, f)).find((f) => existsSync(f));
    file = found;
  }
  let record: DeployRecord | undefined;
  const prepare = (serverXml: boolean): LoadOptions["prepare"] => (root, info) => {
    record = deployInto(
      root,
      info.baseDir,
      { contextXmlDefaults: serverXml, mode: args.mode, expand: info.expand, from: info.from },
      info.where,
    );
  };
  let config: BobcatConfig;
  if (!file) {
    config = loadConfigText(args.builtin.name, args.builtin.yaml, {
      properties: args.properties,
      baseDir: base ?? cwd(),
      prepare: prepare(false),
    });
  } else if (file.toLowerCase().endsWith(".xml")) {
    config = await loadServerXml(file, base, args.properties, prepare(true));
  } else {
    config = await loadConfigFile(file, { properties: args.properties, baseDir: base, prepare: prepare(false) });
  }
  if (record) {
    config.notes.push(...record.notes);
    (config.warnings ??= []).push(...record.warnings);
    deployRecords.set(config, record);
  }
  return config;
}

/** Tomcat's server.xml, run as it is: converted in memory (convert.ts), then loaded like a YAML file. */
async function loadServerXml(
  file: string,
  base: string | undefined,
  properties: Record<string, string> | undefined,
  prepare: LoadOptions["prepare"],
): Promise<BobcatConfig> {
  let xml: string;
  try {
    xml = await readRegularTextFile(file, MAX_CONFIG_FILE_BYTES);
  } catch (e) {
    throw new BobcatError("config.notFound", `cannot read ${file}: ${(e as Error).message}`, {
      where: { file },
      fix: "check the path of the server.xml (or the --base directory: its conf/server.xml is used)",
    });
  }
  // $CATALINA_BASE is the directory above conf/.
  const baseDir = base ?? (basename(dirname(file)) === "conf" ? dirname(dirname(file)) : dirname(file));
  const { convert } = await loadXmlConfig();
  // Problems name the server.xml's line and column: of the attribute, else of the nearest element.
  const { yaml, warnings, atWarn, locate } = convert.convertServerXml(xml, { file });
  const config = loadConfigText(`${file} (converted)`, yaml, {
    baseDir,
    properties,
    prepare,
    origin: { file, locate },
  });
  const serious = new Set(atWarn);
  config.notes.unshift(...warnings.filter((w) => !serious.has(w)).map((w) => `server.xml: ${w}`));
  (config.warnings ??= []).unshift(...atWarn.map((w) => `server.xml: ${w}`));
  await applyLoggingProperties(config, join(baseDir, "conf", "logging.properties"));
  return config;
}

/**
 * The SSL how-to's troubleshooting step, conf/logging.properties with
 * `org.apache.tomcat.util.net.NioEndpoint.handshake.level=FINE`, turns on handshake logging as
 * it does in Tomcat; a server.xml has no other place to say so.
 */
async function applyLoggingProperties(config: BobcatConfig, file: string): Promise<void> {
  if (!existsSync(file)) return;
  let text: string;
  try {
    text = await readRegularTextFile(file, MAX_CONFIG_FILE_BYTES);
  } catch (e) {
    (config.warnings ??= []).push(`${file}: not read (${(e as Error).message})`);
    return;
  }
  const { handshake, problems } = readLoggingProperties(text);
  for (const p of problems) (config.warnings ??= []).push(`${file}: ${p}`);
  if (handshake) {
    config.logging.components.handshake = handshake.level;
    config.notes.push(
      `${file}:${handshake.line}: ${handshake.key} applied as logging.components.handshake: ${handshake.level}; ` +
        "its other settings (handlers, log files) are Tomcat's and are not applied",
    );
  }
}
