/**
 * Running the `ip`/`nft` commands the testbed needs (async and sync), and the process exit
 * hooks that tear testbeds down when a test run crashes or is interrupted.
 *
 * ```ts
 * const r = await run("ip", ["netns", "list"]);
 * installExitCleanup(() => console.log("cleaning up"));
 * ```
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";

/** Outcome of a finished command. */
export interface RunResult {
  /** Exit code; null when killed by a signal or not started. */
  code: number | null;
  /** Signal that ended it, if any. */
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Why it could not start (e.g. ENOENT), if it did not. */
  error?: string;
}

/** Runs a command to completion, feeding `input` to its stdin; kills it after `timeoutMs` (default 30 s). */
export function run(
  cmd: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let error: string | undefined;
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      error = `timed out after ${options.timeoutMs ?? 30_000} ms`;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 30_000);
    child.stdout?.setEncoding("utf8").on("data", (d: string) => stdout += d);
    child.stderr?.setEncoding("utf8").on("data", (d: string) => stderr += d);
    child.once("error", (err) => {
      error = err.message;
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: error === undefined ? code : (code ?? null), signal, stdout, stderr, error });
    });
    child.stdin?.on("error", () => {}); // a command that exits early closes its stdin: not our error
    child.stdin?.end(options.input ?? "");
  });
}

/** Synchronous {@link run}, for cleanup in exit hooks (no event loop there). */
export function runSync(cmd: string, args: string[]): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  return {
    code: r.status,
    signal: r.signal,
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? "",
    error: r.error?.message,
  };
}

let cleanups: (() => void)[] | undefined;

function runCleanups(): void {
  const list = cleanups ?? [];
  for (const fn of list) {
    try {
      fn();
    } catch {
      // best effort: one failing cleanup must not stop the others
    }
  }
}

/**
 * Registers `fn` to run (synchronously) when the process exits, also on SIGINT/SIGTERM
 * (after which the process exits with 130/143). Registering the same function twice runs it
 * once. Deno's test runner does not emit `exit`, only the global `unload` event: both are used.
 */
export function installExitCleanup(fn: () => void): void {
  if (cleanups === undefined) {
    cleanups = [];
    process.on("exit", runCleanups);
    const target = globalThis as {
      addEventListener?: (type: string, listener: () => void) => void;
    };
    if (typeof target.addEventListener === "function") {
      target.addEventListener("unload", runCleanups);
    }
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      process.on(signal, () => {
        runCleanups();
        process.exit(code);
      });
    }
  }
  if (!cleanups.includes(fn)) cleanups.push(fn);
}
