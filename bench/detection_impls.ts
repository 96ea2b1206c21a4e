/**
 * How the detection bench (and anything else needing a node in its own process) starts each
 * implementation: the real Go memberlist, or testing/ts_peer.ts on Deno or on Node.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type PeerOptions,
  type PeerProcess,
  startGoPeer,
  startPeerProcess,
} from "../testing/go_peer.ts";

/** The implementations the bench knows. */
export const IMPLS: readonly Impl[] = ["go", "ts-deno", "ts-node", "ts-cluster"];
/**
 * Go memberlist v0.2.2; our memberlist alone on Deno, or on Node (tsc build); our whole node
 * (`cluster()`: memberlist, the replicated log and its hints) on Deno.
 */
export type Impl = "go" | "ts-deno" | "ts-node" | "ts-cluster";
/** Tuning presets shared by both implementations. */
export type Preset = "local" | "lan" | "wan";

/** The repository root (this file lives in bench/, or in build/bench/ after tsc). */
function repoRoot(): string {
  for (const rel of ["../", "../../"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, "testing", "ts_peer.ts"))) return dir;
  }
  return process.cwd();
}

function denoBinary(root: string): string {
  const local = join(root, "node_modules", ".bin", "deno");
  return existsSync(local) ? local : "deno";
}

function run(cmd: string, args: string[], cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    let out = "";
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => out += d.toString());
    child.stderr.on("data", (d: Buffer) => out += d.toString());
    child.on("error", (e) => resolve(e.message));
    child.on("close", (code) => resolve(code === 0 ? null : out || `exit ${code}`));
  });
}

let nodeBuild: Promise<string> | undefined;

/** Compiles testing/ts_peer.ts (and what it imports) with tsc into build/ts-peer-node/. */
export function ensureNodeTsPeer(): Promise<string> {
  nodeBuild ??= (async () => {
    const root = repoRoot();
    const outDir = join(root, "build", "ts-peer-node");
    const entry = join(outDir, "testing", "ts_peer.js");
    mkdirSync(outDir, { recursive: true });
    const config = join(root, "build", "tsconfig.ts-peer.json");
    writeFileSync(
      config,
      JSON.stringify({
        extends: "../tsconfig.json",
        compilerOptions: {
          types: ["node"], // TypeScript 6 includes no @types by default
          noEmit: false,
          rootDir: "..",
          outDir: "ts-peer-node",
          declaration: false,
        },
        files: ["../testing/ts_peer.ts"],
      }),
    );
    const src = statSync(join(root, "testing", "ts_peer.ts")).mtimeMs;
    if (!existsSync(entry) || statSync(entry).mtimeMs < src || process.env.TS_PEER_REBUILD) {
      const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
      const err = await run("node", [tsc, "-p", config], root);
      if (err) throw new Error(`tsc build of testing/ts_peer.ts failed:\n${err}`);
    }
    return entry;
  })();
  nodeBuild.catch(() => nodeBuild = undefined);
  return nodeBuild;
}

/**
 * Starts one node of the given implementation with the line protocol on stdin/stdout.
 *
 * @example
 * ```ts
 * const p = await startImplPeer("ts-deno", { name: "n1", preset: "lan" });
 * ```
 */
export async function startImplPeer(impl: Impl, opts: PeerOptions): Promise<PeerProcess> {
  const root = repoRoot();
  switch (impl) {
    case "go":
      return await startGoPeer(opts);
    case "ts-deno":
      return await startPeerProcess(denoBinary(root), [
        "run",
        "-A",
        "--quiet",
        join(root, "testing", "ts_peer.ts"),
      ], { readyTimeoutMs: 60_000, ...opts });
    case "ts-node":
      return await startPeerProcess("node", [await ensureNodeTsPeer()], {
        readyTimeoutMs: 30_000,
        ...opts,
      });
    case "ts-cluster":
      return await startPeerProcess(denoBinary(root), [
        "run",
        "-A",
        "--quiet",
        join(root, "testing", "cluster_peer.ts"),
      ], { readyTimeoutMs: 60_000, ...opts });
  }
}
