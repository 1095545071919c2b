/**
 * The packages the single executable lends to handler modules. `bun build --compile` bundles
 * hono (bobcat's built-in apps use it) and bobcat's own API; a handler module beside the
 * executable that imports `hono`, one of the `hono/...` entry points below, `bobcat` or `bobcat/edge` gets
 * these copies through Bun runtime virtual modules, whether or not a node_modules is near it.
 * Anything else it imports resolves from its own node_modules (the executable is built with
 * --compile-autoload-package-json so that packages there resolve as under `bun`).
 *
 * Only the executable's entry (exe-main.ts) imports this module: from a checkout, handler
 * modules resolve these names from node_modules as usual.
 */
import * as bobcat from "../../mod.ts";
import * as bobcatEdge from "../../edge.ts";
import * as hono from "hono";
import * as honoAccepts from "hono/accepts";
import * as honoAdapter from "hono/adapter";
import * as honoBasicAuth from "hono/basic-auth";
import * as honoBearerAuth from "hono/bearer-auth";
import * as honoBodyLimit from "hono/body-limit";
import * as honoBun from "hono/bun";
import * as honoCache from "hono/cache";
import * as honoClient from "hono/client";
import * as honoCombine from "hono/combine";
import * as honoCompress from "hono/compress";
import * as honoConninfo from "hono/conninfo";
import * as honoContextStorage from "hono/context-storage";
import * as honoCookie from "hono/cookie";
import * as honoCors from "hono/cors";
import * as honoCsrf from "hono/csrf";
import * as honoCss from "hono/css";
import * as honoEtag from "hono/etag";
import * as honoFactory from "hono/factory";
import * as honoHtml from "hono/html";
import * as honoHttpException from "hono/http-exception";
import * as honoIpRestriction from "hono/ip-restriction";
import * as honoJsx from "hono/jsx";
import * as honoJsxDevRuntime from "hono/jsx/jsx-dev-runtime";
import * as honoJsxRenderer from "hono/jsx-renderer";
import * as honoJsxRuntime from "hono/jsx/jsx-runtime";
import * as honoJsxStreaming from "hono/jsx/streaming";
import * as honoJwk from "hono/jwk";
import * as honoJwt from "hono/jwt";
import * as honoLanguage from "hono/language";
import * as honoLogger from "hono/logger";
import * as honoMethodOverride from "hono/method-override";
import * as honoPoweredBy from "hono/powered-by";
import * as honoPrettyJson from "hono/pretty-json";
import * as honoProxy from "hono/proxy";
import * as honoQuick from "hono/quick";
import * as honoRequestId from "hono/request-id";
import * as honoRoute from "hono/route";
import * as honoSecureHeaders from "hono/secure-headers";
import * as honoStreaming from "hono/streaming";
import * as honoTiming from "hono/timing";
import * as honoTimeout from "hono/timeout";
import * as honoTiny from "hono/tiny";
import * as honoTrailingSlash from "hono/trailing-slash";
import * as honoValidator from "hono/validator";

/** Bare specifier → the bundled module's exports. */
export const BUNDLED_MODULES: Readonly<Record<string, Record<string, unknown>>> = {
  bobcat,
  "bobcat/edge": bobcatEdge,
  hono,
  "hono/accepts": honoAccepts,
  "hono/adapter": honoAdapter,
  "hono/basic-auth": honoBasicAuth,
  "hono/bearer-auth": honoBearerAuth,
  "hono/body-limit": honoBodyLimit,
  "hono/bun": honoBun,
  "hono/cache": honoCache,
  "hono/client": honoClient,
  "hono/combine": honoCombine,
  "hono/compress": honoCompress,
  "hono/conninfo": honoConninfo,
  "hono/context-storage": honoContextStorage,
  "hono/cookie": honoCookie,
  "hono/cors": honoCors,
  "hono/csrf": honoCsrf,
  "hono/css": honoCss,
  "hono/etag": honoEtag,
  "hono/factory": honoFactory,
  "hono/html": honoHtml,
  "hono/http-exception": honoHttpException,
  "hono/ip-restriction": honoIpRestriction,
  "hono/jsx": honoJsx,
  "hono/jsx/jsx-dev-runtime": honoJsxDevRuntime,
  "hono/jsx-renderer": honoJsxRenderer,
  "hono/jsx/jsx-runtime": honoJsxRuntime,
  "hono/jsx/streaming": honoJsxStreaming,
  "hono/jwk": honoJwk,
  "hono/jwt": honoJwt,
  "hono/language": honoLanguage,
  "hono/logger": honoLogger,
  "hono/method-override": honoMethodOverride,
  "hono/powered-by": honoPoweredBy,
  "hono/pretty-json": honoPrettyJson,
  "hono/proxy": honoProxy,
  "hono/quick": honoQuick,
  "hono/request-id": honoRequestId,
  "hono/route": honoRoute,
  "hono/secure-headers": honoSecureHeaders,
  "hono/streaming": honoStreaming,
  "hono/timing": honoTiming,
  "hono/timeout": honoTimeout,
  "hono/tiny": honoTiny,
  "hono/trailing-slash": honoTrailingSlash,
  "hono/validator": honoValidator,
};

declare const Bun: {
  plugin(
    p: {
      name: string;
      setup(
        build: {
          module(specifier: string, load: () => { exports: Record<string, unknown>; loader: "object" }): unknown;
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
      for (const [specifier, exports] of Object.entries(BUNDLED_MODULES)) {
        build.module(specifier, () => ({ exports, loader: "object" }));
      }
    },
  });
}
