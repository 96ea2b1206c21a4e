/**
 * A simulated memberlist cluster for the deterministic scenarios (tests/sim_*_test.ts) and
 * the simulation benchmark (bench/sim.ts): one VirtualClock, one seeded SimNetwork, one
 * Memberlist per simulated host, with kill / restart / partition helpers and event tracking.
 *
 * Node i lives on host 10.a.b.c (i + 1 spread over the last three octets) at port 7946 and is
 * named `n<i>` unless told otherwise; a restarted node keeps its host and name.
 */
import { Memberlist, type MemberlistTuning } from "../memberlist/mod.ts";
import { createSeeded } from "../memberlist/memberlist.ts";
import { MemberSeed } from "../memberlist/seed.ts";
import type { LinkConfig } from "../transport/sim/link.ts";
import { SimNetwork } from "../transport/sim/network.ts";
import { VirtualClock } from "../transport/sim/virtual_clock.ts";
import { presets } from "../presets/mod.ts";
import { seededRandom } from "../transport/sim/random.ts";

/** hashicorp DefaultLANConfig timings. */
export const LAN: MemberlistTuning = presets.lan.memberlist;

/** hashicorp DefaultWANConfig timings. */
export const WAN: MemberlistTuning = {
  ...LAN,
  tcpTimeoutMs: 30_000,
  suspicionMult: 6,
  pushPullIntervalMs: 60_000,
  probeTimeoutMs: 3_000,
  probeIntervalMs: 5_000,
  gossipNodes: 4,
  gossipIntervalMs: 500,
  gossipToTheDeadMs: 60_000,
};

/** A membership event seen by one node. */
export interface SimEvent {
  readonly t: number;
  readonly node: string;
  readonly ev: "join" | "suspect" | "dead" | "left";
  readonly who: string;
}

/** How to build a {@link SimCluster}. */
export interface SimClusterOptions {
  readonly seed: number;
  readonly tuning?: MemberlistTuning;
  readonly link?: Partial<LinkConfig>;
  /** Record every event in `events` (default true; benchmarks turn it off). */
  readonly recordEvents?: boolean;
}

/** Host name of node `i`. */
export function hostOf(i: number): string {
  const k = i + 1;
  return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
}

/** One simulated cluster. */
export class SimCluster {
  readonly clock: VirtualClock;
  readonly net: SimNetwork;
  readonly tuning: MemberlistTuning;
  readonly seed: number;
  /** Running memberlist per node index (undefined once killed). */
  readonly lists: (Memberlist | undefined)[] = [];
  readonly names: string[] = [];
  readonly events: SimEvent[] = [];
  /** Called on every event of every node (after it is recorded). */
  onEvent: ((e: SimEvent) => void) | null = null;
  #record: boolean;
  #generation = 0;

  constructor(options: SimClusterOptions) {
    this.seed = options.seed;
    this.tuning = options.tuning ?? LAN;
    this.clock = new VirtualClock();
    this.net = new SimNetwork({
      clock: this.clock,
      seed: options.seed,
      link: options.link ?? { latencyMs: 1 },
    });
    this.#record = options.recordEvents ?? true;
  }

  /**
   * Starts (or restarts, after a kill) node `i` on its host; it joins nobody yet, but starts
   * knowing `seed` when given (see {@link startConverged}).
   */
  async start(
    i: number,
    name: string = this.names[i] ?? `n${i}`,
    tuning?: MemberlistTuning,
    seed?: MemberSeed,
  ): Promise<Memberlist> {
    const host = hostOf(i);
    const gen = ++this.#generation;
    const options = {
      name,
      network: this.net,
      clock: this.net.clockFor(host),
      bind: { host, port: 7946 },
      tuning: tuning ?? this.tuning,
      random: seededRandom(this.seed * 1_000_003 + gen * 7919 + i),
    };
    const list = seed === undefined
      ? await Memberlist.create(options)
      : await createSeeded(options, seed);
    this.names[i] = name;
    this.lists[i] = list;
    if (this.#record || this.onEvent !== null) {
      for (const ev of ["join", "suspect", "dead", "left"] as const) {
        list.on(ev, (m) => {
          const e: SimEvent = { t: this.clock.now(), node: name, ev, who: m.name };
          if (this.#record) this.events.push(e);
          this.onEvent?.(e);
        });
      }
    }
    return list;
  }

  /**
   * Starts nodes 0 … n − 1 as a cluster that converged long ago: every member table is seeded
   * with every member alive at incarnation 1 (memberlist/seed.ts), so no join storm runs.
   */
  async startConverged(n: number): Promise<void> {
    for (let i = 0; i < n; i++) this.names[i] ??= `n${i}`;
    const everyone = new MemberSeed(
      this.names.slice(0, n).map((name, i) => ({ name, address: { host: hostOf(i), port: 7946 } })),
    );
    for (let i = 0; i < n; i++) await this.start(i, this.names[i], undefined, everyone);
  }

  /** Kills node `i`'s process (no leave, no shutdown: its timers and sockets vanish). */
  kill(i: number): void {
    this.net.kill(hostOf(i));
    this.lists[i] = undefined;
  }

  /** The running nodes. */
  running(): Memberlist[] {
    return this.lists.filter((l): l is Memberlist => l !== undefined);
  }

  /** Runs `fn` while advancing the clock until the promise settles; returns its value. */
  async drive<T>(p: Promise<T>, stepMs = 10): Promise<T> {
    let done = false;
    const q = p.finally(() => (done = true));
    q.catch(() => {});
    while (!done) await this.clock.advanceAsync(stepMs);
    return await q;
  }

  /** Nodes `indices` join `seeds` (addresses of node indices), all at once. */
  async joinAll(indices: number[], seeds: number[]): Promise<void> {
    const addrs = seeds.map((s) => ({ host: hostOf(s), port: 7946 }));
    await this.drive(
      Promise.all(indices.map((i) => this.lists[i]?.join(addrs).catch(() => undefined))),
    );
  }

  /** Advances simulated time by `ms` in steps. */
  async runFor(ms: number, step = 100): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      await this.clock.advanceAsync(Math.min(step, end - this.clock.now()));
    }
  }

  /**
   * Advances until `pred` holds (checked every `step` ms) or `maxMs` passed; returns the
   * elapsed simulated ms, or undefined on timeout.
   */
  async until(pred: () => boolean, maxMs: number, step = 100): Promise<number | undefined> {
    const start = this.clock.now();
    while (!pred()) {
      if (this.clock.now() - start >= maxMs) return undefined;
      await this.clock.advanceAsync(step);
    }
    return this.clock.now() - start;
  }

  /** True when every running node sees exactly the running nodes as alive. */
  converged(): boolean {
    const want = new Set<string>();
    this.lists.forEach((l, i) => {
      if (l !== undefined) want.add(this.names[i]);
    });
    const running = this.running();
    // Counting first is cheap; listing every member of every node is O(N²) objects.
    if (running.some((l) => l.numMembers() !== want.size)) return false;
    for (const l of running) {
      const alive = l.aliveMembers();
      if (alive.length !== want.size) return false;
      for (const m of alive) if (!want.has(m.name)) return false;
    }
    return true;
  }

  /** Shuts every running node down (driving the clock). */
  async stop(): Promise<void> {
    await this.drive(Promise.all(this.running().map((l) => l.shutdown())));
  }
}
