/**
 * A real haproxy (Debian's `/usr/sbin/haproxy`, or `$HAPROXY`) for tests: a config file of the
 * test's own in a temporary directory, started in the foreground, stopped by PID, and its
 * statistics page read as CSV to see which servers it considers up.
 *
 * ```ts
 * const lb = await Haproxy.start(config, statsPort); // config from liveMapHaproxyConfig()
 * await lb.serverStatus("live_map", "a"); // "UP", "DOWN", "DOWN 1/2"...
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

/** Path of the haproxy binary, or undefined when there is none. */
export function haproxyPath(): string | undefined {
  const candidates = [process.env.HAPROXY, "/usr/sbin/haproxy", "/usr/bin/haproxy"];
  return candidates.find((p) => p !== undefined && p !== "" && existsSync(p));
}

/** One server behind the load balancer. */
export interface Backend {
  /** Server name in haproxy (and the instance's node name). */
  name: string;
  /** Its HTTP port on 127.0.0.1. */
  port: number;
}

/**
 * The live map recipe: round robin over the instances, health checks on `/readyz` every
 * 500 ms (down after 2 failures, up after 2 successes), retries of failed connections on
 * another server, long timeouts for event streams, an `x-instance: <name>` header that pins a
 * request to one instance while it is up, and a statistics page at `/stats`.
 */
export function liveMapHaproxyConfig(
  frontPort: number,
  statsPort: number,
  servers: Backend[],
): string {
  return [
    "global",
    "  maxconn 256",
    "defaults",
    "  mode http",
    "  timeout connect 1s",
    "  timeout client 60s",
    "  timeout server 60s",
    "  timeout tunnel 1h",
    "  retries 3",
    "  option redispatch 1",
    "frontend web",
    `  bind 127.0.0.1:${frontPort}`,
    "  default_backend live_map",
    "backend live_map",
    "  balance roundrobin",
    "  option httpchk GET /readyz",
    "  http-check expect status 200",
    "  default-server inter 500ms fall 2 rise 2",
    ...servers.map((s) => `  use-server ${s.name} if { req.hdr(x-instance) -m str ${s.name} }`),
    ...servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`),
    "listen stats",
    `  bind 127.0.0.1:${statsPort}`,
    "  stats enable",
    "  stats uri /stats",
    "",
  ].join("\n");
}

/** A running haproxy. */
export class Haproxy {
  readonly #proc: ChildProcess;
  readonly #dir: string;
  readonly #statsPort: number;
  #output = "";

  private constructor(proc: ChildProcess, dir: string, statsPort: number) {
    this.#proc = proc;
    this.#dir = dir;
    this.#statsPort = statsPort;
    const keep = (d: Uint8Array) => {
      this.#output = (this.#output + new TextDecoder().decode(d)).slice(-4000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
  }

  /** Writes `config` to a temporary file and starts haproxy on it; resolves once `statsPort` accepts. */
  static async start(config: string, statsPort: number): Promise<Haproxy> {
    const bin = haproxyPath();
    if (bin === undefined) throw new Error("haproxy is not installed: apt-get install -y haproxy");
    const dir = mkdtempSync(join(tmpdir(), "haproxy-test-"));
    const file = join(dir, "haproxy.cfg");
    writeFileSync(file, config);
    // -db: stay in the foreground, so the PID we hold is haproxy's own.
    const proc = spawn(bin, ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
    const lb = new Haproxy(proc, dir, statsPort);
    try {
      await waitForPort(statsPort, 10_000, () => proc.exitCode === null);
    } catch (err) {
      await lb.stop();
      throw new Error(`haproxy did not start: ${err}\n${lb.output}`);
    }
    return lb;
  }

  /** The last lines haproxy wrote. */
  get output(): string {
    return this.#output;
  }

  /** The `status` column of one server in the statistics CSV ("UP", "DOWN", "MAINT"...). */
  async serverStatus(backend: string, server: string): Promise<string | undefined> {
    const csv = await (await fetch(`http://127.0.0.1:${this.#statsPort}/stats;csv`)).text();
    const [header, ...rows] = csv.trim().split("\n");
    const columns = header.replace(/^# /, "").split(",");
    const status = columns.indexOf("status");
    for (const row of rows) {
      const cells = row.split(",");
      if (cells[0] === backend && cells[1] === server) return cells[status];
    }
    return undefined;
  }

  /** Stops haproxy by its PID (SIGTERM, then SIGKILL after 3 s) and removes its directory. */
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
