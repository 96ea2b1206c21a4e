/**
 * Offline, cached build of testing/go-peer/main.go against Debian's memberlist sources (GOPATH mode;
 * module mode cannot work without network).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./repo_root.ts";

/** The Debian packages the Go interop peer needs. */
export const GO_INSTALL_HINT: string =
  "apt-get install -y golang-go golang-github-hashicorp-memberlist-dev";

/** GOPATH holding github.com/hashicorp/memberlist and its dependencies (Debian layout). */
export const GOPATH: string = process.env.GO_PEER_GOPATH ?? "/usr/share/gocode";

function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  cwd?: string,
): Promise<{ code: number | null; output: string; missing: boolean }> {
  return new Promise((resolve) => {
    let output = "";
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => output += d.toString());
    child.stderr.on("data", (d: Buffer) => output += d.toString());
    child.on("error", (err: NodeJS.ErrnoException) => {
      resolve({ code: null, output: err.message, missing: err.code === "ENOENT" });
    });
    child.on("close", (code) => resolve({ code, output, missing: false }));
  });
}

/**
 * Compiles `src` (a single-file main package) to `out`.
 *
 * @example
 * ```ts
 * await buildGoPeer("testing/go-peer/main.go", "/tmp/go-peer", "/tmp/gocache");
 * ```
 */
export async function buildGoPeer(
  src: string,
  out: string,
  goCache: string,
  gopath: string = GOPATH,
): Promise<void> {
  const env = { GO111MODULE: "off", GOPATH: gopath, GOPROXY: "off", GOFLAGS: "", GOCACHE: goCache };
  const version = await run("go", ["version"], env);
  if (version.missing || version.code !== 0) {
    throw new Error(`the Go toolchain is missing (\`go\` not on PATH): run \`${GO_INSTALL_HINT}\``);
  }
  if (!existsSync(`${gopath}/src/github.com/hashicorp/memberlist/memberlist.go`)) {
    throw new Error(
      `hashicorp/memberlist sources are missing under ${gopath}/src: run \`${GO_INSTALL_HINT}\``,
    );
  }
  const build = await run("go", ["build", "-o", out, src], env);
  if (build.code !== 0) {
    throw new Error(
      `go build of ${src} failed (${GO_INSTALL_HINT} may be incomplete):\n${build.output}`,
    );
  }
}

let building: Promise<string> | undefined;

/** Where main.go lives: testing/go-peer/ of the repository (found from the sources or the build). */
export function goPeerSource(): string {
  const src = join(repoRoot(), "testing", "go-peer", "main.go");
  if (!existsSync(src)) throw new Error(`${src} not found`);
  return src;
}

/**
 * Builds testing/go-peer/main.go into `build/go-peer/` (repo) or the OS temp dir, once per
 * content hash, and returns the binary path. Throws with the apt-get line when Go or the
 * memberlist sources are missing.
 */
export function ensureGoPeerBuilt(): Promise<string> {
  building ??= (async () => {
    const src = goPeerSource();
    const hash = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 16);
    const root = repoRoot();
    const repoBuild = join(root, "build", "go-peer");
    let dir = repoBuild;
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      dir = join(tmpdir(), "response-cluster-go-peer");
      mkdirSync(dir, { recursive: true });
    }
    const bin = join(dir, `go-peer-${hash}`);
    if (existsSync(bin)) return bin;
    const tmp = `${bin}.${process.pid}.tmp`;
    await buildGoPeer(src, tmp, join(dir, "gocache"));
    renameSync(tmp, bin); // atomic: a concurrent build of the same hash is harmless
    for (const f of readdirSync(dir)) { // binaries of older main.go versions
      if (/^go-peer-[0-9a-f]{16}$/.test(f) && join(dir, f) !== bin) {
        rmSync(join(dir, f), { force: true });
      }
    }
    return bin;
  })();
  building.catch(() => building = undefined);
  return building;
}
