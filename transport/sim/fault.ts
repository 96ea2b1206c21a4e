/**
 * Fault injection around a real {@link Network}, for multi-process chaos tests on kernels
 * without netem: packet delay, jitter and loss, and pauses that mimic a blocked event loop.
 *
 * @module
 */
import { systemClock } from "../clock.ts";
import type {
  BindOptions,
  Clock,
  HostPort,
  Network,
  PacketHandler,
  Stream,
  StreamHandler,
  TimerHandle,
  Transport,
} from "../types.ts";
import { TransportError } from "../types.ts";

/** Faults applied to every transport bound through a {@link FaultyNetwork}. */
export interface Faults {
  /** Fixed extra delay of each outgoing packet, ms. */
  delayMs?: number;
  /** Extra delay uniform in [0, jitterMs) per packet: packets may overtake each other. */
  jitterMs?: number;
  /** Probability (0..1) that an outgoing packet is dropped. */
  loss?: number;
  /** Source of randomness (seed it for replayable runs). Default `Math.random`. */
  random?: () => number;
  /** Clock for delays and pauses. Default {@link systemClock}. */
  clock?: Clock;
}

/** Counters of a {@link FaultyNetwork}. */
export interface FaultStats {
  /** Packets given to `sendPacket`. */
  packetsSent: number;
  /** Of those, dropped by `loss`. */
  packetsDropped: number;
  /** Of those, sent late (delay, jitter or pause). */
  packetsDelayed: number;
  /** Inbound packets held by a pause. */
  packetsHeld: number;
}

/** A {@link Network} that injects faults, and its controls. */
export interface FaultyNetwork extends Network {
  /**
   * Blocks this process's transports for `ms` (extends a running pause): outgoing packets,
   * inbound packets, inbound stream handlers, dials and stream reads/writes wait until it ends.
   */
  pause(ms: number): void;
  /** Changes delay, jitter or loss from now on. */
  set(faults: Pick<Faults, "delayMs" | "jitterMs" | "loss">): void;
  /** Live counters. */
  readonly stats: Readonly<FaultStats>;
}

interface Control {
  delayMs: number;
  jitterMs: number;
  loss: number;
  random: () => number;
  clock: Clock;
  pausedUntil: number;
  stats: FaultStats;
}

function check(name: string, v: number | undefined, max: number): number {
  const x = v ?? 0;
  if (!(x >= 0 && x <= max)) throw new RangeError(`${name} must be within 0..${max}, got ${v}`);
  return x;
}

/** Pending timers and waiters of one transport, all released on close. */
class Timers {
  #clock: Clock;
  #pending = new Map<TimerHandle, (() => void) | null>();
  // a VirtualClock's async drivers must let continuations of settled promises run
  #note: () => void;
  closed = false;

  constructor(clock: Clock) {
    this.#clock = clock;
    const note = (clock as { noteAsyncWork?: unknown }).noteAsyncWork;
    this.#note = typeof note === "function" ? () => note.call(clock) : () => {};
  }

  /** Runs `fn` after `ms` unless closed first; `onClose` runs instead on close. */
  later(fn: () => void, ms: number, onClose: (() => void) | null = null): void {
    if (this.closed) return;
    const h = this.#clock.setTimeout(() => {
      this.#pending.delete(h);
      if (this.closed) return;
      fn();
      this.#note();
    }, ms);
    this.#pending.set(h, onClose);
  }

  close(): void {
    this.closed = true;
    for (const [h, onClose] of this.#pending) {
      this.#clock.clearTimeout(h);
      onClose?.();
    }
    this.#pending.clear();
    this.#note();
  }
}

class FaultStream implements Stream {
  readonly remote: HostPort;
  #inner: Stream;
  #ctl: Control;
  #timers: Timers;

  constructor(inner: Stream, ctl: Control, timers: Timers) {
    this.#inner = inner;
    this.remote = inner.remote;
    this.#ctl = ctl;
    this.#timers = timers;
  }

  async read(): Promise<Uint8Array | null> {
    const chunk = await this.#inner.read();
    await unpaused(this.#ctl, this.#timers);
    return chunk;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#ctl.pausedUntil > this.#ctl.clock.now()) {
      const copy = bytes.slice();
      await unpaused(this.#ctl, this.#timers);
      return this.#inner.write(copy);
    }
    return this.#inner.write(bytes);
  }

  close(): void {
    this.#inner.close();
  }
}

/** Resolves when the pause is over (at once when not paused, or when the transport closes). */
function unpaused(ctl: Control, timers: Timers): Promise<void> {
  const left = ctl.pausedUntil - ctl.clock.now();
  if (left <= 0 || timers.closed) return Promise.resolve();
  return new Promise<void>((resolve) => timers.later(resolve, left, resolve));
}

class FaultTransport implements Transport {
  readonly address: HostPort;
  #inner: Transport;
  #ctl: Control;
  #timers: Timers;

  constructor(inner: Transport, ctl: Control) {
    this.#inner = inner;
    this.address = inner.address;
    this.#ctl = ctl;
    this.#timers = new Timers(ctl.clock);
  }

  sendPacket(to: HostPort, bytes: Uint8Array): void {
    const ctl = this.#ctl;
    ctl.stats.packetsSent++;
    if (ctl.loss > 0 && ctl.random() < ctl.loss) {
      ctl.stats.packetsDropped++;
      return;
    }
    let delay = ctl.delayMs;
    if (ctl.jitterMs > 0) delay += ctl.random() * ctl.jitterMs;
    const pauseLeft = ctl.pausedUntil - ctl.clock.now();
    if (pauseLeft > delay) delay = pauseLeft;
    if (delay <= 0) {
      this.#inner.sendPacket(to, bytes);
      return;
    }
    ctl.stats.packetsDelayed++;
    const copy = bytes.slice(); // the caller may reuse its buffer
    this.#timers.later(() => this.#inner.sendPacket(to, copy), delay);
  }

  onPacket(handler: PacketHandler): void {
    const ctl = this.#ctl;
    this.#inner.onPacket((bytes, from) => {
      const left = ctl.pausedUntil - ctl.clock.now();
      if (left <= 0) {
        handler(bytes, from);
        return;
      }
      ctl.stats.packetsHeld++;
      const copy = bytes.slice();
      this.#timers.later(() => handler(copy, from), left);
    });
  }

  async dial(to: HostPort, timeoutMs: number): Promise<Stream> {
    const ctl = this.#ctl;
    const started = ctl.clock.now();
    await unpaused(ctl, this.#timers);
    if (this.#timers.closed) throw new TransportError("ECLOSED", "transport is closed");
    const left = timeoutMs - (ctl.clock.now() - started);
    const inner = await this.#inner.dial(to, left > 0 ? left : 0);
    return new FaultStream(inner, ctl, this.#timers);
  }

  onStream(handler: StreamHandler): void {
    const ctl = this.#ctl;
    this.#inner.onStream((s) => {
      const wrapped = new FaultStream(s, ctl, this.#timers);
      const left = ctl.pausedUntil - ctl.clock.now();
      if (left <= 0) handler(wrapped);
      else this.#timers.later(() => handler(wrapped), left, () => s.close());
    });
  }

  close(): Promise<void> {
    this.#timers.close();
    return this.#inner.close();
  }
}

/**
 * Wraps a real network with faults. Loss, delay and jitter apply to outgoing packets (wrap
 * every process's network to affect both directions); a pause holds everything in and out.
 * Streams stay reliable: only pauses affect them.
 *
 * @example
 * ```ts
 * import { faultyNetwork } from "./fault.ts";
 * import { nodeNetwork } from "../node.ts";
 * const net = faultyNetwork(nodeNetwork, { delayMs: 20, jitterMs: 10, loss: 0.05 });
 * const t = await net.bind({ host: "127.0.0.1", port: 0, packets: true });
 * net.pause(500); // like a 500 ms GC pause
 * await t.close();
 * ```
 * @param inner the real network
 * @param faults delay, jitter, loss, randomness and clock
 */
export function faultyNetwork(inner: Network, faults: Faults = {}): FaultyNetwork {
  const ctl: Control = {
    delayMs: check("delayMs", faults.delayMs, Infinity),
    jitterMs: check("jitterMs", faults.jitterMs, Infinity),
    loss: check("loss", faults.loss, 1),
    random: faults.random ?? Math.random,
    clock: faults.clock ?? systemClock,
    pausedUntil: -Infinity,
    stats: { packetsSent: 0, packetsDropped: 0, packetsDelayed: 0, packetsHeld: 0 },
  };
  return {
    async bind(options: BindOptions): Promise<Transport> {
      return new FaultTransport(await inner.bind(options), ctl);
    },
    pause(ms: number): void {
      const until = ctl.clock.now() + Math.max(0, ms);
      if (until > ctl.pausedUntil) ctl.pausedUntil = until;
    },
    set(f: Pick<Faults, "delayMs" | "jitterMs" | "loss">): void {
      if (f.delayMs !== undefined) ctl.delayMs = check("delayMs", f.delayMs, Infinity);
      if (f.jitterMs !== undefined) ctl.jitterMs = check("jitterMs", f.jitterMs, Infinity);
      if (f.loss !== undefined) ctl.loss = check("loss", f.loss, 1);
    },
    get stats(): Readonly<FaultStats> {
      return ctl.stats;
    },
  };
}
