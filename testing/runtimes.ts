/**
 * The runtimes the project supports besides Deno, brought from the npm registry into
 * `build/runtimes/<name>/` (gitignored): `npm install node@22` gives a working
 * `node_modules/.bin/node`, `npm install bun@1` a working `node_modules/.bin/bun`. scripts/test,
 * npm-build.ts and the packed-tarball test share this one list.
 *
 * ```ts
 * const node22 = ensureRuntime("node22"); // ".../build/runtimes/node22/node_modules/.bin/node"
 * ```
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./repo_root.ts";

/** npm package spec of each runtime, by the name scripts/test prints. */
export const RUNTIMES: Readonly<Record<RuntimeName, string>> = {
  node22: "node@22",
  node24: "node@24",
  bun: "bun@1",
};

/** A supported runtime besides Deno (which runs the sources). */
export type RuntimeName = "node22" | "node24" | "bun";

/** Where the runtime's binary is (whether or not it is installed yet). */
export function runtimeBin(name: RuntimeName): string {
  const exe = name === "bun" ? "bun" : "node";
  return join(repoRoot(), "build", "runtimes", name, "node_modules", ".bin", exe);
}

/**
 * The runtime's binary, installed from npm first when missing.
 *
 * @throws {Error} with npm's output when the install fails
 */
export function ensureRuntime(name: RuntimeName): string {
  const bin = runtimeBin(name);
  if (existsSync(bin)) return bin;
  const dir = join(repoRoot(), "build", "runtimes", name);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(
    "npm",
    ["install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error", RUNTIMES[name]],
    { encoding: "utf8" },
  );
  if (r.status !== 0 || !existsSync(bin)) {
    throw new Error(
      `could not install ${RUNTIMES[name]} into ${dir}: ${r.stderr || r.stdout || r.error}`,
    );
  }
  return bin;
}

/** `node --version` / `bun --version` of an installed runtime, e.g. "v24.21.0" or "1.4.5". */
export function runtimeVersion(bin: string): string {
  return spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
}
