/**
 * Compiles benchmark entry points (and everything they import) with tsc into
 * build/bench-node/, so the same benchmarks run on Node 20, which cannot run TypeScript.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Output directory, relative to the repository root. */
export const NODE_BUILD_DIR = "build/bench-node";

function run(cmd: string, args: string[], cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    let out = "";
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Uint8Array) => out += new TextDecoder().decode(d));
    child.stderr.on("data", (d: Uint8Array) => out += new TextDecoder().decode(d));
    child.on("error", (e) => resolve(e.message));
    child.on("close", (code) => resolve(code === 0 ? null : out || `exit ${code}`));
  });
}

/**
 * Builds `entries` (paths relative to `root`, e.g. "bench/fuzz.ts"); returns the path of
 * each compiled .js file.
 *
 * @example
 * ```ts
 * const [fuzzJs] = await buildForNode(root, ["bench/fuzz.ts"]);
 * ```
 */
export async function buildForNode(root: string, entries: string[]): Promise<string[]> {
  const dir = join(root, "build");
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "tsconfig.bench-node.json");
  writeFileSync(
    config,
    JSON.stringify({
      extends: "../tsconfig.json",
      compilerOptions: {
        types: ["node"], // TypeScript 6 includes no @types by default
        noEmit: false,
        rootDir: "..",
        outDir: "bench-node",
        declaration: false,
      },
      files: entries.map((e) => `../${e}`),
    }),
  );
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const err = await run("node", [tsc, "-p", config], root);
  const outs = entries.map((e) => join(root, NODE_BUILD_DIR, e.replace(/\.ts$/, ".js")));
  const missing = outs.filter((o) => !existsSync(o));
  if (missing.length > 0) {
    throw new Error(`tsc did not emit ${missing.join(", ")}:\n${(err ?? "").slice(0, 4000)}`);
  }
  // tsc still emits on type errors; a broken benchmark then fails in its own step.
  if (err) {
    console.error(`tsc reported problems (JavaScript emitted anyway):\n${err.slice(0, 2000)}`);
  }
  return outs;
}
