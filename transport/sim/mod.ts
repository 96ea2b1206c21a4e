/**
 * The simulated network: many hosts in one process on a virtual clock, with latency, loss,
 * partitions, pauses and kills, deterministic for a seed; and a fault-injecting wrapper for
 * real networks. Tests and benchmarks use it to run thousands of nodes; nothing in production
 * depends on it.
 *
 * ```ts
 * import { SimNetwork, VirtualClock } from "./mod.ts";
 * const clock = new VirtualClock();
 * const net = new SimNetwork({ clock, seed: 1 });
 * ```
 *
 * @module
 */
export type { SimDropCounters, SimStats } from "./core.ts";
export { faultyNetwork } from "./fault.ts";
export type { Faults, FaultStats, FaultyNetwork } from "./fault.ts";
export { DEFAULT_LINK, type LinkConfig } from "./link.ts";
export { SimNetwork, type SimNetworkOptions } from "./network.ts";
export { seededRandom } from "./random.ts";
export { TimelineEntry, VirtualClock } from "./virtual_clock.ts";
