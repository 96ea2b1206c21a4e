/**
 * Builds the npm package for Node into `npm/`, then compiles the test files and runs them on Node.
 *
 *   deno run -A npm-build.ts            build npm/ and run the tests on Node
 *   deno run -A npm-build.ts --no-test  build npm/ only
 *
 * tsc (the TypeScript compiler from node_modules) writes ESM JavaScript and `.d.ts` files;
 * package.json is generated from deno.json, so the version, exports and dependencies are
 * written down once. dnt is not used: it needs the JSR registry.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const runTests = !process.argv.includes("--no-test");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

interface DenoJson {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
  imports: Record<string, string>;
}

function run(cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  return r.status ?? 1;
}

const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as DenoJson;

rmSync(join(root, "npm"), { recursive: true, force: true });
if (run("node", [tsc, "-p", "tsconfig.build.json"]) !== 0) {
  console.error("npm-build: tsc failed for the package");
  process.exit(1);
}

const toJs = (p: string) => p.replace(/^\.\//, "./esm/").replace(/\.ts$/, ".js");
const toDts = (p: string) => p.replace(/^\.\//, "./esm/").replace(/\.ts$/, ".d.ts");
const exportsMap: Record<string, unknown> = {};
for (const [key, file] of Object.entries(deno.exports)) {
  exportsMap[key] = { types: toDts(file), default: toJs(file) };
}
exportsMap["./package.json"] = "./package.json";

// Runtime dependencies: every npm: import except the test-only ones.
const devOnly = new Set(["fast-check"]);
const dependencies: Record<string, string> = {};
for (const [name, spec] of Object.entries(deno.imports)) {
  if (devOnly.has(name) || !spec.startsWith("npm:")) continue;
  const at = spec.lastIndexOf("@");
  dependencies[name] = spec.slice(at + 1);
}

const pkg: Record<string, unknown> = {
  name: deno.name,
  version: deno.version,
  description:
    "Embedded clustering for Response Server: memberlist-compatible membership, replicated append-only logs, discovery.",
  license: deno.license,
  type: "module",
  main: toJs(deno.exports["."]),
  types: toDts(deno.exports["."]),
  exports: exportsMap,
  files: ["esm/", "README.md", "LICENSE"],
  engines: { node: ">=20.19" },
  dependencies,
};
if (existsSync(join(root, "cli", "main.ts"))) pkg.bin = { "response-cluster": "./esm/cli/main.js" };
writeFileSync(join(root, "npm", "package.json"), JSON.stringify(pkg, null, 2) + "\n");
for (const f of ["README.md", "LICENSE"]) {
  if (existsSync(join(root, f))) cpSync(join(root, f), join(root, "npm", f));
}
console.log(`npm-build: wrote npm/ (${deno.name}@${deno.version})`);

if (!runTests) process.exit(0);

// Tests: compile library + tests into build/ and run every *_test.js on Node (fixtures and the
// Go peer's source are read from the repository, found from deno.json).
for (const dir of ["tests", "testing"]) {
  rmSync(join(root, "build", dir), { recursive: true, force: true });
}
if (run("node", [tsc, "-p", "tsconfig.test.json"]) !== 0) {
  console.error("npm-build: tsc failed for the tests");
  process.exit(1);
}
function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith("_test.js")) out.push(relative(root, p));
  }
  return out.sort();
}
const only = process.env.TEST_FILTER ? new RegExp(process.env.TEST_FILTER) : undefined;
const files = testFiles(join(root, "build", "tests")).filter((f) => !only || only.test(f));
mkdirSync(join(root, "build"), { recursive: true });
const status = run("node", [
  "--test",
  "--test-concurrency=1",
  "--test-reporter=spec",
  "--test-reporter-destination=stdout",
  "--test-reporter=tap",
  "--test-reporter-destination=build/node-tap.txt",
  ...files,
]);
process.exit(status);
