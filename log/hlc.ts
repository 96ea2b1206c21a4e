/**
 * Hybrid logical clock (Kulkarni et al.): timestamps that follow physical time, never go
 * backwards, and always exceed every timestamp this node has seen, so a write made after
 * observing another write orders after it even when the two nodes' clocks disagree.
 *
 * @module
 */
import type { Timestamp } from "./entry.ts";

const MAX_LOGICAL = 0xffff_ffff;

/**
 * A hybrid logical clock over a physical millisecond source.
 *
 * @example
 * ```ts
 * const hlc = new HybridClock(() => Date.now());
 * const a = hlc.now();
 * hlc.observe({ wall: a.wall + 1000, logical: 7 }); // a peer ahead of us
 * hlc.now(); // { wall: a.wall + 1000, logical: 8 }
 * ```
 */
export class HybridClock {
  #physical: () => number;
  #wall = 0;
  #logical = 0;

  /**
   * Creates an instance.
   * @param physical milliseconds, e.g. a Clock's `now`
   */
  constructor(physical: () => number) {
    this.#physical = physical;
  }

  /** The last timestamp issued or observed. */
  get last(): Timestamp {
    return { wall: this.#wall, logical: this.#logical };
  }

  /** A fresh timestamp, greater than every one issued or observed before. */
  now(): Timestamp {
    const pt = Math.floor(this.#physical());
    if (pt > this.#wall) {
      this.#wall = pt;
      this.#logical = 0;
    } else if (this.#logical < MAX_LOGICAL) {
      this.#logical++;
    } else {
      // counter exhausted within one millisecond: borrow the next millisecond
      this.#wall++;
      this.#logical = 0;
    }
    return { wall: this.#wall, logical: this.#logical };
  }

  /** Takes note of a remote timestamp so later local ones order after it. */
  observe(ts: Timestamp): void {
    // inline compareTimestamps: called for every applied entry, so no object per call
    if (ts.wall > this.#wall || (ts.wall === this.#wall && ts.logical > this.#logical)) {
      this.#wall = ts.wall;
      this.#logical = ts.logical;
    }
  }
}
