/**
 * The house rules that a type checker cannot see, as one check (scripts/check runs it):
 *
 * - **Doors.** A library file imports the files of its own folder, its parent folders' files
 *   (a subfolder is part of its parent, like memberlist/wire/ of memberlist/), and of any other
 *   folder only its `mod.ts`. Tests, test harnesses (testing/), benchmarks and scripts are
 *   white-box and exempt; applications (cli/, examples/) may also use the root door, mod.ts.
 * - **No import loops**, in any TypeScript file of the repository, type-only imports included.
 * - **Files a reader can hold**: at most 450 lines outside tests/.
 * - **No reference to a document outside the repository**: code and docs cite docs/.
 *
 *   deno run --allow-read scripts/house.ts
 *
 * Prints one line per finding and exits 1 when there is any.
 *
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, normalize, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), ".."));
const SKIP_DIRS = new Set(["node_modules", "npm", "build", ".git", "results", ".chaos-build"]);
const WHITE_BOX = ["tests/", "testing/", "bench/", "scripts/"];
const APPLICATIONS = ["cli/", "examples/"];
const MAX_LINES = 450;

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(relative(ROOT, p).split("\\").join("/"));
  }
  return out;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Relative imports of a TypeScript source, resolved to repository paths. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec === undefined || !spec.startsWith(".")) continue;
    out.push(normalize(join(dirname(file), spec)).split("\\").join("/"));
  }
  return out;
}

const isAncestorDir = (dir: string, of: string): boolean =>
  dir === "." || of === dir || of.startsWith(dir + "/");

/** Why an import breaks the door rule, or null. */
function doorViolation(from: string, to: string): string | null {
  const fromDir = dirname(from);
  const toDir = dirname(to);
  if (toDir === fromDir) return null;
  const door = basename(to) === "mod.ts";
  if (to === "mod.ts" && APPLICATIONS.some((p) => from.startsWith(p))) return null;
  if (isAncestorDir(toDir, fromDir)) {
    return door ? "imports its own parent's door (a loop through mod.ts)" : null;
  }
  return door ? null : `enters ${toDir}/ through a private file (use ${toDir}/mod.ts)`;
}

/** Import loops (strongly connected components of more than one file), by Tarjan. */
function loops(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const OUTSIDE = [
  /\.\.\/shared\b/,
  /\b(?:DESIGN|TOOLCHAIN|TESTBED)\.md\b/,
  /(?<!docs\/)\bPROTOCOL\.md\b/,
];

const findings: string[] = [];
const files = walk(ROOT, []);
const graph = new Map<string, string[]>();
for (const file of files) {
  const text = readFileSync(join(ROOT, file), "utf8");
  if (/\.(ts|mjs|md|go|json)$/.test(file) || file.startsWith("scripts/")) {
    const self = file === "scripts/house.ts";
    text.split("\n").forEach((line, i) => {
      if (self) return;
      for (const re of OUTSIDE) {
        if (re.test(line)) findings.push(`${file}:${i + 1}: cites a file outside the repository`);
      }
    });
  }
  if (!file.endsWith(".ts")) continue;
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines > MAX_LINES && !file.startsWith("tests/")) {
    findings.push(`${file}: ${lines} lines (more than ${MAX_LINES})`);
  }
  const imports = importsOf(file, text);
  graph.set(file, imports);
  if (WHITE_BOX.some((p) => file.startsWith(p)) || file === "npm-build.ts") continue;
  for (const to of imports) {
    const why = doorViolation(file, to);
    if (why !== null) findings.push(`${file}: import of ${to} ${why}`);
  }
}
for (const scc of loops(graph)) findings.push(`import loop: ${scc.join(" -> ")}`);

for (const f of findings) console.log(f);
if (findings.length > 0) {
  console.log(`scripts/house.ts: ${findings.length} finding(s)`);
  process.exit(1);
}
