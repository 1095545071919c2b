/**
 * The session layer's settings come from the config schema (src/config/schema.ts): the
 * `<Manager>`, `<Store>` and `<SessionIdGenerator>` definitions there give every attribute, its
 * type, range and default, for config files and for code alike. Managers and stores take the
 * typed, fully defaulted objects (src/config/model.ts). `managerConfig` and `storeConfig` make
 * them from the attributes a script writes (any subset), through the validator the config
 * loader uses, so the defaults and checks exist once. Adding an attribute to the schema is all
 * it takes for it to reach a manager or store as `config.<name>`.
 *
 * Besides its attributes, a manager gets what its Context, Host, Engine and Server supply
 * (`ManagerContext`): its name, work directory, session timeout, `<distributable/>`, the
 * Engine's jvmRoute, STRICT_SERVLET_COMPLIANCE, and for code a clock and a serializer.
 */
import type { ManagerConfig, PersistentManagerConfig, StandardManagerConfig, StoreConfig } from "../config/model.ts";
import { Context, Manager, namesJavaClasses, Server, Store } from "../config/schema.ts";
import type { ElementDef, Infer } from "../config/schema-types.ts";
import { Validator } from "../config/validate.ts";
import { fromJavaRegex } from "../config/proxy-defaults.ts";
import type { DataSourceScopes } from "../datasource/resources.ts";
import { BobcatError, BobcatErrors } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import { defaultSerializer, type Serializer } from "./serializer.ts";
import type { Store as SessionStore } from "./store.ts";

export type {
  DataSourceStoreConfig,
  FileStoreConfig,
  ManagerConfig,
  PersistentManagerConfig,
  RedisStoreConfig,
  SessionIdGeneratorConfig,
  StandardManagerConfig,
  StoreConfig,
} from "../config/model.ts";

/** What a manager gets from its context rather than from `<Manager>` attributes. */
export interface ManagerContext {
  /** For logs and stores: `/<Engine>/<Host><context path>`, e.g. "/Catalina/localhost/app". */
  name?: string;
  /** The context's work directory; relative persistence paths resolve against it. */
  workDir?: string;
  /** The context's session timeout in minutes (Context `sessionTimeout`); <= 0 never expires. */
  sessionTimeoutMinutes?: number;
  /** Context `<distributable/>`: setAttribute of a value that cannot be serialized throws. */
  distributable?: boolean;
  /** Server STRICT_SERVLET_COMPLIANCE: the default of sessionActivityCheck and sessionLastAccessAtStart. */
  strictServletCompliance?: boolean;
  /** The Engine's jvmRoute, appended to session ids. */
  jvmRoute?: string;
  /** Clock in epoch milliseconds; tests pass a fake one. */
  now?: () => number;
  /** Registered classes for this context; defaults to the process-wide serializer. */
  serializer?: Serializer;
  /** PersistentManager: where a DataSourceStore finds its data source. */
  dataSources?: DataSourceScopes;
  /** consistency shared: what two concurrent changes of one attribute do (shared-manager.ts). */
  sameAttributeConflicts?: "merge" | "refuse";
}

/** Constructor options for code: attributes and context in one object. */
export type StandardManagerOptions = Attributes<StandardManagerConfig> & ManagerContext;
export type PersistentManagerOptions =
  & Attributes<Omit<PersistentManagerConfig, "store">>
  & ManagerContext
  & {
    /** The `<Store>`: a store object, or its attributes ({ className: FileStore | DataSourceStore, ... }). */
    store?: SessionStore | (StoreAttributes & { className: string });
  };

/** What a store gets from its manager and context. */
export interface StoreContext {
  /** The context's work directory (FileStore's relative directory resolves against it). */
  workDir?: string;
  /** Global and context data sources (DataSourceStore's dataSourceName is looked up there). */
  dataSources?: DataSourceScopes;
  /** The manager's name, `/Engine/Host/context`, for error messages. */
  name?: string;
  /** The length of the manager's session ids: the CREATE TABLE DataSourceStore suggests fits them. */
  sessionIdChars?: number;
}

/** Context defaults, from the schema too (Context and Server attributes). */
export const CONTEXT_DEFAULTS = {
  sessionTimeoutMinutes: Context.attrs.sessionTimeout.default,
  distributable: Context.attrs.distributable.default,
  strictServletCompliance: Server.attrs.strictServletCompliance.default,
} as const;

/** Attributes as a script writes them: any subset, class names short or long. */
export type Attributes<T> = T extends unknown ? { [K in keyof T]?: K extends "className" ? string : Attributes1<T[K]> }
  : never;
type Attributes1<V> = V extends readonly unknown[] ? V : V extends object ? Attributes<V> : V;

export type ManagerAttributes = Attributes<ManagerConfig>;
export type StoreAttributes = Attributes<StoreConfig>;

/**
 * A `<Manager>`'s full config from the attributes given (none: a StandardManager with Tomcat's
 * defaults). Throws a BobcatError naming the attribute when one is unknown, mistyped or out
 * of range.
 */
export function managerConfig(
  attributes: Attributes<PersistentManagerConfig> & {
    className: "PersistentManager" | "org.apache.catalina.session.PersistentManager";
  },
): PersistentManagerConfig;
export function managerConfig(
  attributes?: Attributes<StandardManagerConfig> & {
    className?: "StandardManager" | "org.apache.catalina.session.StandardManager";
  },
): StandardManagerConfig;
export function managerConfig(attributes?: ManagerAttributes): ManagerConfig;
export function managerConfig(attributes: ManagerAttributes = {}): ManagerConfig {
  return fromSchema(Manager, attributes, "Manager");
}

/** A `<Store>`'s full config from its attributes (`className` is required). */
export function storeConfig(attributes: StoreAttributes & { className: string }): StoreConfig {
  return fromSchema(Store, attributes, "Store");
}

function fromSchema<E extends ElementDef>(def: E, attributes: object, what: string): Infer<E> {
  if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes)) {
    throw new BobcatError("session.badOptions", `${what}: attributes must be an object such as { className: ... }`);
  }
  const v = new Validator({ file: "", format: "yaml", data: attributes, locate: () => undefined }, "/");
  const out = v.validate(def, attributes, []);
  const errors = v.errors.map((e) => {
    const where = { ...e.where, file: undefined };
    const storeClass = e.code === "config.unknownClass" && (what === "Store" || /^store\b/.test(where.path ?? ""));
    return new BobcatError(storeClass ? "session.noStoreClass" : "session.badAttribute", e.message, {
      where,
      fix: e.fix,
      cause: e,
    });
  });
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new BobcatErrors(errors, `${what}: problems in the attributes`);
  return out;
}

export function isStore(value: unknown): value is SessionStore {
  const s = value as Partial<SessionStore> | null;
  return !!s && typeof s.load === "function" && typeof s.save === "function" && typeof s.remove === "function";
}

type Kind = ManagerConfig["className"];

/**
 * A manager's config and context from its constructor arguments: either the validated config
 * and the context (servers: the config loader checked it already), or one options object for
 * code, whose attributes go through `managerConfig`.
 */
export function managerArguments<K extends Kind>(
  kind: K,
  options: object,
  context: ManagerContext | undefined,
): { config: Extract<ManagerConfig, { className: K }>; context: ManagerContext; store?: SessionStore } {
  let config: ManagerConfig;
  let store: SessionStore | undefined;
  if (context) {
    config = options as ManagerConfig;
  } else {
    if (typeof options !== "object" || options === null) {
      throw new BobcatError("session.badOptions", `${kind}: options must be an object`);
    }
    const attributes: Record<string, unknown> = { className: kind };
    const ctx: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) {
      if (v === undefined) continue;
      if (k === "store" && isStore(v)) store = v;
      else if (Object.hasOwn(CONTEXT_KEYS, k)) ctx[k] = v;
      else attributes[k] = v;
    }
    context = ctx;
    const owner = `${kind} ${context.name ?? DEFAULT_NAME}`;
    try {
      config = managerConfig(attributes);
    } catch (e) {
      throw e instanceof BobcatError ? new BobcatError(e.code, `${owner}: ${e.message}`, e) : e;
    }
  }
  if (config.className !== kind) {
    throw new BobcatError(
      "session.badAttribute",
      `${kind} ${context.name ?? DEFAULT_NAME}: className is [${config.className}], which ${kind} does not implement`,
      { where: { attribute: "className" }, fix: `Construct the manager that className names.` },
    );
  }
  return { config: config as Extract<ManagerConfig, { className: K }>, context, store };
}

export const DEFAULT_NAME = "/Catalina/localhost/";

/** An anchored regular expression, keeping the text the user wrote for log messages. */
export interface AttributeFilter {
  readonly pattern: string;
  matches(s: string): boolean;
}

/** What every manager works with: its `<Manager>` config and its context, resolved. */
export interface ManagerSettings<C extends ManagerConfig = ManagerConfig> {
  config: C;
  name: string;
  workDir: string | undefined;
  sessionActivityCheck: boolean;
  sessionLastAccessAtStart: boolean;
  sessionAttributeNameFilter: AttributeFilter | null;
  sessionAttributeValueClassNameFilter: AttributeFilter | null;
  /** The secureRandom* attributes that were set, for the start-up note. */
  secureRandom: Record<string, string>;
  sessionTimeoutMinutes: number;
  distributable: boolean;
  jvmRoute: string | null;
  now: () => number;
  serializer: Serializer;
}

// A jvmRoute ends up in a cookie value and a URL path parameter.
const ROUTE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

const log = logger("session");

/** The config's own values plus the context's, with the context's defaults from the schema. */
export function managerSettings<C extends ManagerConfig>(config: C, context: ManagerContext): ManagerSettings<C> {
  const name = context.name || DEFAULT_NAME;
  const owner = `${config.className} ${name}`;
  const strict = context.strictServletCompliance ?? CONTEXT_DEFAULTS.strictServletCompliance;
  const jvmRoute = context.jvmRoute || null;
  if (jvmRoute && !ROUTE.test(jvmRoute)) {
    throw new BobcatError(
      "session.badAttribute",
      `${owner}: attribute [jvmRoute] [${jvmRoute}] contains characters that cannot appear in a session cookie`,
      { where: { attribute: "jvmRoute" }, fix: "Use letters, digits, '-' and '_'." },
    );
  }
  const route = config.sessionIdGenerator.jvmRoute;
  if (route) {
    // Tomcat's ManagerBase.startInternal overwrites it with the Engine's route: say so instead of silently dropping it.
    log.warn(
      `${owner}: <SessionIdGenerator jvmRoute="${route}"> is replaced by the Engine's jvmRoute [${
        jvmRoute ?? ""
      }]; set jvmRoute on the Engine`,
    );
  }
  const types = config.sessionAttributeValueClassNameFilter;
  if (types && namesJavaClasses(types)) {
    log.warn(
      `${owner}: sessionAttributeValueClassNameFilter "${types}" names Java classes; bobcat matches its own type names (String, Number, Boolean, Object, Map, Date, a registered class), so no attribute would be persisted: rewrite it`,
    );
  }
  const secureRandom: Record<string, string> = {};
  for (const key of ["secureRandomClass", "secureRandomProvider", "secureRandomAlgorithm"] as const) {
    const v = config[key];
    if (v !== undefined) secureRandom[key] = v;
  }
  return {
    config,
    name,
    workDir: context.workDir,
    sessionActivityCheck: config.sessionActivityCheck ?? strict,
    sessionLastAccessAtStart: config.sessionLastAccessAtStart ?? strict,
    sessionAttributeNameFilter: filter(config.sessionAttributeNameFilter),
    sessionAttributeValueClassNameFilter: filter(config.sessionAttributeValueClassNameFilter),
    secureRandom,
    sessionTimeoutMinutes: context.sessionTimeoutMinutes ?? CONTEXT_DEFAULTS.sessionTimeoutMinutes,
    distributable: context.distributable ?? CONTEXT_DEFAULTS.distributable,
    jvmRoute,
    now: context.now ?? Date.now,
    serializer: context.serializer ?? defaultSerializer,
  };
}

/** Anchored like Java's Matcher.matches(); empty means "no filter". The schema checked the syntax. */
function filter(pattern: string | undefined): AttributeFilter | null {
  if (!pattern) return null;
  const re = new RegExp(`^(?:${fromJavaRegex(pattern)})$`);
  return { pattern, matches: (s) => re.test(s) };
}

const CONTEXT_KEYS: Record<keyof ManagerContext, true> = {
  name: true,
  workDir: true,
  sessionTimeoutMinutes: true,
  distributable: true,
  strictServletCompliance: true,
  jvmRoute: true,
  now: true,
  serializer: true,
  dataSources: true,
  sameAttributeConflicts: true,
};
