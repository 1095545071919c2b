/**
 * Imported first by the CLI (src/cli/main.ts) so that the start-up JIT policy holds before the
 * rest of bobcat's modules are evaluated (see src/util/jit-policy.ts). The single executable has
 * the same policy baked in as well (build.ts, compile.jitPolicy), from before any module loads.
 */
import { setJitPolicy, STARTUP_JIT_POLICY } from "../util/jit-policy.ts";

setJitPolicy(STARTUP_JIT_POLICY);
