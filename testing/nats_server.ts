/**
 * A real `nats-server` for tests: free loopback ports, start, stop, restart, and a wait until
 * the port accepts connections.
 *
 * The binary comes from Debian (`apt-get install -y nats-server`, installs
 * `/usr/sbin/nats-server`) or from `$NATS_SERVER`. When it is missing, {@link NatsServer.create}
 * throws a clear error: tests that need NATS fail loudly instead of passing silently.
 *
 * ```ts
 * const nats = await NatsServer.create({ websocket: true }); // ports picked, not running
 * await nats.start();
 * nats.url;   // "nats://127.0.0.1:<port>"
 * nats.wsUrl; // "ws://127.0.0.1:<port>"
 * await nats.restart(); // same ports
 * await nats.stop();    // in after(): always
 * ```
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";

/** A TCP port on 127.0.0.1 that was free a moment ago (bind 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Path of the nats-server binary; throws with install instructions when there is none. */
export function natsServerPath(): string {
  const fromEnv = process.env.NATS_SERVER;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!existsSync(fromEnv)) throw new Error(`NATS_SERVER=${fromEnv} does not exist`);
    return fromEnv;
  }
  const dirs = [
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/bin",
    ...(process.env.PATH ?? "").split(delimiter),
  ];
  for (const dir of dirs) {
    if (dir !== "" && existsSync(join(dir, "nats-server"))) return join(dir, "nats-server");
  }
  throw new Error(
    "nats-server is not installed, and these tests need a real one: " +
      "run `apt-get install -y nats-server` (Debian) or set NATS_SERVER=/path/to/nats-server",
  );
}

/** Resolves once `port` on 127.0.0.1 accepts a TCP connection; rejects after `timeoutMs`. */
export async function waitForPort(
  port: number,
  timeoutMs = 10_000,
  alive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (!alive()) throw new Error(`process exited before port ${port} accepted connections`);
    if (Date.now() > deadline) {
      throw new Error(`port ${port} did not accept connections within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What {@link NatsServer.create} sets up. */
export interface NatsServerOptions {
  /** Client port; default: a free one. */
  port?: number;
  /** Also serve WebSocket (no TLS) on a free port. */
  websocket?: boolean;
}

/** One nats-server process on 127.0.0.1, restartable on the same ports. */
export class NatsServer {
  /** Client port. */
  readonly port: number;
  /** WebSocket port, when enabled. */
  readonly wsPort: number | undefined;
  readonly #binary: string;
  readonly #dir: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stderr = "";

  private constructor(binary: string, port: number, wsPort: number | undefined) {
    this.#binary = binary;
    this.port = port;
    this.wsPort = wsPort;
    this.#dir = mkdtempSync(join(tmpdir(), "nats-test-"));
  }

  /** Picks ports and checks the binary; does not start the server (see {@link start}). */
  static async create(options: NatsServerOptions = {}): Promise<NatsServer> {
    const binary = natsServerPath();
    const port = options.port ?? (await freePort());
    const wsPort = options.websocket === true ? await freePort() : undefined;
    return new NatsServer(binary, port, wsPort);
  }

  /** Picks ports and starts the server. */
  static async launch(options: NatsServerOptions = {}): Promise<NatsServer> {
    const server = await NatsServer.create(options);
    await server.start();
    return server;
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** `ws://127.0.0.1:<wsPort>`; throws when WebSocket is not enabled. */
  get wsUrl(): string {
    if (this.wsPort === undefined) throw new Error("websocket not enabled for this nats-server");
    return `ws://127.0.0.1:${this.wsPort}`;
  }

  /** Whether the process runs. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the process and waits until its port(s) accept connections. */
  async start(): Promise<void> {
    if (this.#child !== undefined) return;
    const args = ["-a", "127.0.0.1", "-p", String(this.port)];
    if (this.wsPort !== undefined) {
      const conf = join(this.#dir, "nats.conf");
      writeFileSync(
        conf,
        `websocket {\n  host: 127.0.0.1\n  port: ${this.wsPort}\n  no_tls: true\n}\n`,
      );
      args.push("-c", conf);
    }
    this.#stderr = "";
    const child = spawn(this.#binary, args, { stdio: ["ignore", "ignore", "pipe"] });
    this.#child = child;
    let exited = false;
    this.#exited = new Promise((resolve) => {
      child.once("exit", () => {
        exited = true;
        resolve();
      });
      child.once("error", (err) => {
        this.#stderr += String(err);
        exited = true;
        resolve();
      });
    });
    child.stderr?.on("data", (chunk: Uint8Array) => {
      // keep the tail only: enough to explain a failed start
      this.#stderr = (this.#stderr + String(chunk)).slice(-4096);
    });
    try {
      await waitForPort(this.port, 10_000, () => !exited);
      if (this.wsPort !== undefined) await waitForPort(this.wsPort, 10_000, () => !exited);
    } catch (err) {
      await this.stop();
      throw new Error(`nats-server did not start: ${(err as Error).message}\n${this.#stderr}`);
    }
  }

  /** Stops the process (SIGTERM, SIGKILL after 5 s) and waits for its exit; idempotent. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    child.stderr?.destroy();
  }

  /** Stops, then starts again on the same ports. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the process and removes its temporary directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
