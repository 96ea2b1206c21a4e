/**
 * A clock whose time moves only when told to, so a whole simulated cluster runs
 * deterministically and as fast as the CPU allows.
 *
 * Entries sit in a binary heap ordered by (time, creation sequence): timers fire in time
 * order, ties in creation order. Cancelled entries are dropped lazily and compacted when
 * they make up most of the heap, so millions of timers cost O(log n) each.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../types.ts";

/**
 * One scheduled thing on a {@link VirtualClock} timeline. Low level: simulators subclass it
 * so that one object is the whole cost of a scheduled event (no closure per packet).
 *
 * @example
 * ```ts
 * import { TimelineEntry, VirtualClock } from "./virtual_clock.ts";
 * class Beep extends TimelineEntry {
 *   run(): void {
 *     console.log("beep");
 *   }
 * }
 * const clock = new VirtualClock();
 * clock.schedule(new Beep(), 10);
 * clock.advance(10); // beep
 * ```
 */
export abstract class TimelineEntry {
  /** Virtual time at which it runs (set by {@link VirtualClock.schedule}). */
  at: number = 0;
  /** Creation order among entries of the same time (set by the clock). */
  seq: number = 0;
  /** In the heap right now. */
  queued: boolean = false;
  /** Cancelled while queued: skipped when its time comes. */
  cancelled: boolean = false;
  /** Called at time {@link at}; may schedule more entries (itself included). */
  abstract run(): void;
}

/** What a cancelled timer holds instead of its callback (see VirtualClock.clearTimeout). */
export const NO_CALLBACK = (): void => {};

class FnTimer extends TimelineEntry {
  fn: () => void;
  constructor(fn: () => void) {
    super();
    this.fn = fn;
  }
  run(): void {
    this.fn();
  }
}

type Yield = () => Promise<void>;

class Placeholder extends TimelineEntry {
  run(): void {}
}
// fills vacated heap slots so popped entries can be garbage collected
const PLACEHOLDER: TimelineEntry = new Placeholder();

// a macrotask turn lets every pending promise continuation run before virtual time moves
const macrotask: Yield = typeof setImmediate === "function"
  ? () => new Promise<void>((resolve) => setImmediate(resolve))
  : () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * A {@link Clock} driven by hand: `advance(ms)`, `runUntil(t)` and `runUntilIdle()` fire due
 * timers synchronously in (time, creation) order; a timer scheduled by a callback for a time
 * not after the target fires within the same call.
 *
 * Code that awaits promises (stream reads) needs the async drivers `advanceAsync` and
 * `runUntilAsync`: whenever something called {@link VirtualClock.noteAsyncWork} during a
 * callback, they yield one macrotask turn before moving on, so promise continuations run at
 * the virtual time their cause happened.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./virtual_clock.ts";
 * const clock = new VirtualClock();
 * const log: number[] = [];
 * clock.setTimeout(() => log.push(clock.now()), 100);
 * clock.advance(99); // nothing yet
 * clock.advance(1); // log = [100]
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  // struct-of-arrays heap: keys compared from contiguous typed arrays (cache friendly)
  #items: TimelineEntry[] = [];
  #times: Float64Array = new Float64Array(1024);
  #seqs: Float64Array = new Float64Array(1024);
  #size = 0;
  #seq = 0;
  #cancelledInHeap = 0;
  #fired = 0;
  #asyncWork = false;

  /**
   * Creates a clock standing still at `start`.
   *
   * @param start initial time in ms (default 0)
   */
  constructor(start: number = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = new FnTimer(fn);
    this.schedule(timer, this.#now + (ms > 0 ? ms : 0));
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    if (!(handle instanceof FnTimer)) return;
    this.cancel(handle);
    // A cancelled entry waits in the heap until its time comes. Its callback must not: a
    // probe's or a stream deadline's closure would keep everything it captured alive that long
    // (a stream for tcpTimeout), long enough to be promoted to the old generation.
    handle.fn = NO_CALLBACK;
  }

  /** Entries waiting, cancelled ones excluded. */
  get pending(): number {
    return this.#size - this.#cancelledInHeap;
  }

  /** Entries run so far. */
  get fired(): number {
    return this.#fired;
  }

  /** Time of the next live entry, or `undefined` when none is queued. */
  nextTime(): number | undefined {
    this.#dropCancelledTop();
    return this.#size > 0 ? this.#times[0] : undefined;
  }

  /**
   * Queues `entry` to run at absolute time `at` (clamped to now). Low level, for simulators.
   * An entry must not be queued twice at once.
   */
  schedule(entry: TimelineEntry, at: number): void {
    if (entry.queued) throw new Error("TimelineEntry is already queued");
    const t = at > this.#now ? at : this.#now;
    const seq = ++this.#seq;
    entry.at = t;
    entry.seq = seq;
    entry.queued = true;
    entry.cancelled = false;
    if (this.#size === this.#times.length) this.#grow();
    this.#siftUp(this.#size++, entry, t, seq);
  }

  /** Cancels a queued entry; anything else is ignored. */
  cancel(entry: TimelineEntry): void {
    if (!entry.queued || entry.cancelled) return;
    entry.cancelled = true;
    this.#cancelledInHeap++;
    if (this.#cancelledInHeap > 1024 && this.#cancelledInHeap * 2 > this.#size) {
      this.#compact();
    }
  }

  /** Says that a callback settled a promise: async drivers yield before moving on. */
  noteAsyncWork(): void {
    this.#asyncWork = true;
  }

  /** Moves time forward by `ms`, firing every due entry. Returns how many ran. */
  advance(ms: number): number {
    return this.runUntil(this.#now + (ms > 0 ? ms : 0));
  }

  /** Fires every entry due at or before `t`, then sets the time to `t` (if later). */
  runUntil(t: number): number {
    let n = 0;
    while (this.#runNext(t)) n++;
    if (t > this.#now) this.#now = t;
    return n;
  }

  /**
   * Fires entries until none is left. Throws when more than `maxEntries` ran, which means
   * something reschedules itself forever (periodic timers): use `runUntil` then.
   */
  runUntilIdle(maxEntries: number = 10_000_000): number {
    let n = 0;
    while (this.#runNext(Infinity)) {
      if (++n >= maxEntries && this.pending > 0) {
        throw new Error(`VirtualClock.runUntilIdle: still busy after ${n} entries`);
      }
    }
    return n;
  }

  /** {@link advance} that lets promise continuations run (see the class notes). */
  advanceAsync(ms: number): Promise<number> {
    return this.runUntilAsync(this.#now + (ms > 0 ? ms : 0));
  }

  /** {@link runUntil} that lets promise continuations run (see the class notes). */
  async runUntilAsync(t: number): Promise<number> {
    let n = 0;
    if (this.#asyncWork) {
      this.#asyncWork = false;
      await macrotask();
    }
    for (;;) {
      if (!this.#runNext(t)) break;
      n++;
      if (this.#asyncWork) {
        this.#asyncWork = false;
        await macrotask();
      }
    }
    if (t > this.#now) this.#now = t;
    // work triggered by the last continuations at time t runs before we return
    while (this.#asyncWork) {
      this.#asyncWork = false;
      await macrotask();
      while (this.#runNext(t)) n++;
    }
    return n;
  }

  #runNext(limit: number): boolean {
    for (;;) {
      if (this.#size === 0) return false;
      const top = this.#items[0];
      if (top.cancelled) {
        this.#popTop();
        this.#cancelledInHeap--;
        top.queued = false;
        top.cancelled = false;
        continue;
      }
      const at = this.#times[0];
      if (at > limit) return false;
      this.#popTop();
      top.queued = false;
      if (at > this.#now) this.#now = at;
      this.#fired++;
      top.run();
      return true;
    }
  }

  #dropCancelledTop(): void {
    while (this.#size > 0 && this.#items[0].cancelled) {
      const top = this.#items[0];
      this.#popTop();
      this.#cancelledInHeap--;
      top.queued = false;
      top.cancelled = false;
    }
  }

  #popTop(): void {
    const last = --this.#size;
    const items = this.#items;
    const item = items[last];
    const t = this.#times[last];
    const seq = this.#seqs[last];
    items[last] = PLACEHOLDER;
    if (last > 0) this.#siftDown(0, item, t, seq);
  }

  #grow(): void {
    const n = this.#times.length * 2;
    const times = new Float64Array(n);
    times.set(this.#times);
    const seqs = new Float64Array(n);
    seqs.set(this.#seqs);
    this.#times = times;
    this.#seqs = seqs;
  }

  #siftUp(i: number, item: TimelineEntry, t: number, seq: number): void {
    const items = this.#items;
    const times = this.#times;
    const seqs = this.#seqs;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent];
      if (pt < t || (pt === t && seqs[parent] < seq)) break;
      items[i] = items[parent];
      times[i] = pt;
      seqs[i] = seqs[parent];
      i = parent;
    }
    items[i] = item;
    times[i] = t;
    seqs[i] = seq;
  }

  #siftDown(i: number, item: TimelineEntry, t: number, seq: number): void {
    const items = this.#items;
    const times = this.#times;
    const seqs = this.#seqs;
    const n = this.#size;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let ct = times[child];
      const right = child + 1;
      if (right < n) {
        const rt = times[right];
        if (rt < ct || (rt === ct && seqs[right] < seqs[child])) {
          child = right;
          ct = rt;
        }
      }
      if (t < ct || (t === ct && seq < seqs[child])) break;
      items[i] = items[child];
      times[i] = ct;
      seqs[i] = seqs[child];
      i = child;
    }
    items[i] = item;
    times[i] = t;
    seqs[i] = seq;
  }

  #compact(): void {
    const items = this.#items;
    const times = this.#times;
    const seqs = this.#seqs;
    let k = 0;
    for (let i = 0; i < this.#size; i++) {
      const e = items[i];
      if (e.cancelled) {
        e.queued = false;
        e.cancelled = false;
        continue;
      }
      items[k] = e;
      times[k] = times[i];
      seqs[k] = seqs[i];
      k++;
    }
    for (let i = k; i < this.#size; i++) items[i] = PLACEHOLDER;
    this.#size = k;
    this.#cancelledInHeap = 0;
    for (let i = (k >> 1) - 1; i >= 0; i--) this.#siftDown(i, items[i], times[i], seqs[i]);
  }
}
