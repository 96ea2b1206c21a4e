/**
 * The composition of a node: `cluster()` validates the stanza, picks the preset, and wires
 * discovery, memberlist and the log together over one transport. The root `mod.ts` publishes
 * this door.
 *
 * ```ts
 * import { cluster } from "./mod.ts";
 * const node = await cluster({ environment: "local", bind_port: 0, memberlist_bind_port: 0 });
 * await node.close();
 * ```
 *
 * @module
 */
export { Cluster, cluster } from "./cluster.ts";
export {
  type ClusterConfig,
  ConfigError,
  type ConfigIssue,
  type Environment,
  parseClusterConfig,
} from "./config.ts";
export { type AutojoinStanza, type ClusterStanza, clusterStanza } from "./stanza.ts";
export type {
  ClusterEvents,
  ClusterHealth,
  ClusterMember,
  ClusterOptions,
  ClusterStats,
  Logger,
  ReadinessOptions,
} from "./types.ts";
export { fieldsFirst, type FieldsFirstTarget } from "./logging.ts";
export {
  formatPrometheus,
  type MeterProviderLike,
  metricFamilies,
  type MetricFamily,
  type MetricSample,
} from "./metrics.ts";
export { ClusterError, NameConflictError } from "../errors/mod.ts";
export { MembershipError, type QuorumStatus } from "./voters.ts";
export type { ClusterEmitter } from "./events.ts";
export type { SecurityConfig, SecurityState, TlsConfig } from "./security.ts";
