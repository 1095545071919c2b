/** Kept in step with package.json by `bun build.ts`; read at run time by `bobcat version`. */
export const VERSION = "0.1.0";
