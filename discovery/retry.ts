/**
 * Retry timing shared by the built-in discoveries: capped exponential backoff with jitter,
 * and a sleep on the injected clock that an abort signal cuts short.
 *
 * @module
 */
import type { Clock } from "../transport/mod.ts";

/** Capped exponential backoff parameters. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  readonly initialMs: number;
  /** Upper bound of the delay, in ms. */
  readonly maxMs: number;
}

/**
 * Delay before retry number `attempt` (0-based): `min(max, initial * 2^attempt)`, then
 * "equal jitter": a uniform pick in [half, full] of it, so nodes that failed together do not
 * retry in lockstep, yet the delay never collapses to 0.
 */
export function backoffDelay(
  options: BackoffOptions,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 52));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** Waits `ms` on `clock`; resolves `false` at once (or as soon as) `signal` is aborted. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      resolve(false);
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
