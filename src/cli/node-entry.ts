/** Entry of the Node bundle (`bun build.ts --node`): Node has no import.meta.main. */
import { main } from "./main.ts";

main(process.argv.slice(2)).then((code) => process.exit(code));
