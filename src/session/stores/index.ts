/** The `<Store>` implementations and how config builds one from its attributes. */
import { BobcatError } from "../../util/errors.ts";
import { DataSourceStore, type DataSourceStoreOptions } from "./data-source-store.ts";
import { FileStore, type FileStoreOptions } from "./file-store.ts";
import type { LifecycleStore, StoreContext } from "./store-base.ts";

export { applicationName, DataSourceStore, type DataSourceStoreOptions, initStoreTable } from "./data-source-store.ts";
export { FileStore, type FileStoreOptions } from "./file-store.ts";
export { createTableSql, DEFAULT_TABLE_NAMES, type SessionTableNames } from "./session-table.ts";
export { type LifecycleStore, StoreBase, type StoreContext, StoreUnavailableError } from "./store-base.ts";

/** A `<Store>` element's attributes; `className` picks the implementation. */
export type StoreOptions = (FileStoreOptions | DataSourceStoreOptions) & { className: string };

const FILE_STORE = ["FileStore", "org.apache.catalina.session.FileStore"];
const DATA_SOURCE_STORE = ["DataSourceStore", "org.apache.catalina.session.DataSourceStore"];

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
  if (typeof className === "string" && FILE_STORE.includes(className)) return new FileStore(options, context);
  if (typeof className === "string" && DATA_SOURCE_STORE.includes(className)) return new DataSourceStore(options, context);
  if (className === "org.apache.catalina.session.JDBCStore" || className === "JDBCStore") {
    throw new BobcatError("session.noStoreClass", `${owner}: JDBCStore was removed in Tomcat 10; use DataSourceStore`, {
      where: { attribute: "className" },
      fix: "Define the database as a resource { name, type: DataSource, url } and set className: DataSourceStore, dataSourceName: <that name>.",
    });
  }
  throw new BobcatError(
    "session.noStoreClass",
    className === undefined ? `${owner}: className is required` : `${owner}: className [${String(className)}] is not a known store`,
    { where: { attribute: "className" }, fix: "Use FileStore (files in the work directory) or DataSourceStore (a database table)." },
  );
}
