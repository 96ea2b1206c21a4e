/**
 * Command-line flags of the benchmarks: `--name value`.
 *
 * @module
 */
import process from "node:process";

/**
 * The value after `--name`, or `fallback` when the flag is absent or last.
 *
 * @example
 * ```ts
 * const ns = arg("n", "10000").split(",").map(Number);
 * ```
 */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
