/** Named data sources (`<Resource type="javax.sql.DataSource">`) opened with drizzle-orm, as a server opens them. */
import { openServerDataSource } from "./open.ts";
import { type DataSources, type DataSourcesOptions, makeDataSources, type ResourceConfig } from "./resources.ts";

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

/** Validates `<Resource>` entries and makes the data sources among them, with every driver (nothing is opened yet). */
export function createDataSources(resources: readonly ResourceConfig[], options: DataSourcesOptions = {}): DataSources {
  return makeDataSources(resources, options, openServerDataSource);
}
