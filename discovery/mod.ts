/**
 * Discovery: how a node finds the rest of its cluster.
 *
 * A {@link Discovery} is started with this node's advertised memberlist address, an abort
 * signal, a clock, a logger and two callbacks into the membership layer (`join`,
 * `knownMembers`); it joins peers whenever they appear. Plugins register by name so that
 * `autojoin: { <name>: {...} }` in the config finds them. Built in (registered on import):
 * `nats` (NATS announcements and request/reply), `dns` (A/AAAA/SRV records of a name, e.g. a
 * Kubernetes headless Service) and `static` (the `members` list).
 *
 * This folder knows nothing of memberlist: the root module wires `join` and `knownMembers`.
 *
 * @example
 * ```ts
 * import { createDiscovery, parseAutojoin } from "./discovery/mod.ts";
 *
 * const discovery = createDiscovery(parseAutojoin({ nats: { url: "nats://127.0.0.1:4222" } }));
 * const stop = new AbortController();
 * await discovery.start({
 *   self: { host: "10.0.0.1", port: 3322 },
 *   nodeName: "node-a",
 *   signal: stop.signal,
 *   clock: systemClock,
 *   logger: myLogger,
 *   knownMembers: () => memberlist.aliveAddresses(),
 *   join: (addresses) => memberlist.join(addresses),
 * });
 * // ... later
 * await discovery.close();
 * ```
 *
 * @module
 */
import { dnsDiscoveryFactory } from "./dns.ts";
import { natsDiscoveryFactory } from "./nats.ts";
import { registerDiscovery } from "./registry.ts";
import { staticDiscoveryFactory } from "./static.ts";

export type { Discovery, DiscoveryContext, DiscoveryFactory, DiscoveryLogger } from "./types.ts";
export {
  createDiscovery,
  getDiscovery,
  type LocalPlugins,
  parseAutojoin,
  type ParsedAutojoin,
  registerDiscovery,
  registeredDiscoveryNames,
  unregisterDiscovery,
} from "./registry.ts";
export {
  parseStaticOptions,
  StaticDiscovery,
  staticDiscovery,
  staticDiscoveryFactory,
  type StaticDiscoveryOptions,
} from "./static.ts";
export { discoverPeers, type DiscoverPeersOptions } from "./peers.ts";
export {
  NatsDiscovery,
  natsDiscovery,
  natsDiscoveryFactory,
  type NatsDiscoveryStats,
} from "./nats.ts";
export {
  DEFAULT_NATS_SUBJECT,
  type NatsAutojoinOptions,
  type NatsDiscoveryOptions,
  parseNatsOptions,
} from "./nats_options.ts";
export {
  DEFAULT_DNS_PORT,
  DnsDiscovery,
  dnsDiscovery,
  dnsDiscoveryFactory,
  type DnsDiscoveryOptions,
  type DnsResolution,
  parseDnsOptions,
} from "./dns.ts";
export { parseDuration } from "./duration.ts";
export { NatsDiscoveryError, type NatsDiscoveryErrorCode } from "./nats_connect.ts";
export { ConfigError, type ConfigIssue } from "../errors/mod.ts";
export type { Clock, HostPort, TimerHandle } from "../transport/mod.ts";

registerDiscovery("dns", dnsDiscoveryFactory);
registerDiscovery("nats", natsDiscoveryFactory);
registerDiscovery("static", staticDiscoveryFactory);
export { ClusterError } from "../errors/mod.ts";
