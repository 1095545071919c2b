/**
 * Bun's JIT tier-up during start-up (Bun.unsafe.setJITPolicy; a no-op on Deno and Node).
 * Reading the config and the certificates runs functions often enough (the YAML key counter, the
 * DER reader, the schema checks) that Bun compiles them with its baseline and DFG JITs, and
 * compiling touches megabytes of the JIT compilers' machine code, which then stays resident for a
 * code path that never runs again. Start-up scales the tier-up thresholds by
 * STARTUP_JIT_POLICY, so that code stays in the interpreter; once the connectors listen, the
 * server sets the normal policy back and request handling compiles as usual
 * (bench/startup.ts --smaps: 2–3 MiB less idle RSS, machine code and heap).
 */
export const STARTUP_JIT_POLICY = 10;

export function setJitPolicy(scale: number): void {
  (globalThis as { Bun?: { unsafe?: { setJITPolicy?: (scale: number) => void } } }).Bun?.unsafe?.setJITPolicy?.(
    scale,
  );
}
