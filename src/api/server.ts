/**
 * `createServer` for scripts: a config (file, text or object) and handler objects in, a running
 * server out. Each server keeps its own handlers, sessions and manager view. As `bobcat run`
 * does, every Host deploys its appBase (webapps/ROOT, foo, foo#bar, conf/<Engine>/<Host>/*.xml)
 * and reads conf/web.xml and each WEB-INF/web.xml; with autoDeploy it watches them. A
 * server.xml file (configFile ending in .xml) runs as it is.
 */
import { deployRecords, loadServerConfig } from "../config/catalina.ts";
import { deployInto, type DeployRecord } from "../config/deploy.ts";
import { withXmlConfig } from "../config/xml-config.ts";
import { withConfigReaders } from "../config/yaml-reader.ts";
import { loadConfigText, type LoadOptions } from "../config/load.ts";
import { loadConfigFile } from "../config/load-file.ts";
import type { BobcatConfig } from "../config/model.ts";
import { BobcatServer } from "../runtime/server.ts";

export interface ServerOptions extends LoadOptions {
  /** A YAML/TOML file (or Tomcat's server.xml); or give `configText` (+ optional `configName` for messages); or `config`. */
  configFile?: string;
  configText?: string;
  configName?: string;
  config?: BobcatConfig;
  /** Handler objects by the spec a context names in `handler:` (e.g. "app:main"), for this server only. */
  handlers?: Record<string, unknown>;
  /** Apply the config's logging section (default true; logging is process-wide). */
  configureLogging?: boolean;
  /**
   * Deploy each Host's appBase and read web.xml files, as `bobcat run` does (default true).
   * Ignored for a ready `config` object, which is used as it is.
   */
  deploy?: boolean;
}

export function resolveConfig(o: ServerOptions): Promise<BobcatConfig> {
  if (o.config) return Promise.resolve(o.config);
  // Deployment may find context.xml/web.xml files: the XML parser (and convert.ts, webxml.ts) is
  // loaded when one turns up, and the YAML and TOML readers when the config (or a
  // META-INF/context.yaml) needs them.
  return withXmlConfig(() => withConfigReaders(() => resolveConfigOnce(o)));
}

async function resolveConfigOnce(o: ServerOptions): Promise<BobcatConfig> {
  let record: DeployRecord | undefined;
  const prepare: LoadOptions["prepare"] = o.prepare ??
    (o.deploy === false ? undefined : (root, info) => {
      record = deployInto(
        root,
        info.baseDir,
        { contextXmlDefaults: false, mode: "run", expand: info.expand, from: info.from },
        info.where,
      );
    });
  let config: BobcatConfig;
  if (o.configFile && o.configFile.toLowerCase().endsWith(".xml") && o.deploy !== false && !o.prepare) {
    // Tomcat's server.xml: converted in memory, conf/context.xml applied, as `bobcat run --config`.
    return await loadServerConfig({
      config: o.configFile,
      base: o.baseDir,
      properties: o.properties,
      mode: "run",
      builtin: { name: "", yaml: "" },
    });
  } else if (o.configFile) config = await loadConfigFile(o.configFile, { ...o, prepare });
  else if (o.configText !== undefined) {
    config = loadConfigText(o.configName ?? "<configText>", o.configText, { ...o, prepare });
  } else throw new TypeError("createServer: give configFile, configText or config");
  if (record) {
    config.notes.push(...record.notes);
    (config.warnings ??= []).push(...record.warnings);
    deployRecords.set(config, record);
  }
  return config;
}

/** Loads the config, opens keystores, starts every connector. Resolves once all listen. */
export async function createServer(options: ServerOptions): Promise<BobcatServer> {
  const server = new BobcatServer(await resolveConfig(options), {
    handlers: options.handlers,
    // autoDeploy and reloadable load the config again, as the CLI does.
    reloadConfig: options.config ? undefined : () => resolveConfig(options),
  });
  return server.start({ configureLogging: options.configureLogging });
}
