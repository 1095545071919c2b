/**
 * node:crypto, loaded on first use. Importing it costs Bun about 2.5 MiB of resident memory
 * (its JavaScript module and the native code behind it; bench/startup.ts --smaps), and serving
 * a PEM certificate needs none of it: the modules on the start-up path (sessions, realms,
 * keystores, SNI, the Bun back-end) reach it through here, so it loads only when a feature
 * that uses it does (hashing passwords, encrypted keys, keystores, chain signatures, …).
 * process.getBuiltinModule is synchronous on Bun, Deno and Node.
 */
import type * as NodeCrypto from "node:crypto";

let loaded: typeof NodeCrypto | undefined;

export function nodeCrypto(): typeof NodeCrypto {
  return (loaded ??= process.getBuiltinModule("node:crypto") as typeof NodeCrypto);
}
