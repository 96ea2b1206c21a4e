/**
 * Lifeguard local health awareness (LHA-Probe): a score that rises when this node itself
 * seems unhealthy (missed nacks, being accused) and stretches its probe interval so a slow
 * node does not flood the cluster with false suspicions.
 *
 * @module
 */

/**
 * The local health score, clamped to `[0, max - 1]`.
 *
 * @example
 * ```ts
 * const a = new Awareness(8);
 * a.applyDelta(2);
 * a.scaleTimeout(1000); // 3000
 * ```
 */
export class Awareness {
  private readonly max: number;
  private score = 0;
  private readonly onChange: ((score: number) => void) | undefined;

  /**
   * @param max the awareness max multiplier (memberlist AwarenessMaxMultiplier)
   * @param onChange optional observer of score changes
   */
  constructor(max: number, onChange?: (score: number) => void) {
    this.max = Math.max(1, Math.floor(max));
    this.onChange = onChange;
  }

  /** Adds `delta` and clamps. */
  applyDelta(delta: number): void {
    if (delta === 0) return;
    const before = this.score;
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
    if (this.score !== before && this.onChange !== undefined) this.onChange(this.score);
  }

  /** Current score: 0 is healthy. */
  getHealthScore(): number {
    return this.score;
  }

  /** `ms × (score + 1)`. */
  scaleTimeout(ms: number): number {
    return ms * (this.score + 1);
  }
}
