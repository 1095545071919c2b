/**
 * convert.ts (Tomcat's XML files as bobcat's config) and webxml.ts (web.xml), loaded with the XML
 * parser they need: a start whose config and appBase hold no XML file loads neither (on Deno
 * 0.9 MiB less idle RSS, bench/startup.ts; tests/cli/deno-start.test.ts checks a plain start
 * loads them not). Their callers are synchronous, so as with the parser itself (xml-parser.ts)
 * the async entry points load them first (loadXmlConfig) or read the config again after
 * XmlParserNotLoaded (withXmlConfig).
 */
import { loadXmlParser, XmlParserNotLoaded } from "./xml-parser.ts";

type XmlConfigModules = { convert: typeof import("./convert.ts"); webxml: typeof import("./webxml.ts") };

let modules: XmlConfigModules | undefined;

/** Loads the XML parser and both modules (once). */
export async function loadXmlConfig(): Promise<XmlConfigModules> {
  await loadXmlParser();
  return modules ??= { convert: await import("./convert.ts"), webxml: await import("./webxml.ts") };
}

/** Both modules, or XmlParserNotLoaded before loadXmlConfig() finished. */
export function xmlConfig(): XmlConfigModules {
  if (!modules) throw new XmlParserNotLoaded();
  return modules;
}

/** Runs `load`; if it met an XML file before the modules were loaded, loads them and runs `load` again. */
export async function withXmlConfig<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (!(e instanceof XmlParserNotLoaded)) throw e;
    await loadXmlConfig();
    return await load();
  }
}
