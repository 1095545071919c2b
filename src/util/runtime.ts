/** Which runtime runs us. The adapter is the only layer that asks. */
export type RuntimeName = "bun" | "deno" | "node";

declare const Bun: { version: string } | undefined;
declare const Deno: { version: { deno: string } } | undefined;

export const RUNTIME: RuntimeName = typeof Bun !== "undefined" ? "bun" : typeof Deno !== "undefined" ? "deno" : "node";

export function runtimeLabel(): string {
  if (RUNTIME === "bun") return `Bun ${Bun!.version}`;
  if (RUNTIME === "deno") return `Deno ${Deno!.version.deno}`;
  return `Node ${process.versions.node}`;
}
