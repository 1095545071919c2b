/**
 * Entry of the single executable (`bun build.ts`, i.e. `bun build --compile`): lends the bundled
 * hono and bobcat to handler modules, then runs the CLI.
 */
import { registerBundledModules } from "./bundled-modules.ts";
import { main } from "./main.ts";
import { args, exit } from "../util/host/proc.ts";

registerBundledModules();
main(args()).then((code) => exit(code));
