/**
 * Link properties of the simulated network: latency, jitter, loss, duplication, bandwidth.
 *
 * @module
 */

/** How one directed link (or every link, as the default) behaves. */
export interface LinkConfig {
  /** One-way delay in ms. */
  readonly latencyMs: number;
  /** Extra delay, uniform in [0, jitterMs), drawn per packet: packets may overtake each other. */
  readonly jitterMs: number;
  /** Probability (0..1) that a packet is lost. Streams are reliable and ignore it. */
  readonly loss: number;
  /** Probability (0..1) that a packet is delivered twice. */
  readonly duplicate: number;
  /** Bytes per second of the link (serialization delay, queueing); 0 = unlimited. */
  readonly bandwidth: number;
}

/** The link used when nothing else is configured: 1 ms, no jitter, loss or limit. */
export const DEFAULT_LINK: LinkConfig = Object.freeze({
  latencyMs: 1,
  jitterMs: 0,
  loss: 0,
  duplicate: 0,
  bandwidth: 0,
});

function probability(name: string, v: number): number {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be within 0..1, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!(v >= 0) || v === Infinity) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
  }
  return v;
}

/**
 * Completes a partial link config over `base`, validating every value.
 *
 * @example
 * ```ts
 * import { DEFAULT_LINK, resolveLink } from "./link.ts";
 * resolveLink(DEFAULT_LINK, { loss: 0.05 }).latencyMs; // 1
 * ```
 */
export function resolveLink(base: LinkConfig, partial: Partial<LinkConfig>): LinkConfig {
  return Object.freeze({
    latencyMs: nonNegative("latencyMs", partial.latencyMs ?? base.latencyMs),
    jitterMs: nonNegative("jitterMs", partial.jitterMs ?? base.jitterMs),
    loss: probability("loss", partial.loss ?? base.loss),
    duplicate: probability("duplicate", partial.duplicate ?? base.duplicate),
    bandwidth: nonNegative("bandwidth", partial.bandwidth ?? base.bandwidth),
  });
}
