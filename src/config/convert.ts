/**
 * Tomcat's server.xml (and conf/context.xml) → bobcat's YAML (the `bobcat convert` command is src/cli/convert.ts), element by
 * element as the config file lays it out (docs/config-reference.md). The schema decides what converts, under which key
 * and with which type; whatever it has no counterpart for stays visible as a
 * `# not converted:` comment in the output and a warning, so nothing disappears unseen.
 */
import { basename, dirname, resolve } from "../util/host/path.ts";
import { xmlParser, yamlWriter } from "./xml-parser.ts";
// @ts-types="../../node_modules/yaml/dist/index.d.ts"
import type { Document, Node as YamlNode, Scalar, YAMLMap } from "yaml";
import type { AttrDef, ChildDef, ElementDef } from "./schema-types.ts";
import { ALL_ELEMENTS, Certificate, Context, namesJavaClasses, Server } from "./schema.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { formatPath } from "./source.ts";
import { didYouMean } from "./validate.ts";
import { TOMCAT_ATTRIBUTES } from "./tomcat-attributes.ts";
import type { PathSeg, Position } from "./source-types.ts";

const certificateAttrs: Record<string, AttrDef> = Certificate.attrs;

export interface ConvertOptions {
  /** The server.xml's path, for messages and the header comment. */
  file?: string;
  /** Tomcat's conf/context.xml: its settings become the defaults of every `<Context>`. */
  contextXml?: string;
  /** The context.xml's path, for messages. */
  contextFile?: string;
}

export interface ConvertResult {
  yaml: string;
  /** One line per thing not converted (or converted unchecked), with file and line. */
  warnings: string[];
  /** Those of `warnings` a server running the file logs at WARN: see Converter.atWarn. */
  atWarn: string[];
  /**
   * Where in the XML file a config path (`server.services[0].connectors[1].port`) is: its
   * attribute, else the nearest element; errors about the converted config name the XML file.
   * Nothing when a context.xml was merged in.
   */
  locate: (path: PathSeg[]) => Position | undefined;
}

/** Throws the access controls the conversion could not keep, each with its line and the way out. */
function throwDropped(errors: BobcatError[], file: string): void {
  if (errors.length > 0) {
    throw new BobcatErrors(
      errors,
      `${file}: ${errors.length} access restriction(s) bobcat cannot honour; nothing was converted`,
    );
  }
}

export function convertServerXml(xmlText: string, opts: ConvertOptions = {}): ConvertResult {
  const file = opts.file ?? "server.xml";
  const root = parseXml(xmlText, file);
  if (root.name !== "Server") {
    throw new BobcatError("convert.root", `the root element is <${root.name}>, not <Server>`, {
      where: { file, line: root.line },
      fix: root.name === "Context"
        ? "pass a context.xml with --context, next to the server.xml"
        : "give bobcat convert Tomcat's conf/server.xml",
    });
  }
  const c = new Converter(file, []);
  const server = c.element(root, Server) as OutMap;
  const top = new OutMap();
  top.set("server", server);

  const header = [
    `Converted by \`bobcat convert\` from ${file}${
      opts.contextXml !== undefined ? ` and ${opts.contextFile ?? "context.xml"}` : ""
    }.`,
    `Relative paths are as Tomcat wrote them, against $CATALINA_BASE: run with --base ${
      catalinaBase(opts.file) ?? "$CATALINA_BASE"
    }.`,
    "`# not converted:` marks what bobcat has no counterpart for. Check the result: bobcat check --config <this file>",
    "Each host deploys the directories in its appBase (ROOT → /, foo → /foo) and conf/<Engine>/<Host>/*.xml, and reads",
    "conf/web.xml and each WEB-INF/web.xml, as Tomcat does. `bobcat run --base DIR` runs the server.xml itself, unconverted.",
  ];
  if (opts.contextXml !== undefined) {
    header.push(...applyContextXml(c, opts.contextXml, opts.contextFile ?? "context.xml"));
  }
  throwDropped(c.errors, file);
  // With a context.xml merged in, parts of the tree come from that other file: no positions then.
  const positions = opts.contextXml === undefined ? xmlPositions(top, [], new Map()) : new Map<string, Position>();
  return {
    yaml: render(top, header),
    warnings: c.warnings,
    atWarn: c.atWarn,
    locate: locator(positions),
  };
}

/** The position of a path's attribute or element, else of its nearest ancestor's. */
function locator(positions: Map<string, Position>): (path: PathSeg[]) => Position | undefined {
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const at = positions.get(formatPath(path.slice(0, n)));
      if (at) return at;
    }
    return undefined;
  };
}

/** The positions of every element and attribute the tree under `v` was converted from, by config path. */
function xmlPositions(v: Value, path: PathSeg[], out: Map<string, Position>): Map<string, Position> {
  if (v instanceof OutList) v.items.forEach((item, i) => xmlPositions(item.value, [...path, i], out));
  if (!(v instanceof OutMap)) return out;
  if (v.element?.at) out.set(formatPath(path), v.element.at);
  for (const e of v.entries) {
    const attr = v.element?.attrAt?.get(e.key);
    if (attr) out.set(formatPath([...path, e.key]), attr);
    xmlPositions(e.value, [...path, e.key], out);
  }
  return out;
}

/**
 * One `<Context>` (conf/<Engine>/<Host>/name.xml, META-INF/context.xml, conf/context.xml) as a
 * plain config object, with the warnings for what did not convert. Access controls that do not
 * convert throw.
 */
export function convertContextXml(xmlText: string, file: string): {
  context: Record<string, unknown>;
  warnings: string[];
  /** Those of `warnings` a server running the file logs at WARN: see Converter.atWarn. */
  atWarn: string[];
  line: number;
  /** Where each of the context's paths (`valves[0].allow`) is in the file. */
  locate: (path: PathSeg[]) => Position | undefined;
} {
  const root = parseXml(xmlText, file);
  if (root.name !== "Context") {
    throw new BobcatError("convert.root", `the root element is <${root.name}>, not <Context>`, {
      where: { file, line: root.line },
      fix: "a context descriptor holds one <Context> element",
    });
  }
  const c = new Converter(file, []);
  const out = c.element(root, Context);
  throwDropped(c.errors, file);
  if (typeof out === "string") {
    throw new BobcatError("convert.context", out, { where: { file, line: root.line } });
  }
  return {
    context: toPlain(out) as Record<string, unknown>,
    warnings: c.warnings,
    atWarn: c.atWarn,
    line: root.line,
    locate: locator(xmlPositions(out, [], new Map())),
  };
}

function toPlain(v: Value): unknown {
  if (v instanceof OutMap) return Object.fromEntries(v.entries.map((e) => [e.key, toPlain(e.value)]));
  if (v instanceof OutList) return v.items.map((i) => toPlain(i.value));
  return v;
}

// ---- XML ---------------------------------------------------------------------------------------

export interface XmlElement {
  name: string;
  attrs: [string, string][];
  children: XmlElement[];
  /** Non-blank text directly inside the element, trimmed. */
  text: string;
  line: number;
  /** Where the element's `<` is, and each attribute's name (for error messages about the file). */
  at?: Position;
  attrAt?: Map<string, Position>;
}

type OrderedNode = { [tag: string]: OrderedNode[] | string } & { ":@"?: Record<string, string> };

export function parseXml(text: string, file: string): XmlElement {
  if (text.trim() === "") {
    throw new BobcatError("convert.xmlSyntax", "the file is empty", {
      where: { file },
      fix: "give bobcat convert Tomcat's conf/server.xml",
    });
  }
  const { XMLParser, XMLValidator } = xmlParser();
  const verdict = XMLValidator.validate(text);
  // server.xml may pull in files through entities (<!ENTITY x SYSTEM "file">), which Tomcat expands and bobcat does not.
  const entity = /<!ENTITY\b/.exec(text);
  const entityFix =
    "bobcat does not expand entities declared in a DOCTYPE: put the included file's content (or the value) in place of each &name; reference";
  if (verdict !== true) {
    throw new BobcatError("convert.xmlSyntax", `malformed XML: ${verdict.err.msg}`, {
      where: { file, line: verdict.err.line, column: verdict.err.col },
      fix: entity && verdict.err.msg.includes("'&'")
        ? entityFix
        : "correct the XML at this position (Tomcat refuses such a file as well)",
    });
  }
  if (entity) {
    throw new BobcatError("convert.entity", "the file declares entities (<!ENTITY ...>)", {
      where: { file, line: text.slice(0, entity.index).split("\n").length },
      fix: entityFix,
    });
  }
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseAttributeValue: false,
    parseTagValue: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    captureMetaData: true,
  });
  let nodes: OrderedNode[];
  try {
    nodes = parser.parse(text) as OrderedNode[];
  } catch (e) {
    const reserved = /^\[SECURITY\] Invalid name: "([^"]+)"/.exec((e as Error).message)?.[1];
    if (reserved !== undefined) throw reservedName(text, file, reserved);
    // What the validator lets through but the parser still refuses (nesting and entity limits).
    throw new BobcatError("convert.xmlSyntax", `malformed XML: ${(e as Error).message}`, {
      where: { file },
      fix: "server.xml never needs more than 100 nested elements: check the file is the server.xml",
    });
  }
  const meta = XMLParser.getMetaDataSymbol() as unknown as symbol;
  const lineStarts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const position = (offset: number): Position => {
    const line = lineOf(offset);
    return { line, column: offset - lineStarts[line - 1]! + 1 };
  };
  const toElement = (node: OrderedNode): XmlElement | undefined => {
    const name = Object.keys(node).find((k) => k !== ":@" && k !== "#text");
    if (!name) return undefined;
    const kids = node[name] as OrderedNode[];
    const start = (node as unknown as Record<symbol, { startIndex?: number }>)[meta]?.startIndex ?? 0;
    // The start tag's attributes, in order (the validator has checked the tag's syntax).
    const attrAt = new Map<string, Position>();
    const attr = /\s+([^\s=/>]+)\s*=\s*(?:"[^"]*"|'[^']*')/y;
    attr.lastIndex = start + 1 + name.length;
    for (let m = attr.exec(text); m; m = attr.exec(text)) {
      attrAt.set(m[1]!, position(m.index + m[0].length - m[0].trimStart().length));
    }
    return {
      name,
      // XML turns newlines and tabs inside attribute values into spaces; Tomcat's parser does too.
      attrs: Object.entries(node[":@"] ?? {}).map(([k, v]) => [k, String(v).replace(/[\t\r\n]/g, " ")]),
      children: kids.map(toElement).filter((e): e is XmlElement => e !== undefined),
      text: kids.filter((k) => "#text" in k).map((k) => String(k["#text"])).join("").trim(),
      line: lineOf(start),
      at: position(start),
      attrAt,
    };
  };
  const roots = nodes.map(toElement).filter((e): e is XmlElement => e !== undefined);
  if (roots.length !== 1) {
    throw new BobcatError(
      "convert.xmlSyntax",
      `malformed XML: ${roots.length} root elements (${
        roots.map((r) => `<${r.name}>`).join(", ")
      }); a document has one`,
      {
        where: { file, line: roots[1]?.line },
        fix: "keep only the <Server> element at the top level",
      },
    );
  }
  return roots[0]!;
}

/**
 * fast-xml-parser refuses an element or attribute named `__proto__`, `constructor` or `prototype`
 * (as JavaScript objects they would change the tree's prototype): no Tomcat file has one, so it is
 * reported where it is written, outside comments, as a config error.
 */
function reservedName(text: string, file: string, name: string): BobcatError {
  const code = text.replace(/<!--[\s\S]*?-->/g, (c) => c.replace(/[^\n]/g, " "));
  const at = new RegExp(`<${name}(?=[\\s/>])|\\s${name}\\s*=`).exec(code);
  const offset = at ? at.index + (at[0].startsWith("<") ? 0 : 1) : undefined;
  const before = offset === undefined ? undefined : text.slice(0, offset).split("\n");
  return new BobcatError("convert.xmlName", `"${name}" cannot be an element or attribute name here`, {
    where: { file, line: before?.length, column: before && before[before.length - 1]!.length + 1 },
    fix:
      `rename or remove it: JavaScript gives "${name}" a meaning of its own, and no Tomcat element or attribute is called so`,
  });
}

/** The element as one line of XML (its start tag, or the whole element when it holds only text). */
function startTag(el: XmlElement, close = false): string {
  const attrs = el.attrs.map(([k, v]) => ` ${k}="${v.replaceAll('"', "&quot;")}"`).join("");
  if (el.text && el.children.length === 0) return `<${el.name}${attrs}>${el.text}</${el.name}>`;
  return `<${el.name}${attrs}${close && el.children.length === 0 ? "/" : ""}>`;
}

/** The element named briefly, by the attributes that identify it. */
function label(el: XmlElement): string {
  const ids = el.attrs.filter(([k]) => ["className", "name", "port", "hostName", "path"].includes(k));
  return `<${el.name}${ids.map(([k, v]) => ` ${k}="${v}"`).join("")}>`;
}

function descendants(el: XmlElement, depth = 1): string[] {
  return el.children.flatMap((k) => [`${"  ".repeat(depth)}${startTag(k, true)}`, ...descendants(k, depth + 1)]);
}

// ---- Output tree -------------------------------------------------------------------------------

type Value = string | number | boolean | string[] | OutMap | OutList;
interface Entry {
  key: string;
  value: Value;
  /** Comment lines above the key. */
  before: string[];
  /** Comment after a scalar value. */
  inline?: string;
  /** The XML element a single child came from, to report it if a later one replaces it. */
  source?: XmlElement;
}
interface Item {
  value: OutMap | string;
  before: string[];
}
class OutList {
  readonly items: Item[] = [];
}

/** A YAML mapping under construction; notes wait for the next key or item, or end up at the end. */
class OutMap {
  entries: Entry[] = [];
  pending: string[] = [];
  /** The XML element it was converted from, for positions in that file. */
  element?: XmlElement;

  get(key: string): Entry | undefined {
    return this.entries.find((e) => e.key === key);
  }

  set(key: string, value: Value, inline?: string, source?: XmlElement): void {
    this.entries.push({ key, value, before: this.take(), inline, source });
  }

  push(key: string, value: OutMap | string, before: string[] = []): void {
    let entry = this.get(key);
    if (!entry) {
      entry = { key, value: new OutList(), before: this.take() };
      this.entries.push(entry);
    }
    (entry.value as OutList).items.push({ value, before: [...this.take(), ...before] });
  }

  note(lines: string[]): void {
    this.pending.push(...lines);
  }

  private take(): string[] {
    const t = this.pending;
    this.pending = [];
    return t;
  }
}

function render(top: OutMap, header: string[]): string {
  const doc = new (yamlWriter().Document)();
  doc.contents = toNode(doc, top) as YAMLMap;
  doc.commentBefore = commentText(header) ?? null;
  return doc.toString({ lineWidth: 0 });
}

const commentText = (lines: string[]) => (lines.length ? lines.map((l) => ` ${l}`).join("\n") : undefined);

function toNode(doc: Document, v: Value): YamlNode {
  const { Pair, Scalar, YAMLMap, YAMLSeq } = yamlWriter();
  if (v instanceof OutMap) {
    const map = new YAMLMap();
    for (const e of v.entries) {
      const key = new Scalar(e.key);
      key.commentBefore = commentText(e.before);
      const value = toNode(doc, e.value);
      if (e.inline) value.comment = ` ${e.inline}`;
      map.items.push(new Pair(key, value));
    }
    map.comment = commentText(v.pending);
    return map;
  }
  if (v instanceof OutList) {
    const seq = new YAMLSeq();
    for (const item of v.items) {
      const node = toNode(doc, item.value);
      // Notes on an item's first key read better above the "- " than after it.
      const first = item.value instanceof OutMap ? item.value.entries[0] : undefined;
      const lead = first && first.before.length ? [...item.before, ...first.before] : item.before;
      if (first && first.before.length) ((node as YAMLMap).items[0]!.key as Scalar).commentBefore = undefined;
      node.commentBefore = commentText(lead);
      seq.items.push(node);
    }
    return seq;
  }
  return doc.createNode(v) as YamlNode;
}

// ---- Conversion --------------------------------------------------------------------------------

/**
 * Elements the config file has a place for that the schema may not define yet. Where the schema
 * has them, it wins; otherwise they are converted under these keys with their attributes copied
 * unchecked (and a warning says so), rather than lost.
 */
const DESIGNED: Record<string, Record<string, { key: string; list: boolean }>> = {
  Server: { GlobalNamingResources: { key: "globalNamingResources", list: false } },
  GlobalNamingResources: { Resource: { key: "resources", list: true } },
  Context: { Resource: { key: "resources", list: true } },
  Manager: { Store: { key: "store", list: false } },
};
/** The className values bobcat supports for elements the schema may not define yet. */
const DESIGNED_CLASSES: Record<string, string[]> = {
  Manager: ["PersistentManager"],
  Store: ["FileStore", "DataSourceStore"],
};

/** Why whole elements have no counterpart, where "bobcat has no <X>" would not help. */
const ELEMENT_REASONS: Record<string, string> = {
  Executor: "bobcat has no shared thread pools; maxThreads applies per connector",
  Cluster:
    "bobcat has no clustering (sticky sessions: the Engine's jvmRoute; shared sessions: a PersistentManager with a DataSourceStore)",
  WatchedResource:
    "bobcat watches WEB-INF/web.xml, META-INF/context.xml and the handler module itself (autoDeploy, reloadable)",
  Loader: "there is no Java class loading",
  JarScanner: "there are no JARs to scan",
  Parameter: "bobcat has no servlet context parameters; configure the handler module directly",
  Environment: "bobcat has no JNDI environment entries; configure the handler module directly",
  ResourceLink: "a DataSourceStore finds global resources by name, no link needed",
  Resources: "static files come from docBase (symbolic links that leave it are never followed)",
  OpenSSLConf: "OpenSSL configuration commands have no counterpart; use the SSLHostConfig attributes",
};
/** What to say when an element's className is not one bobcat has. */
const CLASS_HINTS: Record<string, string> = {
  Manager:
    "the context gets bobcat's default StandardManager: its sessions stay in this instance's memory; to share them across instances, use a PersistentManager with a DataSourceStore or RedisStore every instance reaches and consistency: shared (README: Sessions across instances)",
  Realm: "move the users to one of them (a tomcat-users.xml for UserDatabaseRealm, a users table for DataSourceRealm)",
};
/** Attributes whose Tomcat meaning bobcat reaches another way. */
const ATTR_HINTS: Record<string, string> = {};

/**
 * Elements that restrict who gets in: one bobcat cannot convert would leave the server more open
 * than Tomcat was, so it is an error, never a warning. Valves by short class name; every Realm
 * and CredentialHandler; any valve outside org.apache.catalina (a custom one may filter anything).
 */
const RESTRICTING_VALVES = new Set([
  "RemoteAddrValve",
  "RemoteCIDRValve",
  "RemoteHostValve",
  "RewriteValve",
  "BasicAuthenticator",
  "DigestAuthenticator",
  "FormAuthenticator",
  "SSLAuthenticator",
  "SpnegoAuthenticator",
  "NonLoginAuthenticator",
  "SemaphoreValve",
  "JDBCRealm",
  // Runs a servlet filter as a valve: an address or CSRF filter, or any other.
  "FilterValve",
]);
/** Tomcat's other valves: none restricts access; a name that is none of these nor of the above is a misspelling. */
const TOMCAT_VALVES = new Set([
  "AccessLogValve",
  "ExtendedAccessLogValve",
  "JsonAccessLogValve",
  "JDBCAccessLogValve",
  "RemoteIpValve",
  "SSLValve",
  "ErrorReportValve",
  "JsonErrorReportValve",
  "ProxyErrorReportValve",
  "CrawlerSessionManagerValve",
  "StuckThreadDetectionValve",
  "HealthCheckValve",
  "PersistentValve",
  "LoadBalancerDrainingValve",
  "ParameterLimitValve",
  "ReplicationValve",
  "JvmRouteBinderValve",
  "SingleSignOn",
  "ClusterSingleSignOn",
]);
/**
 * The restricting valve a misspelt class name was meant to be (`RemoteAddrValv`): Tomcat would not
 * start with it, and dropping it would let everybody in.
 */
function misspeltRestriction(el: XmlElement): string | undefined {
  if (el.name !== "Valve") return undefined;
  const cls = shortName(classNameOf(el));
  if (cls === "" || RESTRICTING_VALVES.has(cls) || TOMCAT_VALVES.has(cls)) return undefined;
  return didYouMean(cls, [...RESTRICTING_VALVES]);
}
/** Address and CSRF filters and authenticators by class name, wherever they appear. */
const ACCESS_CONTROL =
  /(^|\.)(Remote(Addr|CIDR|Host)(Valve|Filter)|[A-Za-z]*Authenticator|CsrfPreventionFilter|RestCsrfPreventionFilter)$/;
/** Also true when a nested element restricts access: skipping the element drops it too. */
function restrictsAccess(el: XmlElement): boolean {
  if (el.name === "Realm" || el.name === "CredentialHandler") return true;
  const cls = classNameOf(el);
  if (ACCESS_CONTROL.test(cls)) return true;
  if (el.name === "Valve" && (RESTRICTING_VALVES.has(shortName(cls)) || !cls.startsWith("org.apache.catalina."))) {
    return true;
  }
  return el.children.some(restrictsAccess);
}
const RESTRICTING_FIXES: Record<string, string> = {};
/**
 * Tomcat 9 connector TLS attributes the schema does not move (their SSLHostConfig attribute is one
 * bobcat ignores or lacks), and where they would go.
 */
const LEGACY_HINTS: Record<string, string> = {
  SSLCARevocationPath: "certificateRevocationListPath",
  algorithm: "keyManagerAlgorithm",
  truststoreProvider: "truststoreProvider",
  trustManagerClassName: "trustManagerClassName",
  sessionCacheSize: "sessionCacheSize",
  SSLDisableCompression: "disableCompression",
};

/** `className` of elements the schema defines by variants: kept as Tomcat wrote it, full or short. */
const CLASS_NAME: AttrDef = {
  kind: "string",
  doc: "The implementation, by Tomcat's full class name or bobcat's short one.",
};

/** The attributes and children one XML element may have; `passthrough` copies the rest unchecked. */
interface Shape {
  attrs: Record<string, AttrDef>;
  children: Record<string, ChildDef>;
  passthrough: boolean;
}

class Converter {
  /** Every converted `<Context>`, for context.xml's defaults. */
  readonly contexts: OutMap[] = [];
  /** Access restrictions that cannot be converted: the conversion fails with these. */
  readonly errors: BobcatError[] = [];

  constructor(
    private readonly file: string,
    readonly warnings: string[],
    /**
     * The warnings (also in `warnings`) a server running the file logs at WARN, the others at
     * INFO: attributes dropped as unknown, a misspelling mostly (`certificateVerificaton`), as
     * Tomcat's digester warns of an attribute it cannot set ("failed to set property"); and a
     * `<Manager>` bobcat has not (DeltaManager, BackupManager), whose context then does not share
     * its sessions as the file meant.
     */
    readonly atWarn: string[] = [],
  ) {}

  /** Converts `el`, or returns why it cannot be. */
  element(el: XmlElement, def: ElementDef | undefined): OutMap | string {
    const shape = this.shape(el, def);
    if (typeof shape === "string") return shape;
    const out = new OutMap();
    out.element = el;
    if (shape.passthrough && el.attrs.length > 0) {
      this.warnings.push(
        `${this.at(el)}: ${
          label(el)
        } is copied as written: this bobcat's schema has no definition to check its attributes against`,
      );
    }
    const certAttrs: [string, string][] = [];
    const mapAttrs = new Map<string, OutMap>();
    for (const [name, raw] of el.attrs) {
      const a = shape.attrs[name];
      // ErrorReportValve's errorCode.404="file" / exceptionType.x.Y="file" → errorCodes / exceptionTypes maps.
      const mapped = /^(errorCode|exceptionType)\.(.+)$/.exec(name);
      if (!a && mapped && shape.attrs[`${mapped[1]}s`]?.kind === "map") {
        const key = `${mapped[1]}s`;
        let m = mapAttrs.get(key);
        if (!m) {
          mapAttrs.set(key, m = new OutMap());
          out.set(key, m);
        }
        m.set(mapped[2]!, raw);
        continue;
      }
      if (a) this.attribute(el, out, name, raw, a);
      else if (el.name === "SSLHostConfig" && certificateAttrs[name]) certAttrs.push([name, raw]);
      else if (shape.passthrough) out.set(name, inferred(raw));
      else this.skipAttr(el, out, name, raw, this.attrReason(el, name, Object.keys(shape.attrs)));
    }
    for (const child of el.children) this.child(el, shape, child, out);
    if (el.text) {
      this.report(el, out, [`not converted: text "${el.text}" — text inside <${el.name}> means nothing to bobcat`]);
    }
    if (certAttrs.length > 0) this.implicitCertificate(el, out, certAttrs);
    if (el.name === "Context") this.contexts.push(out);
    return out;
  }

  /** Tomcat 9 took Certificate attributes on <SSLHostConfig> itself, for its implicit certificate. */
  private implicitCertificate(el: XmlElement, out: OutMap, attrs: [string, string][]): void {
    const cert = new OutMap();
    cert.element = el;
    for (const [name, raw] of attrs) this.attribute(el, cert, name, raw, certificateAttrs[name]!);
    const before = ["from attributes on <SSLHostConfig> itself (Tomcat 9 style)"];
    const existing = out.get("certificates")?.value as OutList | undefined;
    if (existing) existing.items.unshift({ value: cert, before });
    else out.push("certificates", cert, before);
  }

  private shape(el: XmlElement, def: ElementDef | undefined): Shape | string {
    const attr = (name: string) => el.attrs.find(([k]) => k === name)?.[1];
    if (el.name === "Resource") {
      const type = attr("type");
      // Only data sources have a counterpart (a JNDI DataSource becomes a named resource).
      if (type && !/(^|\.)(DataSource|UserDatabase)$/.test(type)) {
        return "only DataSource and UserDatabase resources have a counterpart in bobcat";
      }
    }
    if (!def) {
      const allowed = DESIGNED_CLASSES[el.name];
      const cls = attr("className");
      if (allowed && (!cls || !allowed.includes(shortName(cls)))) {
        return cls
          ? `bobcat's <${el.name}> className is one of: ${allowed.join(", ")}`
          : `<${el.name}> needs a className (${allowed.join(", ")})`;
      }
      return { attrs: { className: CLASS_NAME }, children: {}, passthrough: true };
    }
    const base: Shape = { attrs: def.attrs, children: def.children ?? {}, passthrough: false };
    if (def.variants) {
      const cls = attr("className") ?? def.variants.defaultVariant;
      const known = Object.keys(def.variants.map);
      if (cls === undefined) return `<${el.name}> needs a className (bobcat has: ${known.join(", ")})`;
      const hit = Object.entries(def.variants.map).find(([short, v]) => cls === short || cls === v.fullName);
      if (hit) {
        const v = hit[1].element();
        return {
          attrs: { className: CLASS_NAME, ...def.attrs, ...v.attrs },
          children: { ...base.children, ...(v.children ?? {}) },
          passthrough: false,
        };
      }
      if (DESIGNED_CLASSES[el.name]?.includes(shortName(cls))) {
        return { ...base, attrs: { className: CLASS_NAME, ...def.attrs }, passthrough: true };
      }
      return `bobcat's <${el.name}> className is one of: ${known.join(", ")}${
        CLASS_HINTS[el.name] ? `; ${CLASS_HINTS[el.name]}` : ""
      }`;
    }
    // className and protocol choose what the element is; one bobcat does not have cannot be half-converted.
    for (const key of ["className", "protocol"]) {
      const a = def.attrs[key];
      const value = attr(key);
      if (a?.kind !== "enum" || value === undefined || acceptsEnum(a, value)) continue;
      if (key === "protocol" && /ajp/i.test(value)) {
        return "bobcat has no AJP connector; put an HTTP reverse proxy in front";
      }
      const names = a.values!.filter((x) => key === "protocol" || !x.includes("."));
      return `bobcat's <${el.name}> ${key} is one of: ${names.join(", ")}${
        key === "className" && CLASS_HINTS[el.name] ? `; ${CLASS_HINTS[el.name]}` : ""
      }`;
    }
    return base;
  }

  private child(parent: XmlElement, shape: Shape, child: XmlElement, out: OutMap): void {
    const fromSchema = Object.entries(shape.children).find(([, c]) => c.element().name === child.name);
    const designed = DESIGNED[parent.name]?.[child.name];
    if (fromSchema || designed) {
      const [key, list, def] = fromSchema
        ? [fromSchema[0], fromSchema[1].list, fromSchema[1].element()]
        : [designed!.key, designed!.list, undefined];
      const converted = this.element(child, def);
      if (typeof converted === "string") {
        // Dropped, it would leave its PersistentManager without a store, refused as "needs a <Store>".
        if (child.name === "Store") return this.storeNotConverted(child, converted);
        if (child.name === "Manager") {
          // A clustering manager (DeltaManager, BackupManager) dropped leaves sessions unshared
          // between the instances the file meant to share them: a WARN, not a note.
          const before = this.warnings.length;
          this.skipElement(child, out, converted);
          this.atWarn.push(...this.warnings.slice(before));
          return;
        }
        return this.skipElement(child, out, converted);
      }
      if (list) return out.push(key, converted);
      // An element that carried nothing leaves only its notes, on the parent.
      if (converted.entries.length === 0 && child.attrs.length === 0) {
        if (converted.pending.length > 0) {
          out.note([
            `<${child.name}> is left out, nothing in it converts:`,
            ...converted.pending.map((l) => `  ${l}`),
          ]);
        }
        return;
      }
      const earlier = out.get(key);
      if (earlier) {
        // Tomcat keeps the last one set, so the later element wins here too.
        this.report(earlier.source!, out, [
          `not converted: ${startTag(earlier.source!)} — replaced by the later <${child.name}>, as in Tomcat`,
        ]);
        earlier.value = converted;
        earlier.source = child;
        return;
      }
      return out.set(key, converted, undefined, child);
    }
    const listKey = this.textListKey(shape, child);
    if (listKey) {
      if (child.attrs.length > 0 || child.children.length > 0) {
        return this.skipElement(child, out, `bobcat's ${listKey} is a list of plain names`);
      }
      return out.push(listKey, child.text);
    }
    this.skipElement(child, out, this.elementReason(child, parent));
  }

  /** `<Alias>name</Alias>` → `aliases: [name]`: a text-only child named after a list attribute. */
  private textListKey(shape: Shape, child: XmlElement): string | undefined {
    const key = plural(child.name[0]!.toLowerCase() + child.name.slice(1));
    return shape.attrs[key]?.kind === "list" ? key : undefined;
  }

  private attribute(el: XmlElement, out: OutMap, name: string, raw: string, a: AttrDef): void {
    const { value, problem } = typed(a, raw);
    let inline: string | undefined;
    if (problem) {
      inline = `${problem}: fix it before running`;
      this.warnings.push(
        `${
          this.at(el)
        }: <${el.name}> ${name}="${raw}" ${problem}; kept as written, bobcat refuses it until it is fixed`,
      );
    } else if (name === "sessionAttributeValueClassNameFilter" && namesJavaClasses(raw)) {
      // Left as it is, a filter of Java class names matches nothing here, and persisted sessions would lose every attribute.
      inline = "matches Java class names; bobcat's are String, Number, Boolean, Object, Map, ...: rewrite it";
      this.warnings.push(
        `${
          this.at(el)
        }: <${el.name}> ${name}="${raw}" names Java classes; bobcat matches its own type names (String, Number, Boolean, Object, Map, a registered class): rewrite it, or no attribute is persisted`,
      );
    } else if (a.ignored) {
      inline = `accepted, no effect: ${a.ignored}`;
    } else if (a.movedTo) {
      const where = certificateAttrs[a.movedTo]
        ? "the default SSLHostConfig's certificate"
        : "the default SSLHostConfig";
      inline = `Tomcat 9 attribute: bobcat moves it to ${a.movedTo} on ${where}`;
    }
    out.set(name, value, inline);
  }

  /**
   * Why an attribute is not converted; `unknown` when Tomcat would not know it either (its
   * digester warns "failed to set property"), so the server logs it at WARN.
   */
  private attrReason(el: XmlElement, name: string, known: string[]): { reason: string; unknown: boolean } {
    const hint = ATTR_HINTS[`${el.name}.${name}`];
    if (hint) return { reason: hint, unknown: false };
    if (el.name === "Connector" && LEGACY_HINTS[name]) {
      // Tomcat 10 and later no longer take it on a Connector, and warn.
      const reason = `a Tomcat 9 TLS attribute bobcat does not move: set ${
        LEGACY_HINTS[name]
      } on the connector's SSLHostConfig`;
      return { reason, unknown: true };
    }
    const tomcats = TOMCAT_ATTRIBUTES[el.name];
    // One Tomcat has and bobcat does not (maxParameterCount): no guess at a misspelling.
    if (tomcats?.has(name)) return { reason: `not a bobcat <${el.name}> attribute`, unknown: false };
    // A misspelt attribute is dropped (as Tomcat drops it, with a warning): say which one was meant.
    // For an element Tomcat's list does not cover (a valve, a realm: their attributes depend on
    // the class), one that looks like a bobcat attribute is taken for a misspelling.
    const meant = didYouMean(name, known);
    return {
      reason: `not a bobcat <${el.name}> attribute${meant ? ` (did you mean ${meant}?)` : ""}`,
      unknown: tomcats !== undefined || meant !== undefined,
    };
  }

  private elementReason(el: XmlElement, parent: XmlElement): string {
    if (ELEMENT_REASONS[el.name]) return ELEMENT_REASONS[el.name]!;
    const parents = new Set([
      ...ALL_ELEMENTS.filter((d) => Object.values(d.children ?? {}).some((c) => c.element().name === el.name)).map((
        d,
      ) => `<${d.name}>`),
      ...Object.keys(DESIGNED).filter((p) => DESIGNED[p]![el.name]).map((p) => `<${p}>`),
    ]);
    const note = CLASS_HINTS[el.name] ? `; ${CLASS_HINTS[el.name]}` : "";
    if (parents.size > 0) {
      return `bobcat takes <${el.name}> inside ${[...parents].join(", ")} only, not inside <${parent.name}>${note}`;
    }
    return `bobcat has no <${el.name}>`;
  }

  private skipElement(el: XmlElement, out: OutMap, reason: string): void {
    const meant = misspeltRestriction(el);
    if (meant) {
      this.errors.push(
        new BobcatError(
          "convert.accessControl",
          `${
            startTag(el)
          } names no Tomcat class (Tomcat would not start), and looks like ${meant}, which restricts access`,
          { where: { file: this.file, line: el.line }, fix: `correct the className: did you mean ${meant}?` },
        ),
      );
      return;
    }
    if (restrictsAccess(el)) {
      const cls = shortName(classNameOf(el));
      this.errors.push(
        new BobcatError(
          "convert.accessControl",
          `${startTag(el)} restricts access and bobcat cannot honour it: ${reason}`,
          {
            where: { file: this.file, line: el.line },
            fix: RESTRICTING_FIXES[cls] ??
              "replace it with what bobcat has (RemoteAddrValve, RemoteCIDRValve, a realm bobcat has, securityConstraints), or remove it knowing the server will be more open than Tomcat was",
          },
        ),
      );
      return;
    }
    this.report(el, out, [`not converted: ${startTag(el)} — ${reason}`, ...descendants(el)]);
  }

  /** A <Store> bobcat does not have is an error at its own line, saying why (JDBCStore: removed in Tomcat 10). */
  private storeNotConverted(el: XmlElement, reason: string): void {
    const cls = shortName(classNameOf(el));
    const jdbc = cls === "JDBCStore";
    this.errors.push(
      new BobcatError(
        "convert.store",
        `${startTag(el)} cannot be converted: ${
          jdbc ? "JDBCStore was removed in Tomcat 10, which has DataSourceStore instead, as bobcat does" : reason
        }`,
        {
          where: { file: this.file, line: el.line },
          fix: jdbc
            ? 'define the database as a <Resource name="jdbc/sessions" type="javax.sql.DataSource" url="..."/> and use <Store className="org.apache.catalina.session.DataSourceStore" dataSourceName="jdbc/sessions"/> with the same sessionTable and session*Col attributes'
            : "use FileStore, DataSourceStore or RedisStore",
        },
      ),
    );
  }

  private skipAttr(
    el: XmlElement,
    out: OutMap,
    name: string,
    raw: string,
    { reason, unknown }: { reason: string; unknown: boolean },
  ): void {
    if (restrictsAccess(el)) {
      this.errors.push(
        new BobcatError(
          "convert.accessControl",
          `${label(el)} ${name}="${raw}" cannot be converted (${reason}), and the element restricts access`,
          {
            where: { file: this.file, line: el.line },
            fix: `remove ${name} if bobcat's ${el.name} does without it, or replace the element`,
          },
        ),
      );
      return;
    }
    out.note([`not converted: ${name}="${raw}" — ${reason}`]);
    const warning = `${this.at(el)}: <${el.name}> ${name}="${raw}" not converted — ${reason}`;
    this.warnings.push(warning);
    if (unknown) this.atWarn.push(warning);
  }

  /** A comment in the output, and the same as a warning (nested elements counted, not repeated). */
  report(el: XmlElement, out: OutMap, lines: string[]): void {
    out.note(lines);
    const nested = lines.length - 1;
    this.warnings.push(
      `${this.at(el)}: ${lines[0]}${
        nested > 0 ? ` (with ${nested} nested element${nested > 1 ? "s" : ""}, shown in the output)` : ""
      }`,
    );
  }

  at(el: XmlElement): string {
    return `${this.file}:${el.line}`;
  }
}

/** The element's className attribute, or "". */
function classNameOf(el: XmlElement): string {
  return el.attrs.find(([k]) => k === "className")?.[1] ?? "";
}

function shortName(cls: string): string {
  return cls.slice(cls.lastIndexOf(".") + 1);
}

function plural(word: string): string {
  if (/(s|x|z|ch|sh)$/.test(word)) return `${word}es`;
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  return `${word}s`;
}

function acceptsEnum(a: AttrDef, value: string): boolean {
  const v = value.trim().toLowerCase();
  return value.includes("${") || a.values!.some((x) => x.toLowerCase() === v) ||
    Object.keys(a.synonyms ?? {}).some((x) => x.toLowerCase() === v);
}

/** The value as the schema types it; `${...}` stays a string, as bobcat expands before it checks. */
function typed(a: AttrDef, raw: string): { value: Value; problem?: string } {
  if (raw.includes("${")) return { value: raw };
  switch (a.kind) {
    case "int":
      return /^\s*-?\d+\s*$/.test(raw) ? { value: Number(raw) } : { value: raw, problem: "is not a whole number" };
    case "number":
      return /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? { value: Number(raw) } : { value: raw, problem: "is not a number" };
    case "boolean":
      return /^\s*(true|false)\s*$/i.test(raw)
        ? { value: raw.trim().toLowerCase() === "true" }
        : { value: raw, problem: "is not true or false" };
    case "list":
      return { value: raw.split(",").map((s) => s.trim()).filter((s) => s) };
    default:
      return { value: raw };
  }
}

/** Without a definition, numbers and booleans are recognised by their look (leading zeros stay text). */
function inferred(raw: string): Value {
  if (/^-?(0|[1-9]\d{0,14})$/.test(raw)) return Number(raw);
  if (/^(true|false)$/i.test(raw)) return raw.toLowerCase() === "true";
  return raw;
}

/** $CATALINA_BASE for a server.xml in its usual place, conf/server.xml. */
export function catalinaBase(file: string | undefined): string | undefined {
  if (!file) return undefined;
  const dir = dirname(resolve(file));
  return basename(dir) === "conf" ? dirname(dir) : undefined;
}

// ---- context.xml -------------------------------------------------------------------------------

/** Merges conf/context.xml into every converted context; returns the header lines for its notes (and for defaults with no context to go to). */
function applyContextXml(c: Converter, xml: string, file: string): string[] {
  const root = parseXml(xml, file);
  if (root.name !== "Context") {
    throw new BobcatError("convert.root", `the root element of the context file is <${root.name}>, not <Context>`, {
      where: { file, line: root.line },
      fix: "pass Tomcat's conf/context.xml with --context",
    });
  }
  const cc = new Converter(file, c.warnings, c.atWarn);
  const defaults = cc.element(root, Context) as OutMap;
  const path = defaults.get("path");
  if (path) {
    // Tomcat ignores path outside server.xml; applied to every context it would clash.
    defaults.entries = defaults.entries.filter((e) => e !== path);
    cc.report(root, defaults, [`not converted: path="${path.value}" — Tomcat ignores path in context.xml`]);
  }
  const label = `${file} (defaults for every context):`;
  // Its own notes are said once, in the header, rather than repeated in every context.
  const notes = [...defaults.entries.flatMap((e) => e.before), ...defaults.pending];
  defaults.pending = [];
  for (const e of defaults.entries) e.before = [];
  if (defaults.entries.length === 0) return notes.length ? [label, ...notes] : [];
  if (c.contexts.length === 0) {
    const reason =
      "the server.xml lists no <Context> (the applications bobcat deploys from appBase get conf/context.xml when bobcat runs the server.xml itself: bobcat run --base DIR)";
    c.warnings.push(
      `${file}:${root.line}: not applied: its settings — ${reason}; they are in the header of the output, for the contexts you add`,
    );
    const shown = render(defaults, []).trimEnd().split("\n").map((l) => `  ${l}`);
    return [label, ...notes, `not applied — ${reason}; for the contexts you add:`, ...shown];
  }
  for (const ctx of c.contexts) {
    let first = true;
    for (const d of defaults.entries) {
      const own = ctx.get(d.key);
      if (own && own.value instanceof OutList && d.value instanceof OutList) {
        // Tomcat adds context.xml's valves (and resources) before the context's own.
        own.value.items.unshift(
          ...d.value.items.map((i, n) => ({ ...i, before: n === 0 ? [`from ${file}`, ...i.before] : i.before })),
        );
      } else if (!own) {
        // Otherwise the context's own setting wins, as in Tomcat.
        ctx.entries.push({ ...d, before: first ? [`from ${file}`] : [] });
        first = false;
      }
    }
  }
  return notes.length ? [label, ...notes] : [];
}
