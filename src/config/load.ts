/**
 * From a config file to a validated BobcatConfig: parse (YAML/TOML), expand `${...}`,
 * validate against the schema, then the checks that span elements (port clashes, duplicate
 * hosts and contexts, the default host, TLS connectors without certificates). Reading a file
 * is load-file.ts: this module touches no file, so edge runtimes load configs from text, and
 * asks for the environment, the home or working directory only when a `${...}` names them
 * (Deno's --allow-env, --allow-sys and --allow-read are not needed otherwise).
 */
import { dirname, isAbsolute, join, resolve } from "../util/host/path.ts";
import { cwd, envRecord, homedir } from "../util/host/proc.ts";
import { Certificate, ConfigFile, Connector, Realm, SSLHostConfig as SSLHostConfigDef } from "./schema.ts";
import type * as S from "./schema.ts";
import type { AttrDef, Infer } from "./schema-types.ts";
import { formatPath, type ParsedSource, parseSource, type PathSeg } from "./source.ts";
import type { Origin } from "./source-types.ts";
import { expandProperties, expandTree, type ExpansionProblem, type Lookup, makeLookup } from "./expand.ts";
import { Validator } from "./validate.ts";
import type {
  BobcatConfig,
  ConnectorConfig,
  ContextConfig,
  EngineConfig,
  HostConfig,
  RealmConfig,
  ServerConfig,
} from "./model.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { urlPatternProblem } from "./url-pattern.ts";
import { acmeProblems } from "./acme.ts";
import { checkSessionPersistenceClashes } from "./session-files.ts";

export interface LoadOptions {
  /** Base directory ($CATALINA_BASE); default: the config file's directory. */
  baseDir?: string;
  /** Where bobcat itself lives ($CATALINA_HOME); default: the base directory. */
  homeDir?: string;
  /** `-Dname=value` properties from the command line; they win over the file's `properties`. */
  properties?: Record<string, string>;
  env?: Record<string, string | undefined>;
  /**
   * Called with the expanded config tree before it is validated: a server adds the contexts it
   * deploys from appBase and what web.xml files say (src/config/deploy.ts). Throws BobcatError(s).
   */
  prepare?: (
    root: Record<string, unknown>,
    info: {
      baseDir: string;
      file: string;
      where: (path: PathSeg[]) => import("../util/errors.ts").Where;
      /** Expands `${...}` in settings read from another file (a context.xml or context.yaml) as in the config. */
      expand: (settings: Record<string, unknown>, origin: Origin) => Record<string, unknown>;
      /** The tree at `path` was read from `file` (a deployed context's): problems there name it. */
      from: (path: PathSeg[], origin: Origin) => void;
    },
  ) => void;
  /**
   * The file the text was made from, when it is not the user's own (a server.xml converted in
   * memory): problems name that file, at the positions `locate` gives for a config path.
   */
  origin?: Origin;
}

/**
 * The `properties` option (createServer, loadConfigText) with an own `__proto__` key, as
 * JSON.parse makes one, is refused as `-D__proto__=` and a config file's key are: any copy of
 * the properties would set the copy's prototype instead, and the property would vanish.
 */
function refuseProtoProperty(properties: Record<string, string> | undefined): void {
  if (properties === undefined || properties === null || !Object.hasOwn(properties, "__proto__")) return;
  throw new BobcatError("config.key", 'the properties option: "__proto__" cannot be a property name', {
    fix:
      "rename the property (JavaScript gives __proto__ a meaning of its own; no attribute or property may be called so)",
  });
}

export function loadConfigText(file: string, text: string, opts: LoadOptions = {}): BobcatConfig {
  refuseProtoProperty(opts.properties);
  const parsed = parseSource(file, text);
  const own = opts.origin ? { ...parsed, file: opts.origin.file, locate: opts.origin.locate } : parsed;
  // Parts read from other files (deployed contexts), by config path: their problems name those files.
  const parts = new Map<string, Origin>();
  const partAt = (path: PathSeg[]) => {
    for (let n = parts.size > 0 ? path.length : 0; n > 0; n--) {
      const origin = parts.get(formatPath(path.slice(0, n)));
      if (origin) return { origin, rest: path.slice(n) };
    }
    return undefined;
  };
  const source: ParsedSource = {
    ...own,
    locate(path, key) {
      const part = partAt(path);
      return part ? part.origin.locate(part.rest, key) : own.locate(path, key);
    },
    fileOf: (path) => partAt(path)?.origin.file,
  };
  const baseDir = resolve(opts.baseDir ?? dirname(file));
  const homeDir = resolve(opts.homeDir ?? baseDir);
  const env = opts.env ?? envRecord();

  const root = (source.data ?? {}) as Record<string, unknown>;
  if (typeof root !== "object" || Array.isArray(root)) {
    throw new BobcatError("config.type", "the config file must be a mapping with a top-level `server:` key", {
      where: { file },
      fix: "start the file with `server:` (see config/server.yaml)",
    });
  }
  // Getters: the home and working directories are looked up only when a ${...} names them.
  const builtins = {
    get "user.home"() {
      return homedir();
    },
    get "user.dir"() {
      return cwd();
    },
    "catalina.base": baseDir,
    "catalina.home": homeDir,
    "bobcat.base": baseDir,
    "bobcat.home": homeDir,
  };
  // Properties may refer to built-ins, to env and to each other.
  const rawProps = { ...((root.properties as Record<string, unknown>) ?? {}), ...(opts.properties ?? {}) };
  const problems: ExpansionProblem[] = [];
  const lookupProps = makeLookup(builtins, rawProps, env);
  const properties = expandProperties(rawProps, lookupProps, problems) as Record<string, string>;
  const lookup = makeLookup(builtins, properties, env);
  const expanded = expandTree({ ...root, properties: undefined }, lookup, problems) as Record<string, unknown>;
  delete expanded.properties;

  const v = new Validator(source, baseDir, properties);
  for (const p of problems) v.error("config.property", p.path, p.message, p.fix);
  if (opts.prepare && problems.length === 0) {
    try {
      opts.prepare(expanded, {
        baseDir,
        file,
        where: (path) => v.where(path),
        expand: expandSettings(lookup),
        from: (path, origin) => parts.set(formatPath(path), origin),
      });
    } catch (e) {
      if (e instanceof BobcatErrors) v.errors.push(...e.errors);
      else if (e instanceof BobcatError) v.errors.push(e);
      else throw e;
    }
  }
  if (root.server === undefined) {
    v.error(
      "config.required",
      [],
      "the config has no `server:` section",
      "add a server: section (see config/server.yaml)",
    );
  }
  const top = v.validate(ConfigFile, { ...expanded, properties }, []);
  let server: ServerConfig | undefined;
  try {
    server = top.server ? normaliseServer(top.server, v, baseDir) : undefined;
  } catch (e) {
    // Where the validator refused part of the tree (a number where the services go, ...) what it
    // returns lacks what the cross-element checks walk: the problems it found are the ones to report.
    if (v.errors.length === 0 || e instanceof BobcatError || e instanceof BobcatErrors) throw e;
  }
  // A value whose ${...} did not resolve is reported as that, not a second time for its type.
  const unresolved = new Set(problems.map((p) => formatPath(p.path)));
  v.errors.splice(
    0,
    v.errors.length,
    ...v.errors.filter((e) => e.code === "config.property" || !unresolved.has(e.where.path ?? "")),
  );
  if (v.errors.length > 0 || !server) {
    throw new BobcatErrors(v.errors, `${source.file}: ${v.errors.length} problem(s) in the configuration`);
  }
  // A converted server.xml is named by its own path (origin), as its problems are.
  return { file: source.file, baseDir, properties, logging: top.logging, server, notes: v.notes, warnings: [] };
}

/**
 * `${...}` in the settings of a file deployment reads (META-INF/context.xml or context.yaml, a
 * conf/<Engine>/<Host>/*.xml descriptor, conf/context.xml), with the config's properties: Tomcat's
 * digester expands them in those files too. An unresolved name is an error naming that file.
 */
function expandSettings(lookup: Lookup) {
  return (settings: Record<string, unknown>, origin: Origin): Record<string, unknown> => {
    const problems: ExpansionProblem[] = [];
    const out = expandTree(settings, lookup, problems) as Record<string, unknown>;
    if (problems.length > 0) {
      throw new BobcatErrors(
        problems.map((p) => {
          const at = origin.locate(p.path);
          const where = { file: origin.file, line: at?.line, column: at?.column, path: formatPath(p.path) };
          return new BobcatError("config.property", p.message, { where, fix: p.fix });
        }),
      );
    }
    return out;
  };
}

/** Tomcat 9's connector-level TLS attributes (`movedTo` in the schema) and where each one goes. */
const LEGACY: Array<[from: string, to: string, onCertificate: boolean]> = Object.entries(
  Connector.attrs as Record<string, AttrDef>,
).flatMap(([from, a]) => (a.movedTo ? [[from, a.movedTo, Object.hasOwn(Certificate.attrs, a.movedTo)]] : []));
const TARGET_ATTRS: Record<string, Record<string, AttrDef>> = {
  certificate: Certificate.attrs,
  host: SSLHostConfigDef.attrs,
};

/** Cross-element checks and derived values; errors go to the validator so all are reported together. */
function normaliseServer(server: Infer<typeof S.Server>, v: Validator, baseDir: string): ServerConfig {
  const services = server.services;
  const offset = server.portOffset;
  if (services.length === 0) {
    v.error(
      "config.required",
      ["server", "services"],
      "the server has no services",
      "add services: with at least one connector and an engine",
    );
  }
  const bound = new Map<string, PathSeg[]>();
  const out = services.map((service, si) => {
    const sPath: PathSeg[] = ["server", "services", si];
    if (service.connectors.length === 0) {
      v.error(
        "config.required",
        [...sPath, "connectors"],
        `service "${service.name}" has no connectors`,
        "add connectors: - port: 8080",
      );
    }
    const connectors = service.connectors.map((c, ci) =>
      normaliseConnector(c, [...sPath, "connectors", ci], v, offset, bound)
    );
    const engine = service.engine && normaliseEngine(service.engine, [...sPath, "engine"], v, baseDir);
    if (engine && !connectors.some((c) => c.SSLEnabled)) {
      // Tomcat supports the SSL tracking mode only where a connector of the service has TLS.
      engine.hosts.forEach((h, hi) =>
        h.contexts.forEach((ctx, ci) => {
          if (!ctx.sessionTrackingModes?.includes("SSL")) return;
          v.error(
            "config.sessionTrackingSsl",
            [...sPath, "engine", "hosts", hi, "contexts", ci, "sessionTrackingModes"],
            `The session tracking mode [SSL] requested for context [${
              ctx.path || "/"
            }] is not supported: service "${service.name}" has no TLS connector (SSLEnabled: true)`,
            "add an SSLEnabled connector to the service, or use sessionTrackingModes: [COOKIE, URL]",
          );
        })
      );
    }
    return Object.assign(service, { connectors, engine });
  });
  checkSessionPersistenceClashes(out, v, server.globalNamingResources?.resources ?? [], baseDir);
  return Object.assign(server, { services: out });
}

function normaliseConnector(
  c: Infer<typeof S.Connector>,
  path: PathSeg[],
  v: Validator,
  offset: number,
  bound: Map<string, PathSeg[]>,
): ConnectorConfig {
  // The legacy attributes are not part of the model type; they are read (and removed) here.
  const raw: Record<string, unknown> = c;
  const addr = c.address && !["0.0.0.0", "::", "*"].includes(c.address) ? `${c.address}-` : "";
  const named = Object.assign(c, { name: "" });
  if (typeof c.port !== "number") return named; // already reported as missing or mistyped
  if (c.port !== 0) c.port += offset;
  if (c.redirectPort > 0) c.redirectPort += offset;
  if (c.port !== 0) {
    // Binding 0.0.0.0 and 127.0.0.1 on the same port clash too.
    const key = String(c.port);
    const other = bound.get(key);
    if (
      other && (sameOrWildcard(c.address, bound.get(`${key}/addr`)?.[0] as string | undefined))
    ) {
      v.error(
        "config.portClash",
        [...path, "port"],
        `port ${c.port} is already used by the connector at ${formatP(other)}`,
        "give each connector its own port (or distinct addresses)",
      );
    } else {
      bound.set(key, path);
      bound.set(`${key}/addr`, [c.address ?? "*"]);
    }
  }
  // Legacy Tomcat 9 connector attributes (`movedTo`) move onto the default SSLHostConfig / its Certificate.
  const legacy = LEGACY.filter(([from]) => raw[from] !== undefined);
  if (legacy.length > 0) {
    const defName = c.defaultSSLHostConfigName.toLowerCase();
    let host = c.sslHostConfigs.find((h) => h.hostName.toLowerCase() === defName);
    if (!host) {
      host = v.validate(SSLHostConfigDef, { hostName: defName }, [...path, "sslHostConfigs", c.sslHostConfigs.length]);
      c.sslHostConfigs.push(host);
    }
    if (legacy.some(([, , onCert]) => onCert) && host.certificates.length === 0) {
      host.certificates.push(v.validate(Certificate, {}, [...path, "sslHostConfigs", 0, "certificates", 0]));
    }
    const targets: Record<string, Record<string, unknown>> = { host, certificate: host.certificates[0] ?? {} };
    for (const [from, to, onCert] of legacy) {
      const kind = onCert ? "certificate" : "host";
      // Checked as the attribute it becomes (clientAuth="want" is certificateVerification's synonym for optional).
      const value = v.attr(TARGET_ATTRS[kind]![to]!, raw[from], [...path, from], "Connector");
      if (value !== undefined) targets[kind]![to] = value;
      v.notes.push(
        `${
          formatP([...path, from])
        }: legacy connector attribute ${from} was applied to SSLHostConfig "${defName}" (Tomcat 9 style); move it there`,
      );
      delete raw[from];
    }
  }
  const hostNames = new Map<string, number>();
  c.sslHostConfigs.forEach((h, hi) => {
    h.hostName = h.hostName.toLowerCase();
    const hPath = [...path, "sslHostConfigs", hi];
    if (hostNames.has(h.hostName)) {
      v.error(
        "config.duplicate",
        [...hPath, "hostName"],
        `Multiple SSLHostConfig elements were provided for the host name [${h.hostName}]. Host names must be unique.`,
        "merge them or give each its own hostName",
      );
    }
    hostNames.set(h.hostName, hi);
    if (h.acme) {
      for (const p of acmeProblems(h.hostName, h.acme)) {
        v.error("config.acme", [...hPath, "acme", p.attribute], p.message, p.fix);
      }
      if (h.certificates.length > 0) {
        v.error(
          "config.acme",
          [...hPath, "certificates"],
          `SSLHostConfig "${h.hostName}" has both certificates and acme`,
          "remove certificates (the CA provides the certificate), or remove acme",
        );
      }
    } else if (h.certificates.length === 0) {
      v.error(
        "config.required",
        [...hPath, "certificates"],
        `SSLHostConfig "${h.hostName}" has no certificate`,
        "add certificates: - certificateFile/certificateKeyFile or certificateKeystoreFile (or acme: to obtain one from a CA)",
      );
    }
    if (h.certificates.length > 1) {
      const types = h.certificates.map((x) => x.type);
      const again = types.findIndex((t, i) => t !== "UNDEFINED" && types.indexOf(t) !== i);
      if (types.includes("UNDEFINED")) {
        v.error(
          "config.certificateType",
          [...hPath, "certificates"],
          "Multiple certificates were specified and at least one is missing the required attribute type (types must be distinct)",
          "set type: RSA and type: EC on the certificates",
        );
      } else if (again >= 0) {
        // Every type is set, but twice: the message about a missing type would send the user
        // looking for an attribute that is there.
        v.error(
          "config.certificateType",
          [...hPath, "certificates", again, "type"],
          `Multiple certificates of type [${types[again]}] were specified for SSLHostConfig "${h.hostName}": ` +
            "it serves one certificate per key type, chosen by what the client supports",
          "keep one certificate of each type here; a certificate for other host names goes in its own SSLHostConfig (hostName) for SNI",
        );
      }
    }
    h.certificates.forEach((cert, ki) => {
      const keystoreAttrs = [
        cert.certificateKeystorePassword,
        cert.certificateKeystorePasswordFile,
        cert.certificateKeystoreType,
        cert.certificateKeyAlias,
      ];
      if (!cert.certificateFile && !cert.certificateKeystoreFile && keystoreAttrs.some((x) => x !== undefined)) {
        // Tomcat's default keystore, as JSSE has it: ${user.home}/.keystore.
        cert.certificateKeystoreFile = join(homedir(), ".keystore");
        v.notes.push(
          `${
            formatP([...hPath, "certificates", ki])
          }: no certificateKeystoreFile: using ${cert.certificateKeystoreFile} (\${user.home}/.keystore, Tomcat's default)`,
        );
      }
      if (!cert.certificateFile && !cert.certificateKeystoreFile) {
        v.error(
          "config.required",
          [...hPath, "certificates", ki],
          "SSLHostConfig attribute certificateFile must be defined when using an SSL connector",
          "set certificateFile (PEM) or certificateKeystoreFile (JKS/PKCS12)",
        );
      }
    });
  });
  const defName = c.defaultSSLHostConfigName.toLowerCase();
  c.defaultSSLHostConfigName = defName;
  if (c.SSLEnabled) {
    c.scheme = "https";
    c.secure = true;
    if (c.sslHostConfigs.length === 0) {
      v.error(
        "config.required",
        [...path, "sslHostConfigs"],
        `connector on port ${c.port} has SSLEnabled but no sslHostConfigs`,
        "add sslHostConfigs: - certificates: - certificateFile: ... (see README, HTTPS)",
      );
    } else if (!hostNames.has(defName)) {
      v.error(
        "config.noDefaultSslHostConfig",
        [...path, "defaultSSLHostConfigName"],
        `No SSLHostConfig element was found with the hostName [${defName}] to match the defaultSSLHostConfigName for the connector`,
        `add an SSLHostConfig with hostName: ${defName}, or set defaultSSLHostConfigName to one of: ${
          [...hostNames.keys()].join(", ")
        }`,
      );
    }
  } else if (c.sslHostConfigs.length > 0) {
    v.error(
      "config.sslNotEnabled",
      [...path, "SSLEnabled"],
      `connector on port ${c.port} has sslHostConfigs but SSLEnabled is false`,
      "set SSLEnabled: true (or remove the sslHostConfigs)",
    );
  }
  const impl = c.sslImplementationName;
  if (impl) {
    v.notes.push(
      `${formatP([...path, "sslImplementationName"])}: ${
        impl.split(".").pop()
      } is accepted; bobcat picks the TLS back-end (native or node:http2, and Node's OpenSSL with --runtime node) from the features the connector needs, and logs which`,
    );
  }
  if (c.protocol.endsWith("Http11AprProtocol")) {
    v.notes.push(
      `${formatP([...path, "protocol"])}: Http11AprProtocol is served as HTTP/1.1 (Tomcat 10.1 removed APR too)`,
    );
  }
  named.name = c.SSLEnabled ? `https-jsse-nio-${addr}${c.port}` : `http-nio-${addr}${c.port}`;
  return named;
}

function normaliseEngine(engine: Infer<typeof S.Engine>, path: PathSeg[], v: Validator, baseDir: string): EngineConfig {
  const names = new Map<string, PathSeg[]>();
  if (engine.hosts.length === 0) {
    v.error(
      "config.required",
      [...path, "hosts"],
      "the engine has no hosts",
      `add hosts: - name: ${engine.defaultHost ?? "localhost"}`,
    );
  }
  const engineRealm = realmConfig(engine.realm);
  const hosts = engine.hosts.map((h, hi) => {
    const hPath = [...path, "hosts", hi];
    for (const [i, n] of [h.name, ...h.aliases].entries()) {
      if (typeof n !== "string") continue; // already reported as missing
      const lower = n.toLowerCase();
      const at = i === 0 ? [...hPath, "name"] : [...hPath, "aliases", i - 1];
      const prev = names.get(lower);
      if (prev) {
        v.error(
          "config.duplicate",
          at,
          `host name "${n}" is used twice (first at ${formatP(prev)})`,
          "each host name and alias must be unique in an engine",
        );
      } else names.set(lower, at);
    }
    const workDir = h.workDir ?? join(baseDir, "work", engine.name, h.name ?? "");
    // The innermost realm defined applies, as in Tomcat: context, else host, else engine.
    const realm = realmConfig(h.realm) ?? engineRealm;
    return Object.assign(h, {
      workDir,
      realm,
      contexts: normaliseContexts(h.contexts, h.name, h.appBase, workDir, realm, hPath, v),
    });
  });
  if (engine.defaultHost && engine.hosts.length > 0 && !names.has(engine.defaultHost.toLowerCase())) {
    v.error(
      "config.defaultHost",
      [...path, "defaultHost"],
      `defaultHost "${engine.defaultHost}" is not the name of any host`,
      `use one of: ${engine.hosts.map((h) => h.name).join(", ")}`,
    );
  }
  return Object.assign(engine, { hosts, realm: engineRealm });
}

function normaliseContexts(
  contexts: Infer<typeof S.Context>[],
  hostName: string,
  appBase: string,
  hostWorkDir: string,
  hostRealm: RealmConfig | undefined,
  hPath: PathSeg[],
  v: Validator,
): ContextConfig[] {
  const paths = new Map<string, number>();
  return contexts.map((ctx, ci) => {
    const cPath = [...hPath, "contexts", ci];
    if (ctx.path === "/") ctx.path = "";
    if (ctx.path !== "" && (!ctx.path.startsWith("/") || ctx.path.endsWith("/"))) {
      v.error(
        "config.contextPath",
        [...cPath, "path"],
        `context path "${ctx.path}" must be "" (ROOT) or start with "/" and not end with "/"`,
        `write path: "/${ctx.path.replace(/^\/+|\/+$/g, "")}"`,
      );
    }
    if (paths.has(ctx.path)) {
      v.error(
        "config.duplicate",
        [...cPath, "path"],
        `context path "${ctx.path || "/"}" is defined twice on host ${hostName}`,
        "give each context its own path",
      );
    }
    paths.set(ctx.path, ci);
    // A relative docBase resolves against appBase, as in Tomcat (the validator made it absolute against the base dir).
    if (ctx.docBase !== undefined && !isAbsolute(ctx.docBase)) ctx.docBase = resolve(appBase, ctx.docBase);
    // "name:..." specs (bobcat:root, app:main) name built-in or provided handlers, not files.
    if (ctx.handler && !/^[a-z][a-z0-9+.-]*:/i.test(ctx.handler) && !isAbsolute(ctx.handler)) {
      ctx.handler = v.resolvePath(ctx.handler);
    }
    ctx.securityConstraints.forEach((c, si) => {
      c.authConstraint ??= (c.authRoles?.length ?? 0) > 0;
      if (c.httpMethods?.length && c.httpMethodOmissions?.length) {
        v.error(
          "config.type",
          [...cPath, "securityConstraints", si, "httpMethodOmissions"],
          "a constraint has httpMethods or httpMethodOmissions, not both (as web.xml's <web-resource-collection>)",
          "split it into two constraints",
        );
      }
      c.urlPatterns.forEach((p, pi) => {
        const problem = urlPatternProblem(String(p));
        if (problem) {
          v.error(
            "config.urlPattern",
            [...cPath, "securityConstraints", si, "urlPatterns", pi],
            problem,
            "use an exact path (/a/b), a prefix (/a/*), an extension (*.ext), or / for everything",
          );
        }
      });
    });
    ctx.servletMappings.forEach((m, mi) => {
      m.urlPatterns.forEach((p, pi) => {
        const problem = urlPatternProblem(String(p));
        if (problem) {
          v.error("config.urlPattern", [...cPath, "servletMappings", mi, "urlPatterns", pi], problem);
        }
      });
    });
    ctx.errorPages.forEach((p, pi) => {
      if (typeof p.location === "string" && !p.location.startsWith("/")) {
        v.error(
          "config.errorPage",
          [...cPath, "errorPages", pi, "location"],
          `error page location "${p.location}" must start with "/" (a path below the context)`,
          `write location: /${p.location}`,
        );
      }
    });
    if (ctx.loginConfig?.authMethod === "FORM") {
      for (const key of ["formLoginPage", "formErrorPage"] as const) {
        const page = ctx.loginConfig[key];
        if (!page || !page.startsWith("/")) {
          v.error(
            "config.loginConfig",
            [...cPath, "loginConfig", key],
            page ? `${key} "${page}" must start with "/"` : `FORM login needs ${key}`,
            `set ${key}: /login.html (a page below the context)`,
          );
        }
      }
    }
    if (!ctx.docBase && !ctx.handler) {
      v.error(
        "config.required",
        cPath,
        `context "${ctx.path || "/"}" has neither docBase nor handler`,
        "set docBase: (a static directory) and/or handler: (a module)",
      );
    }
    if (ctx.sessionTrackingModes.includes("SSL") && ctx.sessionTrackingModes.length > 1) {
      v.error(
        "config.type",
        [...cPath, "sessionTrackingModes"],
        "session tracking mode SSL cannot be combined with other modes (as the Servlet spec says)",
        "use [SSL] alone, or COOKIE and/or URL",
      );
    }
    if (ctx.manager.className === "PersistentManager" && !ctx.manager.store) {
      v.error(
        "config.required",
        [...cPath, "manager", "store"],
        "PersistentManager needs a <Store>: manager.store",
        "add store: { className: FileStore } or { className: DataSourceStore, dataSourceName: ... }",
      );
    }
    const name = ctx.path === "" ? "ROOT" : ctx.path.slice(1).replaceAll("/", "#");
    // Always present, so the LockOutRealm defaults come from the schema even without realm:.
    const realm = realmConfig(ctx.realm) ?? hostRealm ?? realmConfig(v.validate(Realm, {}, [...cPath, "realm"]));
    return Object.assign(ctx, { name, realm, workDir: ctx.workDir ?? join(hostWorkDir, name) });
  });
}

/**
 * A validated Realm as the model names it: the validator checked nested `realms` (LockOutRealm,
 * CombinedRealm) and `credentialHandlers` as Realm and CredentialHandler elements, which the
 * schema's recursive children cannot say in their inferred type (see schema-types.ts).
 */
function realmConfig(r: Infer<typeof S.Realm>): RealmConfig;
function realmConfig(r: Infer<typeof S.Realm> | undefined): RealmConfig | undefined;
function realmConfig(r: Infer<typeof S.Realm> | undefined): RealmConfig | undefined {
  return r as RealmConfig | undefined;
}

function sameOrWildcard(a: string | undefined, b: string | undefined): boolean {
  const wild = (x?: string) => !x || x === "*" || x === "0.0.0.0" || x === "::";
  return wild(a) || wild(b) || a === b;
}

function formatP(path: PathSeg[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}
