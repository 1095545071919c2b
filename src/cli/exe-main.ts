/**
 * Entry of the single executable (`bun build.ts`, i.e. `bun build --compile`): lends the bundled
 * hono and bobcat to handler modules, then runs the CLI.
 */
import { registerBundledModules } from "./bundled-modules.ts";
import { main } from "./main.ts";

registerBundledModules();
main(process.argv.slice(2)).then((code) => process.exit(code));
