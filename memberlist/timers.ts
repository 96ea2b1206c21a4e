/**
 * Tracked timers over an injected Clock, so shutdown can cancel every pending timer and
 * wake every sleeper at once.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../transport/mod.ts";

/**
 * A set of timers that can be cleared together.
 *
 * @example
 * ```ts
 * const timers = new TimerSet(systemClock);
 * timers.after(100, () => console.log("tick"));
 * await timers.sleep(50);
 * timers.clearAll();
 * ```
 */
export class TimerSet {
  private readonly clock: Clock;
  private readonly live = new Map<number, { h: TimerHandle; wake?: () => void }>();
  private seq = 0;
  private closed = false;

  /** @param clock time source */
  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Runs `fn` after `ms`; returns a cancel function. No-op once cleared. */
  after(ms: number, fn: () => void): () => void {
    if (this.closed) return () => {};
    const id = ++this.seq;
    const h = this.clock.setTimeout(() => {
      if (!this.live.delete(id)) return;
      fn();
    }, Math.max(0, ms));
    this.live.set(id, { h });
    return () => {
      const e = this.live.get(id);
      if (e === undefined) return;
      this.live.delete(id);
      this.clock.clearTimeout(e.h);
    };
  }

  /** Resolves after `ms`, or at once when the set is cleared. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const id = ++this.seq;
      const h = this.clock.setTimeout(() => {
        if (this.live.delete(id)) resolve();
      }, Math.max(0, ms));
      this.live.set(id, { h, wake: resolve });
    });
  }

  /** Number of pending timers. */
  get size(): number {
    return this.live.size;
  }

  /** Cancels every timer and wakes every sleeper; later timers are refused. */
  clearAll(): void {
    this.closed = true;
    const all = [...this.live.values()];
    this.live.clear();
    for (const e of all) {
      this.clock.clearTimeout(e.h);
      e.wake?.();
    }
  }
}
