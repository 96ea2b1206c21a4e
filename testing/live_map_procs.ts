/**
 * Instances of the live map example (examples/live_map/main.ts) as child processes on
 * loopback: under Deno from the sources, under Node from the tsc build (build/examples/...),
 * with the runtime running the test. Ports are picked free; every instance lists all three
 * gossip addresses as `members`, as a deployment would.
 *
 * ```ts
 * const instances = await LiveMapInstance.startMany(["a", "b", "c"]);
 * await Promise.all(instances.map((i) => i.waitReady()));
 * instances[0].kill("SIGKILL");
 * await Promise.all(instances.map((i) => i.stop())); // in after(): always
 * ```
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { isDeno } from "./runtime.ts";
import { freePort } from "./nats_server.ts";
import { repoRoot } from "./repo_root.ts";

/** One running instance of the live map server. */
export class LiveMapInstance {
  /** Node name (also its haproxy server name). */
  readonly name: string;
  /** HTTP port on 127.0.0.1. */
  readonly httpPort: number;
  readonly #proc: ChildProcess;
  #output = "";
  readonly exited: Promise<number | string>;

  private constructor(name: string, httpPort: number, proc: ChildProcess) {
    this.name = name;
    this.httpPort = httpPort;
    this.#proc = proc;
    const keep = (d: Uint8Array) => {
      this.#output = (this.#output + new TextDecoder().decode(d)).slice(-6000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      proc.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    });
  }

  /** Starts one instance per name, all listing each other's gossip ports. */
  static async startMany(
    names: string[],
    env: Record<string, string> = {},
  ): Promise<LiveMapInstance[]> {
    const ports: { http: number; log: number; gossip: number }[] = [];
    for (const _ of names) {
      ports.push({ http: await freePort(), log: await freePort(), gossip: await freePort() });
    }
    const members = ports.map((p) => `127.0.0.1:${p.gossip}`).join(",");
    const ext = isDeno ? "ts" : "js";
    const main = fileURLToPath(new URL(`../examples/live_map/main.${ext}`, import.meta.url));
    return names.map((name, i) => {
      const args = isDeno ? ["run", "-A", main] : [main];
      const proc = spawn(process.execPath, args, {
        cwd: repoRoot(),
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          NODE_NAME: name,
          HTTP_HOST: "127.0.0.1",
          HTTP_PORT: String(ports[i].http),
          CLUSTER_BIND_ADDRESS: "127.0.0.1",
          CLUSTER_BIND_PORT: String(ports[i].log),
          CLUSTER_MEMBERLIST_PORT: String(ports[i].gossip),
          CLUSTER_MEMBERS: members,
          ...env,
        },
      });
      return new LiveMapInstance(name, ports[i].http, proc);
    });
  }

  /** Base URL of its HTTP server. */
  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Whether the process runs. */
  get running(): boolean {
    return this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  /** What it printed last (for failure messages). */
  get output(): string {
    return this.#output;
  }

  /** Resolves once its own `/readyz` (or `path`) answers 200. */
  async waitReady(timeoutMs = 60_000, path = "/readyz"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited: ${this.#output}`);
      try {
        const res = await fetch(`${this.url}${path}`);
        await res.body?.cancel();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${this.name}: ${path} not 200 within ${timeoutMs} ms: ${this.#output}`);
  }

  /**
   * Sends a signal to the process by its PID. (Not `ChildProcess.kill`: under Deno, a child
   * signalled through it is reported as killed by the signal even when it exits 0 by itself.)
   */
  kill(signal: "SIGTERM" | "SIGKILL"): void {
    if (this.running && this.#proc.pid !== undefined) process.kill(this.#proc.pid, signal);
  }

  /** Kills it if it still runs and waits for the exit. */
  async stop(): Promise<void> {
    this.kill("SIGKILL");
    await this.exited;
  }
}
