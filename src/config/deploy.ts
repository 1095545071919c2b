/**
 * Tomcat's HostConfig and ContextConfig for a config tree about to be validated: each Host's
 * appBase directories and conf/<Engine>/<Host>/*.xml descriptors become contexts
 * (ROOT → "", foo → /foo, foo#bar → /foo/bar, foo##2 → /foo version 2), with the application's
 * META-INF/context.xml (deployXML, copyXML) or META-INF/context.yaml; then every context with
 * a docBase gets conf/web.xml and its WEB-INF/web.xml (webxml.ts). What each context was made
 * from is recorded, so autoDeploy and reloadable can tell which files to watch.
 * Server-only: this touches files; edge runtimes never load it.
 */
import { existsSync, nodeFs, readDirSync, readTextFileSync, statSync } from "../util/host/fs.ts";
import { basename, isAbsolute, join, resolve } from "../util/host/path.ts";
import type { WebXml } from "./webxml.ts";
import { xmlConfig } from "./xml-config.ts";
import { BobcatError, BobcatErrors, type Where } from "../util/errors.ts";
import { fromJavaRegex } from "./proxy-defaults.ts";
import { parseSource, type PathSeg } from "./source.ts";
import type { Origin } from "./source-types.ts";
import { copyData } from "./copy-data.ts";

export interface DeployOptions {
  /** Apply conf/context.xml to every context (when bobcat runs a server.xml itself). */
  contextXmlDefaults: boolean;
  /** run (copyXML may write files) or check (nothing is written). */
  mode: "run" | "check";
  /** Expands `${...}` in the settings read from a context file (load.ts's prepare info.expand). */
  expand?: (settings: Record<string, unknown>, origin: Origin) => Record<string, unknown>;
  /** Tells where a deployed context's settings were read from (load.ts's prepare info.from). */
  from?: (path: PathSeg[], origin: Origin) => void;
}

/** A context file's settings and where each is in it. */
type ContextFile = { settings: Record<string, unknown>; origin: Origin };

/** What one context was made from: the files whose change redeploys (or, reloadable, reloads) it. */
export interface DeployedContext {
  host: string;
  path: string;
  /** The application directory in appBase, for a deployed one. */
  appDir?: string;
  watched: string[];
  /**
   * What converting its files said (its descriptor or META-INF/context.xml, conf/context.xml,
   * web.xml), also in the record's notes and warnings: autoDeploy logs them again when it
   * (re)deploys the context, as Tomcat parses these files again for each deployment.
   */
  notes: string[];
  warnings: string[];
}

export interface DeployRecord {
  /** Directories whose list of entries decides what is deployed (appBase, descriptor directories). */
  watchedDirs: string[];
  /** Global files: conf/web.xml, conf/context.xml. */
  watchedFiles: string[];
  contexts: DeployedContext[];
  notes: string[];
  /** Notes logged at WARN: attributes of context files dropped as unknown, a Manager bobcat has not (see convert.ts). */
  warnings: string[];
  /** Hosts with autoDeploy on. */
  autoDeployHosts: string[];
}

/** Tomcat's ContextName: a base name in appBase (directory or descriptor) → context path and version. */
export function contextNameOf(baseName: string): { path: string; version: string } {
  let name = baseName;
  let version = "";
  const v = name.indexOf("##");
  if (v >= 0) {
    version = name.slice(v + 2);
    name = name.slice(0, v);
  }
  if (name === "ROOT" || name === "") return { path: "", version };
  return { path: "/" + name.replaceAll("#", "/"), version };
}

const bool = (v: unknown, def: boolean) =>
  v === undefined || v === null ? def : typeof v === "boolean" ? v : String(v).trim().toLowerCase() === "true";

const isMapping = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
/** The items of a list in the (unvalidated) config; one that is no mapping (an empty `-`) is the validator's to report. */
const asList = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? v.map((item) => isMapping(item) ? item : {}) : isMapping(v) ? [v] : [];

// convert.ts and webxml.ts come with the XML parser (xml-config.ts), when an XML file turns up.
const convertContextXml = (xml: string, file: string) => xmlConfig().convert.convertContextXml(xml, file);

type Notes = { notes: string[]; warnings: string[] };

/**
 * A context file's conversion warnings, in the record and in what they concern (the context the
 * file is for): those convert.ts marks (an attribute dropped as unknown, as Tomcat's digester
 * warns; a Manager bobcat has not) at WARN, the rest at INFO.
 */
function noteConversion(
  to: Notes[],
  converted: { warnings: string[]; atWarn: string[] },
): void {
  const serious = new Set(converted.atWarn);
  addNotes(to, converted.warnings.filter((w) => !serious.has(w)));
  for (const t of to) t.warnings.push(...converted.atWarn);
}

/** INFO notes, in the record and in the context they concern. */
function addNotes(to: Notes[], notes: string[]): void {
  for (const t of to) t.notes.push(...notes);
}
const parseWebXml = (xml: string, file: string) => xmlConfig().webxml.parseWebXml(xml, file);
/** webxml.ts's mergeWebXml; with fewer than two web.xml files nothing is merged (and webxml.ts may not be loaded). */
const mergeWebXml = (defaults: WebXml | undefined, app: WebXml | undefined) =>
  defaults && app ? xmlConfig().webxml.mergeWebXml(defaults, app) : defaults ?? app;
const applyWebXml = (raw: Record<string, unknown>, web: WebXml) => xmlConfig().webxml.applyWebXml(raw, web);

/**
 * Deploys into `root` (the expanded, unvalidated config). `where` locates a config path for
 * messages. Throws BobcatErrors with every problem found.
 */
export function deployInto(
  root: Record<string, unknown>,
  baseDir: string,
  opts: DeployOptions,
  where: (path: PathSeg[]) => Where,
): DeployRecord {
  const record: DeployRecord = {
    watchedDirs: [],
    watchedFiles: [],
    contexts: [],
    notes: [],
    warnings: [],
    autoDeployHosts: [],
  };
  const errors: BobcatError[] = [];
  const collect = (e: unknown) => {
    if (e instanceof BobcatErrors) errors.push(...e.errors);
    else if (e instanceof BobcatError) errors.push(e);
    else throw e;
  };
  const confWebXml = join(baseDir, "conf", "web.xml");
  const confContextXml = join(baseDir, "conf", "context.xml");
  record.watchedFiles.push(confWebXml);
  let defaults: WebXml | undefined;
  if (existsSync(confWebXml)) {
    try {
      defaults = parseWebXml(readTextFileSync(confWebXml), confWebXml);
    } catch (e) {
      collect(e);
    }
  }
  let contextDefaults: Record<string, unknown> | undefined;
  let defaultsOrigin: Origin | undefined;
  // conf/context.xml's notes, which concern every context.
  const defaultsNotes: Notes = { notes: [], warnings: [] };
  if (opts.contextXmlDefaults && existsSync(confContextXml)) {
    record.watchedFiles.push(confContextXml);
    try {
      const converted = convertContextXml(readTextFileSync(confContextXml), confContextXml);
      const { context, locate } = converted;
      delete context.path;
      delete context.docBase;
      defaultsOrigin = { file: confContextXml, locate };
      contextDefaults = opts.expand?.(context, defaultsOrigin) ?? context;
      noteConversion([record, defaultsNotes], converted);
    } catch (e) {
      collect(e);
    }
  }

  const server = root.server as Record<string, unknown> | undefined;
  asList(server?.services).forEach((service, si) => {
    const engine = service.engine as Record<string, unknown> | undefined;
    if (!engine || typeof engine !== "object") return;
    const engineName = String(engine.name ?? "Catalina");
    asList(engine.hosts).forEach((host, hi) => {
      const hPath: PathSeg[] = ["server", "services", si, "engine", "hosts", hi];
      if (typeof host.name !== "string") return;
      if (host.contexts !== undefined && !Array.isArray(host.contexts)) host.contexts = asList(host.contexts);
      host.contexts ??= [];
      const contexts = host.contexts as Record<string, unknown>[];
      if (!contexts.every(isMapping)) return; // the validator reports the item
      const appBaseRaw = typeof host.appBase === "string" ? host.appBase : "webapps";
      const appBase = resolve(baseDir, appBaseRaw);
      const configured = contexts.length;
      try {
        const defaults = contextDefaults && defaultsOrigin
          ? { settings: contextDefaults, origin: defaultsOrigin }
          : undefined;
        deployHost(host, hPath, engineName, appBase, configured, baseDir, opts, record, where, defaults);
      } catch (e) {
        collect(e);
      }
      // conf/web.xml and WEB-INF/web.xml for every context with a static docBase.
      contexts.forEach((ctx, ci) => {
        if (typeof ctx.docBase !== "string" || ctx.docBase === "") return;
        const cPath = [...hPath, "contexts", ci];
        const docBase = isAbsolute(ctx.docBase) ? ctx.docBase : resolve(appBase, ctx.docBase);
        const problem = directoryProblem(docBase);
        if (problem) {
          errors.push(
            new BobcatError(
              "deploy.docBase",
              `docBase ${docBase} ${problem}: every request to this context would fail`,
              {
                where: where([...cPath, "docBase"]),
                fix: problem === "does not exist"
                  ? "create the directory, or correct docBase (a relative docBase resolves against the host's appBase)"
                  : "make it a directory bobcat may read and list",
              },
            ),
          );
          return;
        }
        const appWebXml = join(docBase, "WEB-INF", "web.xml");
        let deployed = record.contexts.find((d) => d.host === host.name && d.path === normPath(ctx.path));
        if (!deployed) {
          deployed = { host: host.name as string, path: normPath(ctx.path), watched: [], notes: [], warnings: [] };
          record.contexts.push(deployed);
        }
        // Tomcat reads WEB-INF/tomcat-web.xml after web.xml; its settings win.
        const tomcatWebXml = join(docBase, "WEB-INF", "tomcat-web.xml");
        deployed.watched.push(appWebXml, tomcatWebXml);
        let app: WebXml | undefined;
        try {
          for (const f of [appWebXml, tomcatWebXml]) {
            if (existsSync(f)) app = mergeWebXml(app, parseWebXml(readTextFileSync(f), f));
          }
        } catch (e) {
          collect(e);
          return;
        }
        const web = mergeWebXml(defaults, app);
        if (web) {
          applyWebXml(ctx, web);
          addNotes([record, deployed], web.notes);
          const servlets = Array.isArray(ctx.servletMappings)
            ? (ctx.servletMappings as Array<{ servletName: string; urlPatterns: string[] }>)
            : [];
          if (servlets.length > 0) {
            const list = servlets.map((m) => `${m.servletName} (${m.urlPatterns.join(", ")})`);
            const note = `context ${
              normPath(ctx.path) || "/"
            }: web.xml maps paths to servlets bobcat cannot run; they answer 404: ${list.slice(0, 8).join(", ")}${
              list.length > 8 ? `, and ${list.length - 8} more` : ""
            }`;
            addNotes([record, deployed], [note]);
          }
        }
      });
    });
  });
  for (const d of record.contexts) {
    d.notes.unshift(...defaultsNotes.notes);
    d.warnings.unshift(...defaultsNotes.warnings);
  }
  if (errors.length > 0) throw new BobcatErrors(errors, `${errors.length} problem(s) deploying the applications`);
  return record;
}

function normPath(p: unknown): string {
  const s = typeof p === "string" ? p : "";
  return s === "/" ? "" : s;
}

/** Why a docBase or appBase cannot serve, or null. */
function directoryProblem(dir: string): string | null {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return "does not exist";
  }
  if (!st.isDirectory) return "is not a directory";
  try {
    const { accessSync, constants } = nodeFs();
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch {
    return "cannot be read (permissions)";
  }
  return null;
}

function deployHost(
  host: Record<string, unknown>,
  hPath: PathSeg[],
  engineName: string,
  appBase: string,
  configured: number,
  baseDir: string,
  opts: DeployOptions,
  record: DeployRecord,
  where: (path: PathSeg[]) => Where,
  defaults: ContextFile | undefined,
): void {
  const contextDefaults = defaults?.settings;
  const hostName = String(host.name);
  const contexts = host.contexts as Record<string, unknown>[];
  // conf/context.xml is every context's defaults, as in Tomcat: the configured ones' too, whatever
  // the host deploys from appBase (deployOnStartup false, no appBase).
  if (contextDefaults) {
    for (let i = 0; i < configured; i++) applyDefaults(contexts[i]!, contextDefaults);
  }
  if (!bool(host.deployOnStartup, true)) return;
  const autoDeploy = bool(host.autoDeploy, true);
  if (autoDeploy) record.autoDeployHosts.push(hostName);
  const xmlBase = join(baseDir, "conf", engineName, hostName);
  record.watchedDirs.push(appBase, xmlBase);
  const problem = directoryProblem(appBase);
  if (problem && problem !== "does not exist") {
    throw new BobcatError("deploy.appBase", `appBase ${appBase} ${problem}`, {
      where: where([...hPath, "appBase"]),
      fix: "point appBase at a directory bobcat may read and list",
    });
  }
  if (problem === "does not exist") {
    if (host.appBase !== undefined && configured === 0) {
      throw new BobcatError(
        "deploy.appBase",
        `appBase ${appBase} does not exist, and host ${hostName} lists no contexts: every request to it would fail`,
        {
          where: where([...hPath, "appBase"]),
          fix:
            "create the directory (with ROOT/ for /), correct appBase (relative to the base directory), or list contexts",
        },
      );
    }
    return;
  }
  let ignore: RegExp | undefined;
  if (typeof host.deployIgnore === "string") {
    try {
      ignore = new RegExp(`^(?:${fromJavaRegex(host.deployIgnore)})$`);
    } catch {
      return; // the validator reports the bad regex
    }
  }
  const taken = new Set(contexts.map((c) => normPath(c.path ?? "")));
  const takenDirs = new Set(
    contexts.filter((c) => typeof c.docBase === "string").map((c) => resolve(appBase, c.docBase as string)),
  );
  const deployXML = bool(host.deployXML, true);
  const copyXML = bool(host.copyXML, false);
  // Each with the files its settings come from, first the one whose settings win.
  const added: Array<{ ctx: Record<string, unknown>; version: string; name: string; files: ContextFile[] }> = [];

  // conf/<Engine>/<Host>/*.xml first: a descriptor wins over a directory of the same name.
  const descriptors = existsSync(xmlBase)
    ? readDirSync(xmlBase).map((e) => e.name).filter((f) => f.endsWith(".xml")).sort()
    : [];
  const described = new Set<string>();
  /** A conf/<Engine>/<Host>/name.xml descriptor as a context; the DeployedContext recorded for it. */
  const addDescriptor = (file: string, name: string): DeployedContext => {
    const { path, version } = contextNameOf(name);
    const converted = convertContextXml(readTextFileSync(file), file);
    const { context: raw, locate } = converted;
    const context = opts.expand?.(raw, { file, locate }) ?? raw;
    const docBase = typeof context.docBase === "string" ? resolve(appBase, context.docBase) : join(appBase, name);
    const deployed: DeployedContext = {
      host: hostName,
      path,
      appDir: docBase,
      watched: [file],
      notes: [],
      warnings: [],
    };
    noteConversion([record, deployed], converted);
    if (context.path !== undefined && normPath(context.path) !== path) {
      const note = `${file}: path="${context.path}" is ignored: a descriptor's file name gives the path (${
        path || "/"
      })`;
      addNotes([record, deployed], [note]);
    }
    const ctx = { ...context, path, docBase };
    described.add(resolve(docBase));
    added.push({ ctx, version, name, files: [{ settings: context, origin: { file, locate } }] });
    record.contexts.push(deployed);
    return deployed;
  };
  for (const f of descriptors) {
    const name = f.slice(0, -4);
    if (!taken.has(contextNameOf(name).path)) addDescriptor(join(xmlBase, f), name);
  }

  for (const entry of readDirSync(appBase).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = entry.name;
    if (!entry.isDirectory && !(entry.isSymbolicLink && isDir(join(appBase, name)))) continue;
    if (name === "WEB-INF" || name === "META-INF" || name.startsWith(".")) continue;
    if (ignore?.test(name)) continue;
    const dir = join(appBase, name);
    if (takenDirs.has(dir) || described.has(dir)) continue;
    const { path, version } = contextNameOf(name);
    if (taken.has(path)) {
      record.notes.push(`${dir}: not deployed: context ${path || "/"} is already configured`);
      continue;
    }
    const watched: string[] = [];
    const deployed: DeployedContext = { host: hostName, path, appDir: dir, watched, notes: [], warnings: [] };
    let ctx: Record<string, unknown> = { path, docBase: dir };
    const files: ContextFile[] = [];
    if (deployXML) {
      const metaXml = join(dir, "META-INF", "context.xml");
      const metaYaml = join(dir, "META-INF", "context.yaml");
      watched.push(metaXml, metaYaml);
      const copy = join(xmlBase, `${name}.xml`);
      if (copyXML && opts.mode === "run" && existsSync(metaXml) && !existsSync(copy)) {
        // The copy is the application's descriptor from now on (Tomcat's copyXML): deployed from
        // it already, as the next scan and the next start deploy it, so that neither redeploys it.
        nodeFs().mkdirSync(xmlBase, { recursive: true });
        nodeFs().copyFileSync(metaXml, copy);
        const note = `${metaXml}: copied to ${copy} (copyXML)`;
        record.notes.push(note);
        addDescriptor(copy, name).notes.push(note);
        continue;
      }
      if (existsSync(metaXml)) {
        const converted = convertContextXml(readTextFileSync(metaXml), metaXml);
        const { context: raw, locate } = converted;
        const context = opts.expand?.(raw, { file: metaXml, locate }) ?? raw;
        noteConversion([record, deployed], converted);
        delete context.path;
        delete context.docBase;
        ctx = { ...context, ...ctx };
        files.push({ settings: context, origin: { file: metaXml, locate } });
      }
      if (existsSync(metaYaml)) {
        const yaml = readContextYaml(metaYaml, dir, opts.expand);
        ctx = { ...yaml.settings, ...ctx };
        files.push(yaml);
      }
    }
    added.push({ ctx, version, name, files });
    record.contexts.push(deployed);
  }

  // Parallel deployment (foo##1, foo##2): the latest version serves.
  const byPath = new Map<string, (typeof added)[number]>();
  for (const a of added) {
    const path = a.ctx.path as string;
    const prev = byPath.get(path);
    if (!prev || compareVersions(a.version, prev.version) > 0) {
      if (prev) record.notes.push(`${prev.name}: not deployed: ${a.name} is a later version of ${path || "/"}`);
      byPath.set(path, a);
    } else record.notes.push(`${a.name}: not deployed: ${prev.name} is a later version of ${path || "/"}`);
  }
  const chosen = new Set([...byPath.values()].map((a) => a.ctx.docBase));
  const dropped = new Set(added.filter((a) => !chosen.has(a.ctx.docBase)).map((a) => a.ctx.docBase));
  record.contexts = record.contexts.filter((d) => !(d.host === hostName && dropped.has(d.appDir)));
  for (const a of byPath.values()) {
    if (contextDefaults) applyDefaults(a.ctx, contextDefaults);
    contexts.push(a.ctx);
    if (opts.from) {
      markOrigins(opts.from, [...hPath, "contexts", contexts.length - 1], a.ctx, [
        ...a.files,
        ...(defaults ? [defaults] : []),
      ]);
    }
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory;
  } catch {
    return false;
  }
}

function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** conf/context.xml under a context: its own settings win; valves and resources add up, the defaults' first. */
function applyDefaults(ctx: Record<string, unknown>, defaults: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(defaults)) {
    const own = ctx[k];
    if (own === undefined) ctx[k] = copyData(v);
    else if (Array.isArray(own) && Array.isArray(v)) ctx[k] = [...copyData(v), ...own];
  }
}

/**
 * Problems in a deployed context name the file each of its settings came from (`files`, the one
 * whose settings win first), at the setting's position there.
 */
function markOrigins(
  from: NonNullable<DeployOptions["from"]>,
  cPath: PathSeg[],
  ctx: Record<string, unknown>,
  files: ContextFile[],
): void {
  const [main] = files;
  if (!main) return;
  from(cPath, main.origin);
  for (const key of Object.keys(ctx)) {
    const f = files.find((f) => Object.hasOwn(f.settings, key));
    if (!f || f === main) continue;
    from([...cPath, key], { file: f.origin.file, locate: (rest, k) => f.origin.locate([key, ...rest], k) });
  }
}

/** META-INF/context.yaml: the context's attributes in bobcat's YAML; a relative handler is the application's. */
function readContextYaml(file: string, appDir: string, expand: DeployOptions["expand"]): ContextFile {
  // Read as a config file is (positions; YAML errors and __proto__ keys at their line).
  const source = parseSource(file, readTextFileSync(file));
  const data = source.data;
  const origin: Origin = { file, locate: source.locate };
  if (data === null || data === undefined) return { settings: {}, origin };
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new BobcatError("deploy.contextYaml", `${file} must be a mapping of context attributes`, {
      where: { file },
      fix: "write e.g. handler: WEB-INF/app.ts",
    });
  }
  const ctx = { ...(expand?.(data as Record<string, unknown>, origin) ?? data as Record<string, unknown>) };
  for (const key of ["path", "docBase"]) {
    if (key in ctx) {
      const at = source.locate([key], true);
      throw new BobcatError("deploy.contextYaml", `${key} is given by the application's directory`, {
        where: { file, line: at?.line, column: at?.column, attribute: key },
        fix: `remove ${key}`,
      });
    }
  }
  if (typeof ctx.handler === "string" && !/^[a-z][a-z0-9+.-]*:/i.test(ctx.handler) && !isAbsolute(ctx.handler)) {
    ctx.handler = resolve(appDir, ctx.handler);
  }
  return { settings: ctx, origin };
}

/** The files and directory listings autoDeploy compares between two scans. */
export function fingerprint(record: DeployRecord, handlerFiles: string[]): string {
  const parts: string[] = [];
  for (const d of record.watchedDirs) {
    try {
      parts.push(`${d}:${readDirSync(d).map((e) => e.name).sort().join("/")}`);
    } catch {
      parts.push(`${d}:-`);
    }
  }
  const files = [...record.watchedFiles, ...record.contexts.flatMap((c) => c.watched), ...handlerFiles];
  for (const f of files) parts.push(`${f}:${mtime(f)}`);
  return parts.join("\n");
}

export function mtime(f: string): number {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * The files a reloadable context's handler depends on: the module itself and, when it lies in
 * the docBase's WEB-INF/, every file there (bounded), as Tomcat watches WEB-INF/classes and lib.
 */
export function handlerFilesOf(handler: string | undefined, docBase: string | undefined): string[] {
  if (!handler || /^[a-z][a-z0-9+.-]*:/i.test(handler)) return [];
  const files = [handler];
  const webInf = docBase ? join(docBase, "WEB-INF") : undefined;
  if (webInf && resolve(handler).startsWith(webInf + "/")) {
    const stack = [webInf];
    while (stack.length > 0 && files.length < 2000) {
      const d = stack.pop()!;
      let entries;
      try {
        entries = readDirSync(d);
      } catch {
        continue;
      }
      for (const e of entries) {
        const p = join(d, e.name);
        if (e.isDirectory) stack.push(p);
        else if (e.isFile && basename(p) !== "web.xml") files.push(p);
      }
    }
  }
  return files;
}
