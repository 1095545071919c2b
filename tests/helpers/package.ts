/**
 * bobcat as a user receives it from npm: the checkout packed with `npm pack` (in a copy, since
 * the prepack build writes dist-lib/) and installed with `npm install <tarball>` into an empty
 * project under the system's temporary directory, outside the checkout. Dependencies come from
 * the npm registry. Each step is bounded in time.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./bobcat.ts";

export interface InstalledPackage {
  /** The temporary project; `node_modules/bobcat` is the installed package. */
  readonly dir: string;
  readonly tarball: string;
  /** Paths inside the tarball, without the leading `package/`. */
  readonly files: string[];
  cleanup(): void;
}

function step(cmd: string, args: string[], cwd: string, timeoutMs: number): string {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    timeout: timeoutMs,
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  if (r.error || r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} (in ${cwd}) failed: ${r.error?.message ?? `exit ${r.status}`}\n${r.stdout}\n${r.stderr}`
        .slice(0, 8000),
    );
  }
  return r.stdout;
}

/** Packs the working tree (tracked and new files, as committed or not) and installs it into a fresh project. */
export function packAndInstall(): InstalledPackage {
  const base = mkdtempSync(join(tmpdir(), "bobcat-pkg-"));
  try {
    const copy = join(base, "checkout");
    mkdirSync(copy);
    const listed = step("git", ["ls-files", "-co", "--exclude-standard", "-z"], ROOT, 30000).split("\0").filter((f) =>
      f && !f.startsWith("node_modules/")
    );
    for (const f of listed) {
      try {
        cpSync(join(ROOT, f), join(copy, f), { recursive: false });
      } catch (e) {
        // Deleted in the working tree but still tracked: not part of what would be packed.
        if ((e as { code?: string }).code !== "ENOENT") throw e;
      }
    }
    // The prepack build needs bun and tsc: the checkout's, not installed again.
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
    const packed = step("npm", ["pack", "--pack-destination", base, "--json"], copy, 240000);
    const info = JSON.parse(packed.slice(packed.search(/^\[/m))) as [{ filename: string; files: { path: string }[] }];
    const tarball = join(base, info[0].filename);
    const dir = join(base, "app");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "bobcat-user-app", private: true, type: "module" }, null, 2),
    );
    step("npm", ["install", "--no-audit", "--no-fund", tarball], dir, 480000);
    rmSync(copy, { recursive: true, force: true });
    return {
      dir,
      tarball,
      files: info[0].files.map((f) => f.path),
      cleanup: () => rmSync(base, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(base, { recursive: true, force: true });
    throw e;
  }
}
