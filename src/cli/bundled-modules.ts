/**
 * The packages the single executable lends to handler modules. `bun build --compile` bundles
 * hono (bobcat's built-in apps use it) and bobcat's own API; a handler module beside the
 * executable that imports `hono`, one of the `hono/...` entry points below, `bobcat` or `bobcat/edge` gets
 * these copies through Bun runtime virtual modules, whether or not a node_modules is near it.
 * Anything else it imports resolves from its own node_modules (the executable is built with
 * --compile-autoload-package-json so that packages there resolve as under `bun`).
 *
 * Only the executable's entry (exe-main.ts) imports this module: from a checkout, handler
 * modules resolve these names from node_modules as usual. Each copy is imported when a handler
 * module first asks for it, not at start-up (start-up evaluates only what serving needs).
 */
/** Bare specifier → the bundled module, imported on first use. */
export const BUNDLED_MODULES: Readonly<Record<string, () => Promise<Record<string, unknown>>>> = {
  bobcat: () => import("../../mod.ts"),
  "bobcat/edge": () => import("../../edge.ts"),
  hono: () => import("hono"),
  "hono/accepts": () => import("hono/accepts"),
  "hono/adapter": () => import("hono/adapter"),
  "hono/basic-auth": () => import("hono/basic-auth"),
  "hono/bearer-auth": () => import("hono/bearer-auth"),
  "hono/body-limit": () => import("hono/body-limit"),
  "hono/bun": () => import("hono/bun"),
  "hono/cache": () => import("hono/cache"),
  "hono/client": () => import("hono/client"),
  "hono/combine": () => import("hono/combine"),
  "hono/compress": () => import("hono/compress"),
  "hono/conninfo": () => import("hono/conninfo"),
  "hono/context-storage": () => import("hono/context-storage"),
  "hono/cookie": () => import("hono/cookie"),
  "hono/cors": () => import("hono/cors"),
  "hono/csrf": () => import("hono/csrf"),
  "hono/css": () => import("hono/css"),
  "hono/etag": () => import("hono/etag"),
  "hono/factory": () => import("hono/factory"),
  "hono/html": () => import("hono/html"),
  "hono/http-exception": () => import("hono/http-exception"),
  "hono/ip-restriction": () => import("hono/ip-restriction"),
  "hono/jsx": () => import("hono/jsx"),
  "hono/jsx/jsx-dev-runtime": () => import("hono/jsx/jsx-dev-runtime"),
  "hono/jsx-renderer": () => import("hono/jsx-renderer"),
  "hono/jsx/jsx-runtime": () => import("hono/jsx/jsx-runtime"),
  "hono/jsx/streaming": () => import("hono/jsx/streaming"),
  "hono/jwk": () => import("hono/jwk"),
  "hono/jwt": () => import("hono/jwt"),
  "hono/language": () => import("hono/language"),
  "hono/logger": () => import("hono/logger"),
  "hono/method-override": () => import("hono/method-override"),
  "hono/powered-by": () => import("hono/powered-by"),
  "hono/pretty-json": () => import("hono/pretty-json"),
  "hono/proxy": () => import("hono/proxy"),
  "hono/quick": () => import("hono/quick"),
  "hono/request-id": () => import("hono/request-id"),
  "hono/route": () => import("hono/route"),
  "hono/secure-headers": () => import("hono/secure-headers"),
  "hono/streaming": () => import("hono/streaming"),
  "hono/timing": () => import("hono/timing"),
  "hono/timeout": () => import("hono/timeout"),
  "hono/tiny": () => import("hono/tiny"),
  "hono/trailing-slash": () => import("hono/trailing-slash"),
  "hono/validator": () => import("hono/validator"),
};

declare const Bun: {
  plugin(
    p: {
      name: string;
      setup(
        build: {
          module(
            specifier: string,
            load: () => Promise<{ exports: Record<string, unknown>; loader: "object" }>,
          ): unknown;
        },
      ): void;
    },
  ): unknown;
};

/** Makes `import ... from "hono"` (etc.) in any module loaded later resolve to the bundled copy. */
export function registerBundledModules(): void {
  Bun.plugin({
    name: "bobcat-bundled-modules",
    setup(build) {
      for (const [specifier, load] of Object.entries(BUNDLED_MODULES)) {
        build.module(specifier, async () => ({ exports: await load(), loader: "object" }));
      }
    },
  });
}
