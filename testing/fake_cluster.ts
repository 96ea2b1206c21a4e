/**
 * A stand-in for memberlist when testing discoveries: nodes with an address, a `join` that
 * records its calls and merges the caller's group with every alive target's group, and
 * `knownMembers` that returns the caller's group. No sockets: discoveries are tested on what
 * they ask the membership layer to do.
 *
 * With `merge: false`, `knownMembers` is the node itself plus the nodes it joined itself, so
 * every node must be told about every other one (tests of announcements).
 *
 * @module
 */
import type { DiscoveryContext, DiscoveryLogger } from "../discovery/mod.ts";
import { formatHostPort } from "../transport/address.ts";
import type { Clock, HostPort, TimerHandle } from "../transport/types.ts";
import process from "node:process";

/** Real timers, as a {@link Clock}. */
export const realClock: Clock = {
  now: (): number => performance.now(),
  setTimeout: (fn: () => void, ms: number): TimerHandle => setTimeout(fn, ms),
  clearTimeout: (handle: TimerHandle): void =>
    clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** One log line. */
export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps every line (and prints them when `DEBUG_DISCOVERY` is set). */
export class CapturingLogger implements DiscoveryLogger {
  readonly entries: LogEntry[] = [];
  readonly #prefix: string;
  constructor(prefix = "") {
    this.#prefix = prefix;
  }
  #add(level: LogEntry["level"], message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level, message, fields });
    if (process.env.DEBUG_DISCOVERY) {
      console.error(`${this.#prefix} ${level} ${message} ${fields ? JSON.stringify(fields) : ""}`);
    }
  }
  debug(message: string, fields?: Record<string, unknown>): void {
    this.#add("debug", message, fields);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.#add("info", message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.#add("warn", message, fields);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.#add("error", message, fields);
  }
  /** Whether a line of `level` matches `pattern`. */
  has(level: LogEntry["level"], pattern: RegExp): boolean {
    return this.entries.some((e) => e.level === level && pattern.test(e.message));
  }
}

/** A node of a {@link FakeCluster}. */
export class FakeNode {
  readonly name: string;
  readonly self: HostPort;
  readonly logger: CapturingLogger;
  /** Every `join` call, in order. */
  readonly joinCalls: HostPort[][] = [];
  alive = true;
  group: Set<FakeNode>;
  readonly #cluster: FakeCluster;
  readonly #joined: Set<FakeNode> = new Set();

  constructor(cluster: FakeCluster, name: string, self: HostPort) {
    this.#cluster = cluster;
    this.name = name;
    this.self = self;
    this.group = new Set([this]);
    this.logger = new CapturingLogger(name);
  }

  /** Addresses this node's `join` was called with, as `host:port`. */
  joinedAddresses(): Set<string> {
    return new Set(this.joinCalls.flat().map(formatHostPort));
  }

  knownMembers(): HostPort[] {
    const members = this.#cluster.merge ? [...this.group] : [this, ...this.#joined];
    return members.filter((n) => n.alive).map((n) => n.self);
  }

  join(addresses: HostPort[]): Promise<number> {
    this.joinCalls.push(addresses.map((a) => ({ ...a })));
    let answered = 0;
    for (const a of addresses) {
      const target = this.#cluster.byAddress(a);
      if (target === undefined || !target.alive || target === this || !this.alive) continue;
      answered++;
      this.#joined.add(target);
      this.#cluster.mergeGroups(this, target);
    }
    return Promise.resolve(answered);
  }

  /** The context a discovery of this node is started with. */
  context(signal: AbortSignal, clock: Clock = realClock): DiscoveryContext {
    return {
      self: this.self,
      nodeName: this.name,
      signal,
      clock,
      logger: this.logger,
      knownMembers: () => this.knownMembers(),
      join: (addresses) => this.join(addresses),
    };
  }
}

/** A set of {@link FakeNode}s with group membership. */
export class FakeCluster {
  readonly merge: boolean;
  readonly nodes: FakeNode[] = [];
  #nextPort = 41000;

  constructor(options: { merge?: boolean } = {}) {
    this.merge = options.merge ?? true;
  }

  /** Adds a node at `host` (default 127.0.0.1) on a port unique in this cluster. */
  add(name: string, host = "127.0.0.1"): FakeNode {
    const node = new FakeNode(this, name, { host, port: this.#nextPort++ });
    this.nodes.push(node);
    return node;
  }

  byAddress(a: HostPort): FakeNode | undefined {
    const key = formatHostPort(a);
    return this.nodes.find((n) => formatHostPort(n.self) === key);
  }

  mergeGroups(a: FakeNode, b: FakeNode): void {
    if (a.group === b.group) return;
    const merged = new Set([...a.group, ...b.group]);
    for (const n of merged) n.group = merged;
  }

  /** Cuts `node` off: it and the others each continue in groups of their own. */
  partition(node: FakeNode): void {
    node.group.delete(node);
    node.group = new Set([node]);
  }

  /** Whether all `nodes` are in one group, with nobody else. */
  sameGroup(nodes: FakeNode[]): boolean {
    const g = nodes[0].group;
    return g.size === nodes.length && nodes.every((n) => n.group === g);
  }
}

/** Polls `condition` every 20 ms; rejects with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Rejects when `promise` does not settle within `ms` (guards against hangs, not speed). */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
