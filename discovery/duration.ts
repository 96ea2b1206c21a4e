/**
 * Durations as configuration spells them: `"500ms"`, `"10s"`, `"2m"`, `"24h"`, `"1d"` and
 * sums of them (`"1h30m"`). Shared by the stanza (`forget_after`) and discovery plugins
 * (`autojoin "dns" { interval = "10s" }`), and exported for plugin authors.
 *
 * @module
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/**
 * Milliseconds of a duration string, or of a number taken as milliseconds; undefined when it
 * is neither.
 *
 * @example
 * ```ts
 * parseDuration("1h30m"); // 5_400_000
 * parseDuration("500ms"); // 500
 * parseDuration(250); // 250
 * parseDuration("soon"); // undefined
 * ```
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    ms += Number(n) * UNITS[unit];
  }
  return ms;
}
