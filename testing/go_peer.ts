/**
 * Test harness around a real hashicorp/memberlist node (Debian's v0.2.2), built from
 * testing/go-peer/main.go, and around any other process speaking the same line protocol
 * (testing/ts_peer.ts). Works under Deno and Node (node:child_process only).
 *
 * Protocol: commands on stdin (`join a,b`, `leave <ms>`, `members`, `meta <s>`,
 * `send <node> <text>`, `health`, `quit`), JSON lines on stdout (`ready`, `join`, `leave`,
 * `update`, `suspect`, `failed`, `refute`, `msg`, `remote_state`, `members`, `result`,
 * `log`, `exit`). Each command is answered by one `result` line, in order.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { ensureGoPeerBuilt } from "./go_peer_build.ts";
import type { MemberlistTuning } from "../memberlist/mod.ts";

export { ensureGoPeerBuilt, GO_INSTALL_HINT, goPeerSource } from "./go_peer_build.ts";

/** One JSON line of a peer's stdout. `t_ms` is the peer's wall clock (Date.now() scale). */
export interface PeerEvent {
  readonly event: string;
  readonly t_ms: number;
  readonly node?: string;
  readonly addr?: string;
  readonly meta?: string;
  readonly [key: string]: unknown;
}

/** A member as a peer reports it. */
export interface PeerMember {
  readonly name: string;
  readonly addr: string;
  readonly state: string;
  readonly meta: string;
}

/**
 * Timing overrides: memberlist's own tuning fields, so the same object configures both sides
 * of an interop test (less reconnect, which Go memberlist does not have).
 */
export type PeerTuning = Omit<
  MemberlistTuning,
  "reconnectIntervalMs" | "reconnectTimeoutMs" | "deadOnRefusal" | "refusalWindowMs"
>;

/** How to start a peer. */
export interface PeerOptions {
  name: string;
  /** Default "127.0.0.1"; tests never use anything else. */
  bind?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  preset?: "local" | "lan" | "wan";
  /** 16, 24 or 32 bytes, or their hex. */
  key?: Uint8Array | string;
  join?: string[];
  meta?: string;
  /** Delegate local state exchanged in push/pull. */
  state?: string;
  protocolVersion?: number;
  tuning?: Partial<PeerTuning>;
  disableCompression?: boolean;
  /** Also report DEBUG log lines as `log` events. */
  debug?: boolean;
  /** Time allowed until the `ready` line (default 20 s). */
  readyTimeoutMs?: number;
}

const FLAG_OF_TUNING: Record<keyof PeerTuning, string> = {
  probeIntervalMs: "-probe-interval-ms",
  probeTimeoutMs: "-probe-timeout-ms",
  indirectChecks: "-indirect-checks",
  gossipIntervalMs: "-gossip-interval-ms",
  gossipNodes: "-gossip-nodes",
  gossipToTheDeadMs: "-gossip-to-dead-ms",
  suspicionMult: "-suspicion-mult",
  suspicionMaxTimeoutMult: "-suspicion-max-mult",
  retransmitMult: "-retransmit-mult",
  pushPullIntervalMs: "-pushpull-interval-ms",
  tcpTimeoutMs: "-tcp-timeout-ms",
  awarenessMaxMultiplier: "-awareness-max-mult",
  udpBufferSize: "-udp-buffer-size",
  disableTcpPings: "-disable-tcp-pings",
  deadNodeReclaimMs: "-dead-node-reclaim-ms",
};

/** Command-line flags of the line protocol (shared by the Go peer and testing/ts_peer.ts). */
export function peerArgs(opts: PeerOptions): string[] {
  const args = [
    "-name",
    opts.name,
    "-bind",
    opts.bind ?? "127.0.0.1",
    "-port",
    String(opts.port ?? 0),
  ];
  args.push("-preset", opts.preset ?? "local");
  if (opts.key !== undefined) {
    args.push(
      "-key",
      typeof opts.key === "string" ? opts.key : Buffer.from(opts.key).toString("hex"),
    );
  }
  if (opts.join && opts.join.length > 0) args.push("-join", opts.join.join(","));
  if (opts.meta !== undefined) args.push("-meta", opts.meta);
  if (opts.state !== undefined) args.push("-state", opts.state);
  if (opts.protocolVersion !== undefined) args.push("-protocol", String(opts.protocolVersion));
  for (const [field, flag] of Object.entries(FLAG_OF_TUNING)) {
    const value = opts.tuning?.[field as keyof PeerTuning];
    if (value === undefined) continue;
    if (typeof value === "boolean") {
      if (value) args.push(flag);
    } else args.push(flag, String(value));
  }
  if (opts.disableCompression) args.push("-disable-compression");
  if (opts.debug) args.push("-debug");
  return args;
}

const live = new Set<PeerProcess>();

/** A running peer process speaking the line protocol. */
export class PeerProcess {
  /** Node name. */
  readonly name: string;
  /** Every event received so far, in order. */
  readonly events: PeerEvent[] = [];
  /** Resolves when the process ended and its pipes closed. */
  readonly closed: Promise<{ code: number | null; signal: string | null }>;
  /** Last lines of stderr and non-JSON stdout, for diagnostics. */
  readonly stderr: string[] = [];
  #child: ChildProcess;
  #address = "";
  #waiters = new Set<() => void>();
  #pending: { cmd: string; resolve: (e: PeerEvent) => void; reject: (e: Error) => void }[] = [];
  #exited = false;

  /**
   * @param command executable
   * @param args its arguments
   * @param name the node name (for messages)
   */
  constructor(command: string, args: string[], name: string) {
    this.name = name;
    this.#child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    live.add(this);
    this.closed = new Promise((resolve) => {
      this.#child.on("close", (code, signal) => {
        this.#exited = true;
        live.delete(this);
        for (const p of this.#pending.splice(0)) {
          p.reject(new Error(`${name}: exited before "${p.cmd}" finished`));
        }
        this.#wake();
        resolve({ code, signal });
      });
    });
    this.#child.on("error", (err) => this.stderr.push(`spawn error: ${err.message}`));
    this.#child.stdin?.on("error", () => {}); // EPIPE after a kill is expected
    createInterface({ input: this.#child.stdout! }).on("line", (line) => this.#onLine(line));
    createInterface({ input: this.#child.stderr! }).on("line", (line) => this.#keep(line));
  }

  /** The advertised `host:port` (known once `ready` arrived). */
  get address(): string {
    return this.#address;
  }

  /** OS process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** True once the process is gone. */
  get exited(): boolean {
    return this.#exited;
  }

  #keep(line: string): void {
    this.stderr.push(line);
    if (this.stderr.length > 200) this.stderr.shift();
  }

  #onLine(line: string): void {
    let ev: PeerEvent;
    try {
      ev = JSON.parse(line) as PeerEvent;
      if (typeof ev !== "object" || ev === null || typeof ev.event !== "string") {
        throw new Error("no event");
      }
    } catch {
      this.#keep(line);
      return;
    }
    if (ev.event === "ready" && typeof ev.addr === "string") this.#address = ev.addr;
    this.events.push(ev);
    if (ev.event === "result") {
      const p = this.#pending.shift();
      if (p) {
        if (ev.ok === true || p.cmd === "join") p.resolve(ev);
        else p.reject(new Error(`${this.name}: ${p.cmd} failed: ${String(ev.error)}`));
      }
    }
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /**
   * Resolves with the first event (from index `since`, default 0) matching `predicate`;
   * rejects after `timeoutMs` or when the process is gone.
   */
  waitFor(predicate: (e: PeerEvent) => boolean, timeoutMs: number, since = 0): Promise<PeerEvent> {
    return new Promise((resolve, reject) => {
      let next = since;
      const check = (): void => {
        for (; next < this.events.length; next++) {
          if (predicate(this.events[next])) return done(undefined, this.events[next]);
        }
        if (this.#exited) done(new Error(`${this.name}: exited while waiting${this.#tail()}`));
      };
      const timer = setTimeout(
        () =>
          done(new Error(`${this.name}: no matching event within ${timeoutMs} ms${this.#tail()}`)),
        timeoutMs,
      );
      const done = (err?: Error, ev?: PeerEvent): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (err) reject(err);
        else resolve(ev!);
      };
      this.#waiters.add(check);
      check();
    });
  }

  #tail(): string {
    const evs = this.events.filter((e) => e.event !== "log").slice(-8).map((e) =>
      JSON.stringify(e)
    );
    const logs = this.events.filter((e) => e.event === "log").slice(-5).map((e) => String(e.line));
    return `\n  last events: ${evs.join("\n    ")}\n  last logs: ${logs.join("\n    ")}` +
      `\n  stderr: ${this.stderr.slice(-5).join("\n    ")}`;
  }

  /** Sends one command line and resolves with its `result` event. */
  command(line: string): Promise<PeerEvent> {
    if (this.#exited || !this.#child.stdin?.writable) {
      return Promise.reject(new Error(`${this.name}: not running`));
    }
    const cmd = line.split(" ", 1)[0];
    return new Promise((resolve, reject) => {
      this.#pending.push({ cmd, resolve, reject });
      this.#child.stdin!.write(line + "\n");
    });
  }

  /** Joins; resolves with the number of nodes contacted (0 and an error text on failure). */
  async join(addresses: string | string[]): Promise<{ count: number; error?: string }> {
    const list = Array.isArray(addresses) ? addresses.join(",") : addresses;
    const r = await this.command(`join ${list}`);
    return {
      count: Number(r.count ?? 0),
      error: typeof r.error === "string" ? r.error : undefined,
    };
  }

  /** Graceful leave (broadcast of our own death); the process keeps running. */
  async leave(timeoutMs: number): Promise<void> {
    await this.command(`leave ${Math.max(0, Math.round(timeoutMs))}`);
  }

  /** The members the peer considers alive (v0.2.2 lists only non-dead, non-left nodes). */
  async members(): Promise<PeerMember[]> {
    const since = this.events.length;
    await this.command("members");
    const ev = this.events.slice(since).find((e) => e.event === "members");
    return (ev?.members as PeerMember[] | undefined) ?? [];
  }

  /** Changes the node meta (broadcast as an alive with a new incarnation). */
  async setMeta(meta: string): Promise<void> {
    await this.command(`meta ${meta}`);
  }

  /** Sends a reliable (TCP) user message to an alive member. */
  async send(node: string, text: string): Promise<void> {
    await this.command(`send ${node} ${text}`);
  }

  /**
   * Polls `members()` every `intervalMs` until `predicate` holds; rejects after `timeoutMs`.
   */
  async waitForMembers(
    predicate: (members: PeerMember[]) => boolean,
    timeoutMs: number,
    intervalMs = 100,
  ): Promise<PeerMember[]> {
    const deadline = Date.now() + timeoutMs;
    let last: PeerMember[] = [];
    while (Date.now() < deadline) {
      last = await this.members();
      if (predicate(last)) return last;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    throw new Error(`${this.name}: members never matched; last: ${JSON.stringify(last)}`);
  }

  /** SIGKILL (no leave, no shutdown); resolves with the wall time of the kill, once gone. */
  async kill(): Promise<number> {
    const at = Date.now();
    if (!this.#exited) this.#child.kill("SIGKILL");
    await this.closed;
    return at;
  }

  /** Graceful stop: `quit` (shutdown without leave), then SIGTERM, then SIGKILL. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#exited) return;
    try {
      this.#child.stdin?.write("quit\n");
      this.#child.stdin?.end();
    } catch { /* already closed */ }
    if (await this.#closedWithin(graceMs)) return;
    this.#child.kill("SIGTERM");
    if (await this.#closedWithin(graceMs)) return;
    await this.kill();
  }

  async #closedWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ok = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
    ]);
    clearTimeout(timer);
    return ok;
  }
}

/** Stops every peer process still running (for `after()` hooks). */
export async function stopAllPeers(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/**
 * Starts any line-protocol peer and waits for its `ready` line.
 *
 * @example
 * ```ts
 * const p = await startPeerProcess("npx", ["deno", "run", "-A", "testing/ts_peer.ts"], { name: "t1" });
 * ```
 */
export async function startPeerProcess(
  command: string,
  prefixArgs: string[],
  opts: PeerOptions,
): Promise<PeerProcess> {
  const peer = new PeerProcess(command, [...prefixArgs, ...peerArgs(opts)], opts.name);
  try {
    await peer.waitFor(
      (e) => e.event === "ready" || e.event === "fatal",
      opts.readyTimeoutMs ?? 20_000,
    );
  } catch (err) {
    await peer.stop(500);
    throw err;
  }
  const fatal = peer.events.find((e) => e.event === "fatal");
  if (fatal) {
    await peer.stop(500);
    throw new Error(`${opts.name}: ${String(fatal.error)}`);
  }
  return peer;
}

/** A running real Go memberlist node. */
export type GoPeer = PeerProcess;

/**
 * Builds (once, cached by the hash of main.go) and starts a Go memberlist peer on 127.0.0.1.
 *
 * @example
 * ```ts
 * const a = await startGoPeer({ name: "a" });
 * const b = await startGoPeer({ name: "b", join: [a.address] });
 * await b.waitFor((e) => e.event === "join" && e.node === "a", 5000);
 * await Promise.all([a.stop(), b.stop()]);
 * ```
 */
export async function startGoPeer(opts: PeerOptions): Promise<GoPeer> {
  const bin = await ensureGoPeerBuilt();
  return startPeerProcess(bin, [], opts);
}
