/**
 * Drives log_node.ts processes from a test: start, command, SIGKILL, restart on the same
 * store directory. Under Deno the runner is started from the sources, under Node from the
 * tsc build (build/tests/support/log_node.js), with the runtime running the test.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { HostPort } from "../../transport/types.ts";
import { isDeno } from "./runtime.ts";

type Msg = Record<string, unknown>;

function runnerCommand(arg: string): { cmd: string; args: string[] } {
  const ext = isDeno ? "ts" : "js";
  const script = fileURLToPath(new URL(`./log_node.${ext}`, import.meta.url));
  return { cmd: process.execPath, args: isDeno ? ["run", "-A", script, arg] : [script, arg] };
}

/** One log node process. */
export class LogProc {
  readonly name: string;
  readonly dir: string;
  /** Seqs this node reported as quorum-acknowledged (own origin), over all its runs. */
  readonly acked: number[] = [];
  address: HostPort = { host: "", port: 0 };
  /** What the last start reported: entries recovered from the directory. */
  records = 0;
  #proc: ChildProcess | undefined;
  #inbox: Msg[] = [];
  #waiters: { type: string; resolve: (m: Msg) => void; reject: (e: Error) => void }[] = [];
  #stderr = "";
  #exited: Promise<void> = Promise.resolve();

  constructor(name: string, dir: string) {
    this.name = name;
    this.dir = dir;
  }

  /** Starts (or restarts) the process on its directory; resolves once it listens. */
  async start(): Promise<void> {
    const { cmd, args } = runnerCommand(
      JSON.stringify({ name: this.name, dir: this.dir, fsync: "always" }),
    );
    const proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.#proc = proc;
    this.#inbox = [];
    proc.stderr!.on("data", (d: Uint8Array) => {
      this.#stderr = (this.#stderr + new TextDecoder().decode(d)).slice(-4000);
    });
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const msg = JSON.parse(line) as Msg;
      if (msg.type === "acked") {
        this.acked.push(msg.seq as number);
        return;
      }
      const i = this.#waiters.findIndex((w) => w.type === msg.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(msg);
      else this.#inbox.push(msg);
    });
    this.#exited = new Promise((resolve) => {
      proc.once("exit", () => {
        for (const w of this.#waiters.splice(0)) {
          w.reject(new Error(`${this.name} exited while waiting for ${w.type}: ${this.#stderr}`));
        }
        resolve();
      });
    });
    const ready = await this.next("ready", 30_000);
    this.address = ready.address as HostPort;
    this.records = ready.records as number;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.#proc !== undefined && this.#proc.exitCode === null &&
      this.#proc.signalCode === null;
  }

  /** The next message of `type` (queued or future). */
  next(type: string, ms = 15_000): Promise<Msg> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0]);
    if (!this.running) return Promise.reject(new Error(`${this.name} is not running`));
    return new Promise((resolve, reject) => {
      const w = {
        type,
        resolve: (m: Msg) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(w);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new Error(`${this.name}: no ${type} within ${ms} ms; stderr: ${this.#stderr}`));
      }, ms);
      this.#waiters.push(w);
    });
  }

  /** Sends a command without waiting. */
  send(cmd: Msg): void {
    this.#proc?.stdin?.write(JSON.stringify(cmd) + "\n");
  }

  /** Sends a command and waits for its reply. */
  ask(cmd: Msg, type: string, ms?: number): Promise<Msg> {
    const reply = this.next(type, ms);
    this.send(cmd);
    return reply;
  }

  /** Resolves when the current process has exited. */
  exited(): Promise<void> {
    return this.#exited;
  }

  /** SIGKILL, and waits until the process is gone. */
  async kill(): Promise<void> {
    if (this.running) this.#proc!.kill("SIGKILL");
    await this.#exited;
  }

  /** Graceful close when running, else nothing; always leaves no process behind. */
  async stop(): Promise<void> {
    if (this.running) {
      await this.ask({ cmd: "close" }, "closed", 5000).catch(() => {});
      if (this.running) this.#proc!.kill("SIGKILL");
    }
    await this.#exited;
  }
}

/** Tells every running process about every other one (the killed ones included). */
export async function wireProcs(procs: readonly LogProc[]): Promise<void> {
  await Promise.all(
    procs.filter((p) => p.running).map((p) =>
      p.ask({
        cmd: "peers",
        peers: procs.filter((o) => o !== p).map((o) => ({ name: o.name, address: o.address })),
      }, "peers")
    ),
  );
}

/** Polls every listed process's state until `cond` holds for all of them together. */
export async function waitStates(
  procs: readonly LogProc[],
  cond: (states: Msg[]) => boolean,
  what: string,
  ms = 20_000,
): Promise<Msg[]> {
  const end = Date.now() + ms;
  for (;;) {
    const states = await Promise.all(procs.map((p) => p.ask({ cmd: "state" }, "state")));
    if (cond(states)) return states;
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(states)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Heads as a canonical string (sorted keys). */
export function headsKey(state: Msg): string {
  const h = state.heads as Record<string, number>;
  return JSON.stringify(Object.keys(h).sort().map((k) => [k, h[k]]));
}
