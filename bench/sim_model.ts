/**
 * Serf's convergence model (serf.io "Convergence Simulator", docs/PROTOCOL.md §7): per gossip
 * round a node infects others at rate c = (fanout / N) · (1 − loss) · (1 − failed) · 0.5, so the
 * infected fraction after x rounds is f(x) = 1 / (1 + (N + 1) · e^(−c·N·x)). The time to reach
 * 99.99 % is the first whole round where f ≥ 0.9999, times the gossip interval.
 *
 * @module
 */

/** Inputs of the model. */
export interface ModelInput {
  readonly n: number;
  readonly fanout: number;
  readonly intervalMs: number;
  readonly loss: number;
  readonly failed?: number;
}

/**
 * Milliseconds until 99.99 % of nodes know of a change, per Serf's model (null past 100
 * rounds, where Serf's plot stops).
 *
 * @example
 * ```ts
 * serfConvergenceMs({ n: 30, fanout: 3, intervalMs: 200, loss: 0 }); // 1800
 * ```
 */
export function serfConvergenceMs(m: ModelInput): number | null {
  const cN = m.fanout * (1 - m.loss) * (1 - (m.failed ?? 0)) * 0.5;
  if (cN <= 0) return null;
  for (let x = 1; x <= 100; x++) {
    const f = 1 / (1 + (m.n + 1) * Math.exp(-cN * x));
    if (f >= 0.9999) return x * m.intervalMs;
  }
  return null;
}

/** Serf's bandwidth estimate, bytes per node per second: 1400 B × fanout / interval × 2. */
export function serfBytesPerNodePerSec(m: ModelInput): number {
  return (1400 * m.fanout * 2 * 1000) / m.intervalMs;
}

/** One measured configuration of bench/sim.ts (drawn by sim_svg.ts). */
export interface SimResult {
  preset: "lan" | "wan";
  n: number;
  loss: number;
  joinMs: number | null;
  failureMs: number | null;
  failureDetectMs: number | null;
  failureSpreadMs: number | null;
  serfModelMs: number | null;
  bytesPerNodePerSec: number;
  serfBytesPerNodePerSec: number;
  heapBytesPerMember: number | null;
  bootstrapSimMs: number;
  bootstrapWallMs: number;
  wallMsPerSimSecond: number;
  measureWallMs: number;
  /** Why this configuration was not run (the other fields are then null or 0). */
  skipped?: string;
}
