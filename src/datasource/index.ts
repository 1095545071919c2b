/** Named data sources (`<Resource type="javax.sql.DataSource">`) opened with drizzle-orm. */
export type { Dialect, SqlConnection } from "./drivers.ts";
export {
  createDataSources,
  DataSource,
  DataSources,
  type DataSourceScopes,
  type DataSourcesOptions,
  lookupDataSource,
  type ResourceConfig,
} from "./resources.ts";
