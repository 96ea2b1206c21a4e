/**
 * Results files of the benchmarks: `{ …, results: [...] }` JSON documents that a partial run
 * updates (entries it measured again are replaced, the others kept).
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

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

/**
 * Where a benchmark writes: `--out` resolved against the working directory, else
 * `bench/results/<name>`.
 *
 * @example
 * ```ts
 * const out = resultsPath("sim_speed.json", arg("out", ""));
 * ```
 */
export function resultsPath(name: string, outArg: string): string {
  return outArg === ""
    ? fileURLToPath(new URL(`./results/${name}`, import.meta.url))
    : resolve(process.cwd(), outArg);
}

/**
 * "deno 2.x.y (V8 …)" or "node v20.x.y (V8 …)" (Deno also sets process.versions.node).
 *
 * @example
 * ```ts
 * console.log(runtimeName()); // deno 2.9.6 (V8 15.0.245.2-rusty)
 * ```
 */
export function runtimeName(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  const v8 = process.versions.v8;
  return deno?.version?.deno !== undefined
    ? `deno ${deno.version.deno} (V8 ${v8})`
    : `node ${process.version} (V8 ${v8})`;
}

/**
 * Writes a results document (pretty JSON and a final newline) and says so.
 *
 * @example
 * ```ts
 * writeResults(out, { benchmark: "…", date: new Date().toISOString(), results });
 * ```
 */
export function writeResults(out: string, doc: object): void {
  writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
  console.log(`wrote ${out}`);
}
