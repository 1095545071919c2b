/**
 * `<Manager>` attributes, with Tomcat's names and defaults, checked once at construction so a
 * typo or a wrong type stops start-up with a message naming the attribute.
 */
import { BobcatError } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import { defaultSerializer, Serializer } from "./serializer.ts";

/** `<SessionIdGenerator>` nested in `<Manager>`. */
export interface SessionIdGeneratorOptions {
  className?: string;
  sessionIdLength?: number;
  /** Accepted for server.xml parity; the Engine's jvmRoute always wins, as in Tomcat. */
  jvmRoute?: string;
}

/** The attributes every manager accepts (Tomcat's ManagerBase), plus what the context supplies. */
export interface ManagerOptions {
  className?: string;
  /** For logs and stores: `/<Engine>/<Host><context path>`, e.g. "/Catalina/localhost/app". */
  name?: string;
  /** The context's work directory; relative persistence paths resolve against it. */
  workDir?: string;
  maxActiveSessions?: number;
  sessionActivityCheck?: boolean;
  sessionLastAccessAtStart?: boolean;
  notifyAttributeListenerOnUnchangedValue?: boolean;
  notifyBindingListenerOnUnchangedValue?: boolean;
  processExpiresFrequency?: number;
  persistAuthentication?: boolean;
  sessionAttributeNameFilter?: string;
  sessionAttributeValueClassNameFilter?: string;
  warnOnSessionAttributeFilterFailure?: boolean;
  secureRandomClass?: string;
  secureRandomProvider?: string;
  secureRandomAlgorithm?: string;
  sessionIdGenerator?: SessionIdGeneratorOptions;
  /** The context's session timeout in minutes (web.xml `<session-timeout>`); <= 0 never expires. */
  sessionTimeoutMinutes?: number;
  /** `<distributable/>`: setAttribute of a value that cannot be serialized throws. */
  distributable?: boolean;
  /** Server-level STRICT_SERVLET_COMPLIANCE: the default of sessionActivityCheck and sessionLastAccessAtStart. */
  strictServletCompliance?: boolean;
  /** The Engine's jvmRoute, appended to session ids. */
  jvmRoute?: string;
  /** Clock in epoch milliseconds; tests pass a fake one. */
  now?: () => number;
  /** Registered classes for this context; defaults to the process-wide registry. */
  serializer?: Serializer;
}

/** An anchored regular expression, keeping the text the user wrote for log messages. */
export interface AttributeFilter {
  readonly pattern: string;
  matches(s: string): boolean;
}

export interface ManagerConfig {
  name: string;
  workDir: string | undefined;
  maxActiveSessions: number;
  sessionActivityCheck: boolean;
  sessionLastAccessAtStart: boolean;
  notifyAttributeListenerOnUnchangedValue: boolean;
  notifyBindingListenerOnUnchangedValue: boolean;
  processExpiresFrequency: number;
  persistAuthentication: boolean;
  sessionAttributeNameFilter: AttributeFilter | null;
  sessionAttributeValueClassNameFilter: AttributeFilter | null;
  warnOnSessionAttributeFilterFailure: boolean;
  /** The secureRandom* attributes that were set, for the start-up note. */
  secureRandom: Record<string, string>;
  sessionIdLength: number | undefined;
  sessionTimeoutMinutes: number;
  distributable: boolean;
  jvmRoute: string | null;
  now: () => number;
  serializer: Serializer;
}

const COMMON_KEYS = [
  "className",
  "name",
  "workDir",
  "maxActiveSessions",
  "sessionActivityCheck",
  "sessionLastAccessAtStart",
  "notifyAttributeListenerOnUnchangedValue",
  "notifyBindingListenerOnUnchangedValue",
  "processExpiresFrequency",
  "persistAuthentication",
  "sessionAttributeNameFilter",
  "sessionAttributeValueClassNameFilter",
  "warnOnSessionAttributeFilterFailure",
  "secureRandomClass",
  "secureRandomProvider",
  "secureRandomAlgorithm",
  "sessionIdGenerator",
  "sessionTimeoutMinutes",
  "distributable",
  "strictServletCompliance",
  "jvmRoute",
  "now",
  "serializer",
];

/** Attributes that exist in Tomcat but on another element, for a pointed error message. */
const ELSEWHERE: Record<string, string> = {
  pathname: "StandardManager",
  maxIdleBackup: "PersistentManager",
  maxIdleSwap: "PersistentManager",
  minIdleSwap: "PersistentManager",
  saveOnRestart: "PersistentManager",
  store: "PersistentManager (as its <Store>)",
  sessionIdLength: "<SessionIdGenerator> (manager.sessionIdGenerator.sessionIdLength)",
  sessionTimeout: "the Context (passed here as sessionTimeoutMinutes)",
};

// A jvmRoute ends up in a cookie value and a URL path parameter.
const ROUTE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

const log = logger("session");

/** Reads one options object, failing with the attribute's name and a fix. */
export class OptionReader {
  constructor(
    private readonly options: Record<string, unknown>,
    private readonly owner: string,
  ) {}

  fail(attribute: string, problem: string, fix?: string): never {
    throw new BobcatError("session.badAttribute", `${this.owner}: attribute [${attribute}] ${problem}`, {
      where: { attribute },
      fix,
    });
  }

  /** Every key must be one of `allowed`. */
  checkKeys(allowed: readonly string[]): void {
    for (const key of Object.keys(this.options)) {
      if (allowed.includes(key) || this.options[key] === undefined) continue;
      const home = ELSEWHERE[key];
      if (home) this.fail(key, `belongs to ${home}, not to ${this.owner.split(" ")[0]}`);
      const near = allowed.find((k) => k.toLowerCase() === key.toLowerCase());
      this.fail(
        key,
        "is not a known attribute",
        near ? `Did you mean [${near}]?` : `Known attributes: ${allowed.join(", ")}.`,
      );
    }
  }

  integer(key: string, fallback: number): number {
    const v = this.options[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v)) this.fail(key, `must be an integer, got ${show(v)}`);
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.options[key];
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") this.fail(key, `must be true or false, got ${show(v)}`);
    return v;
  }

  string(key: string): string | undefined {
    const v = this.options[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") this.fail(key, `must be a string, got ${show(v)}`);
    return v;
  }

  /** Anchored like Java's Matcher.matches(); empty means "no filter". */
  filter(key: string): AttributeFilter | null {
    const pattern = this.string(key);
    if (!pattern) return null;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${pattern})$`);
    } catch (err) {
      this.fail(
        key,
        `is not a valid regular expression: ${(err as Error).message}`,
        "Fix the pattern, or remove it to keep every attribute.",
      );
    }
    return { pattern, matches: (s) => re.test(s) };
  }

  value(key: string): unknown {
    return this.options[key];
  }
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/**
 * The common attributes. `kind` names the manager for messages, `classNames` are the className values
 * it answers to, and `ownKeys` are the attributes the subclass reads itself.
 */
export function resolveManagerOptions(
  options: ManagerOptions,
  kind: string,
  classNames: readonly string[],
  ownKeys: readonly string[],
): { config: ManagerConfig; reader: OptionReader } {
  if (typeof options !== "object" || options === null) {
    throw new BobcatError("session.badOptions", `${kind}: options must be an object`);
  }
  const raw = options as Record<string, unknown>;
  const name = typeof raw.name === "string" && raw.name ? raw.name : "/Catalina/localhost/";
  const r = new OptionReader(raw, `${kind} ${name}`);
  r.checkKeys([...COMMON_KEYS, ...ownKeys]);
  r.string("name");

  const className = r.string("className");
  if (className !== undefined && !classNames.includes(className)) {
    r.fail(
      "className",
      `is [${className}], which ${kind} does not implement`,
      `Use ${classNames.join(" or ")}, or construct the manager that className names.`,
    );
  }

  const strict = r.boolean("strictServletCompliance", false);
  let processExpiresFrequency = r.integer("processExpiresFrequency", 6);
  if (processExpiresFrequency <= 0) {
    log.warn(`${kind} ${name}: processExpiresFrequency [${processExpiresFrequency}] must be at least 1; using 6`);
    processExpiresFrequency = 6;
  }

  const secureRandom: Record<string, string> = {};
  for (const key of ["secureRandomClass", "secureRandomProvider", "secureRandomAlgorithm"]) {
    const v = r.string(key);
    if (v !== undefined) secureRandom[key] = v;
  }

  const jvmRoute = r.string("jvmRoute") || null;
  if (jvmRoute && !ROUTE.test(jvmRoute)) {
    r.fail(
      "jvmRoute",
      `[${jvmRoute}] contains characters that cannot appear in a session cookie`,
      "Use letters, digits, '-' and '_'.",
    );
  }

  const now = r.value("now") ?? Date.now;
  if (typeof now !== "function") r.fail("now", "must be a function returning epoch milliseconds");
  const serializer = r.value("serializer") ?? defaultSerializer;
  if (!(serializer instanceof Serializer)) r.fail("serializer", "must be a Serializer");

  const config: ManagerConfig = {
    name,
    workDir: r.string("workDir"),
    maxActiveSessions: r.integer("maxActiveSessions", -1),
    sessionActivityCheck: r.boolean("sessionActivityCheck", strict),
    sessionLastAccessAtStart: r.boolean("sessionLastAccessAtStart", strict),
    notifyAttributeListenerOnUnchangedValue: r.boolean("notifyAttributeListenerOnUnchangedValue", true),
    notifyBindingListenerOnUnchangedValue: r.boolean("notifyBindingListenerOnUnchangedValue", false),
    processExpiresFrequency,
    persistAuthentication: r.boolean("persistAuthentication", false),
    sessionAttributeNameFilter: r.filter("sessionAttributeNameFilter"),
    sessionAttributeValueClassNameFilter: r.filter("sessionAttributeValueClassNameFilter"),
    warnOnSessionAttributeFilterFailure: r.boolean("warnOnSessionAttributeFilterFailure", false),
    secureRandom,
    sessionIdLength: resolveIdGenerator(r, `${kind} ${name}`, jvmRoute),
    sessionTimeoutMinutes: r.integer("sessionTimeoutMinutes", 30),
    distributable: r.boolean("distributable", false),
    jvmRoute,
    now: now as () => number,
    serializer: serializer as Serializer,
  };
  return { config, reader: r };
}

function resolveIdGenerator(parent: OptionReader, owner: string, engineRoute: string | null): number | undefined {
  const v = parent.value("sessionIdGenerator");
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object") parent.fail("sessionIdGenerator", "must be an object such as { sessionIdLength: 16 }");
  const r = new OptionReader(v as Record<string, unknown>, `SessionIdGenerator of ${owner}`);
  r.checkKeys(["className", "sessionIdLength", "jvmRoute"]);
  const className = r.string("className");
  if (
    className !== undefined &&
    !["StandardSessionIdGenerator", "org.apache.catalina.util.StandardSessionIdGenerator"].includes(className)
  ) {
    r.fail("className", `is [${className}]; only StandardSessionIdGenerator is available`);
  }
  const route = r.string("jvmRoute");
  if (route) {
    // Tomcat's ManagerBase.startInternal overwrites it with the Engine's route: say so instead of silently dropping it.
    log.warn(
      `${owner}: <SessionIdGenerator jvmRoute="${route}"> is replaced by the Engine's jvmRoute [${
        engineRoute ?? ""
      }]; set jvmRoute on the Engine`,
    );
  }
  const length = r.value("sessionIdLength");
  if (length !== undefined && typeof length !== "number") {
    r.fail("sessionIdLength", `must be a number, got ${show(length)}`);
  }
  return length as number | undefined;
}
