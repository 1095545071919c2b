/**
 * The command line split into tokens exactly as node:util's `parseArgs({ strict: false,
 * allowPositionals: true, tokens: true })` splits it (Node's algorithm, which Bun and Deno
 * implement too; tests/config/arg-tokens.test.ts compares the two on every runtime). bobcat
 * checks every token itself (src/cli/options.ts), so only the split is needed, and node:util is
 * not loaded at start: on Bun it keeps about 1 MiB of the runtime's machine code and 190 KiB of
 * heap resident for the life of the server.
 */

export type ArgToken =
  | {
    kind: "option";
    name: string;
    rawName: string;
    index: number;
    value: string | undefined;
    inlineValue: boolean | undefined;
  }
  | { kind: "positional"; index: number; value: string }
  | { kind: "option-terminator"; index: number };

export interface TokenOption {
  readonly type: "string" | "boolean";
  readonly short?: string;
}

/** `args` as parseArgs's tokens, for the options of `options` (the names of long options). */
export function argTokens(args: readonly string[], options: Readonly<Record<string, TokenOption>>): ArgToken[] {
  const longOf = (short: string) => Object.keys(options).find((n) => options[n]!.short === short) ?? short;
  const isString = (name: string) => Object.hasOwn(options, name) && options[name]!.type === "string";
  const tokens: ArgToken[] = [];
  const remaining = [...args];
  let index = -1;
  // Arguments a short-option group (-abc) expanded into share the group's index.
  let groupCount = 0;
  // -c or --name alone: a string option takes the next argument as its value, whatever it looks like.
  const optionTakingNext = (name: string, rawName: string) => {
    const value = isString(name) && remaining.length > 0 ? remaining.shift() : undefined;
    tokens.push({ kind: "option", name, rawName, index, value, inlineValue: value === undefined ? undefined : false });
    if (value !== undefined) index++;
  };
  while (remaining.length > 0) {
    const arg = remaining.shift()!;
    if (groupCount > 0) groupCount--;
    else index++;
    if (arg === "--") {
      tokens.push({ kind: "option-terminator", index });
      for (const value of remaining) tokens.push({ kind: "positional", index: ++index, value });
      break;
    }
    const short = arg.length >= 2 && arg[0] === "-" && arg[1] !== "-";
    if (short && arg.length === 2) {
      // -c, and -c VALUE for a string option (the next argument, whatever it looks like).
      optionTakingNext(longOf(arg[1]!), arg);
      continue;
    }
    if (short && !isString(longOf(arg[1]!))) {
      // -abc: each letter an option; a string option's letter takes the rest (-abcFILE: -a -b -cFILE).
      const expanded: string[] = [];
      for (let i = 1; i < arg.length; i++) {
        const letter = arg[i]!;
        if (!isString(longOf(letter)) || i === arg.length - 1) expanded.push(`-${letter}`);
        else {
          expanded.push(`-${arg.slice(i)}`);
          break;
        }
      }
      remaining.unshift(...expanded);
      groupCount = expanded.length;
      continue;
    }
    if (short) {
      // -cVALUE
      tokens.push({
        kind: "option",
        name: longOf(arg[1]!),
        rawName: `-${arg[1]}`,
        index,
        value: arg.slice(2),
        inlineValue: true,
      });
      continue;
    }
    if (arg.length > 2 && arg.startsWith("--")) {
      // (An "=" right after the dashes is part of the name: --=x is the option "=x".)
      const eq = arg.indexOf("=", 3);
      if (eq === -1) {
        // --name, and --name VALUE for a string option.
        optionTakingNext(arg.slice(2), arg);
      } else {
        const name = arg.slice(2, eq);
        tokens.push({ kind: "option", name, rawName: `--${name}`, index, value: arg.slice(eq + 1), inlineValue: true });
      }
      continue;
    }
    tokens.push({ kind: "positional", index, value: arg });
  }
  return tokens;
}
