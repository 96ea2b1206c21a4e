/**
 * @response/cluster — embedded clustering for Response Server.
 *
 * `cluster(stanza)` turns several server instances into one cluster: they find each other
 * (static `members` or `autojoin` discovery), detect failures (SWIM + Lifeguard, wire-compatible
 * with hashicorp/memberlist), and keep shared data in sync (a replicated append-only log with a
 * last-writer-wins cache on top).
 *
 * @example
 * ```ts
 * import { cluster } from "@response/cluster";
 *
 * const node = await cluster({ environment: "lan", members: ["10.0.0.2", "10.0.0.3"] });
 * node.on("member-failed", (m) => console.log(`${m.name} failed`));
 * await node.cache.set("session:42", new TextEncoder().encode("alice"));
 * await node.log.append(new TextEncoder().encode("hello"), { ack: "quorum" });
 * await node.close();
 * ```
 *
 * @module
 */
export { Cluster, cluster } from "./cluster/mod.ts";
export type {
  ClusterEvents,
  ClusterHealth,
  ClusterMember,
  ClusterOptions,
  ClusterStats,
  Logger,
  ReadinessOptions,
} from "./cluster/mod.ts";
export {
  ClusterError,
  clusterStanza,
  ConfigError,
  fieldsFirst,
  formatPrometheus,
  MembershipError,
  metricFamilies,
  NameConflictError,
  parseClusterConfig,
} from "./cluster/mod.ts";
export type {
  AutojoinStanza,
  ClusterConfig,
  ClusterEmitter,
  ClusterStanza,
  ConfigIssue,
  Environment,
  FieldsFirstTarget,
  MeterProviderLike,
  MetricFamily,
  MetricSample,
  QuorumStatus,
} from "./cluster/mod.ts";
export { QuorumError } from "./log/mod.ts";
export type { SecurityConfig, SecurityState, TlsConfig } from "./cluster/mod.ts";
export { presets } from "./presets/mod.ts";
export type { Preset } from "./presets/mod.ts";
export { Keyring } from "./memberlist/mod.ts";
export { registerDiscovery, registeredDiscoveryNames } from "./discovery/mod.ts";
export type { Discovery, DiscoveryContext, DiscoveryFactory } from "./discovery/mod.ts";
