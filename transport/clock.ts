/**
 * The real clock: platform timers and a monotonic time source.
 *
 * @module
 */
import type { Clock, TimerHandle } from "./types.ts";

// performance.now() is monotonic; adding timeOrigin keeps values near wall-clock epoch ms,
// which reads well in logs, without ever going backwards when the wall clock is adjusted.
const origin: number = performance.timeOrigin;

/**
 * The system clock. `now()` is monotonic milliseconds (close to, but not guaranteed equal
 * to, Unix epoch milliseconds); timers are the platform's `setTimeout` and behave like normal
 * timers (a pending timer keeps the process alive, so owners clear theirs on close).
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const started = systemClock.now();
 * const t = systemClock.setTimeout(() => console.log(systemClock.now() - started), 100);
 * systemClock.clearTimeout(t);
 * ```
 */
export const systemClock: Clock = {
  now(): number {
    return origin + performance.now();
  },
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return globalThis.setTimeout(fn, ms > 0 ? ms : 0);
  },
  clearTimeout(handle: TimerHandle): void {
    if (handle === undefined || handle === null) return;
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
  },
};
