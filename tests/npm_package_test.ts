import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { isDeno } from "../testing/runtime.ts";
import { repoRoot } from "../testing/repo_root.ts";
import { ensureRuntime, type RuntimeName, runtimeVersion } from "../testing/runtimes.ts";

// The published artifact, used the way users use it: npm pack, install the tarball into an
// empty folder with each supported runtime's own package manager (npm running on Node 22 and on
// Node 24, `bun add`), then run the README's Quick start (tests/fixtures/quick_start.mjs) and a
// CommonJS require() of the package. The runtimes come from the npm registry
// (testing/runtimes.ts), as scripts/test brings them.

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number },
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeout ?? 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** npm's own entry script, to run npm on a chosen Node (npm checks `engines` against it). */
function npmCli(): string {
  const npm = execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim();
  const real = realpathSync(npm);
  if (real.endsWith(".js")) return real;
  return join(dirname(real), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js");
}

/** The environment a runtime's child processes get: its own binary first on PATH. */
function envWith(bin: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dirname(bin)}${delimiter}${process.env.PATH ?? ""}` };
}

const REQUIRE_CJS = `const { cluster, parseClusterConfig } = require("@response/cluster");
console.log("require", typeof cluster, parseClusterConfig({ environment: "lan" }).bind_port);
`;

/** A consumer's TypeScript: what must compile against the package's .d.ts, and what must not. */
const CONSUMER_TS = `import { cluster, type ClusterStanza, clusterStanza } from "@response/cluster";
const stanza: ClusterStanza = { environment: "lan", members: ["10.0.0.2"] };
// @ts-expect-error: "lann" is not an environment
const typo: ClusterStanza = { environment: "lann" };
export async function start(fromFile: unknown): Promise<void> {
  const node = await cluster(clusterStanza(fromFile) ?? stanza);
  // @ts-expect-error: emit is internal
  node.emit("error", new Error("x"));
  await node.close();
  void typo;
}
`;

/** Output of the Quick start: two members, a replicated value, a graceful leave. */
function assertQuickStart(r: Run, who: string): void {
  assert.equal(r.code, 0, `${who}: quick start failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^a sees b join$/m, who);
  assert.match(r.stdout, /^a reads greeting = hello$/m, who);
  assert.match(r.stdout, /^a sees b leave$/m, who);
  assert.doesNotMatch(r.stderr, /warn|error/i, `${who}: quick start wrote to stderr:\n${r.stderr}`);
}

describe("npm package (packed tarball, installed into an empty folder)", () => {
  const root = repoRoot();
  let dir = "";
  let tarball = "";

  before(async () => {
    // Under Deno the build may be stale or missing: build it (without its test run).
    if (isDeno || !existsSync(join(root, "npm", "package.json"))) {
      const deno = isDeno ? process.execPath : join(root, "node_modules", ".bin", "deno");
      const built = await run(deno, ["run", "-A", join(root, "npm-build.ts"), "--no-test"], {
        cwd: root,
        timeout: 300_000,
      });
      assert.equal(built.code, 0, `npm-build failed:\n${built.stdout}\n${built.stderr}`);
    }
    dir = await mkdtemp(join(tmpdir(), "npm-package-test-"));
    const packed = await run("npm", ["pack", "--silent", "--pack-destination", dir], {
      cwd: join(root, "npm"),
    });
    assert.equal(packed.code, 0, packed.stderr);
    tarball = join(dir, (await readdir(dir)).find((f) => f.endsWith(".tgz")) ?? "");
    assert.ok(tarball.endsWith(".tgz"), "npm pack wrote a tarball");
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** An empty ESM app folder with the Quick start and the require() script. */
  async function app(name: string): Promise<string> {
    const folder = join(dir, name);
    mkdirSync(folder);
    await writeFile(
      join(folder, "package.json"),
      JSON.stringify({ name: `app-${name}`, private: true, type: "module" }),
    );
    copyFileSync(
      join(root, "tests", "fixtures", "quick_start.mjs"),
      join(folder, "quick_start.mjs"),
    );
    await writeFile(join(folder, "require.cjs"), REQUIRE_CJS);
    return folder;
  }

  it("declares what the library imports as dependencies, the HCL parser as an optional peer", () => {
    const pkg = JSON.parse(readFileSync(join(root, "npm", "package.json"), "utf8"));
    assert.deepEqual(Object.keys(pkg.dependencies).sort(), [
      "@nats-io/nats-core",
      "@nats-io/transport-node",
      "@opentelemetry/api",
      "valibot",
    ]);
    assert.deepEqual(Object.keys(pkg.peerDependencies), ["@cdktf/hcl2json"]);
    assert.deepEqual(pkg.peerDependenciesMeta, { "@cdktf/hcl2json": { optional: true } });
    assert.equal(pkg.engines.node, ">=22");
    assert.equal(pkg.devDependencies, undefined);
  });

  for (const name of ["node22", "node24"] as RuntimeName[]) {
    it(`installs with npm on ${name} without a warning, runs the Quick start and require()`, async () => {
      const node = ensureRuntime(name);
      const folder = await app(name);
      const env = envWith(node);
      const install = await run(
        node,
        [npmCli(), "install", "--no-audit", "--no-fund", "--engine-strict", tarball],
        { cwd: folder, env, timeout: 300_000 },
      );
      const who = `${name} (${runtimeVersion(node)})`;
      assert.equal(install.code, 0, `${who}: npm install failed:\n${install.stderr}`);
      assert.doesNotMatch(install.stderr, /EBADENGINE|warn/i, `${who}:\n${install.stderr}`);
      // library users get no CLI-only or benchmark-only packages
      for (const absent of ["@cdktf/hcl2json", "@nats-io/jetstream", "@nats-io/kv", "fast-check"]) {
        assert.ok(!existsSync(join(folder, "node_modules", absent)), `${absent} was installed`);
      }
      assertQuickStart(await run(node, ["quick_start.mjs"], { cwd: folder, env }), who);
      const required = await run(node, ["require.cjs"], { cwd: folder, env });
      assert.equal(required.code, 0, `${who}: require() failed:\n${required.stderr}`);
      assert.equal(required.stdout, "require function 3320\n");
      assert.equal(required.stderr, "", `${who}: require() warned:\n${required.stderr}`);
    });
  }

  it("installs with bun add, runs the Quick start and require() on Bun", async () => {
    const bun = ensureRuntime("bun");
    const folder = await app("bun");
    const env = envWith(bun);
    const install = await run(bun, ["add", tarball], { cwd: folder, env, timeout: 300_000 });
    assert.equal(install.code, 0, `bun add failed:\n${install.stdout}\n${install.stderr}`);
    assert.doesNotMatch(install.stdout + install.stderr, /warn|error/i, install.stderr);
    assert.ok(!existsSync(join(folder, "node_modules", "@cdktf", "hcl2json")));
    const who = `bun ${runtimeVersion(bun)}`;
    assertQuickStart(await run(bun, ["quick_start.mjs"], { cwd: folder, env }), who);
    const required = await run(bun, ["require.cjs"], { cwd: folder, env });
    assert.equal(required.code, 0, `${who}: require() failed:\n${required.stderr}`);
    assert.equal(required.stdout, "require function 3320\n");
  });

  it("runs the same Quick start on Deno from the npm-installed package", async () => {
    const folder = join(dir, "node24");
    assert.ok(existsSync(join(folder, "node_modules", "@response", "cluster")), "node24 install");
    const deno = isDeno ? process.execPath : join(root, "node_modules", ".bin", "deno");
    assertQuickStart(await run(deno, ["run", "-A", "quick_start.mjs"], { cwd: folder }), "deno");
  });

  it("the CLI says in one line that HCL needs the optional @cdktf/hcl2json", async () => {
    const folder = join(dir, "node24");
    const node = ensureRuntime("node24");
    await writeFile(join(folder, "server.hcl"), 'cluster {\n  environment = "local"\n}\n');
    const cli = join(folder, "node_modules", "@response", "cluster", "esm", "cli", "main.js");
    const r = await run(node, [cli, "agent", "--config", "server.hcl"], { cwd: folder });
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /server\.hcl: reading HCL needs the optional package @cdktf\/hcl2json: run "npm install @cdktf\/hcl2json", or use a \.json config file/,
    );
  });

  it("public types: a typed stanza, no internals (checked by tsc as a consumer)", async () => {
    const folder = join(dir, "node24");
    const esm = join(folder, "node_modules", "@response", "cluster", "esm", "cluster");
    const dts = readFileSync(join(esm, "cluster.d.ts"), "utf8");
    const node = readFileSync(join(esm, "node.d.ts"), "utf8");
    const events = readFileSync(join(esm, "events.d.ts"), "utf8");
    assert.match(node, /private constructor\(\);/);
    // the classes' members only (cluster()'s hooks live in an interface of their own)
    const classOf = (dts: string, name: string): string => {
      const at = dts.indexOf(`export declare class ${name}`);
      assert.ok(at >= 0, `${name} is declared`);
      return dts.slice(at, dts.indexOf("\n}\n", at));
    };
    for (const body of [classOf(node, "Cluster"), classOf(events, "ClusterEmitter")]) {
      assert.doesNotMatch(body, /^\s*(emit|start|onRemoval|conflict)\s*[<(]/m);
    }
    assert.match(dts, /cluster\(stanza: ClusterStanza \| undefined/);
    await writeFile(join(folder, "consumer.ts"), CONSUMER_TS);
    await writeFile(
      join(folder, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
          lib: ["es2022", "dom"],
        },
        files: ["consumer.ts"],
      }),
    );
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const r = await run(ensureRuntime("node24"), [tsc, "-p", "tsconfig.json"], { cwd: folder });
    assert.equal(r.code, 0, `tsc as a consumer:\n${r.stdout}\n${r.stderr}`);
  });
});
