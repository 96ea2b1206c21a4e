/**
 * Lifeguard suspicion (LHA-Suspicion): a timer that starts long and shrinks as independent
 * members confirm the suspicion, so a truly failed node is declared dead quickly while a
 * node suspected by a single (possibly sick) prober gets time to refute.
 *
 * Formulas follow hashicorp/memberlist (docs/PROTOCOL.md §3.3).
 *
 * @module
 */
import type { Clock, TimerHandle } from "../transport/mod.ts";

/**
 * Minimum suspicion timeout in ms: `mult × max(1, log10(max(1, n))) × interval`, with the node
 * scale truncated to thousandths as memberlist does.
 *
 * @example
 * ```ts
 * suspicionTimeout(3, 50, 1000); // 5094 (3 × 1.698 s)
 * ```
 */
export function suspicionTimeout(mult: number, n: number, intervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  // Truncating to an integer number of thousandths gives memberlist's ms precision.
  return (mult * Math.trunc(nodeScale * 1000) * intervalMs) / 1000;
}

/**
 * Time left (ms, may be ≤ 0) of a suspicion after `confirmations` of `k` wanted confirmations
 * and `elapsedMs` since it started, for the timeout range [minMs, maxMs].
 *
 * @example
 * ```ts
 * remainingSuspicionTime(1, 3, 2000, 2000, 30000); // 14000
 * ```
 */
export function remainingSuspicionTime(
  confirmations: number,
  k: number,
  elapsedMs: number,
  minMs: number,
  maxMs: number,
): number {
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  // memberlist works in seconds and floors to whole milliseconds.
  const raw = maxMs / 1000 - frac * ((maxMs - minMs) / 1000);
  let timeout = Math.floor(1000 * raw);
  if (timeout < minMs) timeout = minMs;
  return timeout - elapsedMs;
}

/**
 * One running suspicion about one node.
 *
 * @example
 * ```ts
 * const s = new Suspicion(clock, "accuser", 2, 3000, 18000, (c) => console.log("dead", c));
 * s.confirm("other"); // true: timer shortened
 * s.stop();
 * ```
 */
export class Suspicion {
  /** Confirmations received so far (the accuser not included). */
  confirmations: number = 0;
  private readonly clock: Clock;
  private readonly k: number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly start: number;
  private readonly onTimeout: (confirmations: number) => void;
  // Who already accused: the first accuser counts as already seen, never as a confirmation.
  private readonly seen: Set<string>;
  private timer: TimerHandle | null = null;
  private done = false;

  /**
   * Starts the timer at `maxMs` (or `minMs` when no confirmations are expected).
   *
   * @param clock timers
   * @param from the first accuser
   * @param k confirmations wanted
   * @param minMs shortest timeout
   * @param maxMs longest timeout
   * @param onTimeout called once with the confirmation count when the timer fires
   */
  constructor(
    clock: Clock,
    from: string,
    k: number,
    minMs: number,
    maxMs: number,
    onTimeout: (confirmations: number) => void,
  ) {
    this.clock = clock;
    this.k = k;
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.onTimeout = onTimeout;
    this.seen = new Set([from]);
    this.start = clock.now();
    this.arm(k < 1 ? minMs : maxMs);
  }

  /** Confirmations wanted before the timeout reaches its minimum. */
  get wanted(): number {
    return this.k;
  }

  /**
   * Records a suspicion by `from`. Returns true when it was new information (a new accuser
   * while confirmations are still wanted); the caller then re-gossips it.
   */
  confirm(from: string): boolean {
    if (this.done || this.confirmations >= this.k) return false;
    if (this.seen.has(from)) return false;
    this.seen.add(from);
    this.confirmations++;
    const elapsed = this.clock.now() - this.start;
    const remaining = remainingSuspicionTime(
      this.confirmations,
      this.k,
      elapsed,
      this.minMs,
      this.maxMs,
    );
    this.arm(remaining > 0 ? remaining : 0);
    return true;
  }

  /** Cancels the timer; the callback will not run. Idempotent. */
  stop(): void {
    this.done = true;
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private arm(ms: number): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (this.done) return;
      this.done = true;
      this.onTimeout(this.confirmations);
    }, ms);
  }
}
