/**
 * Transport layer: addresses, clocks, and packet/stream transports, real or simulated.
 *
 * memberlist and log receive a {@link Network} and a {@link Clock}; production passes
 * {@link nodeNetwork} and {@link systemClock}, tests and simulations pass a `SimNetwork`
 * driven by a `VirtualClock`.
 *
 * @example
 * ```ts
 * import { nodeNetwork, systemClock } from "./mod.ts";
 * const t = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: true });
 * const timer = systemClock.setTimeout(() => t.close(), 1000);
 * ```
 *
 * @module
 */
export type {
  BindOptions,
  Clock,
  HostPort,
  Network,
  PacketHandler,
  Stream,
  StreamHandler,
  TimerHandle,
  Transport,
} from "./types.ts";
export { TransportError } from "./types.ts";
export { AddressError, formatHostPort, parseHostPort } from "./address.ts";
export { systemClock } from "./clock.ts";
export { nodeNetwork } from "./node.ts";
export type { NodeNetwork, NodeTransport, NodeTransportStats } from "./node.ts";
export { TimelineEntry, VirtualClock } from "./sim/mod.ts";
export { seededRandom } from "./sim/mod.ts";
export { SimNetwork } from "./sim/mod.ts";
export type { SimNetworkOptions } from "./sim/mod.ts";
export type { SimDropCounters, SimStats } from "./sim/mod.ts";
export { DEFAULT_LINK, type LinkConfig } from "./sim/mod.ts";
export { faultyNetwork } from "./sim/mod.ts";
export type { Faults, FaultStats, FaultyNetwork } from "./sim/mod.ts";
export { crc32 } from "./crc32.ts";
export { concatBytes } from "./bytes.ts";
export { ClusterError } from "../errors/mod.ts";
