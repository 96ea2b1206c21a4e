/**
 * A real load balancer for tests: Debian's haproxy (`/usr/sbin/haproxy`, or `$HAPROXY`) or
 * nginx (`/usr/sbin/nginx`, or `$NGINX`), on a config file of the test's own in a temporary
 * directory, started in the foreground, stopped by PID. For haproxy, its statistics page read
 * as CSV says which servers it considers up.
 *
 * ```ts
 * const lb = await LoadBalancer.start("haproxy", config, frontPort);
 * await lb.serverStatus(statsPort, "live_map", "a"); // "UP", "DOWN", "DOWN 1/2"...
 * await lb.stop(); // in after(): always
 * ```
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { waitForPort } from "./nats_server.ts";

/** Which load balancer. */
export type LoadBalancerKind = "haproxy" | "nginx";

/** Path of the binary (`$HAPROXY` / `$NGINX` when set), or undefined when it is not installed. */
export function loadBalancerPath(kind: LoadBalancerKind): string | undefined {
  const fromEnv = process.env[kind.toUpperCase()];
  const candidates = fromEnv ? [fromEnv] : [`/usr/sbin/${kind}`, `/usr/bin/${kind}`];
  return candidates.find((p) => existsSync(p));
}

/**
 * A config file of the example (`text`) with its ports replaced: every `127.0.0.1:<from>`
 * whose port is a key of `ports` gets that key's value.
 */
export function withPorts(text: string, ports: Record<number, number>): string {
  return text.replace(/127\.0\.0\.1:(\d+)/g, (all, port: string) => {
    const to = ports[Number(port)];
    return to === undefined ? all : `127.0.0.1:${to}`;
  });
}

/** A running load balancer. */
export class LoadBalancer {
  readonly #proc: ChildProcess;
  readonly #dir: string;
  #output = "";

  private constructor(proc: ChildProcess, dir: string) {
    this.#proc = proc;
    this.#dir = dir;
    const keep = (d: Uint8Array) => {
      this.#output = (this.#output + new TextDecoder().decode(d)).slice(-4000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
  }

  /** Writes `config` to a temporary directory and starts on it; resolves once `port` accepts. */
  static async start(kind: LoadBalancerKind, config: string, port: number): Promise<LoadBalancer> {
    const bin = loadBalancerPath(kind);
    if (bin === undefined) throw new Error(`${kind} is not installed: apt-get install -y ${kind}`);
    const dir = mkdtempSync(join(tmpdir(), `${kind}-test-`));
    const file = join(dir, `${kind}.conf`);
    writeFileSync(file, config);
    // In the foreground (haproxy -db, nginx daemon off), so the PID we hold is its own.
    const args = kind === "haproxy"
      ? ["-db", "-f", file]
      : ["-p", dir, "-e", "stderr", "-c", file, "-g", "daemon off;"];
    const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    const lb = new LoadBalancer(proc, dir);
    try {
      await waitForPort(port, 10_000, () => proc.exitCode === null);
    } catch (err) {
      await lb.stop();
      throw new Error(`${kind} did not start: ${err}\n${lb.output}`);
    }
    return lb;
  }

  /** The last lines it wrote. */
  get output(): string {
    return this.#output;
  }

  /** haproxy: the `status` column of one server in the statistics CSV ("UP", "DOWN"...). */
  async serverStatus(
    statsPort: number,
    backend: string,
    server: string,
  ): Promise<string | undefined> {
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
    const [header, ...rows] = csv.trim().split("\n");
    const columns = header.replace(/^# /, "").split(",");
    const status = columns.indexOf("status");
    for (const row of rows) {
      const cells = row.split(",");
      if (cells[0] === backend && cells[1] === server) return cells[status];
    }
    return undefined;
  }

  /** Stops it by its PID (SIGTERM, then SIGKILL after 3 s) and removes its directory. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
