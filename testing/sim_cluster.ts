/**
 * Whole nodes (`cluster()`: memberlist, the replicated log, static discovery, the voting
 * membership) on the simulated network and a virtual clock, for the quorum scenarios
 * (tests/sim_quorum_test.ts). Node i lives on host 10.0.0.<i + 1>, is named `n<i>`, lists
 * node 0 as its static member, and keeps its log in memory (a restart comes back empty,
 * under a fresh origin, with the same name). Everything random is seeded.
 */
import { type Cluster, cluster } from "../cluster/cluster.ts";
import { SimNetwork } from "../transport/sim/network.ts";
import { VirtualClock } from "../transport/sim/virtual_clock.ts";
import { seededRandom } from "../transport/sim/random.ts";
import type { AckMode, Entry } from "../log/mod.ts";

/** How an append ended. */
export type Outcome = { ok: true; origin: string; seq: number } | { ok: false; error: Error };

/** Host of node `i`. */
export function simHost(i: number): string {
  return `10.0.0.${i + 1}`;
}

/** A simulated cluster of whole nodes. */
export class SimNodes {
  readonly clock: VirtualClock;
  readonly net: SimNetwork;
  readonly nodes: (Cluster | undefined)[] = [];
  readonly seed: number;
  #stanza: Record<string, unknown>;
  #runs = 0;

  /**
   * @param seed network and random seed
   * @param stanza extra stanza keys (min_quorum, forget_after …) for every node
   */
  constructor(seed: number, stanza: Record<string, unknown> = {}) {
    this.seed = seed;
    this.clock = new VirtualClock(1_700_000_000_000);
    this.net = new SimNetwork({
      clock: this.clock,
      seed,
      link: { latencyMs: 1 },
      streamTimeoutMs: 5000,
    });
    this.#stanza = stanza;
  }

  /** Starts (or restarts after a kill) node `i`. */
  async start(i: number): Promise<Cluster> {
    const host = simHost(i);
    this.net.silence(host, false); // a lost host is back
    const run = ++this.#runs;
    const node = await this.drive(cluster(
      {
        environment: "lan",
        bind_address: host,
        bind_port: 3320,
        memberlist_bind_address: host,
        memberlist_bind_port: 7946,
        ...(i === 0 ? {} : { members: [`${simHost(0)}:7946`] }),
        ...this.#stanza,
      },
      {
        name: `n${i}`,
        network: this.net,
        clock: this.net.clockFor(host),
        random: seededRandom(this.seed * 1_000_003 + run * 7919 + i),
      },
    ));
    this.nodes[i] = node;
    return node;
  }

  /** Starts nodes 0 … n − 1 and waits until every one sees all n alive. */
  async startAll(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.start(i);
    const ok = await this.until(
      () =>
        this.running().every((c) =>
          c.members().filter((m) => m.state === "alive").length === n &&
          c.log.connectedPeers().length === n - 1
        ),
      120_000,
    );
    if (!ok) throw new Error(`the ${n} simulated nodes did not converge`);
  }

  /** The process of node `i` dies: no leave, its sockets and timers vanish, its memory is lost. */
  kill(i: number): void {
    this.net.kill(simHost(i));
    this.nodes[i] = undefined;
  }

  /**
   * The host of node `i` is lost (powered off, cut off): its process is gone and nothing
   * answers, not even a refusal, so failure detection takes SWIM's suspicion path.
   */
  lose(i: number): void {
    this.net.silence(simHost(i));
    this.kill(i);
  }

  /** Only nodes of the same group talk; node indices. */
  partition(groups: number[][]): void {
    this.net.partition(groups.map((g) => g.map(simHost)));
  }

  /** Ends the partition. */
  heal(): void {
    this.net.heal();
  }

  /** Running nodes. */
  running(): Cluster[] {
    return this.nodes.filter((c): c is Cluster => c !== undefined);
  }

  /** Advances the clock until `p` settles. */
  async drive<T>(p: Promise<T>, stepMs = 10): Promise<T> {
    let done = false;
    const q = p.finally(() => (done = true));
    q.catch(() => {});
    while (!done) await this.clock.advanceAsync(stepMs);
    return await q;
  }

  /** Advances simulated time by `ms`. */
  async runFor(ms: number, step = 100): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      await this.clock.advanceAsync(Math.min(step, end - this.clock.now()));
    }
  }

  /** Advances until `pred` holds; false after `maxMs`. */
  async until(pred: () => boolean, maxMs: number, step = 100): Promise<boolean> {
    const end = this.clock.now() + maxMs;
    while (!pred()) {
      if (this.clock.now() >= end) return false;
      await this.clock.advanceAsync(step);
    }
    return true;
  }

  /**
   * Starts an append (a cache write of `key`) on node `i` and records how it ends, without
   * driving the clock (several may run at once).
   */
  write(i: number, key: string, value: string, ack: AckMode, timeout = 3000): Promise<Outcome> {
    const node = this.nodes[i];
    if (!node) throw new Error(`n${i} is not running`);
    return node.log.append(new TextEncoder().encode(value), { key, ack, timeout }).then(
      (at): Outcome => ({ ok: true, ...at }),
      (error: Error): Outcome => ({ ok: false, error }),
    );
  }

  /** Every entry node `i` holds, as `origin/seq`. */
  async held(i: number): Promise<Set<string>> {
    const node = this.nodes[i]!;
    const out = new Set<string>();
    for (const origin of node.log.heads().keys()) {
      for await (const e of node.log.read({ origin }) as AsyncIterable<Entry>) {
        out.add(`${e.origin}/${e.seq}`);
      }
    }
    return out;
  }

  /** True when every running node holds the same heads and cache. */
  converged(): boolean {
    const nodes = this.running();
    const heads = (c: Cluster) => JSON.stringify([...c.log.heads()].sort());
    return nodes.every((c) =>
      heads(c) === heads(nodes[0]) && c.log.cacheDigest() === nodes[0].log.cacheDigest()
    );
  }

  /** Closes every running node. */
  async stop(): Promise<void> {
    await this.drive(Promise.all(this.running().map((c) => c.close())));
  }
}
