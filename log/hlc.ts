/**
 * Hybrid logical clock (Kulkarni et al.): timestamps that follow physical time, never go
 * backwards, and always exceed every timestamp this node has seen, so a write made after
 * observing another write orders after it even when the two nodes' clocks disagree.
 *
 * A timestamp further ahead of local physical time than the maximum offset is never adopted
 * (like CockroachDB's max offset): one forged far-future timestamp would otherwise drag every
 * later local timestamp along, up to values that no longer fit.
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
  #maxOffset: number;
  #wall = 0;
  #logical = 0;

  /**
   * Creates an instance.
   * @param physical milliseconds, e.g. a Clock's `now`
   * @param maxOffsetMs timestamps further ahead of `physical()` than this are not adopted
   */
  constructor(physical: () => number, maxOffsetMs: number = Number.POSITIVE_INFINITY) {
    this.#physical = physical;
    this.#maxOffset = maxOffsetMs;
  }

  /** How far (ms) `ts` is ahead of local physical time plus the maximum offset; 0 when not. */
  excess(ts: Timestamp): number {
    return Math.max(0, ts.wall - (Math.floor(this.#physical()) + this.#maxOffset));
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

  /**
   * Takes note of a remote timestamp so later local ones order after it. Returns false, and
   * adopts nothing, when `ts` is further ahead of local time than the maximum offset.
   */
  observe(ts: Timestamp): boolean {
    // inline compareTimestamps: called for every applied entry, so no object per call
    if (ts.wall > this.#wall || (ts.wall === this.#wall && ts.logical > this.#logical)) {
      if (ts.wall > Math.floor(this.#physical()) + this.#maxOffset) return false;
      this.#wall = ts.wall;
      this.#logical = ts.logical;
    }
    return true;
  }
}
