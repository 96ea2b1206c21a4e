/**
 * A per-host view of the virtual clock: a paused host's timers fire late, a killed host's
 * timers never fire.
 *
 * @module
 */
import type { HostState } from "./core.ts";
import type { Clock, TimerHandle } from "../types.ts";
import { NO_CALLBACK, TimelineEntry, type VirtualClock } from "./virtual_clock.ts";

class HostTimer extends TimelineEntry {
  readonly clock: VirtualClock;
  readonly host: HostState;
  readonly epoch: number;
  fn: () => void;

  constructor(clock: VirtualClock, host: HostState, fn: () => void) {
    super();
    this.clock = clock;
    this.host = host;
    this.epoch = host.epoch;
    this.fn = fn;
  }

  run(): void {
    const host = this.host;
    if (host.epoch !== this.epoch) return; // the process that set it was killed
    if (host.pausedUntil > this.clock.now()) {
      // a blocked event loop runs its timers when it unblocks
      this.clock.schedule(this, host.pausedUntil);
      return;
    }
    this.fn();
  }
}

/**
 * The clock of the process on one simulated host (see {@link SimNetwork.clockFor}).
 *
 * @example
 * ```ts
 * import { SimNetwork, VirtualClock } from "../mod.ts";
 * const net = new SimNetwork({ clock: new VirtualClock(), seed: 1 });
 * const clock = net.clockFor("10.0.0.1");
 * clock.setTimeout(() => console.log("tick"), 1000);
 * ```
 */
export class HostClock implements Clock {
  readonly #clock: VirtualClock;
  readonly #host: HostState;

  /**
   * @param clock the shared virtual clock
   * @param host the simulated host
   */
  constructor(clock: VirtualClock, host: HostState) {
    this.#clock = clock;
    this.#host = host;
  }

  now(): number {
    return this.#clock.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = new HostTimer(this.#clock, this.#host, fn);
    this.#clock.schedule(t, this.#clock.now() + (ms > 0 ? ms : 0));
    return t;
  }

  clearTimeout(handle: TimerHandle): void {
    if (!(handle instanceof HostTimer)) return;
    this.#clock.cancel(handle);
    handle.fn = NO_CALLBACK; // as VirtualClock.clearTimeout: nothing captured outlives the cancel
  }
}
