import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { isDeno } from "../testing/runtime.ts";
import { repoRoot } from "../testing/repo_root.ts";

const run = promisify(execFile);

// The published artifact, used the way a Node user uses it: npm pack, install the tarball into
// an empty folder, import it from a plain ESM script.
describe("npm package", () => {
  let dir = "";
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("installs from its tarball and runs a 2-node cluster from a plain Node ESM script", async () => {
    const root = repoRoot();
    if (isDeno || !existsSync(join(root, "npm", "package.json"))) {
      // Under Deno the Node build may be stale or missing: build it (without its test run).
      await run(process.execPath, ["run", "-A", join(root, "npm-build.ts"), "--no-test"], {
        cwd: root,
      });
    }
    dir = await mkdtemp(join(tmpdir(), "npm-package-test-"));
    await run("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: join(root, "npm") });
    const tarball = (await readdir(dir)).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote a tarball");
    const app = join(dir, "app");
    await run("mkdir", ["-p", app]);
    await writeFile(
      join(app, "package.json"),
      JSON.stringify({ name: "app", private: true, type: "module" }),
    );
    await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--loglevel=error", join(dir, tarball)],
      { cwd: app, timeout: 180_000 },
    );
    await writeFile(
      join(app, "main.mjs"),
      `import { cluster, parseClusterConfig } from "@response/cluster";
const stanza = (extra) => ({ environment: "local", bind_address: "127.0.0.1", bind_port: 0,
  memberlist_bind_address: "127.0.0.1", memberlist_bind_port: 0, ...extra });
if (parseClusterConfig({ environment: "lan" }).bind_port !== 3320) throw new Error("defaults");
const a = await cluster(stanza(), { name: "npm-a" });
const b = await cluster(stanza({ members: [a.addresses.memberlist] }), { name: "npm-b" });
const deadline = Date.now() + 15000;
await b.cache.set("greeting", new TextEncoder().encode("hej"));
while (!(a.members().length === 2 && a.cache.get("greeting"))) {
  if (Date.now() > deadline) throw new Error("no convergence");
  await new Promise((r) => setTimeout(r, 50));
}
console.log("members", a.members().map((m) => m.name + ":" + m.state).sort().join(","));
console.log("cache", new TextDecoder().decode(a.cache.get("greeting")));
await b.close();
await a.close();
`,
    );
    const nodeBin = isDeno ? "node" : process.execPath;
    const { stdout } = await run(nodeBin, ["main.mjs"], { cwd: app, timeout: 60_000 });
    assert.match(stdout, /^members npm-a:alive,npm-b:alive$/m);
    assert.match(stdout, /^cache hej$/m);
  });
});
