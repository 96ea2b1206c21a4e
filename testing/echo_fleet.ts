/**
 * Drives one `udp_echo.mjs` per testbed host over its stdin/stdout, to measure what really
 * crosses the bridge between namespaces: packets received by the target (forward direction)
 * and echoes back at the sender (reverse direction).
 *
 * ```ts
 * const fleet = await EchoFleet.start(bed);
 * const m = await fleet.measure(0, 1, "t1", 2000);
 * m.forwardLoss; // fraction lost from host 0 to host 1
 * await fleet.stop();
 * ```
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import type { Testbed } from "./netns.ts";
import { repoRoot } from "./repo_root.ts";

/** Port every echo program listens on, inside its own namespace. */
export const ECHO_PORT = 7000;

/** One direction-resolved measurement of a link. */
export interface LinkMeasurement {
  sent: number;
  /** Counted by the target. */
  received: number;
  /** Counted back at the sender. */
  echoes: number;
  /** 1 - received/sent. */
  forwardLoss: number;
  /** 1 - echoes/received (0 when nothing arrived). */
  reverseLoss: number;
}

/** Pacing of a measurement: `batch` packets every `everyMs`, then `settleMs` for stragglers. */
export interface Pacing {
  batch?: number;
  everyMs?: number;
  settleMs?: number;
}

type Reply = Record<string, unknown>;

class EchoProcess {
  readonly child: ChildProcess;
  #pending = new Map<number, (reply: Reply) => void>();
  #nextId = 1;
  #ready: Promise<void>;
  #exited: Promise<void>;
  stderr = "";

  constructor(child: ChildProcess) {
    this.child = child;
    child.stderr?.setEncoding("utf8").on("data", (d: string) => this.stderr += d);
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    this.#ready = new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on("line", (line) => {
        let msg: Reply;
        try {
          msg = JSON.parse(line) as Reply;
        } catch {
          return;
        }
        if (msg.event === "ready") resolve();
        const id = typeof msg.id === "number" ? msg.id : -1;
        const waiter = this.#pending.get(id);
        if (waiter !== undefined) {
          this.#pending.delete(id);
          waiter(msg);
        }
      });
      child.once(
        "exit",
        (code) => reject(new Error(`udp_echo exited (${code}) before ready: ${this.stderr}`)),
      );
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  request(cmd: Reply, timeoutMs = 60_000): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`udp_echo did not answer ${JSON.stringify(cmd)} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.child.stdin?.write(JSON.stringify({ ...cmd, id }) + "\n");
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin?.end(JSON.stringify({ op: "quit" }) + "\n");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
      await this.#exited;
      clearTimeout(timer);
    }
  }
}

/** The echo programs of a testbed, one per host. */
export class EchoFleet {
  readonly bed: Testbed;
  readonly #procs: EchoProcess[];

  private constructor(bed: Testbed, procs: EchoProcess[]) {
    this.bed = bed;
    this.#procs = procs;
  }

  /** Starts `udp_echo.mjs` with `node` in every host namespace and waits until all are bound. */
  static async start(bed: Testbed): Promise<EchoFleet> {
    const script = join(repoRoot(), "testing", "udp_echo.mjs");
    const procs: EchoProcess[] = [];
    for (let i = 0; i < bed.hosts; i++) {
      const child = bed.spawn(i, "node", [script, bed.address(i), String(ECHO_PORT)], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      procs.push(new EchoProcess(child));
    }
    const fleet = new EchoFleet(bed, procs);
    try {
      await Promise.all(procs.map((p) => p.ready()));
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  /** The echo program's child process on a host. */
  child(host: number): ChildProcess {
    return this.#procs[host].child;
  }

  /** Sends `count` packets tagged `tag` from `from` to `to`; returns sent and echoed counts. */
  async send(
    from: number,
    to: number,
    tag: string,
    count: number,
    pacing: Pacing = {},
  ): Promise<{ sent: number; echoes: number }> {
    const reply = await this.#procs[from].request({
      op: "send",
      tag,
      to: `${this.bed.address(to)}:${ECHO_PORT}`,
      count,
      batch: pacing.batch ?? 10,
      everyMs: pacing.everyMs ?? 10,
      settleMs: pacing.settleMs ?? 500,
    });
    return { sent: Number(reply.sent), echoes: Number(reply.echoes) };
  }

  /** Packets tagged `tag` that host `host` received. */
  async received(host: number, tag: string): Promise<number> {
    const reply = await this.#procs[host].request({ op: "count", tag });
    return Number(reply.received);
  }

  /** Sends from `from` to `to` and resolves the loss of each direction. */
  async measure(
    from: number,
    to: number,
    tag: string,
    count: number,
    pacing: Pacing = {},
  ): Promise<LinkMeasurement> {
    const { sent, echoes } = await this.send(from, to, tag, count, pacing);
    const received = await this.received(to, tag);
    return {
      sent,
      received,
      echoes,
      forwardLoss: 1 - received / sent,
      reverseLoss: received === 0 ? 0 : 1 - echoes / received,
    };
  }

  /** Sends from the root namespace (through the probe port) to a host and counts the echoes. */
  async probeFromRoot(
    to: number,
    tag: string,
    count: number,
  ): Promise<{ sent: number; echoes: number }> {
    const socket = createSocket("udp4");
    let echoes = 0;
    socket.on("message", (msg) => {
      if (msg.toString("utf8").startsWith(`E ${tag} `)) echoes++;
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(0, this.bed.probeAddress, () => resolve());
      });
      for (let sent = 0; sent < count;) {
        for (let i = 0; i < 10 && sent < count; i++, sent++) {
          socket.send(`P ${tag} ${sent}`, ECHO_PORT, this.bed.address(to));
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 500));
      return { sent: count, echoes };
    } finally {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  }

  /** Asks every echo program to quit and waits for them. */
  async stop(): Promise<void> {
    await Promise.all(this.#procs.map((p) => p.stop()));
  }
}

/** Every ordered pair (a, b), a ≠ b, of `n` hosts. */
export function orderedPairs(n: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (a !== b) pairs.push([a, b]);
  return pairs;
}

let tagCounter = 0;

/** A tag unique to this process and call. */
export function uniqueTag(label: string): string {
  return `${label}.${process.pid}.${++tagCounter}`;
}
