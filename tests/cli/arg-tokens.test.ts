/**
 * src/cli/arg-tokens.ts splits the command line as node:util's parseArgs does (strict: false,
 * allowPositionals, tokens): compared with the runtime's own parseArgs on Bun, and on Deno in a
 * child process, for the option tables bobcat's commands use and command lines that reach every
 * branch (groups, inline values, values that look like options, `--`, unknown options).
 */
import { expect, test } from "bun:test";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { argTokens, type TokenOption } from "../../src/cli/arg-tokens.ts";
import { DENO, ROOT, run } from "../helpers/bobcat.ts";

const OPTIONS: Record<string, TokenOption> = {
  config: { type: "string", short: "c" },
  base: { type: "string" },
  runtime: { type: "string" },
  print: { type: "boolean", short: "p" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
  D: { type: "string", short: "D" },
};

const LINES: string[][] = [
  [],
  ["run"],
  ["--config", "a.yaml"],
  ["--config=a.yaml", "x"],
  ["--config="],
  ["--config"],
  ["--config", "--base"],
  ["--config", "-h"],
  ["-c", "a.yaml"],
  ["-c"],
  ["-ca.yaml"],
  ["-c=a.yaml"],
  ["-pv"],
  ["-pvc", "a.yaml"],
  ["-pvca.yaml"],
  ["-vp", "--", "-c", "x"],
  ["--", "--config", "x"],
  ["-Dname=value", "-D", "a=b", "-D"],
  ["--D", "x=y"],
  ["--unknown", "x", "--other=1", "-x", "-xyz", "-xc", "f"],
  ["--print=yes", "--help", "-", "--", "-"],
  ["init", "--print", "--config", "c.yaml", "extra"],
  ["-h", "-hv", "--verbose", "--no-verbose"],
  ["--runtime", "node", "--", "--runtime", "deno"],
  ["-", "--=", "--=x", "-=", "-c", "", "--base", ""],
];

const reference = (args: string[]) =>
  parseArgs({
    args,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  }).tokens;

test("the same tokens as Bun's node:util parseArgs", () => {
  for (const line of LINES) {
    expect({ line, tokens: argTokens(line, OPTIONS) }).toEqual({ line, tokens: reference(line) });
  }
});

test("the same tokens as Deno's node:util parseArgs", async () => {
  const script = `
    import { parseArgs } from "node:util";
    import { argTokens } from ${JSON.stringify(join(ROOT, "src/cli/arg-tokens.ts"))};
    const options = ${JSON.stringify(OPTIONS)};
    const diffs = [];
    for (const line of ${JSON.stringify(LINES)}) {
      const a = JSON.stringify(argTokens(line, options));
      const b = JSON.stringify(parseArgs({ args: line, options, strict: false, allowPositionals: true, tokens: true }).tokens);
      if (a !== b) diffs.push({ line, ours: a, deno: b });
    }
    console.log(JSON.stringify({ checked: ${LINES.length}, diffs }));`;
  const r = await run([DENO, "eval", `--config=${join(ROOT, "deno.json")}`, script], { timeoutMs: 30000 });
  expect(r.stderr).toBe("");
  expect(JSON.parse(r.stdout)).toEqual({ checked: LINES.length, diffs: [] });
});
