/**
 * Builds the npm package into `npm/`, and the tests into `build/` for the runtimes that run
 * JavaScript (Node 22, Node 24, Bun).
 *
 *   deno run -A npm-build.ts            build npm/ and build/, run the tests on Node
 *   deno run -A npm-build.ts --no-test  build npm/ only
 *   deno run -A npm-build.ts --build    build npm/ and build/, run nothing (scripts/test runs them)
 *   deno run -A npm-build.ts --runtimes install Node 22, Node 24 and Bun into build/runtimes/
 *
 * The test run uses `NODE_BIN`, else Node 24 from build/runtimes/ (installed from npm when
 * missing): the machine's own Node may be 20, which is end-of-life and not supported.
 * `TEST_FILTER` (a regex on the path) picks files.
 *
 * tsc (the TypeScript compiler from node_modules) writes ESM JavaScript and `.d.ts` files;
 * package.json is generated from deno.json and from what the built files import: its
 * `dependencies` are exactly the packages the library imports at run time. dnt is not used:
 * it needs the JSR registry.
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
import { ensureRuntime, type RuntimeName, RUNTIMES, runtimeVersion } from "./testing/runtimes.ts";

const root = dirname(fileURLToPath(import.meta.url));
const flag = (name: string) => process.argv.includes(name);
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

/** Node's minimum: 22 (20 is end-of-life, and @nats-io/nuid 3 declares `node >= 22`). */
const NODE_ENGINES = ">=22";
/**
 * Imported on demand by one feature and not needed by the library: listed as optional peer
 * dependencies, so `npm install @response/cluster` does not fetch them. The CLI reads HCL
 * config files with @cdktf/hcl2json (1.9 MB of WebAssembly); JSON files need nothing.
 */
const OPTIONAL_PEERS = new Set(["@cdktf/hcl2json"]);

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

if (flag("--runtimes")) {
  for (const name of Object.keys(RUNTIMES) as RuntimeName[]) {
    const bin = ensureRuntime(name);
    console.log(`${name} ${runtimeVersion(bin)} ${relative(root, bin)}`);
  }
  process.exit(0);
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

function filesUnder(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, suffix));
    else if (name.endsWith(suffix)) out.push(p);
  }
  return out.sort();
}

/** Package names a built file imports (static, dynamic, re-exports); node: built-ins aside. */
function importedPackages(file: string): Set<string> {
  // comments out first: JSDoc examples import the package itself
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(
    /^\s*\/\/.*$/gm,
    "",
  );
  const names = new Set<string>();
  const spec = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"'./][^"']*)["']/g;
  for (const m of text.matchAll(spec)) {
    const s = m[1];
    if (s.startsWith("node:")) continue;
    const parts = s.split("/");
    names.add(s.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]);
  }
  return names;
}

/** The version range deno.json maps a bare name to (`npm:name@range`). */
function rangeOf(name: string, file: string): string {
  const spec = deno.imports[name];
  if (!spec?.startsWith(`npm:${name}@`)) {
    console.error(
      `npm-build: ${relative(root, file)} imports "${name}", not an npm: import of deno.json`,
    );
    process.exit(1);
  }
  return spec.slice(`npm:${name}@`.length);
}

// dependencies: what the built JavaScript imports; the .d.ts files may refer to nothing else.
const esm = join(root, "npm", "esm");
const dependencies: Record<string, string> = {};
const peerDependencies: Record<string, string> = {};
for (const file of filesUnder(esm, ".js")) {
  for (const name of importedPackages(file)) {
    if (OPTIONAL_PEERS.has(name)) peerDependencies[name] = rangeOf(name, file);
    else dependencies[name] = rangeOf(name, file);
  }
}
for (const file of filesUnder(esm, ".d.ts")) {
  for (const name of importedPackages(file)) {
    if (!(name in dependencies)) {
      console.error(
        `npm-build: the public types in ${relative(root, file)} refer to "${name}", which the ` +
          `library does not import at run time: users would lack its types`,
      );
      process.exit(1);
    }
  }
}
const sorted = (o: Record<string, string>) =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

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
  engines: { node: NODE_ENGINES },
  dependencies: sorted(dependencies),
};
if (Object.keys(peerDependencies).length > 0) {
  pkg.peerDependencies = sorted(peerDependencies);
  pkg.peerDependenciesMeta = Object.fromEntries(
    Object.keys(peerDependencies).sort().map((name) => [name, { optional: true }]),
  );
}
if (existsSync(join(root, "cli", "main.ts"))) pkg.bin = { "response-cluster": "./esm/cli/main.js" };
writeFileSync(join(root, "npm", "package.json"), JSON.stringify(pkg, null, 2) + "\n");
for (const f of ["README.md", "LICENSE"]) {
  if (existsSync(join(root, f))) cpSync(join(root, f), join(root, "npm", f));
}
console.log(
  `npm-build: wrote npm/ (${deno.name}@${deno.version}; dependencies: ${
    Object.keys(dependencies).sort().join(", ")
  }; optional peers: ${Object.keys(peerDependencies).sort().join(", ") || "none"})`,
);

if (flag("--no-test")) process.exit(0);

// Tests: compile library + tests into build/ (fixtures and the Go peer's source are read from
// the repository, found from deno.json).
for (const dir of ["tests", "testing"]) {
  rmSync(join(root, "build", dir), { recursive: true, force: true });
}
if (run("node", [tsc, "-p", "tsconfig.test.json"]) !== 0) {
  console.error("npm-build: tsc failed for the tests");
  process.exit(1);
}
if (flag("--build")) process.exit(0);

const node = process.env.NODE_BIN ?? ensureRuntime("node24");
const only = process.env.TEST_FILTER ? new RegExp(process.env.TEST_FILTER) : undefined;
const files = filesUnder(join(root, "build", "tests"), "_test.js")
  .map((f) => relative(root, f))
  .filter((f) => !only || only.test(f));
mkdirSync(join(root, "build"), { recursive: true });
console.log(`npm-build: ${files.length} test files on Node ${runtimeVersion(node)}`);
const status = run(node, [
  "--test",
  "--test-concurrency=1",
  "--test-reporter=spec",
  "--test-reporter-destination=stdout",
  "--test-reporter=tap",
  "--test-reporter-destination=build/node-tap.txt",
  ...files,
]);
process.exit(status);
