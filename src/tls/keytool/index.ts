/** `bobcat keytool`'s entry point for the CLI. */
export { keytoolMain, type KeytoolIO } from "./main.ts";
