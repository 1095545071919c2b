/**
 * fast-xml-parser, loaded only when an XML file is read (server.xml, context.xml, web.xml,
 * tomcat-users.xml): a YAML or TOML config without such files never loads it. The readers are
 * synchronous, so the async entry points load the parser first (loadXmlParser) — or, where
 * they cannot tell in advance whether a file will turn up (deployment scans), retry once after
 * XmlParserNotLoaded (withXmlParser).
 */
import type * as Fxp from "fast-xml-parser";
// @ts-types="../../node_modules/yaml/dist/index.d.ts"
import type * as Yaml from "yaml";

let fxp: typeof Fxp | undefined;

export class XmlParserNotLoaded extends Error {
  override name = "XmlParserNotLoaded";
  constructor() {
    super("an XML file is read before loadXmlParser() finished");
  }
}

let yamlLib: typeof Yaml | undefined;

export async function loadXmlParser(): Promise<typeof Fxp> {
  // convert.ts writes what it reads from XML as YAML (with comments): the yaml package comes along.
  yamlLib ??= await import("yaml");
  return fxp ??= await import("fast-xml-parser");
}

/** The yaml package, loaded with the XML parser (XmlParserNotLoaded before). */
export function yamlWriter(): typeof Yaml {
  if (!yamlLib) throw new XmlParserNotLoaded();
  return yamlLib;
}

/** The module, or XmlParserNotLoaded. */
export function xmlParser(): typeof Fxp {
  if (!fxp) throw new XmlParserNotLoaded();
  return fxp;
}

/** Runs `load`; if it met an XML file before the parser was loaded, loads it and runs `load` again. */
export async function withXmlParser<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (!(e instanceof XmlParserNotLoaded)) throw e;
    await loadXmlParser();
    return await load();
  }
}
