/**
 * The repository root (the directory holding deno.json), found from this module's location,
 * so support files work both from the sources (testing/) and from the Node build
 * (build/testing/), where non-TypeScript files are not copied.
 *
 * ```ts
 * const echo = join(repoRoot(), "testing", "udp_echo.mjs");
 * ```
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/** Nearest ancestor directory of this module that has a deno.json. */
export function repoRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no deno.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  cached = dir;
  return dir;
}
