/**
 * Builds the `<Store>` a config describes, from the store classes this program has. It holds no
 * server state: the table says which implementations were loaded. DataSourceStore is always
 * here; FileStore joins when src/session/stores/index.ts is loaded (servers). Edge runtimes,
 * which have no files, never load it, so a FileStore there is a clear error.
 */
import { BobcatError } from "../../util/errors.ts";
import { DataSourceStore, type DataSourceStoreOptions } from "./data-source-store.ts";
import type { FileStoreOptions } from "./file-store.ts";
import type { RedisStoreOptions } from "./redis-store.ts";
import type { LifecycleStore, StoreContext } from "./store-base.ts";

/** A `<Store>` element's attributes; `className` picks the implementation. */
export type StoreOptions = (FileStoreOptions | DataSourceStoreOptions | RedisStoreOptions) & { className: string };

type StoreClass = (options: StoreOptions, context: StoreContext) => LifecycleStore;

export const FILE_STORE = ["FileStore", "org.apache.catalina.session.FileStore"];
const DATA_SOURCE_STORE = ["DataSourceStore", "org.apache.catalina.session.DataSourceStore"];

export const REDIS_STORE = ["RedisStore", "org.apache.catalina.session.RedisStore"];

const classes = new Map<string, StoreClass>(DATA_SOURCE_STORE.map((n) => [n, (o, c) => new DataSourceStore(o, c)]));

/** Makes a store implementation available under its class names. */
export function registerStoreClass(names: readonly string[], make: StoreClass): void {
  for (const n of names) classes.set(n, make);
}

/**
 * Builds the store a `<Store>` element describes. Throws a BobcatError (`session.badAttribute`,
 * `session.noStoreClass`, `store.noDataSource`) naming the attribute on bad configuration.
 */
export function createStore(options: StoreOptions, context: StoreContext = {}): LifecycleStore {
  const owner = `<Store> of ${context.name ?? "the context"}`;
  if (typeof options !== "object" || options === null) {
    throw new BobcatError("session.badOptions", `${owner}: must be an object such as { className: FileStore }`);
  }
  const className = options.className;
  const make = typeof className === "string" ? classes.get(className) : undefined;
  if (make) return make(options, context);
  if (className === "org.apache.catalina.session.JDBCStore" || className === "JDBCStore") {
    throw new BobcatError("session.noStoreClass", `${owner}: JDBCStore was removed in Tomcat 10; use DataSourceStore`, {
      where: { attribute: "className" },
      fix:
        "Define the database as a resource { name, type: DataSource, url } and set className: DataSourceStore, dataSourceName: <that name>.",
    });
  }
  if (typeof className === "string" && FILE_STORE.includes(className)) {
    throw new BobcatError(
      "session.noStoreClass",
      `${owner}: FileStore keeps sessions in files, and there is no file system here (an edge runtime)`,
      {
        where: { attribute: "className" },
        fix:
          "Use className: DataSourceStore with a postgres:// resource, or StandardManager (sessions in this isolate's memory).",
      },
    );
  }
  throw new BobcatError(
    "session.noStoreClass",
    className === undefined
      ? `${owner}: className is required`
      : `${owner}: className [${String(className)}] is not a known store`,
    {
      where: { attribute: "className" },
      fix:
        "Use FileStore (files in the work directory), DataSourceStore (a database table) or RedisStore (Redis/Valkey).",
    },
  );
}
