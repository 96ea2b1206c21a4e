/**
 * Results files of the benchmarks: `{ …, results: [...] }` JSON documents that a partial run
 * updates (entries it measured again are replaced, the others kept).
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * The entries of the results file at `out` (none when it is missing or unreadable) whose key
 * is not among `fresh`'s, followed by `fresh`. Creates the file's folder.
 *
 * @example
 * ```ts
 * const all = mergeResults("bench/results/sim.json", fresh, (r) => `${r.preset}/${r.n}`);
 * ```
 */
export function mergeResults<T>(out: string, fresh: readonly T[], key: (r: T) => string): T[] {
  mkdirSync(dirname(out), { recursive: true });
  let previous: T[] = [];
  if (existsSync(out)) {
    try {
      previous = (JSON.parse(readFileSync(out, "utf8")) as { results?: T[] }).results ?? [];
    } catch {
      previous = [];
    }
  }
  const replaced = new Set(fresh.map(key));
  return [...previous.filter((r) => !replaced.has(key(r))), ...fresh];
}
