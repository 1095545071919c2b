/**
 * The one way bobcat loads @peculiar/x509. Its dependency injection container (tsyringe)
 * refuses to load without the `reflect-metadata` API, which neither Bun nor Deno provides and
 * which is not a project dependency; the few calls it makes are served by reflect-metadata.ts.
 * The import is dynamic because Bun evaluates a required CommonJS package before the static
 * imports listed ahead of it, so a plain `import "./reflect-metadata.ts"` would come too late.
 * Values come from here; types may be imported from "@peculiar/x509" directly (they are erased).
 */
import "./reflect-metadata.ts";
import type * as X509 from "@peculiar/x509";

export const x509: typeof X509 = await import("@peculiar/x509");
