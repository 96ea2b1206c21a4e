/**
 * An in-memory network driven by a {@link VirtualClock} and a seeded PRNG: same seed, same
 * run, byte for byte.
 *
 * @module
 */
import { formatHostPort } from "../address.ts";
import { seededRandom } from "./random.ts";
import { HostClock } from "./host_clock.ts";
import { SimCore, type SimStats } from "./core.ts";
import type { LinkConfig } from "./link.ts";
import { SimTransport } from "./transport.ts";
import type { BindOptions, Clock, Network, Transport } from "../types.ts";
import { TransportError } from "../types.ts";
import type { VirtualClock } from "./virtual_clock.ts";

/** How to build a {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** The clock that drives every delivery and timeout. */
  readonly clock: VirtualClock;
  /** Seed of the network's PRNG (loss, jitter, duplication). Default 1. */
  readonly seed?: number;
  /** Or a generator of your own (takes precedence over `seed`). */
  readonly random?: () => number;
  /** Default link; missing fields: 1 ms latency, no jitter, loss, duplication or limit. */
  readonly link?: Partial<LinkConfig>;
  /** How long a stream may stall behind a partition before it breaks. Default 10,000 ms. */
  readonly streamTimeoutMs?: number;
}

/**
 * A simulated {@link Network}. Hosts are names chosen by the caller ("10.0.0.1", …); binding
 * port 0 assigns a free port from 40000 up. Nothing here reads the wall clock or
 * `Math.random`: delivery order is a pure function of the seed and the calls made.
 *
 * Faults:
 * - links: latency, jitter (reorders packets), loss, duplication, bandwidth; a default and
 *   per directed host pair ({@link setLink});
 * - {@link partition}: hosts talk only within their group; hosts not listed in any group
 *   together form one more group. A packet is dropped when its ends are in different groups
 *   at sending or at arrival; a stream stalls and retries, and breaks (reads null on both
 *   sides, writes reject "ECONNRESET") once it has stalled for `streamTimeoutMs`;
 * - {@link pause}: the host's blocked event loop. Its arrivals (packets, stream bytes, SYNs)
 *   and its timers from {@link clockFor} wait until the pause ends; what it sends leaves then;
 * - {@link kill}: the process crashed on a live host. Its transports vanish, its promises
 *   never settle, its {@link clockFor} timers never fire; the host's kernel still answers for
 *   it: peers' streams are reset after the link latency, dials to it get "ECONNREFUSED"
 *   after a round trip; packets to it are dropped. Binding on the host again is a restart;
 * - {@link silence}: the host went silent (cable cut, power lost, a firewall that drops): it
 *   is a partition of its own, so packets and SYNs vanish, dials time out and streams stall
 *   until they break; no refusal and no reset ever comes back. `silence` then `kill` is a
 *   host that lost power: its process is gone and nobody hears of it.
 *
 * Streams are reliable and in order, unbounded (no backpressure), `write` resolves at once.
 * Code that awaits stream reads must be driven with `clock.advanceAsync`/`runUntilAsync`.
 *
 * @example
 * ```ts
 * import { SimNetwork, VirtualClock } from "../mod.ts";
 * const clock = new VirtualClock();
 * const net = new SimNetwork({ clock, seed: 7, link: { latencyMs: 5, loss: 0.01 } });
 * const a = await net.bind({ host: "10.0.0.1", port: 7946, packets: true });
 * const b = await net.bind({ host: "10.0.0.2", port: 7946, packets: true });
 * b.onPacket((bytes, from) => console.log(clock.now(), bytes, from));
 * a.sendPacket(b.address, new Uint8Array([1]));
 * clock.advance(10); // delivered at t=5
 * ```
 */
export class SimNetwork implements Network {
  /** The driving clock. */
  readonly clock: VirtualClock;
  #core: SimCore;

  /**
   * Creates an empty network (no hosts, no partition) on the given clock.
   *
   * @param options clock, seed, default link, stream timeout
   */
  constructor(options: SimNetworkOptions) {
    this.clock = options.clock;
    const random = options.random ?? seededRandom(options.seed ?? 1);
    this.#core = new SimCore(options.clock, random, options.streamTimeoutMs ?? 10_000);
    if (options.link !== undefined) this.#core.setDefaultLink(options.link);
  }

  /** Live counters: packets/bytes sent, delivered, dropped per reason; stream events. */
  get stats(): Readonly<SimStats> {
    return this.#core.stats;
  }

  /** The default link. */
  get defaultLink(): LinkConfig {
    return this.#core.defaultLink;
  }

  bind(options: BindOptions): Promise<Transport> {
    this.clock.noteAsyncWork();
    const { host, port, packets } = options;
    const where = formatHostPort({ host, port });
    if (host === "" || host === "0.0.0.0" || host === "::") {
      return Promise.reject(
        new TransportError(
          "EADDRNOTAVAIL",
          `cannot bind ${where}: the simulator needs a concrete host`,
        ),
      );
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return Promise.reject(new TransportError("EINVAL", `cannot bind ${where}: bad port`));
    }
    const h = this.#core.host(host);
    let p = port;
    if (p === 0) {
      for (let tries = 0; tries < 65536 && (p === 0 || h.ports.has(p)); tries++) {
        p = h.nextPort;
        h.nextPort = h.nextPort >= 65535 ? 1024 : h.nextPort + 1;
      }
      if (h.ports.has(p)) {
        return Promise.reject(
          new TransportError("EADDRINUSE", `cannot bind ${where}: no free port`),
        );
      }
    } else if (h.ports.has(p)) {
      return Promise.reject(
        new TransportError("EADDRINUSE", `cannot bind ${where}: address in use`),
      );
    }
    const t = new SimTransport(this.#core, h, p, packets);
    h.ports.set(p, t);
    return Promise.resolve(t);
  }

  /** Changes the default link (per-pair overrides keep their own fields). */
  setDefaultLink(link: Partial<LinkConfig>): void {
    this.#core.setDefaultLink(link);
  }

  /**
   * Overrides the directed link `from` → `to` (fields not given come from the default);
   * `null` removes the override.
   */
  setLink(from: string, to: string, link: Partial<LinkConfig> | null): void {
    this.#core.setLink(from, to, link);
  }

  /**
   * Splits the network: hosts of different groups cannot exchange packets or stream bytes.
   * Hosts not listed form one more group together. Replaces any previous partition.
   */
  partition(groups: readonly (readonly string[])[]): void {
    this.#core.partition(groups);
  }

  /** Removes the partition. */
  heal(): void {
    this.#core.partition([]);
  }

  /** Blocks the host for `ms` from now (extends a running pause, never shortens it). */
  pause(host: string, ms: number): void {
    const h = this.#core.host(host);
    const until = this.clock.now() + Math.max(0, ms);
    if (until > h.pausedUntil) h.pausedUntil = until;
  }

  /**
   * The host goes silent (`true`) or is heard again (`false`); independent of
   * {@link partition}, which it overrides for this host while silent.
   */
  silence(host: string, silent = true): void {
    this.#core.silence(host, silent);
  }

  /** Whether the host is paused right now. */
  isPaused(host: string): boolean {
    const h = this.#core.hosts.get(host);
    return h !== undefined && h.pausedUntil > this.clock.now();
  }

  /** Kills the process on `host`: every transport bound there vanishes (see the class notes). */
  kill(host: string): void {
    const h = this.#core.hosts.get(host);
    if (h === undefined) return;
    h.epoch++;
    h.pausedUntil = -Infinity;
    for (const t of [...h.ports.values()]) t.kill();
  }

  /**
   * The clock a process on `host` should use: its timers wait while the host is paused and
   * never fire after the host was killed (the process is gone).
   */
  clockFor(host: string): Clock {
    return new HostClock(this.clock, this.#core.host(host));
  }
}
