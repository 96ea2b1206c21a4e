/**
 * Summaries of repeated trials, shared by the benchmarks that repeat a measurement.
 *
 * @module
 */

/**
 * Median of `xs` (the mean of the middle two for an even count), or null when empty.
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Nearest-rank percentile of `xs`, or null when empty.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 95); // 4
 * ```
 */
export function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
