/** Named data sources (`<Resource type="javax.sql.DataSource">`) opened with drizzle-orm, as a server opens them. */
import type { SqlConnection } from "./drivers.ts";
import {
  type DataSources,
  type DataSourcesOptions,
  type DataSourceSpec,
  makeDataSources,
  type ResourceConfig,
} from "./resources.ts";

export type { Dialect, SqlConnection } from "./drivers.ts";
export {
  DataSource,
  type DataSourceOpener,
  DataSources,
  type DataSourceScopes,
  type DataSourcesOptions,
  type DataSourceSpec,
  lookupDataSource,
  makeDataSources,
  type ResourceConfig,
} from "./resources.ts";

/**
 * Validates `<Resource>` entries and makes the data sources among them, with every driver (nothing is
 * opened yet). The drivers' code (src/datasource/open.ts, drivers.ts) is imported when a data source
 * is first opened: a server without one never loads it.
 */
export function createDataSources(resources: readonly ResourceConfig[], options: DataSourcesOptions = {}): DataSources {
  return makeDataSources(resources, options, openOnDemand);
}

function openOnDemand(spec: DataSourceSpec): Promise<SqlConnection> {
  return import("./open.ts").then((m) => m.openServerDataSource(spec));
}
