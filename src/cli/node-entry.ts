/**
 * Entry of the Node bundle (`bun build.ts --node`; Node has no import.meta.main) and of
 * dist-lib/cli.js, which Deno runs: arguments and exit through src/util/host/proc.ts, not
 * `process`, which would load Deno's Node layer.
 */
import { main } from "./main.ts";
import { args, exit } from "../util/host/proc.ts";

main(args()).then((code) => exit(code));
