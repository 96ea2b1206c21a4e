/**
 * CLI agents (`cli/main.ts agent`) inside testbed namespaces, for the chaos scenarios: starting
 * them, reading their JSON-line events, asking their control endpoint over the probe veth.
 *
 * Contract with the agent (cli/main.ts):
 * - `agent --config <file.json> --name <n> --control <host:port> [--data-dir <dir>]`;
 * - stdout JSON lines: `{"event":"ready","name","memberlist","log","control"}`, then
 *   `member-join|member-update|member-suspect|member-failed|member-leave` with `node`,
 *   `address`, `state`, and `entry` with `origin`, `seq`;
 * - control HTTP: `GET /members` → `{ name, members: [{ name, address, state, ... }] }`;
 *   for the crash scenario also `POST /append` (JSON `{ value, ack: "quorum", timeout }` →
 *   200 `{ origin, seq }` once acknowledged) and `GET /heads` (→ `{ heads: { origin: seq } }`).
 *
 * `CHAOS_CLI=<file>` points the scenarios at another entry point than cli/main.ts/build/cli/main.js.
 *
 * ```ts
 * const cli = await probeCli();
 * if (cli.ok) {
 *   const agents = await startAgents(bed, cli.command, dir);
 *   await waitAllAlive(agents, 5, 60_000);
 * }
 * ```
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Environment } from "../cluster/config.ts";
import { canCreateNamespaces, type Testbed } from "./netns.ts";
import { run } from "./netns_exec.ts";
import { repoRoot } from "./repo_root.ts";

/** How to start the CLI in this runtime. */
export interface CliCommand {
  cmd: string;
  args: string[];
  cwd: string;
}

/** One JSON line of an agent, with the time it was read. */
export interface AgentEvent {
  event: string;
  node?: string;
  state?: string;
  origin?: string;
  seq?: number;
  [field: string]: unknown;
  /** Date.now() when the test read it. */
  at: number;
}

/** A member as `GET /members` reports it. */
export interface MemberView {
  name: string;
  address: string;
  state: string;
}

const CONTROL_PORT = 3321;
// the agents' control endpoints listen on the namespaces' addresses, not loopback: a token is
// required there (cli/control.ts)
const CONTROL_TOKEN = "chaos-test-control-token";

/**
 * Deno runs the sources; Node runs the tsc build of cli/main.ts, which sits two levels above this
 * compiled file (build/testing/ -> build/cli/main.js).
 */
function cliCommand(): CliCommand | string {
  const root = repoRoot();
  // CHAOS_CLI runs the scenarios against another entry point (a .ts under Deno, .js under Node).
  const override = process.env.CHAOS_CLI;
  if (override !== undefined && override !== "") {
    if (!existsSync(override)) return `CHAOS_CLI=${override} does not exist`;
    const args = "Deno" in globalThis
      ? ["run", "-A", "--config", join(root, "deno.json"), override]
      : [override];
    return { cmd: process.execPath, args, cwd: root };
  }
  if (!existsSync(join(root, "cli", "main.ts"))) return "cli/main.ts does not exist yet";
  if ("Deno" in globalThis) {
    return { cmd: process.execPath, args: ["run", "-A", join(root, "cli", "main.ts")], cwd: root };
  }
  const built = fileURLToPath(new URL("../cli/main.js", import.meta.url));
  if (!existsSync(built)) {
    return `${built} does not exist (the Node run needs the tsc build of cli/main.ts)`;
  }
  return { cmd: process.execPath, args: [built], cwd: root };
}

/** Whether the CLI exists and answers with an `agent` usage; `usage` is its help text. */
export async function probeCli(): Promise<
  { ok: true; command: CliCommand; usage: string } | { ok: false; reason: string }
> {
  const command = cliCommand();
  if (typeof command === "string") return { ok: false, reason: command };
  const r = await run(command.cmd, [...command.args, "--help"], { timeoutMs: 120_000 });
  const usage = r.stdout + r.stderr;
  if (!/agent/.test(usage) || !/--config/.test(usage)) {
    return {
      ok: false,
      reason: `the CLI gives no agent usage (exit ${r.code}): ${usage.trim().slice(0, 300)}`,
    };
  }
  return { ok: true, command, usage };
}

/** What a chaos file needs (namespaces, a CLI agent that answers), or why it is skipped. */
export interface ChaosPrerequisites {
  /** Why the file is skipped (printed once), or false. */
  readonly skip: string | false;
  /** How to start the agent; throws when the file is skipped. */
  command(): CliCommand;
}

/** Checks a chaos file's prerequisites; prints `<file>: SKIPPED: <why>` when one is missing. */
export async function chaosPrerequisites(file: string): Promise<ChaosPrerequisites> {
  const can = await canCreateNamespaces();
  const cli = can.ok ? await probeCli() : undefined;
  const skip: string | false = !can.ok
    ? `network namespaces unavailable: ${can.reason}`
    : cli !== undefined && !cli.ok
    ? `the CLI agent is not ready: ${cli.reason}`
    : false;
  if (skip) console.log(`${file}: SKIPPED: ${skip}`);
  return {
    skip,
    command(): CliCommand {
      if (cli === undefined || !cli.ok) throw new Error("unreachable: ran without a CLI agent");
      return cli.command;
    },
  };
}

/**
 * A file's time budget, started now: `left(wanted)` is how long a wait may take without
 * running past it; throws once it is spent (scenarios that fail slowly stay bounded).
 */
export function fileBudget(ms: number): (wanted: number) => number {
  const end = Date.now() + ms;
  return (wanted: number): number => {
    const rest = end - Date.now();
    if (rest <= 0) throw new Error("chaos file budget exhausted");
    return Math.min(wanted, rest);
  };
}

/** A GET or POST with a JSON body to an agent's control endpoint; never keeps a connection. */
export function controlRequest(
  control: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 5000,
): Promise<{ status: number; json: unknown }> {
  const at = control.lastIndexOf(":");
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({
      host: control.slice(0, at),
      port: Number(control.slice(at + 1)),
      method,
      path,
      agent: false,
      headers: {
        connection: "close",
        authorization: `Bearer ${CONTROL_TOKEN}`,
        ...(payload
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
          : {}),
      },
      timeout: timeoutMs,
    }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => text += d);
      res.on("end", () => {
        let json: unknown = undefined;
        try {
          json = text === "" ? undefined : JSON.parse(text);
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
      res.on("error", reject);
    });
    req.on(
      "timeout",
      () =>
        req.destroy(new Error(`${method} http://${control}${path}: no answer in ${timeoutMs} ms`)),
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** One agent process in a host namespace. */
export class Agent {
  readonly name: string;
  readonly host: number;
  readonly control: string;
  readonly child: ChildProcess;
  readonly events: AgentEvent[] = [];
  readonly exited: Promise<number | null>;
  stderr: string = "";
  #waiters = new Set<() => void>();

  constructor(
    bed: Testbed,
    host: number,
    command: CliCommand,
    configFile: string,
    extraArgs: string[] = [],
  ) {
    this.host = host;
    this.name = agentName(host);
    this.control = `${bed.address(host)}:${CONTROL_PORT}`;
    const args = [
      ...command.args,
      "agent",
      "--config",
      configFile,
      "--name",
      this.name,
      "--control",
      this.control,
      "--token",
      CONTROL_TOKEN,
      ...extraArgs,
    ];
    this.child = bed.spawn(host, command.cmd, args, {
      cwd: command.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      if (this.stderr.length < 64_000) this.stderr += d;
    });
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code) => {
        resolve(code);
        this.#wake();
      })
    );
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.event === "string") {
          this.events.push({ ...parsed, event: parsed.event, at: Date.now() });
        }
      } catch {
        // not one of its JSON lines
      }
      this.#wake();
    });
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first event (already seen or future) matching `pred`; rejects after `timeoutMs` or on exit. */
  waitFor(
    pred: (e: AgentEvent) => boolean,
    timeoutMs: number,
    what = "event",
  ): Promise<AgentEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.events.find(pred);
        if (hit !== undefined) return done(() => resolve(hit));
        if (!this.running) {
          return done(() =>
            reject(
              new Error(
                `${this.name} exited (${
                  this.child.exitCode ?? this.child.signalCode
                }) waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`,
              ),
            )
          );
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: no ${what} in ${timeoutMs} ms`))),
        timeoutMs,
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        fn();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Members as this agent's control endpoint lists them. */
  async members(): Promise<MemberView[]> {
    const r = await controlRequest(this.control, "GET", "/members");
    if (r.status !== 200) throw new Error(`${this.name}: GET /members answered ${r.status}`);
    return (r.json as { members: MemberView[] }).members;
  }

  /** Sends a signal (SIGKILL for a crash, SIGTERM for a graceful leave). */
  kill(signal: "SIGKILL" | "SIGTERM"): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** Agent name of host `i`: n1, n2, ... */
export function agentName(host: number): string {
  return `n${host + 1}`;
}

/** Writes host `i`'s config (seed: host 0) into `dir` and returns its path. */
export function writeAgentConfig(
  bed: Testbed,
  host: number,
  dir: string,
  environment: Environment = "local",
): string {
  const file = join(dir, `${agentName(host)}.json`);
  const config = {
    cluster: {
      environment,
      bind_address: bed.address(host),
      memberlist_bind_address: bed.address(host),
      members: [`${bed.address(0)}:3322`],
    },
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Starts one agent per host (configs written into `dir`) and waits until each printed `ready`. */
export async function startAgents(
  bed: Testbed,
  command: CliCommand,
  dir: string,
  extraArgs: (host: number) => string[] = () => [],
  environment: Environment = "local",
): Promise<Agent[]> {
  const agents: Agent[] = [];
  for (let i = 0; i < bed.hosts; i++) {
    const config = writeAgentConfig(bed, i, dir, environment);
    agents.push(new Agent(bed, i, command, config, extraArgs(i)));
  }
  await Promise.all(agents.map((a) => a.waitFor((e) => e.event === "ready", 120_000, "ready")));
  return agents;
}

/** Names of the members an agent lists as alive (an unreachable agent lists none). */
export async function aliveSeenBy(agent: Agent): Promise<string[]> {
  try {
    return (await agent.members()).filter((m) => m.state === "alive").map((m) => m.name).sort();
  } catch {
    return [];
  }
}

/**
 * Polls until every agent of `agents` lists exactly `expected` (names) as alive; returns the
 * time it took, or throws after `timeoutMs` with what each agent saw last.
 */
export async function waitAllSee(
  agents: Agent[],
  expected: string[],
  timeoutMs: number,
): Promise<number> {
  const start = Date.now();
  const want = [...expected].sort().join(",");
  let last: string[][] = [];
  while (true) {
    last = await Promise.all(agents.map(aliveSeenBy));
    if (last.every((seen) => seen.join(",") === want)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) {
      const views = agents.map((a, i) => `${a.name} sees alive [${last[i].join(",")}]`).join("; ");
      throw new Error(`not every agent sees [${want}] alive after ${timeoutMs} ms: ${views}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Stops every agent still running (SIGTERM, then SIGKILL). */
export async function stopAgents(agents: Agent[]): Promise<void> {
  await Promise.all(agents.map((a) => a.stop()));
}
