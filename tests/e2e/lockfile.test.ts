/**
 * `npm install` in a fresh clone must leave package-lock.json as committed. npm records every
 * platform's optional package (deno's @deno/*, bun's @oven/*) when it resolves from scratch, but
 * prunes those of other platforms when it rewrites the lock with node_modules present
 * (npm/cli#7961); a lock written that way is rewritten by the next fresh install. Offline check:
 * every dependency a locked package declares, optional ones included, has its own entry.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/bobcat.ts";

interface Entry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

test("package-lock.json has an entry for every declared dependency, other platforms' optional ones included", () => {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, Entry> };
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Entry;
  expect(lock.packages[""]!.dependencies).toEqual(pkg.dependencies);
  expect(lock.packages[""]!.devDependencies).toEqual(pkg.devDependencies);
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    const declared = {
      ...entry.dependencies,
      ...entry.optionalDependencies,
      ...(path === "" ? entry.devDependencies : {}),
    };
    for (const name of Object.keys(declared)) {
      // Node's lookup: the package's own node_modules, then each parent's, up to the root.
      const candidates: string[] = [];
      for (
        let dir = path;;
        dir = dir.includes("/node_modules/") ? dir.slice(0, dir.lastIndexOf("/node_modules/")) : ""
      ) {
        candidates.push(`${dir ? `${dir}/` : ""}node_modules/${name}`);
        if (!dir) break;
      }
      if (!candidates.some((c) => c in lock.packages)) missing.push(`${path || "(root)"} → ${name}`);
    }
  }
  expect(missing).toEqual([]);
});
