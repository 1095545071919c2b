/**
 * @peculiar/x509 on demand: start-up does without it (see cert-info.ts), and code that needs it
 * synchronously on a request (SSLValve) loads it while its context starts.
 */
import type * as X509 from "@peculiar/x509";

let loaded: typeof X509 | undefined;

export async function loadX509(): Promise<typeof X509> {
  return loaded ??= (await import("./x509.ts")).x509;
}

/** The module, once loadX509() has finished (a programming error otherwise). */
export function x509Loaded(): typeof X509 {
  if (!loaded) throw new Error("@peculiar/x509 is used before loadX509() finished");
  return loaded;
}
