/**
 * A test-support script (`testing/<script>.ts`) in its own process, speaking JSON lines:
 * commands on stdin, replies and events on stdout. Under Deno the script runs from the
 * sources, under Node from the tsc build (build/testing/<script>.js), with the runtime
 * running the test. log_procs.ts and memberlist_faults_test.ts build on it.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { isDeno } from "./runtime.ts";

/** One JSON line. */
export type Msg = Record<string, unknown>;

function scriptCommand(script: string, arg: string): { cmd: string; args: string[] } {
  const ext = isDeno ? "ts" : "js";
  const path = fileURLToPath(new URL(`./${script}.${ext}`, import.meta.url));
  return { cmd: process.execPath, args: isDeno ? ["run", "-A", path, arg] : [path, arg] };
}

/** One process of a support script; restartable. */
export class JsonLineProc {
  readonly name: string;
  readonly #script: string;
  #proc: ChildProcess | undefined;
  #inbox: Msg[] = [];
  #waiters: { type: string; resolve: (m: Msg) => void; reject: (e: Error) => void }[] = [];
  #stderr = "";
  #exited: Promise<void> = Promise.resolve();

  /** `script`: the file's base name in testing/, without extension. */
  constructor(name: string, script: string) {
    this.name = name;
    this.#script = script;
  }

  /**
   * A message the process sent on its own (an event, not a reply); return true to consume it,
   * false to queue it for {@link next}.
   */
  protected onEvent(_msg: Msg): boolean {
    return false;
  }

  /** Starts (or restarts) the process with `arg` as JSON; resolves with its "ready" message. */
  protected async launch(arg: Msg): Promise<Msg> {
    const { cmd, args } = scriptCommand(this.#script, JSON.stringify(arg));
    const proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.#proc = proc;
    this.#inbox = [];
    proc.stderr!.on("data", (d: Uint8Array) => {
      this.#stderr = (this.#stderr + new TextDecoder().decode(d)).slice(-4000);
    });
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const msg = JSON.parse(line) as Msg;
      if (this.onEvent(msg)) return;
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
    return await this.next("ready", 30_000);
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
