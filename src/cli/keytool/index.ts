/** `bobcat keytool`'s entry point for the CLI. */
export { type KeytoolIO, keytoolMain } from "./main.ts";
